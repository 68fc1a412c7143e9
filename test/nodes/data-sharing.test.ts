/**
 * The data-sharing node in a flow: choices read live from a device-provisioning node's
 * service, four outputs, bad settings refused. The window arithmetic is in
 * test/unit/sharing-data-path.test.ts with a manual clock.
 */
import { test, describe, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import type { FlowNode } from 'node-red-node-test-helper';
import { helper, packageNode, coreNode, waitForStatus, collect } from '../support/flow-runtime';
import { MemoryProvisioning, memoryProvisioningNode } from '../support/memory-provisioning';
import { DEFAULT_SHARING } from '../../lib/sharing/choices';

function flow(extra: Partial<FlowNode> = {}): FlowNode[] {
  return [
    { id: 'registry', type: 'device-provisioning', name: 'home devices', wires: [] },
    { id: 'share', type: 'data-sharing', provisioning: 'registry', thirdParties: 'utility', wires: [['toVendor'], ['toThird'], ['toDevice'], ['notices']], ...extra },
    { id: 'toVendor', type: 'helper' },
    { id: 'toThird', type: 'helper' },
    { id: 'toDevice', type: 'helper' },
    { id: 'notices', type: 'helper' },
    { id: 'catcher', type: 'catch', scope: null, uncaught: false, wires: [['caught']] },
    { id: 'caught', type: 'helper' },
  ];
}

async function load(service: MemoryProvisioning, extra: Partial<FlowNode> = {}) {
  await helper.load([packageNode('data-sharing'), memoryProvisioningNode(service), coreNode('common/25-catch')], flow(extra));
  return {
    share: helper.getNode('share'),
    vendor: collect('toVendor'),
    third: collect('toThird'),
    device: collect('toDevice'),
    notices: collect('notices'),
    caught: collect('caught'),
  };
}

const settle = () => new Promise((r) => setTimeout(r, 50));

describe('data-sharing node', () => {
  afterEach(async () => {
    await helper.unload();
  });

  test('a sharing change on the registry changes the outputs from the next message', async () => {
    const service = new MemoryProvisioning();
    service.provision({ id: 'lamp-1' });
    const n = await load(service);
    n.share.receive({ topic: 'devices/lamp-1/telemetry', payload: { power: 3 } });
    await settle();
    assert.equal(n.vendor.length + n.third.length, 0, 'the default shares nothing');

    await service.setSharing('lamp-1', { ...DEFAULT_SHARING, vendor: { mode: 'raw' }, thirdParties: { utility: { mode: 'raw' } } });
    n.share.receive({ topic: 'devices/lamp-1/telemetry', payload: { power: 4 } });
    await settle();
    assert.deepEqual(n.vendor.map((m) => [(m as { recipient: string }).recipient, (m as { payload: unknown }).payload]), [['vendor', { power: 4 }]]);
    assert.deepEqual(n.third.map((m) => [(m as { recipient: string }).recipient, (m as { payload: unknown }).payload]), [['utility', { power: 4 }]]);
    await waitForStatus(n.share, (s) => s.text === 'vendor 1 · third party 1');

    await service.setSharing('lamp-1', { ...DEFAULT_SHARING, vendor: { mode: 'raw' } });
    n.share.receive({ topic: 'devices/lamp-1/telemetry', payload: { power: 5 } });
    await settle();
    assert.equal(n.vendor.length, 2);
    assert.equal(n.third.length, 1, 'the utility no longer gets raw data');
  });

  test('vendor commands: refused with a notice, then let through once allowed', async () => {
    const service = new MemoryProvisioning();
    service.provision({ id: 'lamp-1' });
    const n = await load(service);
    n.share.receive({ topic: 'devices/lamp-1/commands/brightness', payload: 20 });
    await settle();
    assert.equal(n.device.length, 0);
    assert.equal((n.notices[0] as { topic: string }).topic, 'sharing/vendor-command-refused');
    await waitForStatus(n.share, (s) => String(s.text).includes('1 commands refused'));

    await service.setSharing('lamp-1', { ...DEFAULT_SHARING, vendorCommands: true });
    n.share.receive({ topic: 'devices/lamp-1/commands/brightness', payload: 20 });
    await settle();
    assert.deepEqual(n.device.map((m) => (m as { payload: unknown }).payload), [20]);
    assert.equal(n.notices.length, 1);
  });

  test('a message without a device ID is a catchable error and goes nowhere', async () => {
    const n = await load(new MemoryProvisioning());
    n.share.receive({ topic: 'elsewhere', payload: 1 });
    await settle();
    assert.equal(n.caught.length, 1);
    assert.match(String((n.caught[0] as { error: { message: string } }).error.message), /no device/);
    assert.equal(n.vendor.length + n.third.length + n.device.length, 0);
  });

  test('without a device-provisioning node nothing is shared and the status says why', async () => {
    await helper.load([packageNode('data-sharing')], [
      { id: 'share', type: 'data-sharing', provisioning: '', thirdParties: 'utility', wires: [['toVendor'], ['toThird'], [], []] },
      { id: 'toVendor', type: 'helper' },
      { id: 'toThird', type: 'helper' },
    ]);
    const share = helper.getNode('share');
    const vendor = collect('toVendor');
    share.receive({ deviceId: 'lamp-1', payload: 1 });
    await waitForStatus(share, (s) => String(s.text).includes('no device-provisioning node'));
    assert.equal(vendor.length, 0);
    assert.equal(share.warn.getCalls().length, 1);
  });

  const badSettings: Array<[string, Partial<FlowNode>, RegExp]> = [
    ['a third party with markup', { thirdParties: 'utility, <script>' }, /third party/],
    ['a third party named twice', { thirdParties: 'utility, utility' }, /twice/],
    ['a window limit of 0', { maxWindows: '0' }, /Summary windows/],
  ];
  for (const [why, extra, reason] of badSettings) {
    test(`refuses to start with ${why}`, async () => {
      const n = await load(new MemoryProvisioning(), extra);
      await waitForStatus(n.share, (s) => s.fill === 'red' && reason.test(String(s.text)));
      n.share.receive({ deviceId: 'lamp-1', payload: 1 });
      await settle();
      assert.equal(n.vendor.length, 0);
    });
  }
});
