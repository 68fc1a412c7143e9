/** Time as the load-control schedule sees it: injectable, so schedule tests run without waiting. */

export interface Clock {
  /** Wall-clock time (ms since the epoch): what event start times are written in. */
  now(): number;
  /** A clock that never jumps (ms): tells a wall-clock jump from time that passed. */
  monotonic(): number;
  setTimer(fn: () => void, ms: number): unknown;
  clearTimer(handle: unknown): void;
}

/** setTimeout's ceiling (2^31 - 1 ms); longer waits are cut and re-planned. */
export const MAX_TIMER_MS = 2_147_483_647;

export const systemClock: Clock = {
  now: () => Date.now(),
  monotonic: () => performance.now(),
  setTimer: (fn, ms) => setTimeout(fn, Math.min(Math.max(ms, 0), MAX_TIMER_MS)),
  clearTimer: (handle) => clearTimeout(handle as NodeJS.Timeout),
};
