/** gateway-broker + device-provisioning in a flow: claims by message, outputs, the service for other nodes. */
import { test, describe, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FlowNode } from 'node-red-node-test-helper';
import { helper, packageNode, coreNode, waitForStatus, collect } from '../support/flow-runtime';
import { makeTestPki, type TestPki } from '../support/certs';
import { freePort } from '../support/free-port';
import { provision } from '../../examples/device-simulator/simulator';
import type { GatewayBrokerNode } from '../../nodes/gateway-broker.types';
import type { DeviceProvisioningNode } from '../../nodes/device-provisioning.types';

const nodes = [coreNode('network/05-tls'), packageNode('gateway-broker'), packageNode('device-provisioning'), coreNode('common/24-complete'), coreNode('common/25-catch')];

function flow(prov: Record<string, unknown> = {}, broker: Record<string, unknown> = {}): FlowNode[] {
  return [
    { id: 'tab', type: 'tab' },
    { id: 'gwTls', type: 'tls-config', cert: '', key: '', ca: '', verifyservercert: true },
    { id: 'gwBroker', type: 'gateway-broker', tls: 'gwTls', host: '127.0.0.1', port: 0, identityFrom: 'cn', loopback: false, persist: false, ...broker },
    { id: 'prov', type: 'device-provisioning', z: 'tab', broker: 'gwBroker', heartbeat: 30, settings: '{"reportEvery": 15}', noticeQuiet: 0, persist: false, wires: [['provisioned'], ['notices']], ...prov },
    { id: 'provisioned', type: 'helper', z: 'tab' },
    { id: 'notices', type: 'helper', z: 'tab' },
    { id: 'completed', type: 'complete', z: 'tab', scope: ['prov'], uncaught: false, wires: [['done']] },
    { id: 'done', type: 'helper', z: 'tab' },
    { id: 'caught', type: 'catch', z: 'tab', scope: ['prov'], uncaught: false, wires: [['failed']] },
    { id: 'failed', type: 'helper', z: 'tab' },
  ];
}

async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(check(), what);
}

