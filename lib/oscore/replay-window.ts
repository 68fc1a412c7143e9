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
  /** Bit i set: highest - i was accepted. */
  private seen = 0n;
  private readonly mask: bigint;

  constructor(readonly size: number = DEFAULT_REPLAY_WINDOW) {
    if (!Number.isSafeInteger(size) || size < 1 || size > 4096) throw new OscoreError('invalid-argument', `replay window size must be 1..4096, got ${size}`);
    this.mask = (1n << BigInt(size)) - 1n;
  }

  check(sequenceNumber: number): ReplayCheck {
    if (sequenceNumber > this.highest) return 'fresh';
    const behind = this.highest - sequenceNumber;
    if (behind >= this.size) return 'too-old';
    return (this.seen >> BigInt(behind)) & 1n ? 'duplicate' : 'fresh';
  }

  accept(sequenceNumber: number): void {
    if (this.check(sequenceNumber) !== 'fresh') throw new OscoreError('replay', `Partial IV ${sequenceNumber} not fresh`);
    if (sequenceNumber > this.highest) {
      const shift = sequenceNumber - this.highest;
      this.seen = shift >= this.size ? 1n : ((this.seen << BigInt(shift)) | 1n) & this.mask;
      this.highest = sequenceNumber;
    } else {
      this.seen |= 1n << BigInt(this.highest - sequenceNumber);
    }
  }

  /**
   * Re-initialises after a state loss (Appendix B.1.2): `lowerLimit` and everything below it
   * count as already received; only higher numbers are accepted from now on.
   */
  resetTo(lowerLimit: number): void {
    this.highest = lowerLimit;
    this.seen = this.mask;
  }

  /** Highest accepted number (-1 if none), for diagnostics. */
  get highestAccepted(): number {
    return this.highest;
  }
}
