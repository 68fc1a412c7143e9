import { test, describe, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import type { FlowNode } from 'node-red-node-test-helper';
import { helper, packageNode, coreNode, waitForStatus, collect } from '../support/flow-runtime';
import { fakeNatPmp } from '../support/fake-natpmp';

const nodes = [packageNode('port-mapping'), coreNode('common/24-complete')];


function flow(config: Record<string, unknown>): FlowNode[] {
  return [
    { id: 'tab', type: 'tab' },
    { id: 'pm', type: 'port-mapping', z: 'tab', backend: 'natpmp', protocol: 'udp', internalPort: 5683, externalPort: '', lifetime: 3600, checkInterval: 60, wires: [['out']], ...config },
    { id: 'out', type: 'helper', z: 'tab' },
    // Proves done(): a complete node fires only when the input handler calls it.
    { id: 'completed', type: 'complete', z: 'tab', scope: ['pm'], uncaught: false, wires: [['done']] },
    { id: 'done', type: 'helper', z: 'tab' },
  ];
}

type Msg = { topic: string; payload: Record<string, unknown> };

async function waitFor<T>(list: T[], n: number): Promise<void> {
  for (let i = 0; i < 300 && list.length < n; i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(list.length >= n, `expected ${n} messages, got ${list.length}`);
}

describe('port-mapping node', () => {
  afterEach(() => helper.unload());

  test('maps through NAT-PMP, shows address:port, answers input with the state, and removes the mapping on close', async () => {
    const router = await fakeNatPmp();
    try {
      await helper.load(nodes, flow({ router: `127.0.0.1:${router.port}`, externalPort: 15683 }));
      const out = collect('out') as Msg[];
      const pm = helper.getNode('pm');
      await waitForStatus(pm, (s) => s.text === '203.0.113.7:15683' && s.fill === 'green');
      await waitFor(out, 1);
      assert.equal(out[0]?.topic, 'port-mapping/mapped');
      assert.deepEqual(
        { ...out[0]?.payload },
        { status: 'mapped', protocol: 'udp', internalPort: 5683, externalAddress: '203.0.113.7', externalPort: 15683, lifetime: 3600, backend: 'NAT-PMP', reason: 'created', error: undefined, upnpCode: undefined, natPmpResult: undefined, retryIn: undefined },
      );

      const completed = collect('done');
      pm.receive({ payload: 'state?' });
      await waitFor(out, 2);
      await waitFor(completed, 1);
      assert.equal(out[1]?.payload.externalAddress, '203.0.113.7');

      await helper.unload();
      const last = router.requests.at(-1)!;
      assert.deepEqual([last[1], last.readUInt16BE(4), last.readUInt32BE(8)], [1, 5683, 0], 'a delete request (lifetime 0) on close');
    } finally {
      router.close();
    }
  });

  test('an absent router gives a red status with the reason and retries, without crashing', async () => {
    const probe = createSocket('udp4');
    await new Promise<void>((r) => probe.bind(0, '127.0.0.1', r));
    const closedPort = probe.address().port;
    probe.close();
    await helper.load(nodes, flow({ router: `127.0.0.1:${closedPort}` }));
    const out = collect('out') as Msg[];
    const status = await waitForStatus(helper.getNode('pm'), (s) => s.fill === 'red');
    assert.match(String(status.text), /does not answer NAT-PMP.*retry in \d+ s/);
    await waitFor(out, 1);
    assert.equal(out[0]?.topic, 'port-mapping/retrying');
    assert.equal(typeof out[0]?.payload.retryIn, 'number');
  });

  test('bad settings: red status and an error, input still completes', async () => {
    await helper.load(nodes, flow({ internalPort: 0 }));
    const pm = helper.getNode('pm');
    const status = await waitForStatus(pm, (s) => s.fill === 'red');
    assert.match(String(status.text), /internal port must be an integer from 1 to 65535/);
    assert.ok(pm.error.getCalls().length >= 1);
    const completed = collect('done');
    pm.receive({ payload: 'x' });
    await waitFor(completed, 1);
  });

  test('both transports map separately and the status names both', async () => {
    const router = await fakeNatPmp();
    try {
      await helper.load(nodes, flow({ router: `127.0.0.1:${router.port}`, protocol: 'both' }));
      const out = collect('out') as Msg[];
      await waitForStatus(helper.getNode('pm'), (s) => s.text === '203.0.113.7:5683' && s.fill === 'green');
      await waitFor(out, 2);
      assert.deepEqual(out.map((m) => m.payload.protocol).sort(), ['tcp', 'udp']);
    } finally {
      router.close();
    }
  });
});
