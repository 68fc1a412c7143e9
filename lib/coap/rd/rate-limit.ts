/**
 * Counts registrations per source address in fixed one-minute windows. The table of sources is
 * bounded too: a flood of spoofed addresses forgets the quietest sources rather than growing.
 */
export interface RateVerdict {
  allowed: boolean;
  /** Seconds until this source may register again (when not allowed). */
  retryAfter: number;
}

const WINDOW_MS = 60_000;

export class SourceRateLimiter {
  /** Map order is least recently seen first, so eviction takes the first key. */
  private readonly windows = new Map<string, { start: number; count: number }>();

  constructor(
    private readonly perMinute: number,
    private readonly maxSources: number,
    private readonly clock: () => number,
  ) {}

  /** Records one attempt from `address` and says whether it is within the limit. */
  admit(address: string): RateVerdict {
    const now = this.clock();
    let window = this.windows.get(address);
    this.windows.delete(address);
    if (!window || now - window.start >= WINDOW_MS) window = { start: now, count: 0 };
    this.windows.set(address, window);
    while (this.windows.size > this.maxSources) {
      const oldest = this.windows.keys().next().value as string;
      this.windows.delete(oldest);
    }
    if (window.count >= this.perMinute) {
      return { allowed: false, retryAfter: Math.max(1, Math.ceil((window.start + WINDOW_MS - now) / 1000)) };
    }
    window.count++;
    return { allowed: true, retryAfter: 0 };
  }

  get trackedSources(): number {
    return this.windows.size;
  }
}
