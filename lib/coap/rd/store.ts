/**
 * Keeps registrations in a JSON file so they survive a restart. Writes are atomic (temp file,
 * fsync, rename, fsync of the directory) and debounced; a file that cannot be read back is
 * moved aside, never fatal.
 */
import { readFileSync, renameSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { writeFileAtomic } from '../../util/atomic-file';
import type { Registration } from './registry';

const FORMAT_VERSION = 1;

export interface LoadResult {
  registrations: Registration[];
  /** Entries that were not registrations and were skipped. */
  skipped: number;
  /** Where an unreadable file was moved to. */
  movedAside?: string;
  /** Why it was moved aside. */
  problem?: string;
}

function isStringArrayRecord(value: unknown): value is Record<string, string[]> {
  return (
    typeof value === 'object' &&
    value !== null &&
    Object.values(value).every((v) => Array.isArray(v) && v.every((s) => typeof s === 'string'))
  );
}

function isLinkList(value: unknown): boolean {
  return (
    Array.isArray(value) &&
    value.every(
      (l: unknown) =>
        typeof l === 'object' &&
        l !== null &&
        typeof (l as { href?: unknown }).href === 'string' &&
        ((l as { attributes?: unknown }).attributes === undefined || typeof (l as { attributes?: unknown }).attributes === 'object'),
    )
  );
}

/** Checks the shape of one saved registration; the file is outside input too (hand edits, disk faults). */
export function isRegistration(value: unknown): value is Registration {
  if (typeof value !== 'object' || value === null) return false;
  const r = value as Record<string, unknown>;
  const source = r.source as Record<string, unknown> | undefined;
  return (
    typeof r.id === 'string' &&
    /^[A-Za-z0-9_-]{1,64}$/.test(r.id) &&
    typeof r.ep === 'string' &&
    (r.d === undefined || typeof r.d === 'string') &&
    typeof r.base === 'string' &&
    typeof r.lt === 'number' &&
    typeof r.expiresAt === 'number' &&
    typeof r.registeredAt === 'number' &&
    typeof r.updatedAt === 'number' &&
    typeof r.baseExplicit === 'boolean' &&
    typeof r.simple === 'boolean' &&
    isLinkList(r.links) &&
    isStringArrayRecord(r.attributes) &&
    typeof source === 'object' &&
    source !== null &&
    typeof source.address === 'string' &&
    typeof source.port === 'number'
  );
}

export class RegistrationStore {
  private timer: NodeJS.Timeout | undefined;
  private pending: (() => readonly Registration[]) | undefined;
  private writing: Promise<void> = Promise.resolve();

  constructor(
    readonly file: string,
    private readonly options: { debounceMs?: number; onError?: (err: Error) => void; clock?: () => number } = {},
  ) {}

  /** Reads the file (synchronously: a node starts before it serves anything). Missing file: nothing saved. */
  load(): LoadResult {
    let text: string;
    try {
      text = readFileSync(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { registrations: [], skipped: 0 };
      return this.moveAside(`cannot read it: ${(err as Error).message}`);
    }
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch (err) {
      return this.moveAside(`not JSON: ${(err as Error).message}`);
    }
    const list = (doc as { registrations?: unknown } | null)?.registrations;
    if ((doc as { version?: unknown } | null)?.version !== FORMAT_VERSION || !Array.isArray(list)) {
      return this.moveAside(`not a version ${FORMAT_VERSION} registration file`);
    }
    const registrations = list.filter(isRegistration);
    return { registrations, skipped: list.length - registrations.length };
  }

  /** Saves what `snapshot` returns once things have been quiet for the debounce time. */
  schedule(snapshot: () => readonly Registration[]): void {
    this.pending = snapshot;
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, this.options.debounceMs ?? 1000);
    this.timer.unref();
  }

  /** Writes a scheduled save now; resolves when every write so far is on disk (or has failed and been reported). */
  flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    const snapshot = this.pending;
    this.pending = undefined;
    if (snapshot) {
      const data = JSON.stringify({ version: FORMAT_VERSION, savedAt: (this.options.clock ?? Date.now)(), registrations: snapshot() });
      // One write at a time, in order, so an older snapshot never lands after a newer one.
      this.writing = this.writing.then(() =>
        writeFileAtomic(this.file, data).catch((err: Error) => this.options.onError?.(err)),
      );
    }
    return this.writing;
  }

  private moveAside(problem: string): LoadResult {
    const aside = `${this.file}.corrupt-${new Date((this.options.clock ?? Date.now)()).toISOString().replace(/[:.]/g, '-')}`;
    try {
      mkdirSync(dirname(this.file), { recursive: true });
      renameSync(this.file, aside);
      return { registrations: [], skipped: 0, movedAside: aside, problem };
    } catch (err) {
      return { registrations: [], skipped: 0, problem: `${problem}; could not move it aside: ${(err as Error).message}` };
    }
  }
}
