/**
 * The curtailed devices and their values before the event, on disk, so that a restart (or a
 * crash) in the middle of an event cannot leave a device curtailed: the next start takes them
 * back and restores each one whose event is gone.
 */
import { readFileSync, statSync } from 'node:fs';
import { writeFileAtomicSync } from '../util/atomic-file';
import type { Curtailment } from './schedule';

const MAX_FILE_BYTES = 1024 * 1024;

function isCurtailment(x: unknown): x is Curtailment {
  const c = x as Partial<Curtailment> | null;
  return (
    typeof c === 'object' &&
    c !== null &&
    typeof c.participant?.key === 'string' &&
    typeof c.participant.name === 'string' &&
    (c.participant.transport === 'mqtt' || c.participant.transport === 'coap') &&
    typeof c.participant.quantity === 'string' &&
    typeof c.baseline === 'number' &&
    typeof c.value === 'number' &&
    typeof c.eventID === 'string' &&
    typeof c.intervalID === 'number'
  );
}

/** What was saved; nothing when there is no file. A damaged file is an error the caller reports. */
export function loadCurtailments(file: string): Curtailment[] {
  let size: number;
  try {
    size = statSync(file).size;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  if (size > MAX_FILE_BYTES) throw new Error(`${file} is larger than ${MAX_FILE_BYTES} bytes`);
  const data = JSON.parse(readFileSync(file, 'utf8')) as unknown;
  if (!Array.isArray(data)) throw new Error(`${file} does not hold a list`);
  return data.filter(isCurtailment);
}

/** Written synchronously, right after the commands of the same look at the clock went out. */
export function saveCurtailments(file: string, list: readonly Curtailment[]): void {
  writeFileAtomicSync(file, `${JSON.stringify(list, null, 1)}\n`);
}
