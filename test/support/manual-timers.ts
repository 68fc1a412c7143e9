/** A clock that moves only when the test says, for code that takes a Timers (lib/sharing/timers.ts). */
import type { Timers } from '../../lib/sharing/timers';

export interface ManualTimers extends Timers {
  /** Moves the clock forward, firing every timer that falls due, in order. */
  advance(ms: number): void;
  pending(): number;
}

export function manualTimers(start = Date.UTC(2026, 0, 1)): ManualTimers {
  let now = start;
  let seq = 0;
  const timers = new Map<number, { at: number; fn: () => void }>();
  return {
    now: () => now,
    setTimeout(fn, ms) {
      const id = ++seq;
      timers.set(id, { at: now + ms, fn });
      return id;
    },
    clearTimeout(handle) {
      timers.delete(handle as number);
    },
    advance(ms) {
      const until = now + ms;
      for (;;) {
        const due = [...timers.entries()].filter(([, t]) => t.at <= until).sort((a, b) => a[1].at - b[1].at || a[0] - b[0])[0];
        if (due === undefined) break;
        timers.delete(due[0]);
        now = due[1].at;
        due[1].fn();
      }
      now = until;
    },
    pending: () => timers.size,
  };
}
