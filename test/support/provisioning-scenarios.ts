/**
 * The provisioning scenarios every broker must pass: the same device (examples/device-simulator)
 * and the same Provisioner, once on the embedded aedes broker and once through mosquitto.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Provisioner } from '../../lib/provisioning/provisioner';
import type { Notice, NoticeKind } from '../../lib/provisioning/types';
import { provision, type SimulatorOptions } from '../../examples/device-simulator/simulator';
import type { TestPki } from './certs';
import type { MqttClient } from 'mqtt';

export interface BrokerWorld {
  /** mqtts://127.0.0.1:<port> where devices connect. */
  readonly deviceUrl: string;
  readonly provisioner: Provisioner;
  readonly pki: TestPki;
  /** What only the embedded broker can see (TLS failures, ACL denials, CONNECT refusals). */
  readonly seesTransport: boolean;
  /** A client with full access, as the gateway's own flows have. */
  observer(): Promise<MqttClient>;
  /** Resolves once the broker applies the latest change of the revoked set (mosquitto: ACL reload). */
  refusalsApplied(): Promise<void>;
}

export function waitForNotice(p: Provisioner, kind: NoticeKind, deviceId: string, timeoutMs = 5000): Promise<Notice> {
  const seen = p.notices().find((n) => n.kind === kind && n.deviceId === deviceId);
  if (seen) return Promise.resolve(seen);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      p.off('notice', on);
      reject(new Error(`no ${kind} notice for ${deviceId}; notices: ${JSON.stringify(p.notices(10))}`));
    }, timeoutMs);
    function on(n: Notice): void {
      if (n.kind !== kind || n.deviceId !== deviceId) return;
      clearTimeout(timer);
      p.off('notice', on);
      resolve(n);
    }
    p.on('notice', on);
  });
}

