/** An OpenADR 3 event turned into absolute interval times (ms), the way the schedule uses them. */
import { durationMs } from './duration';
import type { OadrEvent, ValuesMap } from './openadr3-types';

export interface PlannedInterval {
  readonly id: number;
  readonly startMs: number;
  /** Exclusive. An open-ended interval (duration PT0S) ends at start + the open-ended cap. */
  readonly endMs: number;
  readonly payloads: readonly ValuesMap[];
}

export interface PlannedEvent {
  readonly id: string;
  readonly programID: string;
  readonly name?: string;
  /** Lower wins (OpenADR 3); events without one come last. */
  readonly priority: number;
  readonly randomizeStartMs: number;
  readonly intervals: readonly PlannedInterval[];
  readonly startMs: number;
  readonly endMs: number;
  /** What the VTN sent, for reports and for telling a modification from a repeat. */
  readonly source: OadrEvent;
  readonly fingerprint: string;
}

export class PlanError extends Error {}

/**
 * Interval times follow the OpenADR 3 rules: an interval's own intervalPeriod wins; without
 * one, intervals follow each other from the event's intervalPeriod start, each lasting its
 * duration. A duration of PT0S (or none) means "until further notice" and is capped at
 * `openEndedMs` so that no device stays curtailed for ever.
 */
export function planEvent(event: OadrEvent, openEndedMs: number): PlannedEvent {
  if (!event.id) throw new PlanError('the event has no id');
  const defaults = event.intervalPeriod;
  let cursor = defaults ? Date.parse(defaults.start) : NaN;
  const intervals: PlannedInterval[] = [];
  for (const interval of event.intervals) {
    const period = interval.intervalPeriod;
    const start = period ? Date.parse(period.start) : cursor;
    if (!Number.isFinite(start)) throw new PlanError(`interval ${interval.id} has no start: neither it nor the event has an intervalPeriod`);
    const durationText = period?.duration ?? defaults?.duration ?? 'PT0S';
    const length = durationMs(durationText);
    if (length < 0) throw new PlanError(`interval ${interval.id} has a negative duration ${durationText}`);
    const end = start + (length === 0 ? openEndedMs : length);
    intervals.push({ id: interval.id, startMs: start, endMs: end, payloads: interval.payloads });
    cursor = end;
  }
  const randomize = event.intervalPeriod?.randomizeStart;
  return {
    id: event.id,
    programID: event.programID,
    name: event.eventName ?? undefined,
    priority: event.priority ?? Number.MAX_SAFE_INTEGER,
    randomizeStartMs: randomize ? Math.max(0, durationMs(randomize)) : 0,
    intervals,
    startMs: intervals.length ? Math.min(...intervals.map((i) => i.startMs)) : NaN,
    endMs: intervals.length ? Math.max(...intervals.map((i) => i.endMs)) : NaN,
    source: event,
    fingerprint: JSON.stringify(event),
  };
}
