/**
 * The curtailed devices with their values before the event, and the owner's opt-outs, on disk:
 * a restart (or a crash) in the middle of an event can neither leave a device curtailed (the
 * next start takes them back and restores each one whose event is gone) nor curtail again a
 * device the owner took out of the event.
 */
import { writeFileAtomicSync } from '../util/atomic-file';
import { readJsonFile } from './json-file';
import type { Curtailment, OptOut } from './schedule';

const MAX_FILE_BYTES = 1024 * 1024;

export interface LoadControlState {
  readonly curtailments: Curtailment[];
  readonly optOuts: OptOut[];
}

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

function isOptOut(x: unknown): x is OptOut {
  const o = x as Partial<OptOut> | null;
  return typeof o === 'object' && o !== null && typeof o.device === 'string' && typeof o.eventID === 'string' && typeof o.untilMs === 'number' && Number.isFinite(o.untilMs);
}

/**
 * What was saved; nothing when there is no file. A damaged file is an error the caller reports;
 * entries of the wrong shape are dropped. A plain list is the format before opt-outs were kept.
 */
export function loadState(file: string): LoadControlState {
  const data = readJsonFile(file, MAX_FILE_BYTES);
  if (data === undefined) return { curtailments: [], optOuts: [] };
  if (Array.isArray(data)) return { curtailments: data.filter(isCurtailment), optOuts: [] };
  const o = data as { curtailments?: unknown; optOuts?: unknown } | null;
  if (typeof o !== 'object' || o === null || !Array.isArray(o.curtailments)) throw new Error(`${file} does not hold the load-control state`);
  return { curtailments: o.curtailments.filter(isCurtailment), optOuts: Array.isArray(o.optOuts) ? o.optOuts.filter(isOptOut) : [] };
}

/** Written synchronously, right after the commands of the same look at the clock went out. */
export function saveState(file: string, state: LoadControlState): void {
  writeFileAtomicSync(file, `${JSON.stringify(state, null, 1)}\n`);
}
