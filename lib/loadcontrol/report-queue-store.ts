/**
 * The reports still owed to the VTN, on disk: a restart while the VTN is away loses none. The
 * file is rewritten after every change of the queue (a report queued, sent or dropped), so a
 * report the VTN has taken is not sent again after a restart. (One taken in the instant before
 * a crash, its answer not yet seen, would be: the VTN may answer that second copy with 409.)
 */
import { writeFileAtomicSync } from '../util/atomic-file';
import { readJsonFile } from './json-file';
import type { Report } from './openadr3-types';
import { validateObject } from './validate';

/** Enough for the default 100 reports of a few dozen devices. */
export const MAX_QUEUE_FILE_BYTES = 16 * 1024 * 1024;

/** The saved queue, oldest first, at most `max` (the newest kept); entries that are not reports are dropped. */
export function loadReportQueue(file: string, max: number): Report[] {
  const data = readJsonFile(file, MAX_QUEUE_FILE_BYTES);
  if (data === undefined) return [];
  if (!Array.isArray(data)) throw new Error(`${file} does not hold a list of reports`);
  return data.filter((r): r is Report => validateObject('report', r).ok).slice(-max);
}

export function saveReportQueue(file: string, queue: readonly Report[]): void {
  writeFileAtomicSync(file, `${JSON.stringify(queue)}\n`);
}
