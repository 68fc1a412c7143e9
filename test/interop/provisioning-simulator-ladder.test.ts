/**
 * The reference device's fallback ladder (examples/device-simulator): local broker accepts →
 * provisioned; no local broker, or refused → the vendor's default broker; no network → on its own.
 * The "vendor broker" is a second embedded broker on loopback, so the test stays on this machine.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { GatewayBroker } from '../../lib/provisioning/broker/gateway-broker';
import { DeviceRegistry } from '../../lib/provisioning/registry';
import { Provisioner } from '../../lib/provisioning/provisioner';
import { wireBrokerToProvisioner } from '../../lib/provisioning/broker/wire';
import { provision, certificateId } from '../../examples/device-simulator/simulator';
import { makeTestPki, type TestPki } from '../support/certs';
import { freePort } from '../support/free-port';

describe('device simulator fallback ladder', () => {
  let pki: TestPki;
  let gateway: GatewayBroker;
  let vendor: GatewayBroker;
  let provisioner: Provisioner;
  let localUrl: string;
  let vendorUrl: string;
  before(async () => {
    pki = makeTestPki();
    gateway = new GatewayBroker({ tls: { port: 0, host: '127.0.0.1', ca: pki.ca.cert, cert: pki.server.cert, key: pki.server.key } });
    await gateway.start();
    provisioner = new Provisioner(new DeviceRegistry(undefined));
    wireBrokerToProvisioner(gateway, provisioner);
    await provisioner.attach(gateway.bus());
    vendor = new GatewayBroker({ loopbackPort: 0 });
    await vendor.start();
    localUrl = `mqtts://127.0.0.1:${gateway.tlsAddress?.port}`;
    vendorUrl = `mqtt://127.0.0.1:${vendor.loopbackAddress?.port}`;
  });
  after(async () => {
    await provisioner.detach();
    await gateway.close();
    await vendor.close();
    pki.remove();
  });

  const options = (id: string) => {
    const c = pki.device(id);
    return { id, cert: c.cert, key: c.key, ca: pki.ca.cert, timeoutMs: 3000 };
  };

  test('the device reads its topic identity from its certificate', () => {
    assert.equal(certificateId(pki.device('sim-0').cert), 'sim-0');
  });

  test('local broker accepts: provisioned, even with a vendor broker configured', async () => {
    await provisioner.claim('sim-1', 'flow');
    const r = await provision({ ...options('sim-1'), local: localUrl, vendorUrl });
    assert.ok(r.mode === 'provisioned');
    r.client.end(true);
  });

  test('local broker refuses (unclaimed): the vendor broker', async () => {
    const r = await provision({ ...options('sim-2'), local: localUrl, vendorUrl });
    assert.ok(r.mode === 'vendor');
    assert.equal(r.local.rejected?.code, 'unclaimed');
    r.client.end(true);
  });

  test('no local broker: the vendor broker', async () => {
    const closed = await freePort();
    const r = await provision({ ...options('sim-3'), local: `mqtts://127.0.0.1:${closed}`, vendorUrl });
    assert.ok(r.mode === 'vendor');
    assert.match(r.local.error ?? '', /ECONNREFUSED/);
    r.client.end(true);
  });

  test('no network (nothing answers): the device acts on its own', async () => {
    const closed = await freePort();
    const r = await provision({ ...options('sim-4'), local: `mqtts://127.0.0.1:${closed}`, vendorUrl: `mqtt://127.0.0.1:${closed}` });
    assert.equal(r.mode, 'local');
    assert.match(r.vendor.error ?? '', /ECONNREFUSED/);
  });
});
