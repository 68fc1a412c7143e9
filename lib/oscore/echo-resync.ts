/**
 * Replay-window recovery after a restart (RFC 8613 Appendix B.1.2, Echo option of RFC 9175).
 *
 * The replay window lives in RAM: after a restart the server cannot tell an old request from a
 * new one. Until resynchronised, every verified request is answered with an OSCORE-protected
 * 4.01 carrying only a fresh random Echo value (and the server's own Partial IV). A later request
 * that carries one of those Echo values inside its ciphertext was made after the challenge,
 * so it is fresh; its Partial IV becomes the lower limit of the new window.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';

export const ECHO_LENGTH = 8;
/** How long an Echo value proves freshness (RFC 9175 leaves it to the application). */
export const DEFAULT_ECHO_LIFETIME_MS = 60_000;
/** Outstanding challenges kept; older ones are forgotten so a flood cannot grow memory. */
const MAX_OUTSTANDING = 16;

export interface EchoResyncOptions {
  lifetimeMs?: number;
  now?: () => number;
  random?: (size: number) => Buffer;
}

export class EchoResync {
  private synchronised: boolean;
  private readonly outstanding: { value: Buffer; issuedAt: number }[] = [];
  private readonly lifetimeMs: number;
  private readonly now: () => number;
  private readonly random: (size: number) => Buffer;

  constructor(needed: boolean, options: EchoResyncOptions = {}) {
    this.synchronised = !needed;
    this.lifetimeMs = options.lifetimeMs ?? DEFAULT_ECHO_LIFETIME_MS;
    this.now = options.now ?? Date.now;
    this.random = options.random ?? randomBytes;
  }

  get isSynchronised(): boolean {
    return this.synchronised;
  }

  /** A new Echo value to send in the 4.01 challenge. */
  issue(): Buffer {
    const value = this.random(ECHO_LENGTH);
    this.outstanding.push({ value, issuedAt: this.now() });
    if (this.outstanding.length > MAX_OUTSTANDING) this.outstanding.shift();
    return value;
  }

  /**
   * True (and synchronised from now on) when `echo` is an outstanding, unexpired challenge.
   * The caller must only pass the Echo of a request that decrypted successfully.
   */
  consume(echo: Buffer | undefined): boolean {
    if (this.synchronised) return true;
    if (!echo || echo.length !== ECHO_LENGTH) return false;
    const now = this.now();
    const match = this.outstanding.find((c) => now - c.issuedAt <= this.lifetimeMs && now >= c.issuedAt && timingSafeEqual(c.value, echo));
    if (!match) return false;
    this.synchronised = true;
    this.outstanding.length = 0;
    return true;
  }
}
