/**
 * Claims, device records and owner notices in one JSON file. Every change is written atomically
 * (lib/util/atomic-file) and its promise settles only once the file holding it is on disk, so an
 * acknowledged change survives kill -9. Changes that arrive while a write is under way share the
 * next write. A file that cannot be read back is moved aside, never fatal.
 */
import { readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { writeFileAtomic } from '../util/atomic-file';
import { DEFAULT_SHARING } from '../sharing/choices';
import type { Claim, DeviceRecord, Notice } from './types';
import { isValidDeviceId } from './topics';

const FORMAT_VERSION = 1;
export const DEFAULT_MAX_NOTICES = 200;

interface RegistryFile {
  version: number;
  claims: Claim[];
  devices: DeviceRecord[];
  notices: Notice[];
}

export interface LoadProblem {
  movedAside: string;
  problem: string;
}

function hasId(value: unknown): value is { id: string } {
  return typeof value === 'object' && value !== null && typeof (value as { id?: unknown }).id === 'string' && isValidDeviceId((value as { id: string }).id);
}

function isNotice(value: unknown): value is Notice {
  const n = value as Record<string, unknown>;
  return typeof value === 'object' && value !== null && typeof n.kind === 'string' && typeof n.deviceId === 'string' && typeof n.at === 'string' && typeof n.reason === 'string';
}

function isDevice(value: unknown): value is DeviceRecord {
  const d = value as Record<string, unknown>;
  return hasId(value) && typeof d.state === 'string' && Array.isArray(d.behaviours);
}

/** Temporary files of writers killed mid-write (see lib/util/atomic-file): never read, only litter. */
function removeStaleTemporaries(file: string): void {
  const prefix = `.${basename(file)}.`;
  let entries: string[];
  try {
    entries = readdirSync(dirname(file));
  } catch {
    return;
  }
  for (const e of entries) if (e.startsWith(prefix) && e.endsWith('.tmp')) rmSync(join(dirname(file), e), { force: true });
}

export class DeviceRegistry {
  private claimsById = new Map<string, Claim>();
  private devicesById = new Map<string, DeviceRecord>();
  private noticeList: Notice[] = []; // oldest first
  private tail: Promise<void> = Promise.resolve();
  private nextWrite: Promise<void> | undefined;
  /** Set when load() found a file it could not use. */
  loadProblem: LoadProblem | undefined;

  /** `file` undefined: memory only (no user directory). */
  constructor(
    readonly file: string | undefined,
    private readonly maxNotices = DEFAULT_MAX_NOTICES,
  ) {
    this.load();
  }

  private load(): void {
    if (this.file === undefined) return;
    const file = this.file;
    removeStaleTemporaries(file);
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    try {
      const data = JSON.parse(text) as Partial<RegistryFile>;
      if (data.version !== FORMAT_VERSION || !Array.isArray(data.claims) || !Array.isArray(data.devices) || !Array.isArray(data.notices)) {
        throw new Error(`not a version ${FORMAT_VERSION} device registry`);
      }
      for (const c of data.claims) if (hasId(c)) this.claimsById.set(c.id, c);
      for (const d of data.devices) if (isDevice(d)) this.devicesById.set(d.id, { ...d, sharing: d.sharing ?? DEFAULT_SHARING, online: false });
      this.noticeList = data.notices.filter(isNotice).slice(-this.maxNotices);
    } catch (err) {
      const movedAside = `${file}.unreadable-${Date.now()}`;
      renameSync(file, movedAside);
      this.loadProblem = { movedAside, problem: (err as Error).message };
    }
  }

  claims(): Claim[] {
    return [...this.claimsById.values()];
  }

  claim(id: string): Claim | undefined {
    return this.claimsById.get(id);
  }

  devices(): DeviceRecord[] {
    return [...this.devicesById.values()];
  }

  device(id: string): DeviceRecord | undefined {
    return this.devicesById.get(id);
  }

  notices(limit = this.maxNotices): Notice[] {
    return this.noticeList.slice(-Math.max(0, limit)).reverse();
  }

  putClaim(claim: Claim): Promise<void> {
    this.claimsById.set(claim.id, claim);
    return this.save();
  }

  removeClaim(id: string): Promise<void> {
    this.claimsById.delete(id);
    return this.save();
  }

  putDevice(device: DeviceRecord): Promise<void> {
    this.devicesById.set(device.id, device);
    return this.save();
  }

  /** Soft state (lastSeen of a heartbeat): kept in memory, written with the next real change. */
  touchDevice(device: DeviceRecord): void {
    this.devicesById.set(device.id, device);
  }

  removeDevice(id: string): Promise<void> {
    this.devicesById.delete(id);
    return this.save();
  }

  addNotice(notice: Notice): Promise<void> {
    this.noticeList.push(notice);
    if (this.noticeList.length > this.maxNotices) this.noticeList.splice(0, this.noticeList.length - this.maxNotices);
    return this.save();
  }

  /** Resolves once everything changed so far is on disk. */
  save(): Promise<void> {
    // Writes run one after another; every change made while one runs rides on the next.
    if (!this.nextWrite) {
      const next = this.tail.then(() => this.writeNow());
      this.nextWrite = next;
      this.tail = next.catch(() => undefined);
    }
    return this.nextWrite;
  }

  private writeNow(): Promise<void> {
    this.nextWrite = undefined;
    if (this.file === undefined) return Promise.resolve();
    const data: RegistryFile = { version: FORMAT_VERSION, claims: this.claims(), devices: this.devices(), notices: this.noticeList };
    return writeFileAtomic(this.file, `${JSON.stringify(data, null, 1)}\n`);
  }

  /** Waits for the writes under way (on close). */
  flush(): Promise<void> {
    return this.tail;
  }
}
