/** The embedded broker on its own: persistence across restarts, the loopback listener, limits, SAN identity. */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { GatewayBroker, type BrokerRefusal, type GatewayBrokerOptions } from '../../lib/provisioning/broker/gateway-broker';
import { makeTestPki, type TestPki } from '../support/certs';

/** How a connection attempt ends: MQTT.js's connectAsync waits forever when the server just closes. */
function attempt(url: string, options: mqtt.IClientOptions): Promise<string> {
  const client = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 3000, ...options });
  return new Promise<string>((resolve) => {
    client.once('connect', () => resolve('connected'));
    client.once('error', (err) => resolve(`error: ${err.message}`));
    client.once('close', () => resolve('closed'));
  }).finally(() => client.end(true));
}

describe('gateway broker', () => {
  let pki: TestPki;
  let dir: string;
  before(() => {
    pki = makeTestPki();
    dir = mkdtempSync(join(tmpdir(), 'broker-aedes-'));
  });
  after(() => {
    pki.remove();
    rmSync(dir, { recursive: true, force: true });
  });

  const start = async (extra: Partial<GatewayBrokerOptions> = {}): Promise<GatewayBroker> => {
    const broker = new GatewayBroker({ tls: { port: 0, host: '127.0.0.1', ca: pki.ca.cert, cert: pki.server.cert, key: pki.server.key }, ...extra });
    await broker.start();
    return broker;
  };
  const device = (broker: GatewayBroker, id: string, extra: mqtt.IClientOptions = {}) => {
    const c = pki.device(id);
    return mqtt.connectAsync(`mqtts://127.0.0.1:${broker.tlsAddress?.port}`, { ca: pki.ca.cert, cert: c.cert, key: c.key, reconnectPeriod: 0, connectTimeout: 4000, ...extra });
  };

  test('retained messages and persistent sessions survive a restart (LevelDB in the given directory)', async () => {
    const persistenceDir = join(dir, 'level');
    const keeper = pki.device('keeper-1');
    const keeperCert = () => ({ cert: keeper.cert, key: keeper.key });
    let broker = await start({ persistenceDir });
    let sub = await device(broker, 'keeper-1', { clientId: 'keeper-1', clean: false });
    await sub.subscribeAsync('devices/keeper-1/commands', { qos: 1 });
    await sub.endAsync();
    const pub = await device(broker, 'keeper-1', { clientId: 'keeper-1-pub' });
    await pub.publishAsync('devices/keeper-1/status', 'online', { qos: 1, retain: true });
    await pub.publishAsync('devices/keeper-1/commands', 'queued while away', { qos: 1 });
    await pub.endAsync();
    await broker.close();

    broker = await start({ persistenceDir });
    try {
      const got: string[] = [];
      // Subscribed before the session is restored, so the queued message is not missed.
      sub = mqtt.connect(`mqtts://127.0.0.1:${broker.tlsAddress?.port}`, { ca: pki.ca.cert, ...keeperCert(), clientId: 'keeper-1', clean: false, reconnectPeriod: 0 });
      sub.on('message', (t, p) => got.push(`${t} ${p}`));
      await new Promise<void>((resolve) => sub.once('connect', () => resolve()));
      await sub.subscribeAsync('devices/keeper-1/status', { qos: 1 });
      for (let i = 0; i < 200 && got.length < 2; i++) await new Promise((r) => setTimeout(r, 10));
      assert.deepEqual(got.sort(), ['devices/keeper-1/commands queued while away', 'devices/keeper-1/status online']);
      await sub.endAsync();
    } finally {
      await broker.close();
    }
  });

  test('the loopback listener is plain MQTT on 127.0.0.1 with full access; TLS devices stay confined', async () => {
    const broker = await start({ loopbackPort: 0 });
    try {
      assert.equal(broker.loopbackAddress?.address, '127.0.0.1');
      const flows = await mqtt.connectAsync(`mqtt://127.0.0.1:${broker.loopbackAddress?.port}`, { reconnectPeriod: 0 });
      const granted = await flows.subscribeAsync('devices/#', { qos: 1 });
      assert.equal(granted[0]?.qos, 1);
      const heard = new Promise<string>((resolve) => flows.on('message', (t, p) => resolve(`${t} ${p}`)));
      const dev = await device(broker, 'meter-9');
      await dev.publishAsync('devices/meter-9/telemetry', '42', { qos: 1 });
      assert.equal(await heard, 'devices/meter-9/telemetry 42');
      await dev.endAsync();
      await flows.endAsync();
    } finally {
      await broker.close();
    }
  });

  test('no listener on the loopback port unless asked', async () => {
    const broker = await start();
    try {
      assert.equal(broker.loopbackAddress, undefined);
    } finally {
      await broker.close();
    }
  });

  test('limits: clients beyond the maximum are refused, a message over the size limit closes the connection', async () => {
    const broker = await start({ maxClients: 1, maxMessageBytes: 1024 });
    const refusals: BrokerRefusal[] = [];
    broker.on('refused', (r) => refusals.push(r));
    try {
      const first = await device(broker, 'big-1');
      const second = pki.device('big-2');
      assert.match(await attempt(`mqtts://127.0.0.1:${broker.tlsAddress?.port}`, { ca: pki.ca.cert, cert: second.cert, key: second.key }), /error: .*Server unavailable/);
      assert.ok(refusals.some((r) => r.kind === 'limit' && /more than 1 clients/.test(r.reason)));
      const closed = new Promise<void>((resolve) => first.once('close', () => resolve()));
      first.publish('devices/big-1/telemetry', Buffer.alloc(2048), { qos: 0 });
      await closed;
      assert.ok(refusals.some((r) => r.kind === 'limit' && /2048 bytes/.test(r.reason)));
      first.end(true);
    } finally {
      await broker.close();
    }
  });

  test('a certificate on the CRL is refused and reported as revoked', async () => {
    const revoked = pki.device('crl-1');
    const fine = pki.device('crl-2');
    const crl = pki.revoke(revoked);
    const broker = new GatewayBroker({ tls: { port: 0, host: '127.0.0.1', ca: pki.ca.cert, cert: pki.server.cert, key: pki.server.key, crl } });
    await broker.start();
    const refusals: BrokerRefusal[] = [];
    broker.on('refused', (r) => refusals.push(r));
    try {
      const url = `mqtts://127.0.0.1:${broker.tlsAddress?.port}`;
      assert.equal(await attempt(url, { ca: pki.ca.cert, cert: revoked.cert, key: revoked.key }), 'closed');
      assert.deepEqual(
        refusals.map((r) => [r.kind, r.identity, r.detail.error]),
        [['certificate-revoked', 'crl-1', 'CERT_REVOKED']],
      );
      assert.equal(await attempt(url, { ca: pki.ca.cert, cert: fine.cert, key: fine.key }), 'connected');
    } finally {
      await broker.close();
    }
  });

  test('identity from the subjectAltName when configured', async () => {
    const broker = new GatewayBroker({ tls: { port: 0, host: '127.0.0.1', ca: pki.ca.cert, cert: pki.server.cert, key: pki.server.key, identityFrom: 'san' } });
    await broker.start();
    try {
      const c = pki.device('label-cn', { san: 'san-id-1' });
      const dev = await mqtt.connectAsync(`mqtts://127.0.0.1:${broker.tlsAddress?.port}`, { ca: pki.ca.cert, cert: c.cert, key: c.key, reconnectPeriod: 0 });
      const own = await dev.subscribeAsync('devices/san-id-1/commands', { qos: 1 });
      assert.equal(own[0]?.qos, 1);
      await assert.rejects(dev.subscribeAsync('devices/label-cn/commands', { qos: 1 }));
      dev.end(true);
    } finally {
      await broker.close();
    }
  });
});
