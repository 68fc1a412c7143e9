/**
 * Sender Sequence Number that survives restarts, even kill -9 (RFC 8613 Appendix B.1.1).
 *
 * The store holds a ceiling: no number at or above it has ever been used. Before the sender
 * uses a number that reaches the ceiling it durably writes ceiling = number + K, and only then
 * uses the number. After a restart it starts at the stored ceiling, skipping at most K unused
 * numbers. This is B.1.1 with the write made synchronous (fsync before use), so F = 0 suffices:
 * there is no window in which a number is used before the ceiling above it is on disk.
 */
import { readFileSync } from 'node:fs';
import { writeFileAtomicSync } from '../util/atomic-file';
import { MAX_SEQUENCE_NUMBER } from './algorithms';
import { OscoreError } from './errors';

/** Where the ceiling lives. save() must not return before the value is on stable storage. */
export interface SequenceStorage {
  /** The stored ceiling, or undefined when this context never stored one (first start). */
  load(): number | undefined;
  save(ceiling: number): void;
}

/** Default K: one synchronous write per 1024 messages; a restart wastes < 1024 of 2^40 numbers. */
export const DEFAULT_RESERVE = 1024;

function checkCeiling(value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0 || value > MAX_SEQUENCE_NUMBER + 1) {
    throw new OscoreError('state-unavailable', `stored sequence number is invalid: ${String(value)}`);
  }
  return value;
}

export class MemorySequenceStorage implements SequenceStorage {
  writes = 0;
  constructor(private ceiling?: number) {}
  load(): number | undefined {
    return this.ceiling;
  }
  save(ceiling: number): void {
    this.ceiling = ceiling;
    this.writes++;
  }
}

/**
 * One small JSON file per security context, replaced atomically: write a temporary file,
 * fsync it, rename it over the old one, fsync the directory so the rename itself is durable.
 * A missing file means "first start"; an unreadable one is an error, never "start at 0".
 */
export class FileSequenceStorage implements SequenceStorage {
  constructor(readonly path: string) {}

  load(): number | undefined {
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new OscoreError('state-unavailable', `cannot read ${this.path}: ${(error as Error).message}`);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new OscoreError('state-unavailable', `${this.path} is not valid JSON`);
    }
    const record = parsed as { version?: unknown; ceiling?: unknown } | null;
    if (typeof record !== 'object' || record === null || record.version !== 1) {
      throw new OscoreError('state-unavailable', `${this.path} has an unknown format`);
    }
    return checkCeiling(record.ceiling);
  }

  save(ceiling: number): void {
    try {
      writeFileAtomicSync(this.path, `${JSON.stringify({ version: 1, ceiling })}\n`);
    } catch (error) {
      throw new OscoreError('state-unavailable', `cannot write ${this.path}: ${(error as Error).message}`);
    }
  }
}

export class SenderSequence {
  private nextNumber: number;
  private ceiling: number;
  /** True when the store already held a value: this context ran before and lost its RAM state. */
  readonly restarted: boolean;

  constructor(
    private readonly storage: SequenceStorage,
    private readonly reserve: number = DEFAULT_RESERVE,
  ) {
    if (!Number.isSafeInteger(reserve) || reserve < 1) throw new OscoreError('invalid-argument', `K must be a positive integer, got ${reserve}`);
    const stored = storage.load();
    this.restarted = stored !== undefined;
    this.nextNumber = stored === undefined ? 0 : checkCeiling(stored);
    this.ceiling = this.nextNumber; // nothing reserved by this run yet
  }

  /** The number the next call to take() returns. */
  peek(): number {
    return this.nextNumber;
  }

  /** Reads and increments atomically (§7.2); persists ahead by K first when needed. */
  take(): number {
    const n = this.nextNumber;
    if (n > MAX_SEQUENCE_NUMBER) throw new OscoreError('sequence-exhausted', 'Sender Sequence Number exhausted: a new security context is needed');
    if (n >= this.ceiling) {
      const ceiling = Math.min(n + this.reserve, MAX_SEQUENCE_NUMBER + 1);
      this.storage.save(ceiling); // throws before n is used if the write fails
      this.ceiling = ceiling;
    }
    this.nextNumber = n + 1;
    return n;
  }
}
