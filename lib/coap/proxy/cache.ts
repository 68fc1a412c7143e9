/**
 * The proxy's response cache (RFC 7252 §5.6): fresh 2.05 answers to GET, for as long as their
 * Max-Age says (60 s when absent, §5.10.5), least recently used evicted first, bounded in
 * entries and bytes. The clock is injected so tests never wait.
 */
import type { ClientResponse } from '../client';

export interface CacheLimits {
  maxEntries: number;
  maxBytes: number;
}

export const DEFAULT_MAX_AGE_S = 60;
/** What an entry costs besides its payload: key, options, bookkeeping (an estimate). */
const ENTRY_OVERHEAD_BYTES = 128;

interface Entry {
  group: string;
  response: ClientResponse;
  storedAt: number;
  maxAgeS: number;
  bytes: number;
}

export interface CachedResponse {
  response: ClientResponse;
  /** Seconds left: what the Max-Age of the served copy must say (§5.6.1). */
  maxAgeS: number;
}

export function cacheKey(group: string, path: readonly string[], query: readonly string[], accept: unknown): string {
  return JSON.stringify([group, path, query, accept ?? null]);
}

export class ResponseCache {
  /** Insertion order is recency order: a hit is moved to the end. */
  private readonly entries = new Map<string, Entry>();
  private totalBytes = 0;

  constructor(
    private readonly limits: CacheLimits,
    private readonly now: () => number = Date.now,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  get bytes(): number {
    return this.totalBytes;
  }

  get(key: string): CachedResponse | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    const ageS = (this.now() - entry.storedAt) / 1000;
    if (ageS >= entry.maxAgeS) {
      this.remove(key, entry);
      return undefined;
    }
    this.entries.delete(key);
    this.entries.set(key, entry);
    return { response: entry.response, maxAgeS: Math.max(0, Math.floor(entry.maxAgeS - ageS)) };
  }

  /** Stores a 2.05 with a positive Max-Age; anything else is not cacheable and is ignored. */
  put(key: string, group: string, response: ClientResponse): boolean {
    if (response.code !== '2.05' || this.limits.maxEntries <= 0) return false;
    const maxAge = response.options['Max-Age'];
    const maxAgeS = typeof maxAge === 'number' ? maxAge : DEFAULT_MAX_AGE_S;
    const bytes = response.payload.length + ENTRY_OVERHEAD_BYTES;
    if (maxAgeS <= 0 || bytes > this.limits.maxBytes) return false;
    const old = this.entries.get(key);
    if (old) this.remove(key, old);
    this.entries.set(key, { group, response, storedAt: this.now(), maxAgeS, bytes });
    this.totalBytes += bytes;
    for (const [k, e] of this.entries) {
      if (this.entries.size <= this.limits.maxEntries && this.totalBytes <= this.limits.maxBytes) break;
      this.remove(k, e);
    }
    return true;
  }

  /** Drops every entry of one endpoint (it changed state, re-registered or left). */
  invalidateGroup(group: string): void {
    for (const [k, e] of this.entries) if (e.group === group) this.remove(k, e);
  }

  /** Drops the entries for one resource, whatever their query and Accept (after a POST/PUT/DELETE). */
  invalidatePath(group: string, path: readonly string[]): void {
    const prefix = JSON.stringify([group, path]).slice(0, -1);
    for (const [k, e] of this.entries) if (k.startsWith(prefix)) this.remove(k, e);
  }

  clear(): void {
    this.entries.clear();
    this.totalBytes = 0;
  }

  private remove(key: string, entry: Entry): void {
    this.entries.delete(key);
    this.totalBytes -= entry.bytes;
  }
}
