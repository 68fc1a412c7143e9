import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { deviceIdOf, isVendorCommand, MAX_DEVICE_ID_LENGTH } from '../../lib/sharing/device-message';
import { levelFor, sameLevel } from '../../lib/sharing/policy';
import { DEFAULT_SHARING, type SharingChoices } from '../../lib/sharing/choices';
import { parseSharingChoices, SharingChoiceError, MAX_WINDOW_MINUTES, MAX_THIRD_PARTIES } from '../../lib/sharing/parse-choices';
import { Summary } from '../../lib/sharing/summary';

describe('which device a message is about', () => {
  test('msg.deviceId first, then the devices/<id>/... topic', () => {
    assert.equal(deviceIdOf({ deviceId: 'lamp-1', topic: 'devices/other/telemetry' }), 'lamp-1');
    assert.equal(deviceIdOf({ topic: 'devices/lamp-2/telemetry/power' }), 'lamp-2');
    assert.equal(deviceIdOf({ deviceId: '  ', topic: 'devices/lamp-3/x' }), 'lamp-3');
  });
  test('no id, a wildcard, an empty or overlong one: none', () => {
    assert.equal(deviceIdOf({ topic: 'sensors/lamp/telemetry' }), undefined);
    assert.equal(deviceIdOf({ topic: 'devices/+/telemetry' }), undefined);
    assert.equal(deviceIdOf({ topic: 'devices//telemetry' }), undefined);
    assert.equal(deviceIdOf({ deviceId: 42 }), undefined);
    assert.equal(deviceIdOf({ deviceId: 'x'.repeat(MAX_DEVICE_ID_LENGTH + 1) }), undefined);
    assert.equal(deviceIdOf({ deviceId: 'x'.repeat(MAX_DEVICE_ID_LENGTH) }), 'x'.repeat(MAX_DEVICE_ID_LENGTH));
  });
  test('vendor commands: msg.direction or a commands topic', () => {
    assert.equal(isVendorCommand({ direction: 'command', topic: 'devices/a/telemetry' }), true);
    assert.equal(isVendorCommand({ topic: 'devices/a/commands/brightness' }), true);
    assert.equal(isVendorCommand({ topic: 'devices/a/commands' }), true);
    assert.equal(isVendorCommand({ topic: 'devices/a/commandsx' }), false);
    assert.equal(isVendorCommand({ topic: 'devices/a/telemetry' }), false);
  });
});

describe('what each recipient may get', () => {
  const choices: SharingChoices = {
    ...DEFAULT_SHARING,
    vendor: { mode: 'raw' },
    thirdParties: { utility: { mode: 'summary', windowMinutes: 60 } },
  };
  test('vendor and named third parties get their level, anyone else nothing', () => {
    assert.deepEqual(levelFor(choices, { kind: 'vendor' }), { mode: 'raw' });
    assert.deepEqual(levelFor(choices, { kind: 'third-party', name: 'utility' }), { mode: 'summary', windowMinutes: 60 });
    assert.deepEqual(levelFor(choices, { kind: 'third-party', name: 'insurer' }), { mode: 'none' });
    assert.deepEqual(levelFor(choices, { kind: 'third-party', name: 'toString' }), { mode: 'none' });
  });
  test('by default nothing leaves', () => {
    assert.deepEqual(levelFor(DEFAULT_SHARING, { kind: 'vendor' }), { mode: 'none' });
    assert.deepEqual(levelFor(DEFAULT_SHARING, { kind: 'third-party', name: 'utility' }), { mode: 'none' });
  });
  test('a window is the same level only with the same length', () => {
    assert.equal(sameLevel({ mode: 'summary', windowMinutes: 5 }, { mode: 'summary', windowMinutes: 5 }), true);
    assert.equal(sameLevel({ mode: 'summary', windowMinutes: 5 }, { mode: 'summary', windowMinutes: 60 }), false);
    assert.equal(sameLevel({ mode: 'summary', windowMinutes: 5 }, { mode: 'raw' }), false);
    assert.equal(sameLevel({ mode: 'raw' }, { mode: 'raw' }), true);
  });
});

describe('sharing choices from the dashboard', () => {
  const good = {
    vendor: { mode: 'summary', windowMinutes: 60 },
    thirdParties: { utility: { mode: 'raw' } },
    vendorCommands: true,
    loadControl: { optIn: true, limits: { brightness: { min: 30 } } },
  };
  test('a well-formed choice comes back as given, without extra fields', () => {
    assert.deepEqual(parseSharingChoices({ ...good, extra: 'ignored' }), good);
  });
  test('missing thirdParties and loadControl mean none and no', () => {
    assert.deepEqual(parseSharingChoices({ vendor: { mode: 'none' }, vendorCommands: false }), DEFAULT_SHARING);
  });
  const bad: Array<[string, unknown]> = [
    ['not an object', 'raw'],
    ['unknown mode', { ...good, vendor: { mode: 'all' } }],
    ['window 0', { ...good, vendor: { mode: 'summary', windowMinutes: 0 } }],
    ['window too long', { ...good, vendor: { mode: 'summary', windowMinutes: MAX_WINDOW_MINUTES + 1 } }],
    ['window not integer', { ...good, vendor: { mode: 'summary', windowMinutes: 1.5 } }],
    ['vendorCommands a string', { ...good, vendorCommands: 'yes' }],
    ['third party with markup', { ...good, thirdParties: { '<b>': { mode: 'raw' } } }],
    ['too many third parties', { ...good, thirdParties: Object.fromEntries(Array.from({ length: MAX_THIRD_PARTIES + 1 }, (_, i) => [`p${i}`, { mode: 'raw' }])) }],
    ['limit not a number', { ...good, loadControl: { optIn: true, limits: { brightness: { min: '30' } } } }],
    ['min above max', { ...good, loadControl: { optIn: true, limits: { brightness: { min: 80, max: 20 } } } }],
    ['optIn missing', { ...good, loadControl: { limits: {} } }],
  ];
  for (const [why, value] of bad) {
    test(`refused: ${why}`, () => {
      assert.throws(() => parseSharingChoices(value), SharingChoiceError);
    });
  }
});

describe('a window summary', () => {
  test('numbers averaged, other values the latest', () => {
    const s = new Summary(64);
    s.add({ power: 10, state: 'on' });
    s.add({ power: 20, state: 'off', extra: true });
    s.add({ power: 60 });
    assert.equal(s.count, 3);
    assert.deepEqual(s.payload(), { power: 30, state: 'off', extra: true });
  });
  test('a plain number payload is averaged', () => {
    const s = new Summary(64);
    for (const v of [1, 2, 6]) s.add(v);
    assert.equal(s.payload(), 3);
  });
  test('a field that stops being a number reports its latest value', () => {
    const s = new Summary(64);
    s.add({ t: 20 });
    s.add({ t: 'sensor fault' });
    s.add({ t: 22 });
    assert.deepEqual(s.payload(), { t: 22 });
  });
  test('fields past the limit are left out', () => {
    const s = new Summary(2);
    s.add({ a: 1, b: 2, c: 3 });
    assert.deepEqual(s.payload(), { a: 1, b: 2 });
  });
});
