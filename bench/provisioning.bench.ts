/**
 * What provisioning costs on top of plain MQTT over TLS, for 1 000 devices, on the embedded broker
 * and on mosquitto:
 *  - baseline: per device, a TLS connect with its client certificate, SUBSCRIBE to its own topic,
 *    PUBLISH to it and wait for the message back, disconnect. No provisioning logic anywhere.
 *  - provisioning: per device (claimed beforehand), the reference device's whole local rung:
 *    TLS connect, three SUBSCRIBEs, retained status, hello, wait for `accepted`, disconnect; the
 *    gateway validates, checks the claim, writes the registry file and answers.
 * Devices per second for each, and provisioning ÷ baseline. Prints figures; exits non-zero on
 * wrong answers or errors, never on timing.
 */
import { availableParallelism, tmpdir } from 'node:os';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { GatewayBroker } from '../lib/provisioning/broker/gateway-broker';
import { wireBrokerToProvisioner } from '../lib/provisioning/broker/wire';
import { DeviceRegistry } from '../lib/provisioning/registry';
import { Provisioner, type ProvisioningBus } from '../lib/provisioning/provisioner';
import { MqttBus } from '../lib/provisioning/mqtt-bus';
import { provision } from '../examples/device-simulator/simulator';
import { makeTestPki, type CertPair, type TestPki } from '../test/support/certs';
import { startMosquitto } from '../test/support/mosquitto';

const DEVICES = 1000;
const CONCURRENCY = 20;
const HOST = '127.0.0.1';

interface Device {
  id: string;
  cert: CertPair;
}

async function pool<T>(items: readonly T[], work: (item: T) => Promise<void>): Promise<number> {
  let next = 0;
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < items.length) await work(items[next++] as T);
    }),
  );
  return Number(process.hrtime.bigint() - started) / 1e9;
}

async function baseline(url: string, ca: string, devices: readonly Device[]): Promise<number> {
  const seconds = await pool(devices, async (d) => {
    const client = await mqtt.connectAsync(url, { ca, cert: d.cert.cert, key: d.cert.key, reconnectPeriod: 0, clientId: `${d.id}-base` });
    const topic = `devices/${d.id}/telemetry`;
    const back = new Promise<void>((resolve) => client.once('message', () => resolve()));
    await client.subscribeAsync(topic, { qos: 1 });
    await client.publishAsync(topic, 'ping', { qos: 1 });
    await back;
    await client.endAsync(true);
  });
  return devices.length / seconds;
}

async function provisioning(url: string, ca: string, devices: readonly Device[]): Promise<number> {
  const seconds = await pool(devices, async (d) => {
    const r = await provision({ id: d.id, cert: d.cert.cert, key: d.cert.key, ca, local: url, timeoutMs: 30_000 });
    if (r.mode !== 'provisioned') throw new Error(`${d.id} not provisioned: ${JSON.stringify(r.local)}`);
    await r.client.endAsync(true);
  });
  return devices.length / seconds;
}

async function gateway(dir: string, name: string, devices: readonly Device[]): Promise<Provisioner> {
  const p = new Provisioner(new DeviceRegistry(join(dir, `devices-${name}.json`)));
  for (const d of devices) await p.claim(d.id, 'csv');
  return p;
}

const fixed = (n: number, digits: number): string => (Number.isFinite(n) ? n.toFixed(digits) : '-');

function report(broker: string, base: number, prov: number): void {
  console.log([broker.padEnd(10), fixed(base, 0).padStart(14), fixed(prov, 0).padStart(18), fixed(prov / base, 2).padStart(8)].join(' '));
}

async function main(): Promise<boolean> {
  console.log(`provisioning: ${DEVICES} devices on ${HOST}, ${CONCURRENCY} at a time, each with its own certificate; node ${process.version}, ${availableParallelism()} CPUs`);
  const pki: TestPki = makeTestPki();
  const dir = mkdtempSync(join(tmpdir(), 'provisioning-bench-'));
  try {
    const t = Date.now();
    const ids = Array.from({ length: DEVICES }, (_, i) => `bench-${i}`);
    const certs = await pki.devices(ids, Math.max(2, availableParallelism() * 2));
    const devices = ids.map((id, i) => ({ id, cert: certs[i] as CertPair }));
    console.log(`(${DEVICES} device certificates made in ${fixed((Date.now() - t) / 1000, 1)} s)\n`);
    console.log(['broker'.padEnd(10), 'baseline dev/s'.padStart(14), 'provisioning dev/s'.padStart(18), 'ratio'.padStart(8)].join(' '));

    // Embedded broker, gateway in-process.
    const aedes = new GatewayBroker({ tls: { port: 0, host: HOST, ca: pki.ca.cert, cert: pki.server.cert, key: pki.server.key }, maxClients: 10_000 });
    await aedes.start();
    const p1 = await gateway(dir, 'aedes', devices);
    wireBrokerToProvisioner(aedes, p1);
    await p1.attach(aedes.bus());
    const aedesUrl = `mqtts://${HOST}:${aedes.tlsAddress?.port}`;
    const aBase = await baseline(aedesUrl, pki.ca.cert, devices);
    const aProv = await provisioning(aedesUrl, pki.ca.cert, devices);
    const aCount = p1.devices().filter((d) => d.state === 'provisioned').length;
    await p1.detach();
    await aedes.close();
    report('aedes', aBase, aProv);

    // mosquitto, gateway as a TLS client.
    const mosquitto = await startMosquitto(pki, 'edge-gateway');
    let mCount = 0;
    try {
      const gw = pki.device('edge-gateway');
      const p2 = await gateway(dir, 'mosquitto', devices);
      const bus: ProvisioningBus = new MqttBus(mosquitto.url, { ca: pki.ca.cert, cert: gw.cert, key: gw.key, clientId: 'edge-gateway-bench' });
      await p2.attach(bus);
      const mBase = await baseline(mosquitto.url, pki.ca.cert, devices);
      const mProv = await provisioning(mosquitto.url, pki.ca.cert, devices);
      mCount = p2.devices().filter((d) => d.state === 'provisioned').length;
      await p2.detach();
      report('mosquitto', mBase, mProv);
    } finally {
      await mosquitto.stop();
    }
    console.log('\nratio = provisioning ÷ baseline devices per second, same run, same certificates (informative, never a failure)');
    if (aCount !== DEVICES || mCount !== DEVICES) {
      console.error(`registry holds ${aCount} (aedes) and ${mCount} (mosquitto) provisioned devices, expected ${DEVICES}`);
      return false;
    }
    return true;
  } finally {
    pki.remove();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  (ok) => process.exit(ok ? 0 : 1),
  (err: Error) => {
    console.error(err);
    process.exit(1);
  },
);
