import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { DataSharing, type OutMessage, type Route } from '../../lib/sharing/data-sharing';
import { DEFAULT_SHARING, type ShareLevel, type SharingChoices } from '../../lib/sharing/choices';
import { manualTimers } from '../support/manual-timers';

function rig(initial: Record<string, SharingChoices>, options: { thirdParties?: string[]; maxWindows?: number } = {}) {
  const choices = new Map(Object.entries(initial));
  const timers = manualTimers();
  const out: Array<{ route: Route; msg: OutMessage }> = [];
  const sharing = new DataSharing({
    choicesOf: (id) => choices.get(id),
    thirdParties: options.thirdParties ?? ['utility'],
    deliver: (route, msg) => out.push({ route, msg }),
    clone: (msg) => structuredClone(msg),
    timers,
    maxWindows: options.maxWindows,
  });
  const routed = (route: Route) => out.filter((o) => o.route === route).map((o) => o.msg);
  return { sharing, choices, timers, out, routed };
}

const choose = (vendor: ShareLevel, utility: ShareLevel, vendorCommands = false): SharingChoices => ({
  ...DEFAULT_SHARING,
  vendor,
  thirdParties: { utility },
  vendorCommands,
});

const NONE: ShareLevel = { mode: 'none' };
const RAW: ShareLevel = { mode: 'raw' };
const HOURLY: ShareLevel = { mode: 'summary', windowMinutes: 60 };

describe('data-sharing enforces each choice', () => {
  test('none / none: nothing leaves', () => {
    const r = rig({ lamp: choose(NONE, NONE) });
    const outcome = r.sharing.handle({ topic: 'devices/lamp/telemetry', payload: { power: 5 } });
    assert.deepEqual(outcome, { kind: 'data', deviceId: 'lamp', raw: 0, summarised: 0, refused: 0 });
    r.timers.advance(2 * 3600_000);
    assert.deepEqual(r.out, []);
  });

  test('raw to the vendor, nothing to the utility', () => {
    const r = rig({ lamp: choose(RAW, NONE) });
    const input = { topic: 'devices/lamp/telemetry', payload: { power: 5 }, _msgid: 'm1' };
    r.sharing.handle(input);
    assert.deepEqual(r.routed('vendor'), [{ ...input, deviceId: 'lamp', recipient: 'vendor' }]);
    assert.deepEqual(r.routed('thirdParty'), []);
    assert.notEqual(r.routed('vendor')[0], input, 'a copy, not the input message');
  });

  test('raw to the utility, nothing to the vendor; the recipient is named', () => {
    const r = rig({ lamp: choose(NONE, RAW) });
    r.sharing.handle({ deviceId: 'lamp', payload: 7 });
    assert.deepEqual(r.routed('vendor'), []);
    assert.deepEqual(r.routed('thirdParty'), [{ deviceId: 'lamp', payload: 7, recipient: 'utility' }]);
  });

  test('hourly summary: one averaged message when the hour ends, none before', () => {
    const r = rig({ lamp: choose(HOURLY, NONE) });
    const start = r.timers.now();
    r.sharing.handle({ topic: 'devices/lamp/telemetry', payload: { power: 10, state: 'on' } });
    r.timers.advance(20 * 60_000);
    r.sharing.handle({ topic: 'devices/lamp/telemetry', payload: { power: 30, state: 'off' } });
    r.timers.advance(39 * 60_000);
    assert.deepEqual(r.out, [], 'nothing before the window ends');
    r.timers.advance(60_000);
    assert.deepEqual(r.routed('vendor'), [
      {
        topic: 'devices/lamp/telemetry',
        deviceId: 'lamp',
        recipient: 'vendor',
        payload: { power: 20, state: 'off' },
        window: { minutes: 60, count: 2, from: new Date(start).toISOString(), to: new Date(start + 3600_000).toISOString() },
      },
    ]);
    assert.equal(r.sharing.openWindows, 0);
    r.timers.advance(3 * 3600_000);
    assert.equal(r.routed('vendor').length, 1, 'no empty windows are sent');
  });

  test('vendor raw and utility hourly at once, per topic', () => {
    const r = rig({ lamp: choose(RAW, HOURLY) });
    r.sharing.handle({ topic: 'devices/lamp/telemetry/power', payload: 4 });
    r.sharing.handle({ topic: 'devices/lamp/telemetry/power', payload: 8 });
    r.sharing.handle({ topic: 'devices/lamp/telemetry/temp', payload: 21 });
    assert.equal(r.routed('vendor').length, 3);
    r.timers.advance(3600_000);
    const utility = r.routed('thirdParty').map((m) => [m.topic, m.payload, m.recipient]);
    assert.deepEqual(utility, [
      ['devices/lamp/telemetry/power', 6, 'utility'],
      ['devices/lamp/telemetry/temp', 21, 'utility'],
    ]);
  });

  test('a window is not sent when the owner withdrew or changed the choice meanwhile', () => {
    const r = rig({ lamp: choose(HOURLY, HOURLY) });
    r.sharing.handle({ deviceId: 'lamp', payload: 1 });
    r.choices.set('lamp', choose(NONE, { mode: 'summary', windowMinutes: 15 }));
    r.timers.advance(3600_000);
    assert.deepEqual(r.out, []);
  });

  test('a change applies to the very next message', () => {
    const r = rig({ lamp: choose(NONE, NONE) });
    r.sharing.handle({ deviceId: 'lamp', payload: 1 });
    r.choices.set('lamp', choose(RAW, NONE));
    r.sharing.handle({ deviceId: 'lamp', payload: 2 });
    r.choices.set('lamp', choose(NONE, NONE));
    r.sharing.handle({ deviceId: 'lamp', payload: 3 });
    assert.deepEqual(r.routed('vendor').map((m) => m.payload), [2]);
  });

  test('an unknown device gets the default: nothing leaves', () => {
    const r = rig({});
    assert.deepEqual(r.sharing.handle({ topic: 'devices/stranger/telemetry', payload: 1 }), { kind: 'data', deviceId: 'stranger', raw: 0, summarised: 0, refused: 0 });
    r.timers.advance(3600_000);
    assert.deepEqual(r.out, []);
  });

  test('a third party the owner named but this node does not serve gets nothing here', () => {
    const r = rig({ lamp: { ...DEFAULT_SHARING, thirdParties: { insurer: RAW } } }, { thirdParties: ['utility'] });
    r.sharing.handle({ deviceId: 'lamp', payload: 1 });
    assert.deepEqual(r.out, []);
  });

  test('a message without a device ID is not routed', () => {
    const r = rig({ lamp: choose(RAW, RAW) });
    assert.deepEqual(r.sharing.handle({ topic: 'other', payload: 1 }), { kind: 'no-device' });
    assert.deepEqual(r.out, []);
  });
});

