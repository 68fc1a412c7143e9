/** An OpenADR 3 report the VTN asked for: which devices took part in the event intervals, and what they saved. */
import { isoDuration } from './duration';
import type { PlannedEvent, PlannedInterval } from './event-plan';
import type { Report, ReportResource, Interval, ValuesMap } from './openadr3-types';
import type { Participant } from './participants';
import type { ReportPlan, RequestedPayload } from './report-request';

export interface IntervalParticipation {
  readonly participant: Participant;
  readonly baseline: number;
  readonly value: number;
  /** Estimated share of rated power shed (0 to 1). */
  readonly shed: number;
  /** Power the device reported during the interval (W): a running sum, so a chatty device costs nothing. */
  sumW: number;
  samples: number;
}

/** One event interval as it ran (its end cut short by a cancellation), and who took part. */
export interface RanInterval {
  readonly interval: PlannedInterval;
  readonly members: readonly IntervalParticipation[];
}

const AGGREGATED = 'AGGREGATED_REPORT';
const round = (n: number): number => Math.round(n * 1000) / 1000;

/** Our figure for one payload type over a set of members; undefined when there is none (nobody measured). */
function figure(type: string, interval: PlannedInterval, members: readonly IntervalParticipation[]): number | undefined {
  const hours = (interval.endMs - interval.startMs) / 3600_000;
  const measured = members.filter((m) => m.samples > 0);
  const meanKw = (m: IntervalParticipation): number => m.sumW / m.samples / 1000;
  switch (type) {
    case 'DELTA_USAGE':
      return members.reduce((sum, m) => sum - (m.participant.ratedWatts * m.shed) / 1000, 0);
    case 'USAGE':
      return measured.length ? measured.reduce((sum, m) => sum + meanKw(m) * hours, 0) : undefined;
    case 'DEMAND':
      return measured.length ? measured.reduce((sum, m) => sum + meanKw(m), 0) : undefined;
    default:
      return undefined;
  }
}

function reportInterval(ran: PlannedInterval, members: readonly IntervalParticipation[], payloads: readonly RequestedPayload[]): Interval | undefined {
  const values: ValuesMap[] = [];
  for (const p of payloads) {
    const f = figure(p.type, ran, members);
    if (f !== undefined) values.push({ type: p.type, values: [round(f * p.factor)] });
  }
  if (!values.length) return undefined;
  return { id: ran.id, intervalPeriod: { start: new Date(ran.startMs).toISOString(), duration: isoDuration(ran.endMs - ran.startMs) }, payloads: values };
}

/**
 * The report for `plan` over the intervals that ran. Aggregated: one AGGREGATED_REPORT resource
 * summing the devices; otherwise one resource per device that took part. An interval without
 * any figure (USAGE asked, no device reported power) is left out rather than sent as zero.
 */
export function buildReport(clientName: string, event: PlannedEvent, plan: ReportPlan, ran: readonly RanInterval[], reportName: string): Report {
  const wanted = (m: IntervalParticipation): boolean => !plan.resources || plan.resources.has(m.participant.name);
  const resources: ReportResource[] = [];
  if (plan.aggregate) {
    const intervals = ran.map((r) => reportInterval(r.interval, r.members.filter(wanted), plan.payloads)).filter((i): i is Interval => i !== undefined);
    resources.push({ resourceName: AGGREGATED, intervals });
  } else {
    const names = new Map<string, Participant>();
    for (const r of ran) for (const m of r.members) if (wanted(m)) names.set(m.participant.key, m.participant);
    for (const [key, participant] of names) {
      const intervals = ran
        .map((r) => reportInterval(r.interval, r.members.filter((m) => m.participant.key === key), plan.payloads))
        .filter((i): i is Interval => i !== undefined);
      if (intervals.length) resources.push({ resourceName: participant.name.slice(0, 128), intervals });
    }
  }
  return {
    objectType: 'REPORT',
    programID: event.programID,
    eventID: event.id,
    clientName,
    reportName: reportName.slice(0, 128),
    payloadDescriptors: plan.payloads.map((p) => ({ objectType: 'REPORT_PAYLOAD_DESCRIPTOR', payloadType: p.type, readingType: p.readingType, units: p.units })),
    resources,
  };
}
