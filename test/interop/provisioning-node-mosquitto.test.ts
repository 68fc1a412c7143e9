/** The device-provisioning node as a client of a real mosquitto, with its certificate in a tls-config node. */
import { test, describe, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { helper, packageNode, coreNode, waitForStatus, collect } from '../support/flow-runtime';
import { makeTestPki, type TestPki } from '../support/certs';
import { startMosquitto, type Mosquitto } from '../support/mosquitto';
import { provision } from '../../examples/device-simulator/simulator';

const nodes = [coreNode('network/05-tls'), packageNode('device-provisioning')];

async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(check(), what);
}

describe('device-provisioning node with mosquitto', () => {
  let pki: TestPki;
  let mosquitto: Mosquitto;
  before(async () => {
    pki = makeTestPki();
    mosquitto = await startMosquitto(pki, 'edge-gateway');
  });
  after(async () => {
    await mosquitto?.stop();
    pki.remove();
  });
  afterEach(() => helper.unload());

  test('claims by message, provisions a device, and tells the owner about an unclaimed one', async () => {
    const gateway = pki.device('edge-gateway');
    await helper.load(
      nodes,
      [
        { id: 'tab', type: 'tab' },
        { id: 'gwTls', type: 'tls-config', cert: '', key: '', ca: '', verifyservercert: true },
        { id: 'prov', type: 'device-provisioning', z: 'tab', broker: '', url: mosquitto.url, tls: 'gwTls', heartbeat: 60, settings: '{}', noticeQuiet: 60, persist: false, aclFile: mosquitto.aclFile, pidFile: mosquitto.pidFile, wires: [['provisioned'], ['notices']] },
        { id: 'provisioned', type: 'helper', z: 'tab' },
        { id: 'notices', type: 'helper', z: 'tab' },
      ],
      { gwTls: { certdata: gateway.cert, keydata: gateway.key, cadata: pki.ca.cert } },
    );
    const prov = helper.getNode('prov');
    await waitForStatus(prov, (s) => s.fill === 'green');
    const provisioned = collect('provisioned') as Array<{ payload: { id: string } }>;
    const notices = collect('notices') as Array<{ topic: string; payload: { deviceId: string } }>;
    prov.receive({ topic: 'claim', payload: 'meter-1' });
    await until(() => (prov as unknown as { service: { claims(): unknown[] } }).service.claims().length === 1, 'claimed');
    const cert = pki.device('meter-1');
    const r = await provision({ id: 'meter-1', cert: cert.cert, key: cert.key, ca: pki.ca.cert, local: mosquitto.url });
    if (r.mode !== 'local') r.client.end(true);
    assert.equal(r.mode, 'provisioned');
    await until(() => provisioned.length === 1, 'output 1');
    assert.equal(provisioned[0]?.payload.id, 'meter-1');

    const stray = pki.device('meter-2');
    const s = await provision({ id: 'meter-2', cert: stray.cert, key: stray.key, ca: pki.ca.cert, local: mosquitto.url });
    assert.equal(s.local.rejected?.code, 'unclaimed');
    await until(() => notices.length === 1, 'output 2');
    assert.equal(notices[0]?.topic, 'notice/unclaimed');
    assert.equal(notices[0]?.payload.deviceId, 'meter-2');

    // Revoking by message rewrites mosquitto's ACL (the gateway user from the certificate's CN) and reloads it.
    const reloads = () => mosquitto.log().match(/Reloading config/g)?.length ?? 0;
    const before = reloads();
    prov.receive({ topic: 'revoke', payload: 'meter-1' });
    await until(() => reloads() > before, 'mosquitto reloads');
    const acl = readFileSync(mosquitto.aclFile, 'utf8');
    assert.match(acl, /^user edge-gateway\ntopic readwrite #$/m);
    assert.match(acl, /^user meter-1\ntopic deny devices\/meter-1\/#$/m);
    assert.match(acl, /^pattern readwrite devices\/%u\/#$/m);
  });
});
