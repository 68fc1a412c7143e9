/** The OpenADR 3 report of one event interval: which devices took part, and what it saved. */
import { isoDuration } from './duration';
import type { PlannedEvent, PlannedInterval } from './event-plan';
import type { Report, ReportResource, ValuesMap } from './openadr3-types';
import type { Participant } from './participants';

export interface IntervalParticipation {
  readonly participant: Participant;
  readonly baseline: number;
  readonly value: number;
  /** Estimated share of rated power shed (0 to 1). */
  readonly shed: number;
  /** Power the device reported during the interval (W). */
  readonly samplesW: number[];
}

/**
 * Report payload types are from the OpenADR 3 definitions: DELTA_USAGE (change against the
 * baseline, kW; negative is a reduction; ESTIMATED from rated power and the command) and USAGE
 * (kWh over the interval, from the power the device reported). The AGGREGATED_REPORT resource
 * sums every device.
 */
export function buildReport(clientName: string, event: PlannedEvent, interval: PlannedInterval, members: readonly IntervalParticipation[]): Report {
  const hours = (interval.endMs - interval.startMs) / 3600_000;
  const period = { start: new Date(interval.startMs).toISOString(), duration: isoDuration(interval.endMs - interval.startMs) };
  const round = (n: number): number => Math.round(n * 1000) / 1000;
  let totalDeltaKw = 0;
  let totalUsageKwh = 0;
  let measured = 0;
  const resources: ReportResource[] = members.map((m) => {
    const deltaKw = -(m.participant.ratedWatts * m.shed) / 1000;
    totalDeltaKw += deltaKw;
    const payloads: ValuesMap[] = [{ type: 'DELTA_USAGE', values: [round(deltaKw)] }];
    if (m.samplesW.length) {
      const kwh = (m.samplesW.reduce((a, b) => a + b, 0) / m.samplesW.length / 1000) * hours;
      totalUsageKwh += kwh;
      measured += 1;
      payloads.push({ type: 'USAGE', values: [round(kwh)] });
    }
    return { resourceName: m.participant.name, intervals: [{ id: interval.id, intervalPeriod: period, payloads }] };
  });
  const aggregate: ValuesMap[] = [{ type: 'DELTA_USAGE', values: [round(totalDeltaKw)] }];
  if (measured) aggregate.push({ type: 'USAGE', values: [round(totalUsageKwh)] });
  resources.push({ resourceName: 'AGGREGATED_REPORT', intervals: [{ id: interval.id, intervalPeriod: period, payloads: aggregate }] });
  return {
    objectType: 'REPORT',
    programID: event.programID,
    eventID: event.id,
    clientName,
    reportName: `${event.id}-interval-${interval.id}`.slice(0, 128),
    payloadDescriptors: [
      { objectType: 'REPORT_PAYLOAD_DESCRIPTOR', payloadType: 'DELTA_USAGE', readingType: 'ESTIMATED', units: 'KW' },
      { objectType: 'REPORT_PAYLOAD_DESCRIPTOR', payloadType: 'USAGE', readingType: 'MEAN', units: 'KWH' },
    ],
    resources,
  };
}
