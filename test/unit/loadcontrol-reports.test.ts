/**
 * The reports an event asks for (its reportDescriptors): which payload types, aggregated or per
 * device, for which intervals and when, on a hand-moved clock; every report validated against
 * the OpenADR 3.0.1 report schema.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { reportRequests } from '../../lib/loadcontrol/report-request';
import { LoadControlSchedule, type StateChange } from '../../lib/loadcontrol/schedule';
import type { OadrEvent, Report, ReportDescriptor } from '../../lib/loadcontrol/openadr3-types';
import type { Participant } from '../../lib/loadcontrol/participants';
import { validateObject } from '../../lib/loadcontrol/validate';
import { ManualClock } from '../support/loadcontrol-clock';

const MIN = 60_000;
const bulb: Participant = { key: 'coap:bulb', name: 'bulb', transport: 'coap', quantity: 'brightness', limits: {}, normal: 100, ratedWatts: 60, endpoint: 'bulb', path: '/dim' };
const heater: Participant = { key: 'coap:heater', name: 'heater', transport: 'coap', quantity: 'power', limits: {}, normal: 100, ratedWatts: 2000, endpoint: 'heater', path: '/power' };

const windows = (d: ReportDescriptor, count: number): [number, number][] | string => {
  const r = reportRequests([d], count, 'home-gw');
  return r.declined[0] ?? r.plans[0]!.windows.map((w) => [w.from, w.to]);
};

describe('report descriptors', () => {
  test('the defaults: one report at the end of the last interval, covering all of them', () => {
    assert.deepEqual(windows({ payloadType: 'USAGE' }, 4), [[0, 3]]);
    assert.deepEqual(windows({ payloadType: 'USAGE', repeat: 3 }, 4), [[0, 3]], 'no interval after the last: repeat cannot add any');
  });

  test('startInterval, numIntervals, frequency and repeat select the windows', () => {
    assert.deepEqual(windows({ payloadType: 'USAGE', startInterval: 0, numIntervals: 1, frequency: 1, repeat: -1 }, 3), [[0, 0], [1, 1], [2, 2]], 'each interval at its end');
    assert.deepEqual(windows({ payloadType: 'USAGE', startInterval: 1, numIntervals: 2, repeat: -1 }, 6), [[0, 1], [2, 3], [4, 5]], 'frequency -1 is numIntervals: batches of two');
    assert.deepEqual(windows({ payloadType: 'USAGE', startInterval: 1, numIntervals: 2, repeat: 2 }, 6), [[0, 1], [2, 3]], 'repeat 2: two reports');
    assert.deepEqual(windows({ payloadType: 'USAGE', startInterval: 2, numIntervals: 2, frequency: 1, repeat: 3 }, 6), [[1, 2], [2, 3], [3, 4]], 'a rolling window');
    assert.deepEqual(windows({ payloadType: 'USAGE', startInterval: 0, frequency: 2, repeat: -1 }, 5), [[0, 0], [0, 2], [0, 4]], 'numIntervals -1: all up to the report');
    assert.deepEqual(windows({ payloadType: 'USAGE', startInterval: -1, numIntervals: 2 }, 5), [[3, 4]]);
    assert.deepEqual(windows({ payloadType: 'USAGE', startInterval: 2, numIntervals: 10 }, 4), [[0, 2]], 'no interval before the first');
  });

  test('what cannot be answered is declined with the reason; the rest is answered', () => {
    assert.match(String(windows({ payloadType: 'STORAGE_CHARGE_LEVEL' }, 2)), /cannot produce STORAGE_CHARGE_LEVEL; it can send DELTA_USAGE, USAGE, DEMAND/);
    assert.match(String(windows({ payloadType: 'USAGE', historical: false }, 2)), /forecast/);
    assert.match(String(windows({ payloadType: 'USAGE', startInterval: 2 }, 2)), /past the event's 2 intervals/);
    assert.match(String(windows({ payloadType: 'USAGE', frequency: 0 }, 2)), /frequency 0/);
    assert.match(String(windows({ payloadType: 'USAGE', numIntervals: -5 }, 2)), /numIntervals -5/);
    assert.match(String(windows({ payloadType: 'USAGE', startInterval: -3 }, 2)), /startInterval -3/);
    assert.match(String(windows({ payloadType: 'USAGE' }, 0)), /no intervals/);
    assert.match(String(windows({ payloadType: 'constructor' }, 1)), /cannot produce constructor/);
    const many = reportRequests(Array.from({ length: 25 }, () => ({ payloadType: 'USAGE' })), 1, 'home-gw');
    assert.deepEqual(many.declined, ['reports 20 to 24: more than 20 asked for; the rest are not answered']);
    const r = reportRequests([{ payloadType: 'USAGE' }, { payloadType: 'PRICE' }, { payloadType: 'DELTA_USAGE' }, { payloadType: 'DEMAND', aggregate: true }], 2, 'home-gw');
    assert.equal(r.declined.length, 1);
    assert.deepEqual(
      r.plans.map((p) => [p.aggregate, p.payloads.map((x) => x.type)]),
      [
        [false, ['USAGE', 'DELTA_USAGE']],
        [true, ['DEMAND']],
      ],
      'descriptors with the same timing and aggregation make one report',
    );
  });

  test('targets: RESOURCE_NAME narrows, another VEN_NAME is not for us, units W and WH are converted', () => {
    const r = reportRequests(
      [
        { payloadType: 'USAGE', targets: [{ type: 'RESOURCE_NAME', values: ['heater'] }], units: 'WH' },
        { payloadType: 'USAGE', targets: [{ type: 'VEN_NAME', values: ['next-door'] }] },
        { payloadType: 'DEMAND', targets: [{ type: 'VEN_NAME', values: ['home-gw'] }], units: 'MW' },
      ],
      1,
      'home-gw',
    );
    assert.deepEqual(r.declined, []);
    assert.deepEqual(
      r.plans.map((p) => [p.resources ? [...p.resources] : null, p.payloads.map((x) => [x.type, x.units, x.factor])]),
      [
        [['heater'], [['USAGE', 'WH', 1000]]],
        [null, [['DEMAND', 'KW', 1]]],
      ],
      'MW is not converted: the report says KW',
    );
  });
});

describe('requested reports from the schedule', () => {
  function setup() {
    const clock = new ManualClock('2026-07-01T12:00:00Z');
    const schedule = new LoadControlSchedule({ clientName: 'home-gw', clock });
    const reports: Report[] = [];
    const states: StateChange[] = [];
    schedule.on('report', (r) => reports.push(r));
    schedule.on('state', (s) => states.push(s));
    schedule.setParticipants([bulb, heater]);
    schedule.start();
    return { clock, schedule, reports, states };
  }
  const event = (reportDescriptors: ReportDescriptor[] | null, levels = [2, 2, 2, 2]): OadrEvent => ({
    id: 'ev1',
    programID: 'p1',
    intervalPeriod: { start: '2026-07-01T12:10:00Z', duration: 'PT15M' },
    intervals: levels.map((l, id) => ({ id: 10 + id, payloads: [{ type: 'SIMPLE', values: [l] }] })),
    reportDescriptors,
  });

  test('an event without reportDescriptors asks for no report, and gets none', () => {
    const { clock, schedule, reports } = setup();
    schedule.upsertEvent(event(null));
    clock.advance(80 * MIN);
    assert.equal(reports.length, 0);
    schedule.upsertEvent({ ...event([]), id: 'ev2', intervalPeriod: { start: '2026-07-01T13:30:00Z', duration: 'PT15M' } });
    clock.advance(80 * MIN);
    assert.equal(reports.length, 0);
  });

  test('batches of two intervals aggregated, and per device at the end; each when due, each valid', () => {
    const { clock, schedule, reports, states } = setup();
    schedule.deviceReported('coap:heater', { powerW: 1800 });
    schedule.upsertEvent(
      event([
        { payloadType: 'DELTA_USAGE', aggregate: true, startInterval: 1, numIntervals: 2, repeat: -1 },
        { payloadType: 'USAGE', aggregate: true, startInterval: 1, numIntervals: 2, repeat: -1 },
        { payloadType: 'DEMAND', units: 'W' },
        { payloadType: 'OPERATING_STATE' },
      ]),
    );
    const declined = states.filter((s) => s.kind === 'report-declined');
    assert.equal(declined.length, 1, 'OPERATING_STATE is declined, once');
    clock.advance(20 * MIN);
    schedule.deviceReported('coap:heater', { powerW: 1000 });
    clock.advance(20 * MIN - 1);
    assert.equal(reports.length, 0, 'a millisecond before the end of interval 1');
    clock.advance(1);
    assert.equal(reports.length, 1);
    const first = reports[0]!;
    assert.deepEqual(first.resources.map((r) => r.resourceName), ['AGGREGATED_REPORT']);
    const agg = first.resources[0]!.intervals;
    assert.deepEqual(agg.map((i) => i.id), [10, 11]);
    // Level 2 sheds half of 60 W + 2000 W; the heater reported 1800 W then 1000 W in interval 0, and the bulb nothing.
    assert.deepEqual(agg[0]!.payloads, [
      { type: 'DELTA_USAGE', values: [-1.03] },
      { type: 'USAGE', values: [0.35] },
    ]);
    assert.deepEqual(agg[1]!.payloads, [
      { type: 'DELTA_USAGE', values: [-1.03] },
      { type: 'USAGE', values: [0.25] },
    ]);
    assert.deepEqual(first.payloadDescriptors?.map((p) => [p.payloadType, p.readingType, p.units]), [
      ['DELTA_USAGE', 'ESTIMATED', 'KW'],
      ['USAGE', 'MEAN', 'KWH'],
    ]);
    clock.advance(30 * MIN);
    assert.equal(reports.length, 3, 'the second batch, and the per-device report at the end');
    const perDevice = reports.find((r) => r.payloadDescriptors?.[0]?.payloadType === 'DEMAND')!;
    assert.deepEqual(perDevice.resources.map((r) => [r.resourceName, r.intervals.map((i) => i.id)]), [['heater', [10, 11, 12, 13]]], 'the bulb measured nothing: no DEMAND rather than a zero');
    assert.deepEqual(
      perDevice.resources[0]!.intervals.map((i) => i.payloads),
      [1400, 1000, 1000, 1000].map((w) => [{ type: 'DEMAND', values: [w] }]),
      'W, as asked',
    );
    for (const r of reports) assert.deepEqual(validateObject('report', r), { ok: true });
    clock.advance(60 * MIN);
    assert.equal(reports.length, 3, 'nothing more');
  });

  test('RESOURCE_NAME targets: the report is about those devices only', () => {
    const { clock, schedule, reports } = setup();
    schedule.upsertEvent(event([{ payloadType: 'DELTA_USAGE', targets: [{ type: 'RESOURCE_NAME', values: ['bulb'] }] }], [3]));
    clock.advance(25 * MIN);
    assert.deepEqual(reports.map((r) => r.resources.map((x) => [x.resourceName, x.intervals[0]!.payloads[0]!.values])), [[['bulb', [-0.045]]]]);
  });

  test('a device the owner took out of the event is not reported on after it left', () => {
    const { clock, schedule, reports } = setup();
    schedule.upsertEvent(event([{ payloadType: 'DELTA_USAGE', startInterval: 0, numIntervals: 1, frequency: 1, repeat: 2 }], [1, 1, 1]));
    clock.advance(11 * MIN);
    schedule.override('coap:heater');
    clock.advance(60 * MIN);
    assert.deepEqual(
      reports.map((r) => r.resources.map((x) => x.resourceName)),
      [['bulb', 'heater'], ['bulb']],
      'repeat 2: two reports; the heater took part in interval 0 only',
    );
  });
});
