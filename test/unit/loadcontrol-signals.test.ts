/** Signal to command: each payload type, each quantity, the owner's limits; ISO 8601 durations; event plans. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { commandFor, DEFAULT_SIGNAL_OPTIONS, signalOf } from '../../lib/loadcontrol/signals';
import { durationMs, isoDuration } from '../../lib/loadcontrol/duration';
import { planEvent, PlanError } from '../../lib/loadcontrol/event-plan';
import type { Participant } from '../../lib/loadcontrol/participants';

const p = (quantity: string, limits: Participant['limits'] = {}): Participant => ({ key: `coap:${quantity}`, name: quantity, transport: 'coap', quantity, limits, normal: 100, ratedWatts: 100, endpoint: 'x', path: '/x' });
const opts = DEFAULT_SIGNAL_OPTIONS;

test('signals: SIMPLE rounds and clamps to 0..3, PRICE by thresholds, the strictest payload wins, unknown types ignored', () => {
  assert.equal(signalOf([{ type: 'SIMPLE', values: [7] }], opts).level, 3);
  assert.equal(signalOf([{ type: 'SIMPLE', values: [-1] }], opts).level, 0);
  assert.equal(signalOf([{ type: 'SIMPLE', values: [1.6] }], opts).level, 2);
  assert.deepEqual([0.1, 0.25, 0.45, 0.9].map((price) => signalOf([{ type: 'PRICE', values: [price] }], opts).level), [0, 1, 2, 3]);
  const mixed = signalOf([{ type: 'PRICE', values: [0.3] }, { type: 'SIMPLE', values: [2] }, { type: 'X_VENDOR', values: [9] }, { type: 'SIMPLE', values: ['high'] }], opts);
  assert.deepEqual([mixed.level, mixed.from], [2, ['PRICE', 'SIMPLE']]);
  assert.equal(signalOf([{ type: 'IMPORT_CAPACITY_LIMIT', values: [500] }], opts, () => 'W').importLimitW, 500);
  assert.equal(signalOf([{ type: 'IMPORT_CAPACITY_LIMIT', values: [2] }], opts).importLimitW, 2000, 'kW unless the descriptor says otherwise');
});

test('commands: percentages, setpoints (either season), switches; the owner limits always win', () => {
  const level = (n: number) => ({ level: n, from: ['SIMPLE'] });
  assert.deepEqual(commandFor(p('brightness'), 80, level(2), opts, 100), { value: 40, clamped: false, shed: 0.5 });
  assert.deepEqual(commandFor(p('brightness', { min: 50 }), 80, level(3), opts, 100), { value: 50, clamped: true, shed: 0.375 });
  assert.equal(commandFor(p('setpoint', { max: 25 }), 23, level(3), opts, 100).value, 25);
  assert.equal(commandFor(p('setpoint', { min: 19 }), 21, level(3), { ...opts, setpointStep: -1 }, 100).value, 19, 'heating season: lowered, not below 19');
  assert.equal(commandFor(p('switch'), 1, level(1), opts, 100).value, 1);
  assert.deepEqual(commandFor(p('switch'), 1, level(2), opts, 100), { value: 0, clamped: false, shed: 1 });
  assert.deepEqual(commandFor(p('switch', { min: 1 }), 1, level(3), opts, 100), { value: 1, clamped: true, shed: 0 }, 'a switch the owner keeps on');
  assert.equal(commandFor(p('power'), 100, { level: 0, importLimitW: 250, from: [] }, opts, 1000).value, 25, 'share of 1000 W rated that fits under 250 W');
  assert.equal(commandFor(p('power'), 100, { level: 0, importLimitW: 2000, from: [] }, opts, 1000).value, 100, 'under the limit already');
});

test('durations: the spec pattern, weeks and days, fractions of seconds, refusals', () => {
  assert.equal(durationMs('PT1H30M'), 5_400_000);
  assert.equal(durationMs('P1W'), 7 * 86_400_000);
  assert.equal(durationMs('P1DT0.5S'), 86_400_500);
  assert.equal(durationMs('-PT5M'), -300_000);
  assert.throws(() => durationMs('1 hour'), RangeError);
  assert.throws(() => durationMs('P'), RangeError);
  assert.equal(isoDuration(5_400_000), 'PT1H30M');
  assert.equal(isoDuration(0), 'PT0S');
});

test('event plans: sequential intervals from the event period, an interval period overrides, open ends capped', () => {
  const plan = planEvent(
    {
      id: 'e',
      programID: 'p',
      intervalPeriod: { start: '2026-07-01T12:00:00Z', duration: 'PT15M' },
      intervals: [
        { id: 0, payloads: [] },
        { id: 1, payloads: [] },
        { id: 7, intervalPeriod: { start: '2026-07-01T14:00:00Z', duration: 'PT0S' }, payloads: [] },
      ],
    },
    3600_000,
  );
  assert.deepEqual(
    plan.intervals.map((i) => [i.id, new Date(i.startMs).toISOString().slice(11, 16), new Date(i.endMs).toISOString().slice(11, 16)]),
    [
      [0, '12:00', '12:15'],
      [1, '12:15', '12:30'],
      [7, '14:00', '15:00'],
    ],
  );
  assert.throws(() => planEvent({ id: 'e', programID: 'p', intervals: [{ id: 0, payloads: [] }] }, 1), PlanError);
  assert.throws(() => planEvent({ id: 'e', programID: 'p', intervalPeriod: { start: '2026-07-01T12:00:00Z', duration: '-PT1M' }, intervals: [{ id: 0, payloads: [] }] }, 1), /negative/);
});