describe('gateway-broker and device-provisioning nodes', () => {
  let pki: TestPki;
  before(() => {
    pki = makeTestPki();
  });
  after(() => pki.remove());
  afterEach(() => helper.unload());

  const load = async (prov: Record<string, unknown> = {}, broker: Record<string, unknown> = {}) => {
    await helper.load(nodes, flow(prov, broker), { gwTls: { certdata: pki.server.cert, keydata: pki.server.key, cadata: pki.ca.cert } });
    const brokerNode = helper.getNode('gwBroker') as unknown as GatewayBrokerNode;
    const state = await brokerNode.ready;
    assert.equal(state.kind, 'running', JSON.stringify(state));
    return `mqtts://127.0.0.1:${brokerNode.broker.tlsAddress?.port}`;
  };

  test('a claim by message, then the device connects and comes out of output 1 with its configuration', async () => {
    const url = await load();
    const prov = helper.getNode('prov');
    await waitForStatus(prov, (s) => s.fill === 'green');
    const provisioned = collect('provisioned') as Array<{ topic: string; payload: { id: string; firmware: string } }>;
    const done = collect('done');
    prov.receive({ topic: 'claim', payload: { id: 'plug-1', label: 'kettle' } });
    await until(() => done.length === 1, 'the claim completes');
    const service = (helper.getNode('prov') as unknown as DeviceProvisioningNode).service;
    assert.deepEqual(service.claims().map((c) => [c.id, c.label, c.source]), [['plug-1', 'kettle', 'flow']]);
    const cert = pki.device('plug-1');
    const r = await provision({ id: 'plug-1', cert: cert.cert, key: cert.key, ca: pki.ca.cert, local: url, firmware: '3.0' });
    try {
      assert.ok(r.mode === 'provisioned');
      assert.equal(r.config.heartbeatSeconds, 30);
      assert.deepEqual(r.config.settings, { reportEvery: 15 });
      await until(() => provisioned.length === 1, 'output 1 sends the device');
      assert.equal(provisioned[0]?.topic, 'provisioned');
      assert.equal(provisioned[0]?.payload.firmware, '3.0');
      await waitForStatus(prov, (s) => s.text === '1 device, 1 online');
    } finally {
      if (r.mode !== 'local') r.client.end(true);
    }
  });

  test('an unclaimed device comes out of output 2 as a notice', async () => {
    const url = await load();
    const notices = collect('notices') as Array<{ topic: string; payload: { kind: string; deviceId: string } }>;
    const cert = pki.device('plug-2');
    const r = await provision({ id: 'plug-2', cert: cert.cert, key: cert.key, ca: pki.ca.cert, local: url });
    assert.equal(r.mode, 'local');
    await until(() => notices.length === 1, 'output 2 sends the notice');
    assert.equal(notices[0]?.topic, 'notice/unclaimed');
    assert.equal(notices[0]?.payload.deviceId, 'plug-2');
  });

  test('a certificate on the CRL file is refused, and the owner is told it was revoked', async () => {
    const revoked = pki.device('plug-9');
    const crlFile = join(pki.dir, 'node-test.crl');
    writeFileSync(crlFile, pki.revoke(revoked));
    const url = await load({}, { crlFile });
    const prov = helper.getNode('prov');
    prov.receive({ topic: 'claim', payload: 'plug-9' });
    const notices = collect('notices') as Array<{ topic: string; payload: { deviceId: string } }>;
    const r = await provision({ id: 'plug-9', cert: revoked.cert, key: revoked.key, ca: pki.ca.cert, local: url });
    assert.equal(r.mode, 'local');
    await until(() => notices.length === 1, 'output 2 sends the notice');
    assert.equal(notices[0]?.topic, 'notice/certificate-revoked');
    assert.equal(notices[0]?.payload.deviceId, 'plug-9');
  });

  test('an unreadable CRL file stops the broker with a reason', async () => {
    await helper.load(nodes, flow({}, { crlFile: '/nonexistent/ca.crl' }), { gwTls: { certdata: pki.server.cert, keydata: pki.server.key, cadata: pki.ca.cert } });
    const state = await (helper.getNode('gwBroker') as unknown as GatewayBrokerNode).ready;
    assert.equal(state.kind, 'failed');
    assert.match(state.kind === 'failed' ? state.text : '', /cannot read the CRL file/);
    await waitForStatus(helper.getNode('prov'), (s) => s.fill === 'red' && /CRL/.test(String(s.text)));
  });

  test('CSV import claims many; bad lines are reported, and unknown commands fail the message', async () => {
    await load();
    const prov = helper.getNode('prov');
    const done = collect('done') as Array<{ error?: { message: string } }>;
    prov.receive({ topic: 'import-csv', payload: 'id,label\nplug-3,desk lamp\n"plug-4","fan, big"\nnot an id!\nplug-3,again\n' });
    await until(() => done.length === 1, 'import completes');
    const service = (prov as unknown as DeviceProvisioningNode).service;
    assert.deepEqual(service.claims().map((c) => [c.id, c.label, c.source]), [['plug-3', 'desk lamp', 'csv'], ['plug-4', 'fan, big', 'csv']]);
    const failed = collect('failed') as Array<{ error: { message: string } }>;
    prov.receive({ topic: 'claim', payload: 'bad/id' });
    prov.receive({ topic: 'reboot', payload: 'plug-3' });
    await until(() => failed.length === 2, 'both fail, to the catch node');
    const messages = failed.map((f) => f.error.message).sort();
    assert.match(messages[0] ?? '', /not a device ID/);
    assert.match(messages[1] ?? '', /unknown command/);
    assert.equal(service.claims().length, 2);
  });

  test('an unreachable external broker: a red status, and a redeploy is not held up', async () => {
    const closed = await freePort();
    await helper.load(nodes, flow({ broker: '', url: `mqtts://127.0.0.1:${closed}`, tls: 'gwTls' }), { gwTls: { certdata: pki.server.cert, keydata: pki.server.key, cadata: pki.ca.cert } });
    await waitForStatus(helper.getNode('prov'), (s) => s.fill === 'red' && /ECONNREFUSED/.test(String(s.text)));
    const started = Date.now();
    await helper.unload();
    assert.ok(Date.now() - started < 5000, 'close finished without waiting for a connection');
  });

  test('bad settings: red status, and messages still complete', async () => {
    await load({ settings: '[1,2' });
    const prov = helper.getNode('prov');
    await waitForStatus(prov, (s) => s.fill === 'red' && /JSON object/.test(String(s.text)));
    const done = collect('done');
    prov.receive({ topic: 'claim', payload: 'x-1' });
    await until(() => done.length === 1, 'completes');
  });
});
