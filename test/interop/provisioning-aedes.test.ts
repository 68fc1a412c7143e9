/** Provisioning end to end on the embedded broker: real TLS, real MQTT.js device, aedes ACLs. */
import { after, before, describe } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import mqtt from 'mqtt';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GatewayBroker } from '../../lib/provisioning/broker/gateway-broker';
import { DeviceRegistry } from '../../lib/provisioning/registry';
import { Provisioner } from '../../lib/provisioning/provisioner';
import { makeTestPki, type TestPki } from '../support/certs';
import { provisioningScenarios, type BrokerWorld } from '../support/provisioning-scenarios';
import { wireBrokerToProvisioner } from '../../lib/provisioning/broker/wire';

describe('provisioning on the embedded aedes broker', () => {
  let pki: TestPki;
  let dir: string;
  let broker: GatewayBroker;
  let world: BrokerWorld;

  before(async () => {
    pki = makeTestPki();
    dir = mkdtempSync(join(tmpdir(), 'provisioning-aedes-'));
    const provisioner = new Provisioner(new DeviceRegistry(join(dir, 'devices.json')), { noticeQuietSeconds: 0 });
    broker = new GatewayBroker({ tls: { port: 0, host: '127.0.0.1', ca: pki.ca.cert, cert: pki.server.cert, key: pki.server.key }, loopbackPort: 0 });
    await broker.start();
    wireBrokerToProvisioner(broker, provisioner);
    await provisioner.attach(broker.bus());
    world = {
      deviceUrl: `mqtts://127.0.0.1:${broker.tlsAddress?.port}`,
      provisioner,
      pki,
      seesTransport: true,
      observer: () => mqtt.connectAsync(`mqtt://127.0.0.1:${broker.loopbackAddress?.port}`, { reconnectPeriod: 0 }),
      refusalsApplied: async () => undefined, // aedes asks the provisioner at every CONNECT
    };
  });

  after(async () => {
    await world.provisioner.detach();
    await broker.close();
    pki.remove();
    rmSync(dir, { recursive: true, force: true });
  });

  provisioningScenarios(() => world);
});
