/** Exponential back-off: initial, doubled per failure, capped. */
export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 2_000, maxMs: 300_000 };

/** Delay before retry number `failures` (1 = first retry). */
export function backoffDelay(failures: number, options: BackoffOptions = DEFAULT_BACKOFF): number {
  const exp = Math.min(Math.max(failures - 1, 0), 30);
  return Math.min(options.maxMs, options.initialMs * 2 ** exp);
}
