/**
 * Server replay window for request Partial IVs (RFC 8613 §7.4): the anti-replay sliding window
 * of RFC 6347 §4.1.2.6, default size 32 (§3.2.2). check() is pure; the caller calls accept()
 * only after the request decrypted, so a forged Partial IV cannot move the window.
 */
import { OscoreError } from './errors';

export type ReplayCheck = 'fresh' | 'duplicate' | 'too-old';

export const DEFAULT_REPLAY_WINDOW = 32;

export class ReplayWindow {
  /** Highest accepted sequence number, -1 before the first. */
  private highest = -1;
  /**
   * Ring bitmap (as in RFC 6479): bit (n mod slots) set means n was accepted, for the n within
   * the window. Plain 32-bit words: a BigInt bitmap allocated on every request.
   */
  private readonly bits: Uint32Array;
  private readonly slots: number;

  constructor(readonly size: number = DEFAULT_REPLAY_WINDOW) {
    if (!Number.isSafeInteger(size) || size < 1 || size > 4096) throw new OscoreError('invalid-argument', `replay window size must be 1..4096, got ${size}`);
    this.bits = new Uint32Array(Math.ceil(size / 32));
    this.slots = this.bits.length * 32;
  }

  private isSet(sequenceNumber: number): boolean {
    const slot = sequenceNumber % this.slots;
    return (this.bits[slot >>> 5] & (1 << (slot & 31))) !== 0;
  }

  private set(sequenceNumber: number, on: boolean): void {
    const slot = sequenceNumber % this.slots;
    if (on) this.bits[slot >>> 5] |= 1 << (slot & 31);
    else this.bits[slot >>> 5] &= ~(1 << (slot & 31));
  }

  check(sequenceNumber: number): ReplayCheck {
    if (sequenceNumber > this.highest) return 'fresh';
    if (this.highest - sequenceNumber >= this.size) return 'too-old';
    return this.isSet(sequenceNumber) ? 'duplicate' : 'fresh';
  }

  accept(sequenceNumber: number): void {
    if (this.check(sequenceNumber) !== 'fresh') throw new OscoreError('replay', `Partial IV ${sequenceNumber} not fresh`);
    if (sequenceNumber > this.highest) {
      // The slots of the numbers skipped over still hold marks from one ring turn ago: clear them.
      if (sequenceNumber - this.highest >= this.slots) this.bits.fill(0);
      else for (let n = this.highest + 1; n < sequenceNumber; n++) this.set(n, false);
      this.highest = sequenceNumber;
    }
    this.set(sequenceNumber, true);
  }

  /**
   * Re-initialises after a state loss (Appendix B.1.2): `lowerLimit` and everything below it
   * count as already received; only higher numbers are accepted from now on.
   */
  resetTo(lowerLimit: number): void {
    this.highest = lowerLimit;
    this.bits.fill(0xffffffff);
  }

  /** Highest accepted number (-1 if none), for diagnostics. */
  get highestAccepted(): number {
    return this.highest;
  }
}
