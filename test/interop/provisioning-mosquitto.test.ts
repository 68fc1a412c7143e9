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
import { MosquittoAcl } from '../../lib/provisioning/mosquitto-acl';
import mqtt from 'mqtt';
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
    const acl = new MosquittoAcl({ aclFile: mosquitto.aclFile, pidFile: mosquitto.pidFile, gatewayUser: 'edge-gateway' });
    const bus = new MqttBus(mosquitto.url, { ca: pki.ca.cert, cert: gateway.cert, key: gateway.key, clientId: 'edge-gateway-provisioning' }, acl);
    // Each change of the revoked set is one SIGHUP; mosquitto logs "Reloading config." as it reloads.
    let reloads = 0;
    const refusalsApplied = async (): Promise<void> => {
      reloads++;
      for (let i = 0; i < 500; i++) {
        if ((mosquitto.log().match(/Reloading config/g)?.length ?? 0) >= reloads) return;
        await new Promise((r) => setTimeout(r, 10));
      }
      throw new Error(`mosquitto did not reload its ACL:\n${mosquitto.log()}`);
    };
    await provisioner.attach(bus);
    await refusalsApplied();
    world = {
      deviceUrl: mosquitto.url,
      provisioner,
      pki,
      seesTransport: false,
      observer: () => mqtt.connectAsync(mosquitto.url, { ca: pki.ca.cert, cert: gateway.cert, key: gateway.key, reconnectPeriod: 0 }),
      refusalsApplied,
    };
  });

  after(async () => {
    await world?.provisioner.detach();
    await mosquitto?.stop();
    pki.remove();
    rmSync(dir, { recursive: true, force: true });
  });

  provisioningScenarios(() => world);
});