export function provisioningScenarios(world: () => BrokerWorld): void {
  const device = (id: string, cert: { cert: string; key: string }, extra: Partial<SimulatorOptions> = {}): SimulatorOptions => {
    const w = world();
    return { id, cert: cert.cert, key: cert.key, ca: w.pki.ca.cert, local: w.deviceUrl, timeoutMs: 4000, ...extra };
  };

  test('claim, connect, provisioned: the device gets its configuration and the registry its details', async () => {
    const w = world();
    await w.provisioner.claim('lamp-1', 'dashboard', 'hall light');
    const provisioned = new Promise((resolve) => w.provisioner.once('provisioned', resolve));
    const r = await provision(device('lamp-1', w.pki.device('lamp-1'), { firmware: '2.4.1', model: 'L1', vendor: 'Acme', behaviours: ['switch', 'dimmer'] }));
    try {
      assert.equal(r.mode, 'provisioned', JSON.stringify(r.mode === 'provisioned' ? '' : r.local));
      assert.ok(r.mode === 'provisioned');
      assert.equal(r.config.id, 'lamp-1');
      assert.equal(r.config.topics.telemetry, 'devices/lamp-1/telemetry');
      await provisioned;
      const rec = w.provisioner.device('lamp-1');
      assert.equal(rec?.state, 'provisioned');
      assert.equal(rec?.firmware, '2.4.1');
      assert.equal(rec?.vendor, 'Acme');
      assert.deepEqual(rec?.behaviours, ['switch', 'dimmer']);
      assert.equal(rec?.label, 'hall light');
    } finally {
      if (r.mode !== 'local') r.client.end(true);
    }
  });

  test('an unclaimed device is rejected, acts on its own, and the owner is told', async () => {
    const w = world();
    const r = await provision(device('stray-1', w.pki.device('stray-1')));
    assert.equal(r.mode, 'local');
    assert.equal(r.local.rejected?.code, 'unclaimed');
    const n = await waitForNotice(w.provisioner, 'unclaimed', 'stray-1');
    assert.match(n.reason, /stray-1/);
    assert.equal(w.provisioner.device('stray-1'), undefined);
  });

  test('a certificate for another ID than the device announces is an identity mismatch', async () => {
    const w = world();
    await w.provisioner.claim('lamp-2', 'flow');
    // The device's label says lamp-2, its certificate says impostor-2.
    const r = await provision(device('lamp-2', w.pki.device('impostor-2')));
    assert.equal(r.mode, 'local');
    assert.equal(r.local.rejected?.code, 'identity-mismatch');
    const n = await waitForNotice(w.provisioner, 'identity-mismatch', 'impostor-2');
    assert.equal(n.detail?.announced, 'lamp-2');
    assert.equal(w.provisioner.device('lamp-2'), undefined);
  });

  test('a payload that fails the schema is rejected with a reason, and the gateway carries on', async () => {
    const w = world();
    await w.provisioner.claim('lamp-3', 'flow');
    const bad = await provision(device('lamp-3', w.pki.device('lamp-3'), { rawHello: '{"id": 42' }));
    assert.equal(bad.local.rejected?.code, 'bad-payload');
    await waitForNotice(w.provisioner, 'bad-payload', 'lamp-3');
    const wrongShape = await provision(device('lamp-3', w.pki.device('lamp-3'), { rawHello: JSON.stringify({ id: 'lamp-3', behaviours: 'switch' }) }));
    assert.equal(wrongShape.local.rejected?.code, 'bad-payload');
    assert.match(wrongShape.local.rejected?.reason ?? '', /firmware|behaviours/);
    const good = await provision(device('lamp-3', w.pki.device('lamp-3')));
    assert.ok(good.mode === 'provisioned');
    good.client.end(true);
  });

  test('an expired certificate is refused at the TLS handshake', async () => {
    const w = world();
    await w.provisioner.claim('lamp-4', 'flow');
    const r = await provision(device('lamp-4', w.pki.device('lamp-4', { expired: true })));
    assert.equal(r.mode, 'local');
    assert.ok(r.local.error, 'the device saw the connection fail');
    assert.equal(w.provisioner.device('lamp-4'), undefined);
    if (w.seesTransport) await waitForNotice(w.provisioner, 'certificate-expired', 'lamp-4');
  });

  test('a certificate from another CA is refused', async () => {
    const w = world();
    await w.provisioner.claim('lamp-5', 'flow');
    const r = await provision(device('lamp-5', w.pki.stranger('lamp-5')));
    assert.equal(r.mode, 'local');
    assert.ok(r.local.error);
    assert.equal(w.provisioner.device('lamp-5'), undefined);
    if (w.seesTransport) assert.match((await waitForNotice(w.provisioner, 'identity-mismatch', 'lamp-5')).reason, /does not trust/);
  });

  test('a device neither hears nor reaches another device\'s topics', async () => {
    const w = world();
    await w.provisioner.claim('lamp-6', 'flow');
    await w.provisioner.claim('lamp-7', 'flow');
    const a = await provision(device('lamp-6', w.pki.device('lamp-6')));
    const b = await provision(device('lamp-7', w.pki.device('lamp-7')));
    assert.ok(a.mode === 'provisioned' && b.mode === 'provisioned');
    try {
      const heardByA: string[] = [];
      const heardByB: string[] = [];
      a.client.on('message', (t, p) => heardByA.push(`${t} ${p}`));
      b.client.on('message', (t, p) => heardByB.push(`${t} ${p}`));
      // aedes refuses foreign filters in the SUBACK; mosquitto grants them and filters on delivery.
      await a.client.subscribeAsync(['devices/lamp-7/#', 'provisioning/+/hello'], { qos: 1 }).catch(() => undefined);
      await a.client.subscribeAsync('devices/lamp-6/telemetry', { qos: 1 });
      await b.client.subscribeAsync('devices/lamp-7/commands', { qos: 1 });
      await b.client.publishAsync('devices/lamp-7/telemetry', 'secret', { qos: 1 });
      await b.client.publishAsync('provisioning/lamp-7/hello', JSON.stringify({ id: 'lamp-7', firmware: '1' }), { qos: 1 });
      // One broker, one connection each: a message published after those arrives after them.
      const own = new Promise<void>((resolve) => a.client.on('message', (t) => t === 'devices/lamp-6/telemetry' && resolve()));
      await a.client.publishAsync('devices/lamp-6/telemetry', 'mine', { qos: 1 });
      await own;
      assert.deepEqual(heardByA.filter((m) => !m.startsWith('provisioning/lamp-6/')), ['devices/lamp-6/telemetry mine']);

      // A command from A to B: dropped (mosquitto) or A is disconnected (aedes); B never gets it.
      const aClosed = new Promise<void>((resolve) => a.client.once('close', () => resolve()));
      await Promise.race([a.client.publishAsync('devices/lamp-7/commands', 'off', { qos: 1 }), aClosed]);
      const marker = new Promise<void>((resolve) => b.client.on('message', (t, p) => t === 'devices/lamp-7/commands' && p.toString() === 'marker' && resolve()));
      await b.client.publishAsync('devices/lamp-7/commands', 'marker', { qos: 1 });
      await marker;
      assert.deepEqual(heardByB.filter((m) => m.startsWith('devices/')), ['devices/lamp-7/commands marker']);
    } finally {
      a.client.end(true);
      b.client.end(true);
    }
  });

  test('deprovision tells the device and ends the claim; claiming again brings it back', async () => {
    const w = world();
    await w.provisioner.claim('lamp-8', 'flow');
    const r = await provision(device('lamp-8', w.pki.device('lamp-8')));
    assert.ok(r.mode === 'provisioned');
    try {
      const told = new Promise<{ reason: string }>((resolve) => r.client.once('deprovisioned' as never, resolve as never));
      await w.provisioner.deprovision('lamp-8');
      assert.match((await told).reason, /deprovisioned/);
      assert.equal(w.provisioner.device('lamp-8')?.state, 'deprovisioned');
      assert.equal(w.provisioner.claims().find((c) => c.id === 'lamp-8'), undefined);
    } finally {
      r.client.end(true);
    }
    const again = await provision(device('lamp-8', w.pki.device('lamp-8')));
    assert.equal(again.local.rejected?.code, 'unclaimed');
    await w.provisioner.claim('lamp-8', 'dashboard');
    const back = await provision(device('lamp-8', w.pki.device('lamp-8')));
    assert.ok(back.mode === 'provisioned');
    back.client.end(true);
  });

  test('a provisioned device is online; when it drops off, its last will marks it offline', async () => {
    const w = world();
    await w.provisioner.claim('lamp-10', 'flow');
    const r = await provision(device('lamp-10', w.pki.device('lamp-10')));
    assert.ok(r.mode === 'provisioned');
    assert.equal(w.provisioner.device('lamp-10')?.online, true);
    const offline = new Promise<void>((resolve) => {
      const check = (): void => {
        if (w.provisioner.device('lamp-10')?.online !== false) return;
        w.provisioner.off('changed', check);
        resolve();
      };
      w.provisioner.on('changed', check);
    });
    r.client.stream.destroy(); // no DISCONNECT: the broker publishes the will
    await offline;
    r.client.end(true);
    assert.ok(w.provisioner.device('lamp-10')?.lastSeen);
  });

  test('a revoked device is cut off at once and refused from then on, and the owner is told', async () => {
    const w = world();
    const cert = w.pki.device('lamp-9');
    await w.provisioner.claim('lamp-9', 'flow');
    const r = await provision(device('lamp-9', cert));
    assert.ok(r.mode === 'provisioned');
    const flows = await w.observer();
    try {
      const heard: string[] = [];
      flows.on('message', (t, p) => heard.push(`${t} ${p}`));
      await flows.subscribeAsync('devices/lamp-9/#', { qos: 1 });
      const closed = new Promise<void>((resolve) => r.client.once('close', () => resolve()));
      const told = new Promise<{ code: string }>((resolve) => r.client.on('message', (t, p) => t.endsWith('/rejected') && resolve(JSON.parse(p.toString()))));
      await w.provisioner.revoke('lamp-9');
      await w.refusalsApplied();
      assert.equal(w.provisioner.device('lamp-9')?.state, 'revoked');
      if (w.seesTransport) {
        await closed; // aedes drops the connection
      } else {
        // mosquitto keeps the connection but the ACL now drops the device's data both ways.
        assert.equal((await told).code, 'revoked');
        await r.client.publishAsync('devices/lamp-9/telemetry', 'after revocation', { qos: 1 });
        await flows.publishAsync('devices/lamp-9/commands', 'ignored', { qos: 1 });
        const marker = new Promise<void>((resolve) => flows.on('message', (_t, p) => p.toString() === 'marker' && resolve()));
        await flows.publishAsync('devices/lamp-9/marker', 'marker', { qos: 1 });
        await marker;
        assert.deepEqual(heard.filter((m) => m.includes('after revocation')), []);
        await r.client.subscribeAsync('devices/lamp-9/#', { qos: 1 }).catch(() => undefined);
      }
    } finally {
      r.client.end(true);
      flows.end(true);
    }
    const again = await provision(device('lamp-9', cert, { timeoutMs: 2000 }));
    assert.equal(again.mode, 'local');
    if (!w.seesTransport) assert.equal(again.local.rejected?.code, 'revoked');
    await waitForNotice(w.provisioner, 'revoked-device', 'lamp-9');

    // Claiming it again readmits it.
    await w.provisioner.claim('lamp-9', 'dashboard');
    await w.refusalsApplied();
    const back = await provision(device('lamp-9', cert));
    assert.ok(back.mode === 'provisioned');
    back.client.end(true);
  });
}
