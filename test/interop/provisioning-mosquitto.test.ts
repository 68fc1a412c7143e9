/**
 * Provisioning through a real mosquitto: the gateway is an MQTT client with its own certificate,
 * and mosquitto's ACL (use_identity_as_username, %u patterns) keeps each device to its topics.
 */
import { after, before, describe } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeviceRegistry } from '../../lib/provisioning/registry';
import { Provisioner } from '../../lib/provisioning/provisioner';
import { MqttBus } from '../../lib/provisioning/mqtt-bus';
import { makeTestPki, type TestPki } from '../support/certs';
import { startMosquitto, type Mosquitto } from '../support/mosquitto';
import { provisioningScenarios, type BrokerWorld } from '../support/provisioning-scenarios';

describe('provisioning through mosquitto', () => {
  let pki: TestPki;
  let dir: string;
  let mosquitto: Mosquitto;
  let world: BrokerWorld;

  before(async () => {
    pki = makeTestPki();
    dir = mkdtempSync(join(tmpdir(), 'provisioning-mosquitto-'));
    mosquitto = await startMosquitto(pki, 'edge-gateway');
    const gateway = pki.device('edge-gateway');
    const provisioner = new Provisioner(new DeviceRegistry(join(dir, 'devices.json')), { noticeQuietSeconds: 0 });
    const bus = new MqttBus(mosquitto.url, { ca: pki.ca.cert, cert: gateway.cert, key: gateway.key, clientId: 'edge-gateway-provisioning' });
    await provisioner.attach(bus);
    world = { deviceUrl: mosquitto.url, provisioner, pki, seesTransport: false };
  });

  after(async () => {
    await world?.provisioner.detach();
    await mosquitto?.stop();
    pki.remove();
    rmSync(dir, { recursive: true, force: true });
  });

  provisioningScenarios(() => world);
});