describe('commands from the vendor', () => {
  test('dropped with a notice when the owner did not allow them', () => {
    const r = rig({ lamp: choose(RAW, RAW, false) });
    const outcome = r.sharing.handle({ topic: 'devices/lamp/commands/brightness', payload: 10 });
    assert.deepEqual(outcome, { kind: 'command', deviceId: 'lamp', allowed: false });
    assert.deepEqual(r.routed('device'), []);
    assert.deepEqual(r.routed('vendor'), [], 'a command is not data for the recipients');
    const [notice] = r.routed('notice');
    assert.equal(notice?.topic, 'sharing/vendor-command-refused');
    assert.equal(notice?.deviceId, 'lamp');
    assert.deepEqual(Object.keys(notice?.payload as object).sort(), ['at', 'deviceId', 'kind', 'reason']);
  });
  test('passed to the device output when allowed', () => {
    const r = rig({ lamp: choose(NONE, NONE, true) });
    r.sharing.handle({ deviceId: 'lamp', direction: 'command', payload: { brightness: 40 } });
    assert.deepEqual(r.routed('device'), [{ deviceId: 'lamp', direction: 'command', payload: { brightness: 40 } }]);
    assert.deepEqual(r.routed('notice'), []);
  });
  test('an unknown device takes no vendor commands', () => {
    const r = rig({});
    assert.equal((r.sharing.handle({ topic: 'devices/x/commands/on', payload: 1 }) as { allowed: boolean }).allowed, false);
  });
});

describe('limits', () => {
  test('summary windows are bounded; past the limit readings are refused with a notice', () => {
    const r = rig({ a: choose(HOURLY, NONE), b: choose(HOURLY, NONE) }, { maxWindows: 1 });
    r.sharing.handle({ deviceId: 'a', payload: 1 });
    const outcome = r.sharing.handle({ deviceId: 'b', payload: 1 });
    assert.deepEqual(outcome, { kind: 'data', deviceId: 'b', raw: 0, summarised: 0, refused: 1 });
    assert.equal(r.routed('notice')[0]?.topic, 'sharing/window-limit');
    r.sharing.handle({ deviceId: 'b', payload: 2 });
    assert.equal(r.routed('notice').length, 1, 'one notice while the limit holds, not one per reading');
    r.timers.advance(3600_000);
    assert.equal(r.sharing.handle({ deviceId: 'b', payload: 3 }).kind, 'data');
    assert.equal(r.sharing.openWindows, 1, 'room again once a window closed');
  });
  test('the default limit is 1000 windows', () => {
    const r = rig({});
    const many: Record<string, SharingChoices> = {};
    for (let i = 0; i < 1001; i++) many[`d${i}`] = choose(HOURLY, NONE);
    for (const [id, c] of Object.entries(many)) r.choices.set(id, c);
    for (const id of Object.keys(many)) r.sharing.handle({ deviceId: id, payload: 1 });
    assert.equal(r.sharing.openWindows, 1000);
    assert.equal(r.routed('notice').length, 1);
  });
  test('stop drops open windows unsent', () => {
    const r = rig({ lamp: choose(HOURLY, HOURLY) });
    r.sharing.handle({ deviceId: 'lamp', payload: 1 });
    r.sharing.stop();
    assert.equal(r.timers.pending(), 0);
    r.timers.advance(3600_000);
    assert.deepEqual(r.out, []);
  });
});
