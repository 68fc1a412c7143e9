/**
 * Bounds on everything a registrant can make the Resource Directory hold or do. Each has a
 * default that a home gateway can live with; the coap-rd node exposes them as settings.
 */
export interface RdLimits {
  /** Lifetime (s) of a registration that gives no "lt" (RFC 9176 §5.3: 90000, 25 h). */
  defaultLifetime: number;
  /** Registrations held at once; a new one beyond it gets 5.03 with Max-Age. */
  maxRegistrations: number;
  /** Registrations (incl. simple ones) one source address may make per minute; beyond: 4.29. */
  maxRegistrationsPerSourcePerMinute: number;
  /** Source addresses the rate limiter tracks at once; the least recently seen is forgotten first. */
  maxTrackedSources: number;
  /** Link-format body of a registration or update, in bytes; beyond: 4.13 with Size1. */
  maxBodyBytes: number;
  /** Links in one registration; beyond: 4.13. */
  maxLinks: number;
  /** Parameters on one link. */
  maxParamsPerLink: number;
  /** Endpoint attributes (et and others) on one registration; beyond: 4.00. */
  maxAttributes: number;
  /** Bytes in one endpoint attribute value (ep and d are limited to 63 by RFC 9176). */
  maxAttributeBytes: number;
  /** Simple registrations whose /.well-known/core fetch is in flight; beyond: 5.03. */
  maxPendingSimpleRegistrations: number;
  /** How long the RD waits for a simple registrant's /.well-known/core, in ms. */
  simpleFetchTimeoutMs: number;
}

export const DEFAULT_RD_LIMITS: Readonly<RdLimits> = Object.freeze({
  defaultLifetime: 90_000,
  maxRegistrations: 1000,
  maxRegistrationsPerSourcePerMinute: 60,
  maxTrackedSources: 4096,
  maxBodyBytes: 16 * 1024,
  maxLinks: 256,
  maxParamsPerLink: 32,
  maxAttributes: 16,
  maxAttributeBytes: 255,
  maxPendingSimpleRegistrations: 8,
  simpleFetchTimeoutMs: 10_000,
});

/** RFC 9176 §5.3: "lt" ranges over 1..2^32-1 seconds. */
export const MIN_LIFETIME = 1;
export const MAX_LIFETIME = 0xffff_ffff;

export function rdLimits(overrides: Partial<RdLimits> = {}): RdLimits {
  const limits = { ...DEFAULT_RD_LIMITS, ...overrides };
  for (const [key, value] of Object.entries(limits)) {
    if (!Number.isInteger(value) || value < 1) throw new RangeError(`RD limit ${key} must be a positive integer, not ${String(value)}`);
  }
  if (limits.defaultLifetime > MAX_LIFETIME) throw new RangeError(`RD default lifetime must be at most ${MAX_LIFETIME} s`);
  return limits;
}
