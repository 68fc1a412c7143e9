/**
 * The load-control schedule with a hand-moved clock: commands at interval boundaries within the
 * owner's limits, restore afterwards, cancellation, modification, override, randomised start,
 * clock jumps, malformed events, and reports that validate against the OpenADR 3.0.1 schemas.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { LoadControlSchedule, type Curtailment, type DeviceCommand, type OptOut, type StateChange } from '../../lib/loadcontrol/schedule';
import type { OadrEvent, Report } from '../../lib/loadcontrol/openadr3-types';
import { participantsFromRegistry, coapParticipants, type Participant } from '../../lib/loadcontrol/participants';
import { validateObject } from '../../lib/loadcontrol/validate';
import { DEFAULT_SHARING } from '../../lib/sharing/choices';
import type { DeviceRecord } from '../../lib/provisioning/types';
import { ManualClock } from '../support/loadcontrol-clock';

const T0 = '2026-07-01T12:00:00.000Z';
const MIN = 60_000;

const bulb: Participant = { key: 'coap:bulb', name: 'bulb', transport: 'coap', quantity: 'brightness', limits: { min: 30 }, normal: 100, ratedWatts: 60, endpoint: 'bulb', path: '/light/dim' };
const thermostat: Participant = { key: 'mqtt:th-1:setpoint', name: 'th-1', transport: 'mqtt', quantity: 'setpoint', limits: { min: 18, max: 24 }, normal: 21, ratedWatts: 2000, deviceId: 'th-1' };

function event(id: string, intervals: OadrEvent['intervals'], extra: Partial<OadrEvent> = {}): OadrEvent {
  return {
    id,
    objectType: 'EVENT',
    programID: 'peak-program',
    eventName: `event ${id}`,
    intervalPeriod: { start: '2026-07-01T12:10:00Z', duration: 'PT10M' },
    intervals,
    ...extra,
  };
}
const simple = (id: number, level: number): OadrEvent['intervals'][number] => ({ id, payloads: [{ type: 'SIMPLE', values: [level] }] });
/** A report of each interval at its end, per device. */
const everyInterval = (payloadType: string) => ({ payloadType, startInterval: 0, numIntervals: 1, frequency: 1, repeat: -1 });

function setup(options: { random?: () => number; participants?: Participant[] } = {}) {
  const clock = new ManualClock(T0);
  const schedule = new LoadControlSchedule({ clientName: 'home-gw', clock, random: options.random ?? (() => 0) });
  const commands: DeviceCommand[] = [];
  const states: StateChange[] = [];
  const reports: Report[] = [];
  schedule.on('command', (c) => commands.push(c));
  schedule.on('state', (s) => states.push(s));
  schedule.on('report', (r) => reports.push(r));
  schedule.setParticipants(options.participants ?? [bulb, thermostat]);
  schedule.start();
  const last = (name: string): DeviceCommand | undefined => commands.filter((c) => c.participant.name === name).at(-1);
  return { clock, schedule, commands, states, reports, last };
}

