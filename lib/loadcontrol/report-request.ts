/**
 * An event's reportDescriptors (OpenADR 3.0.1) turned into the reports the VEN owes: which
 * payload types, aggregated or per resource, and for which event intervals, when.
 *
 * Our reading of the descriptor fields, where the document leaves room:
 * - intervals are counted by their position in the event's list (interval ids are "not a
 *   sequence number"), from 0;
 * - startInterval k: the report is made at the end of interval k; -1 is the last interval;
 * - historical (the default): the report covers the numIntervals intervals up to and including
 *   interval k (-1: all of them from the first); historical false asks for a forecast of the
 *   intervals after k, which this VEN cannot make: such a descriptor is declined;
 * - frequency: the next report is due that many intervals after the previous one (-1: as many
 *   as numIntervals, so that reports follow each other without overlap); repeat: how many
 *   reports in all (-1: until the event's intervals run out, so never more than it has);
 * - targets: RESOURCE_NAME narrows the devices reported on, VEN_NAME that does not name this
 *   VEN means the descriptor is for another VEN; other target types do not narrow;
 * - readingType and units are wishes: the report's payloadDescriptors say what was measured
 *   (W/KW and WH/KWH are converted when asked).
 * An event without reportDescriptors asks for no report ("Used to request reports from VEN"),
 * so none is sent.
 */
import type { ReportDescriptor } from './openadr3-types';

/** What this VEN can measure or estimate, with the reading type and units it has them in. */
export const PRODUCIBLE: Readonly<Record<string, { readingType: string; units: string; alt?: { units: string; factor: number } }>> = {
  /** Change against the baseline (kW, negative is a reduction), estimated from rated power and the command. */
  DELTA_USAGE: { readingType: 'ESTIMATED', units: 'KW', alt: { units: 'W', factor: 1000 } },
  /** Energy over the interval (kWh), from the power the devices reported. */
  USAGE: { readingType: 'MEAN', units: 'KWH', alt: { units: 'WH', factor: 1000 } },
  /** Mean power over the interval (kW), from the power the devices reported. */
  DEMAND: { readingType: 'MEAN', units: 'KW', alt: { units: 'W', factor: 1000 } },
};

export interface RequestedPayload {
  readonly type: string;
  readonly readingType: string;
  readonly units: string;
  /** Multiplier from our unit to the one asked for. */
  readonly factor: number;
}

/** Reports due: one per window, made when the window's last interval ends. */
export interface ReportWindow {
  /** Positions, inclusive. */
  readonly from: number;
  readonly to: number;
}

export interface ReportPlan {
  /** Stable for the same request: tells a sent report from one still owed. */
  readonly key: string;
  readonly aggregate: boolean;
  /** Device names the report is about; undefined: every device in the event. */
  readonly resources?: ReadonlySet<string>;
  readonly payloads: readonly RequestedPayload[];
  readonly windows: readonly ReportWindow[];
}

export interface ReportRequests {
  readonly plans: ReportPlan[];
  /** Why a descriptor (or a payload type of one) is not answered: told once per event version. */
  readonly declined: string[];
}

/** Most descriptors answered per event: each may ask for a report per interval, and the VTN is outside our control. */
export const MAX_DESCRIPTORS = 20;

const int = (v: unknown, fallback: number): number => (typeof v === 'number' && Number.isInteger(v) ? v : fallback);

function windowsOf(d: ReportDescriptor, count: number): { windows: ReportWindow[]; spec: number[] } | string {
  const start = int(d.startInterval, -1);
  const num = int(d.numIntervals, -1);
  const frequency = int(d.frequency, -1);
  const repeat = int(d.repeat, 1);
  if (start < -1) return `startInterval ${start} is not an interval`;
  if (num === 0 || num < -1) return `numIntervals ${num} is not a number of intervals`;
  if (frequency === 0 || frequency < -1) return `frequency ${frequency} is not a number of intervals`;
  if (repeat < -1) return `repeat ${repeat} is not a count`;
  if (count === 0) return 'the event has no intervals';
  const first = start === -1 ? count - 1 : start;
  if (first >= count) return `startInterval ${start} is past the event's ${count} intervals`;
  const step = frequency === -1 ? (num === -1 ? count : num) : frequency;
  const out: ReportWindow[] = [];
  // Bounded by the event: at most one report per interval.
  for (let to = first, n = 0; to < count && (repeat === -1 || n < repeat); to += step, n++) {
    out.push({ from: num === -1 ? 0 : Math.max(0, to - num + 1), to });
  }
  return { windows: out, spec: [first, num, step, repeat] };
}

function targetsOf(d: ReportDescriptor, venName: string): { resources?: Set<string>; forUs: boolean } {
  let resources: Set<string> | undefined;
  let forUs = true;
  for (const t of d.targets ?? []) {
    const values = t.values.map(String);
    if (t.type === 'RESOURCE_NAME') resources = new Set([...(resources ?? []), ...values]);
    if (t.type === 'VEN_NAME' && !values.includes(venName)) forUs = false;
  }
  return { resources, forUs };
}

/**
 * The reports `descriptors` ask of this VEN for an event of `count` intervals. Descriptors that
 * share window, aggregation and targets are answered by one report carrying each payload type.
 */
export function reportRequests(descriptors: readonly ReportDescriptor[] | null | undefined, count: number, venName: string): ReportRequests {
  const declined: string[] = [];
  const byKey = new Map<string, { aggregate: boolean; resources?: Set<string>; payloads: RequestedPayload[]; windows: ReportWindow[] }>();
  const list = descriptors ?? [];
  if (list.length > MAX_DESCRIPTORS) declined.push(`reports ${MAX_DESCRIPTORS} to ${list.length - 1}: more than ${MAX_DESCRIPTORS} asked for; the rest are not answered`);
  list.slice(0, MAX_DESCRIPTORS).forEach((d, i) => {
    const what = `report ${i} (${d.payloadType})`;
    // Own keys only: a payload type named like an Object property ("constructor") is not ours to produce.
    const produced = Object.hasOwn(PRODUCIBLE, d.payloadType) ? PRODUCIBLE[d.payloadType] : undefined;
    if (!produced) return declined.push(`${what}: this VEN cannot produce ${d.payloadType}; it can send ${Object.keys(PRODUCIBLE).join(', ')}`);
    if (d.historical === false) return declined.push(`${what}: asks for a forecast (historical false); this VEN only reports what happened`);
    const timing = windowsOf(d, count);
    if (typeof timing === 'string') return declined.push(`${what}: ${timing}`);
    const { resources, forUs } = targetsOf(d, venName);
    if (!forUs) return;
    const aggregate = d.aggregate === true;
    const key = JSON.stringify([aggregate, resources ? [...resources].sort() : null, timing.spec]);
    let plan = byKey.get(key);
    if (!plan) byKey.set(key, (plan = { aggregate, resources, payloads: [], windows: timing.windows }));
    if (plan.payloads.some((p) => p.type === d.payloadType)) return;
    const alt = produced.alt && d.units === produced.alt.units ? produced.alt : undefined;
    plan.payloads.push({ type: d.payloadType, readingType: produced.readingType, units: alt?.units ?? produced.units, factor: alt?.factor ?? 1 });
  });
  const plans = [...byKey.entries()].map(([key, p]) => ({ key, ...p }));
  return { plans, declined };
}
