/**
 * The dashboard's view of load control and the owner's opt-out route, against a real
 * LoadControlSchedule on a hand-moved clock: state per device, 200 / 404 / 409, and the restore
 * command and persisted opt-out the flow's override would give.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { getState, postOptOut, type ApiContext } from '../../lib/dashboard/api';
import type { DashboardView } from '../../lib/dashboard/view';
import { LoadControlSchedule, type DeviceCommand, type OptOut } from '../../lib/loadcontrol/schedule';
import { ownerView } from '../../lib/loadcontrol/owner-view';
import type { Participant } from '../../lib/loadcontrol/participants';
import { ManualClock } from '../support/loadcontrol-clock';
import { MemoryProvisioning } from '../support/memory-provisioning';

const T0 = Date.parse('2026-07-01T12:00:00.000Z');
const MIN = 60_000;
const lamp: Participant = { key: 'mqtt:lamp-1:brightness', name: 'hall light (lamp-1)', transport: 'mqtt', quantity: 'brightness', limits: { min: 30 }, normal: 100, ratedWatts: 60, deviceId: 'lamp-1' };
const bulb: Participant = { key: 'coap:bulb', name: 'bulb', transport: 'coap', quantity: 'brightness', limits: {}, normal: 100, ratedWatts: 60, endpoint: 'bulb', path: '/light/dim' };

function setup() {
  const clock = new ManualClock(T0);
  const schedule = new LoadControlSchedule({ clientName: 'home-gw', clock, random: () => 0 });
  const commands: DeviceCommand[] = [];
  const saved: OptOut[][] = [];
  schedule.on('command', (c) => commands.push(c));
  schedule.on('opt-outs', (o) => saved.push(o));
  schedule.setParticipants([lamp, bulb]);
  schedule.start();
  const overridden: string[] = [];
  const owner = ownerView(schedule, () => clock.now(), (p, events) => overridden.push(`${p.name}:${events.join(',')}`));
  const registry = new MemoryProvisioning();
  registry.provision({ id: 'lamp-1', behaviours: ['dimmer'] });
  registry.provision({ id: 'lamp-2', behaviours: ['dimmer'] });
  const ctx: ApiContext = {
    provisioning: () => [{ nodeId: 'prov', name: 'home', value: registry }],
    directories: () => [],
    loadControl: () => [{ nodeId: 'lc', name: 'utility', value: owner }],
    catalogue: () => [],
    thirdParties: () => [],
    now: () => clock.now(),
  };
  const event = (id: string, start: number, minutes: number) =>
    schedule.upsertEvent({
      id,
      objectType: 'EVENT',
      programID: 'peak',
      eventName: `evening ${id}`,
      intervalPeriod: { start: new Date(start).toISOString(), duration: `PT${minutes}M` },
      intervals: [{ id: 0, payloads: [{ type: 'SIMPLE', values: [1] }] }],
    });
  return { clock, schedule, commands, saved, owner, overridden, ctx, event };
}

const view = (ctx: ApiContext) => getState(ctx, true).body as DashboardView;
const lampState = (ctx: ApiContext) => view(ctx).devices.find((d) => d.id === 'lamp-1')?.loadControl;

describe('dashboard load control', () => {
  test('the state shows a curtailed device with its event, value and end; others have none', () => {
    const { clock, ctx, event } = setup();
    assert.equal(lampState(ctx), undefined, 'no event: nothing to show');
    event('ev1', T0 + 10 * MIN, 30);
    assert.equal(lampState(ctx), undefined, 'an event not yet started curtails nothing');
    clock.advance(10 * MIN);
    assert.deepEqual(lampState(ctx), [{ quantity: 'brightness', state: 'curtailed', eventID: 'ev1', eventName: 'evening ev1', programID: 'peak', value: 75, until: '2026-07-01T12:40:00.000Z', node: 'lc' }]);
    assert.equal(view(ctx).devices.find((d) => d.id === 'lamp-2')?.loadControl, undefined, 'lamp-2 does not take part');
  });

  test('opting out restores the device as the flow override does, persists, and shows "opted out" until the event ends', () => {
    const { clock, commands, saved, overridden, ctx, event, schedule } = setup();
    event('ev1', T0, 30);
    const before = commands.length;
    assert.equal(commands.at(-1)?.reason, 'event');
    const r = postOptOut(ctx, 'lamp-1');
    assert.deepEqual(r, { status: 200, body: { id: 'lamp-1', events: ['ev1'] } });
    const restore = commands.slice(before);
    assert.deepEqual(restore.map((c) => [c.participant.key, c.reason, c.value, c.eventID]), [[lamp.key, 'restore', 100, 'ev1']], 'only the lamp, back to its value before');
    assert.deepEqual(saved.at(-1), [{ device: lamp.key, eventID: 'ev1', untilMs: T0 + 30 * MIN }], 'the opt-out goes to the saved state');
    assert.deepEqual(overridden, ['hall light (lamp-1):ev1']);
    assert.deepEqual(lampState(ctx), [{ quantity: 'brightness', state: 'opted-out', eventID: 'ev1', eventName: 'evening ev1', programID: 'peak', until: '2026-07-01T12:30:00.000Z', node: 'lc' }]);
    assert.equal(schedule.curtailments().some((c) => c.participant.key === lamp.key), false);
    assert.equal(schedule.curtailments().some((c) => c.participant.key === bulb.key), true, 'the bulb stays in the event');
    clock.advance(5 * MIN);
    assert.equal(commands.slice(before + 1).some((c) => c.participant.key === lamp.key), false, 'not curtailed again');
    assert.equal(postOptOut(ctx, 'lamp-1').status, 409, 'already out of the only running event');
    clock.advance(25 * MIN);
    assert.equal(lampState(ctx), undefined, 'the event is over: nothing left to show');
  });

  test('404 for a device no load-control node commands, 409 outside an event, 400 for a bad id', () => {
    const { ctx, event, commands } = setup();
    assert.equal(postOptOut(ctx, 'lamp-1').status, 409, 'no event at all');
    event('later', T0 + 60 * MIN, 30);
    assert.equal(postOptOut(ctx, 'lamp-1').status, 409, 'the only event has not started');
    assert.equal(commands.length, 0, 'nothing commanded');
    assert.equal(postOptOut(ctx, 'lamp-2').status, 404, 'provisioned but not taking part');
    assert.equal(postOptOut(ctx, 'nobody').status, 404);
    assert.equal(postOptOut(ctx, '../x').status, 400);
    assert.equal(postOptOut({ ...ctx, loadControl: undefined }, 'lamp-1').status, 404, 'no load-control node deployed');
  });

  test('a CoAP participant is found by its endpoint name', () => {
    const { ctx, event, schedule } = setup();
    event('ev1', T0, 30);
    assert.equal(postOptOut(ctx, 'bulb').status, 200);
    assert.equal(schedule.curtailments().some((c) => c.participant.key === bulb.key), false);
  });

  test("'changed' is told when a device is curtailed or opted out", () => {
    const { owner, event } = setup();
    let changes = 0;
    const listener = (): void => void changes++;
    owner.on('changed', listener);
    event('ev1', T0, 30);
    assert.ok(changes > 0, 'curtailed');
    const after = changes;
    owner.optOut('lamp-1');
    assert.ok(changes > after, 'opted out');
    owner.off('changed', listener);
  });
});