describe('load-control schedule', () => {
  test('levels become commands at each interval start, within the limits, and devices are restored at the end', () => {
    const { clock, schedule, commands, states, reports, last } = setup();
    schedule.deviceReported('mqtt:th-1:setpoint', { value: 22 });
    const intervals = [simple(0, 1), simple(1, 3), { id: 2, payloads: [{ type: 'PRICE', values: [0.5] }] }];
    assert.equal(schedule.upsertEvent(event('ev1', intervals, { reportDescriptors: [everyInterval('DELTA_USAGE')] })), 'added');
    assert.equal(commands.length, 0, 'nothing before the event');
    clock.advance(10 * MIN - 1);
    assert.equal(commands.length, 0, 'nothing a millisecond before the start');
    clock.advance(1);
    assert.equal(last('bulb')?.value, 75);
    assert.equal(last('th-1')?.value, 23);
    assert.equal(last('bulb')?.intervalID, 0);
    clock.advance(10 * MIN);
    assert.deepEqual([last('bulb')?.value, last('bulb')?.clamped], [30, true], 'level 3 would be 25 %, the owner said never below 30');
    assert.deepEqual([last('th-1')?.value, last('th-1')?.clamped], [24, true], 'comfort bound 24 °C');
    clock.advance(10 * MIN);
    assert.equal(last('bulb')?.value, 50, 'PRICE 0.5 is level 2 with the default thresholds');
    assert.deepEqual(last('bulb')?.from, ['PRICE']);
    clock.advance(10 * MIN);
    assert.deepEqual([last('bulb')?.reason, last('bulb')?.value], ['restore', 100]);
    assert.deepEqual([last('th-1')?.reason, last('th-1')?.value], ['restore', 22], 'the value it reported before the event');
    assert.equal(commands.length, 8);
    const kinds = states.map((s) => s.kind);
    assert.deepEqual(kinds.filter((k) => k === 'interval-started').length, 3);
    assert.ok(kinds.includes('event-ended'));
    assert.equal(states.filter((s) => s.kind === 'device-restored').length, 2);
    assert.equal(reports.length, 3);
    for (const r of reports) assert.deepEqual(validateObject('report', r), { ok: true });
    const first = reports[0]!;
    assert.equal(first.eventID, 'ev1');
    assert.equal(first.clientName, 'home-gw');
    const bulbResource = first.resources.find((r) => r.resourceName === 'bulb');
    assert.deepEqual(bulbResource?.intervals[0]?.payloads, [{ type: 'DELTA_USAGE', values: [-0.015] }], '25 % of 60 W shed');
    assert.ok(!first.resources.some((r) => r.resourceName === 'AGGREGATED_REPORT'), 'per device, as asked (aggregate false)');
  });

  test('measured power is reported as USAGE; restore goes back to what the device reported', () => {
    const { clock, schedule, reports, last } = setup({ participants: [bulb] });
    schedule.deviceReported('coap:bulb', { value: 80, powerW: 50 });
    schedule.upsertEvent(event('ev1', [simple(0, 2)], { reportDescriptors: [{ payloadType: 'USAGE' }] }));
    clock.advance(10 * MIN);
    assert.equal(last('bulb')?.value, 40);
    schedule.deviceReported('coap:bulb', { powerW: 20 });
    clock.advance(10 * MIN);
    assert.equal(last('bulb')?.value, 80);
    const payloads = reports[0]?.resources[0]?.intervals[0]?.payloads;
    assert.deepEqual(payloads?.find((p) => p.type === 'USAGE'), { type: 'USAGE', values: [0.006] }, 'mean of 50 W and 20 W for 10 minutes');
  });

  test('cancellation mid-event restores at once and reports the part that ran; nothing is sent afterwards', () => {
    const { clock, schedule, commands, states, reports, last } = setup();
    schedule.upsertEvent(event('ev1', [simple(0, 2), simple(1, 2)], { reportDescriptors: [{ payloadType: 'DELTA_USAGE', aggregate: true }] }));
    clock.advance(12 * MIN);
    assert.equal(last('bulb')?.value, 50);
    assert.equal(reports.length, 0, 'the report asked for is due at the end of the last interval');
    assert.equal(schedule.removeEvent('ev1'), true);
    assert.deepEqual([last('bulb')?.reason, last('bulb')?.value], ['restore', 100]);
    assert.ok(states.some((s) => s.kind === 'event-cancelled'));
    assert.equal(reports.length, 1, 'the report owed is made now, with the interval cut short');
    assert.deepEqual(reports[0]?.resources.map((r) => [r.resourceName, r.intervals.length]), [['AGGREGATED_REPORT', 1]], 'interval 1 never ran');
    assert.equal(reports[0]?.resources[0]?.intervals[0]?.intervalPeriod?.duration, 'PT2M');
    assert.deepEqual(validateObject('report', reports[0]), { ok: true });
    const n = commands.length;
    clock.advance(30 * MIN);
    assert.equal(commands.length, n);
  });

  test('a complete list from the VTN: a missing event is a cancelled one', () => {
    const { clock, schedule, states, last } = setup({ participants: [bulb] });
    schedule.syncEvents([event('ev1', [simple(0, 1)]), event('ev2', [simple(0, 2)], { intervalPeriod: { start: '2026-07-01T13:00:00Z', duration: 'PT10M' } })]);
    clock.advance(10 * MIN);
    assert.equal(last('bulb')?.value, 75);
    schedule.syncEvents([event('ev2', [simple(0, 2)], { intervalPeriod: { start: '2026-07-01T13:00:00Z', duration: 'PT10M' } })]);
    assert.equal(last('bulb')?.reason, 'restore');
    assert.deepEqual(states.filter((s) => s.kind === 'event-cancelled').map((s) => (s as { eventID: string }).eventID), ['ev1']);
  });

  test('a modified event changes the command in force; a repeat changes nothing', () => {
    const { clock, schedule, commands, states, last } = setup({ participants: [bulb] });
    schedule.upsertEvent(event('ev1', [simple(0, 1)]));
    clock.advance(11 * MIN);
    assert.equal(last('bulb')?.value, 75);
    assert.equal(schedule.upsertEvent(event('ev1', [simple(0, 1)])), 'unchanged');
    assert.equal(schedule.upsertEvent(event('ev1', [simple(0, 3)], { modificationDateTime: '2026-07-01T12:11:00Z' })), 'modified');
    assert.equal(last('bulb')?.value, 30);
    assert.equal(commands.length, 2);
    assert.ok(states.some((s) => s.kind === 'event-modified'));
  });

  test('curtailments survive a restart: a device still in the event stays, one whose event is gone is restored', () => {
    const first = setup();
    const saved: Curtailment[][] = [];
    first.schedule.on('curtailments', (c) => saved.push(c));
    first.schedule.deviceReported('coap:bulb', { value: 70 });
    first.schedule.upsertEvent(event('ev1', [simple(0, 2)]));
    first.clock.advance(11 * MIN);
    const snapshot = JSON.parse(JSON.stringify(saved.at(-1))) as Curtailment[];
    assert.deepEqual(snapshot.map((c) => [c.participant.name, c.baseline, c.value]), [['bulb', 70, 35], ['th-1', 21, 23]]);
    first.schedule.stop();
    // After the restart: the event is gone (cancelled while the gateway was down), and th-1 left.
    const second = setup({ participants: [bulb] });
    second.clock.advance(11 * MIN);
    second.schedule.adopt(snapshot);
    assert.deepEqual(second.commands.map((c) => [c.participant.name, c.reason, c.value]), [['th-1', 'restore', 21], ['bulb', 'restore', 70]]);
    // And when the event is still known, the adopted device keeps its command and its baseline.
    const third = setup({ participants: [bulb] });
    third.schedule.upsertEvent(event('ev1', [simple(0, 2), simple(1, 1)]));
    third.clock.advance(11 * MIN);
    third.commands.length = 0;
    third.schedule.adopt(snapshot.filter((c) => c.participant.name === 'bulb'));
    third.clock.advance(10 * MIN);
    assert.deepEqual(third.commands.map((c) => [c.reason, c.value]), [['event', 35], ['event', 52.5]], 'level 2, then level 1, of the saved 70 %');
    third.clock.advance(10 * MIN);
    assert.deepEqual(third.commands.at(-1)?.value, 70);
  });

  test("the owner's opt-outs survive a restart and end with their event", () => {
    const first = setup();
    const saved: OptOut[][] = [];
    first.schedule.on('opt-outs', (o) => saved.push(o));
    first.schedule.upsertEvent(event('ev1', [simple(0, 2), simple(1, 2)]));
    first.clock.advance(11 * MIN);
    first.schedule.override('coap:bulb');
    const snapshot = JSON.parse(JSON.stringify(saved.at(-1))) as OptOut[];
    assert.deepEqual(snapshot, [{ device: 'coap:bulb', eventID: 'ev1', untilMs: Date.parse('2026-07-01T12:30:00Z') }]);
    first.schedule.stop();
    // The restart: opt-outs taken back before the first look at the clock, then the VTN's event.
    const second = setup();
    second.clock.advance(11 * MIN);
    second.schedule.adoptOptOuts(snapshot);
    second.schedule.upsertEvent(event('ev1', [simple(0, 2), simple(1, 2)]));
    assert.deepEqual(second.commands.map((c) => c.participant.name), ['th-1'], 'the bulb is not curtailed again, not even for a moment');
    second.clock.advance(10 * MIN);
    assert.deepEqual(second.commands.filter((c) => c.participant.name === 'bulb'), [], 'nor in the next interval');
    assert.deepEqual(second.schedule.optOutList().length, 1);
    second.schedule.removeEvent('ev1');
    assert.deepEqual(second.schedule.optOutList(), [], 'the cancelled event takes its opt-outs with it');
    // An opt-out of an event never seen again ends at the event's end; one already over is dropped.
    const third = setup();
    third.clock.advance(11 * MIN);
    third.schedule.adoptOptOuts([...snapshot, { device: 'coap:bulb', eventID: 'old', untilMs: Date.parse('2026-07-01T12:00:00Z') }]);
    assert.deepEqual(third.schedule.optOutList().map((o) => o.eventID), ['ev1']);
    third.clock.advance(19 * MIN);
    assert.deepEqual(third.schedule.optOutList(), []);
  });

  test('malformed events are rejected with a notice and affect nothing else', () => {
    const { clock, schedule, states, last } = setup({ participants: [bulb] });
    schedule.upsertEvent(event('ev1', [simple(0, 2)]));
    assert.equal(schedule.upsertEvent({ id: 'bad', programID: 'p', intervals: 'soon' }), 'rejected');
    assert.equal(schedule.upsertEvent({ id: 'bad2', programID: 'p', intervals: [{ id: 0, payloads: [] }] }), 'rejected', 'no start anywhere');
    assert.equal(schedule.upsertEvent(event('ev1', [{ id: 0, payloads: [{ type: 'SIMPLE' }] }] as unknown as OadrEvent['intervals'])), 'rejected');
    const rejected = states.filter((s) => s.kind === 'event-rejected') as Array<{ reason: string }>;
    assert.equal(rejected.length, 3);
    assert.match(rejected[0]!.reason, /intervals must be array/);
    clock.advance(10 * MIN);
    assert.equal(last('bulb')?.value, 50, 'the good version of ev1 still runs');
  });

  test('owner override: the device leaves the running event and is restored; others carry on', () => {
    const { clock, schedule, last, states } = setup();
    schedule.upsertEvent(event('ev1', [simple(0, 2), simple(1, 3)]));
    clock.advance(11 * MIN);
    assert.deepEqual(schedule.override('coap:bulb'), ['ev1']);
    assert.deepEqual([last('bulb')?.reason, last('bulb')?.value], ['restore', 100]);
    clock.advance(10 * MIN);
    assert.equal(last('bulb')?.reason, 'restore', 'not curtailed again in the next interval');
    assert.equal(last('th-1')?.value, 24);
    assert.ok(states.some((s) => s.kind === 'device-opted-out'));
  });

  test('the owner sets a curtailed device: it leaves the event and keeps the owner\'s value, also after it', () => {
    const { clock, schedule, last } = setup({ participants: [bulb] });
    schedule.upsertEvent(event('ev1', [simple(0, 2), simple(1, 3)]));
    clock.advance(11 * MIN);
    assert.equal(last('bulb')?.value, 50);
    schedule.ownerCommanded('coap:bulb', 90);
    assert.deepEqual([last('bulb')?.reason, last('bulb')?.value], ['restore', 90]);
    clock.advance(20 * MIN);
    assert.deepEqual([last('bulb')?.reason, last('bulb')?.value], ['restore', 90]);
  });

  test('randomised start: each device starts at its own offset within randomizeStart', () => {
    const { clock, schedule, last } = setup({ participants: [bulb], random: () => 0.5 });
    schedule.upsertEvent(event('ev1', [simple(0, 2)], { intervalPeriod: { start: '2026-07-01T12:10:00Z', duration: 'PT10M', randomizeStart: 'PT2M' } }));
    clock.advance(11 * MIN - 1);
    assert.equal(last('bulb'), undefined);
    clock.advance(1);
    assert.equal(last('bulb')?.value, 50);
    clock.advance(9 * MIN);
    assert.equal(last('bulb')?.reason, 'restore', 'the end is not moved');
  });

  test('import capacity limit: the share of rated power to shed, spread over the devices', () => {
    const plug: Participant = { ...bulb, key: 'coap:plug', name: 'plug', quantity: 'power', limits: {}, ratedWatts: 140 };
    const { clock, schedule, last } = setup({ participants: [bulb, plug] });
    schedule.upsertEvent(event('ev1', [{ id: 0, payloads: [{ type: 'IMPORT_CAPACITY_LIMIT', values: [0.1] }] }], { payloadDescriptors: [{ payloadType: 'IMPORT_CAPACITY_LIMIT', units: 'KW' }] }));
    clock.advance(10 * MIN);
    assert.equal(last('plug')?.value, 50, '200 W rated, 100 W allowed');
    assert.equal(last('bulb')?.value, 50);
  });

  test('a forward clock jump past the end restores; a backward jump into the event curtails again', () => {
    const { clock, schedule, states, last } = setup({ participants: [bulb] });
    schedule.upsertEvent(event('ev1', [simple(0, 2)], { intervalPeriod: { start: '2026-07-01T12:10:00Z', duration: 'PT1H' } }));
    clock.advance(11 * MIN);
    assert.equal(last('bulb')?.value, 50);
    clock.jump(3600_000);
    clock.advance(30_000); // the watchdog looks at the clock within 30 s
    assert.ok(states.some((s) => s.kind === 'clock-jump' && s.jumpMs === 3600_000));
    assert.equal(last('bulb')?.reason, 'restore');
    clock.jump(-3600_000);
    clock.advance(30_000);
    assert.equal(last('bulb')?.value, 50, 'back inside the event');
  });

  test('a device that leaves (opts out on the dashboard) is restored', () => {
    const { clock, schedule, last } = setup();
    schedule.upsertEvent(event('ev1', [simple(0, 2)]));
    clock.advance(10 * MIN);
    schedule.setParticipants([thermostat]);
    assert.equal(last('bulb')?.reason, 'restore');
  });

  test('an open-ended interval (PT0S) is capped, so no device stays curtailed', () => {
    const { clock, schedule, last } = setup({ participants: [bulb] });
    schedule.upsertEvent(event('ev1', [simple(0, 1)], { intervalPeriod: { start: '2026-07-01T12:10:00Z', duration: 'PT0S' } }));
    clock.advance(10 * MIN);
    assert.equal(last('bulb')?.value, 75);
    clock.advance(4 * 3600_000);
    assert.equal(last('bulb')?.reason, 'restore');
  });

  test('at most maxEvents events are kept', () => {
    const clock = new ManualClock(T0);
    const schedule = new LoadControlSchedule({ clientName: 'gw', clock, maxEvents: 2 });
    const states: StateChange[] = [];
    schedule.on('state', (s) => states.push(s));
    for (const id of ['a', 'b', 'c']) schedule.upsertEvent(event(id, [simple(0, 1)]));
    assert.equal(schedule.knownEvents().length, 2);
    assert.match((states.at(-1) as { reason: string }).reason, /more than 2 events/);
  });
});

describe('participants', () => {
  const device = (id: string, optIn: boolean, limits: Record<string, { min?: number; max?: number }>, behaviours: string[] = ['dimmer']): DeviceRecord => ({
    id,
    state: 'provisioned',
    online: true,
    behaviours,
    sharing: { ...DEFAULT_SHARING, loadControl: { optIn, limits } },
  });

  test('opted-in provisioned devices, one per limited quantity, else per known behaviour', () => {
    const list = participantsFromRegistry([
      device('lamp-1', true, { brightness: { min: 30 } }),
      device('lamp-2', false, { brightness: { min: 30 } }),
      device('th-1', true, {}, ['thermostat', 'display']),
      { ...device('gone', true, {}), state: 'revoked' },
    ]);
    assert.deepEqual(
      list.map((p) => [p.key, p.quantity, p.limits]),
      [
        ['mqtt:lamp-1:brightness', 'brightness', { min: 30 }],
        ['mqtt:th-1:setpoint', 'setpoint', {}],
      ],
    );
  });

  test('the CoAP list is checked', () => {
    assert.deepEqual(coapParticipants([{ name: 'hall', endpoint: 'lamp', path: '/dim', quantity: 'brightness', min: '30' }], 10)[0]?.limits, { min: 30 });
    assert.throws(() => coapParticipants([{ name: 'x', path: '/d' }], 10), /endpoint or a group/);
    assert.throws(() => coapParticipants([{ name: 'x', endpoint: 'e', path: 'd' }], 10), /start with/);
    assert.throws(() => coapParticipants([{ name: 'x', group: 'g', path: '/d', min: 50, max: 20 }], 10), /above max/);
    assert.throws(() => coapParticipants([{ name: 'x', group: 'g', path: '/d' }, { name: 'x', group: 'g', path: '/d' }], 10), /twice/);
    assert.throws(() => coapParticipants([{}, {}], 1), /at most 1/);
  });
});
