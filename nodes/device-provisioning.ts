/**
 * MQTT device provisioning: holds the owner's claims and the device registry, answers devices'
 * hellos on the embedded gateway-broker (in-process) or on an external broker (as a TLS client),
 * sends provisioned devices on output 1 and owner notices on output 2. Other nodes (dashboard,
 * data sharing, load control) use `service`, a ProvisioningService.
 */
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import type { Node, NodeAPI, NodeDef, NodeMessage } from 'node-red';
import { DeviceRegistry } from '../lib/provisioning/registry';
import { Provisioner, DEFAULT_HEARTBEAT_SECONDS, DEFAULT_MAX_NOTICES_PER_MINUTE, DEFAULT_NOTICE_QUIET_SECONDS } from '../lib/provisioning/provisioner';
import { MqttBus } from '../lib/provisioning/mqtt-bus';
import { MosquittoAcl } from '../lib/provisioning/mosquitto-acl';
import { wireBrokerToProvisioner } from '../lib/provisioning/broker/wire';
import { parseClaimsCsv } from '../lib/provisioning/csv';
import { integerSetting, refuseToStart, SettingError, settingsOrRefuse } from './settings';
import type { GatewayBrokerNode } from './gateway-broker.types';
import type { DeviceProvisioningNode } from './device-provisioning.types';

interface DeviceProvisioningDef extends NodeDef {
  broker: string;
  url: string;
  tls: string;
  clientId: string;
  heartbeat: string | number;
  settings: string;
  noticeQuiet: string | number;
  persist: boolean;
  aclFile: string;
  pidFile: string;
  maxNotices: string | number;
}

interface TlsConfigNode extends Node {
  addTLSOptions(opts: Record<string, unknown>): Record<string, unknown>;
}

function readDeviceSettings(text: string | undefined): Record<string, unknown> {
  if (!text || text.trim() === '') return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new SettingError('device settings must be a JSON object');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new SettingError('device settings must be a JSON object');
  return value as Record<string, unknown>;
}

function idAndLabel(payload: unknown): { id: string; label?: string } {
  if (typeof payload === 'object' && payload !== null) {
    const p = payload as { id?: unknown; label?: unknown };
    return { id: String(p.id ?? ''), ...(typeof p.label === 'string' && p.label ? { label: p.label } : {}) };
  }
  return { id: String(payload ?? '').trim() };
}

export = function register(RED: NodeAPI): void {
  function DeviceProvisioningNodeCtor(this: DeviceProvisioningNode, config: DeviceProvisioningDef): void {
    RED.nodes.createNode(this, config);
    const userDir = (RED.settings as { userDir?: unknown }).userDir;
    const file =
      config.persist !== false && typeof userDir === 'string' && userDir !== ''
        ? join(userDir, 'edge-gateway', `devices-${this.id.replace(/[^A-Za-z0-9_.-]/g, '_')}.json`)
        : undefined;
    const registry = new DeviceRegistry(file);
    if (registry.loadProblem) this.warn(`device registry ${file} unreadable (${registry.loadProblem.problem}); moved to ${registry.loadProblem.movedAside}`);
    const provisioner = settingsOrRefuse(this, 'device-provisioning', () =>
      new Provisioner(registry, {
        heartbeatSeconds: integerSetting('heartbeat', config.heartbeat, DEFAULT_HEARTBEAT_SECONDS, 5, 86_400),
        settings: readDeviceSettings(config.settings),
        noticeQuietSeconds: integerSetting('notice quiet time', config.noticeQuiet, DEFAULT_NOTICE_QUIET_SECONDS, 0, 86_400),
        onError: (err) => this.warn(`provisioning message not handled: ${err.message}`),
        maxNoticesPerMinute: integerSetting('max notices per minute', config.maxNotices, DEFAULT_MAX_NOTICES_PER_MINUTE, 1, 10_000),
        onNoticesSuppressed: (n) => this.warn(`${n} owner notice(s) dropped: more than the limit per minute`),
      }),
    );
    if (!provisioner) {
      this.service = new Provisioner(registry);
      return;
    }
    this.service = provisioner;

    let connection = 'connecting';
    const showStatus = (): void => {
      const devices = provisioner.devices().filter((d) => d.state === 'provisioned');
      const online = devices.filter((d) => d.online).length;
      if (connection !== 'connected') return void this.status({ fill: connection === 'connecting' ? 'yellow' : 'red', shape: 'ring', text: connection });
      this.status({ fill: 'green', shape: 'dot', text: `${devices.length} device${devices.length === 1 ? '' : 's'}, ${online} online` });
    };
    const setConnection = (text: string): void => {
      connection = text;
      showStatus();
    };
    provisioner.on('changed', showStatus);
    provisioner.on('provisioned', (record) => this.send([{ topic: 'provisioned', payload: record } as NodeMessage, null]));
    provisioner.on('notice', (notice) => this.send([null, { topic: `notice/${notice.kind}`, payload: notice } as NodeMessage]));

    let unwire: (() => void) | undefined;
    let closing = false;
    const brokerNode = config.broker ? (RED.nodes.getNode(config.broker) as GatewayBrokerNode | null) : null;
    let attached: Promise<void>;
    if (config.broker) {
      if (!brokerNode) {
        setConnection('the chosen gateway-broker is not deployed');
        attached = Promise.resolve();
      } else {
        setConnection('connecting');
        attached = brokerNode.ready.then(async (state) => {
          if (closing) return;
          if (state.kind !== 'running') return setConnection(`broker: ${state.text}`);
          unwire = wireBrokerToProvisioner(brokerNode.broker, provisioner);
          await provisioner.attach(brokerNode.broker.bus());
          if (closing) return provisioner.detach();
          setConnection('connected');
        });
      }
    } else {
      const url = (config.url ?? '').trim();
      if (!/^(mqtts?|wss?):\/\/\S+$/.test(url)) {
        refuseToStart(this, 'device-provisioning', 'choose a gateway-broker, or give a broker URL (mqtts://host:8883)');
        return;
      }
      const tlsNode = config.tls ? (RED.nodes.getNode(config.tls) as TlsConfigNode | null) : null;
      const tlsOptions = tlsNode ? tlsNode.addTLSOptions({}) : {};
      let acl: MosquittoAcl | undefined;
      const aclFile = (config.aclFile ?? '').trim();
      if (aclFile) {
        // The gateway's own user in the ACL is its certificate's CN, as use_identity_as_username makes it.
        const cn = tlsOptions.cert ? /^CN=(.+)$/m.exec(new X509Certificate(tlsOptions.cert as string | Buffer).subject)?.[1] : undefined;
        if (!cn) {
          refuseToStart(this, 'device-provisioning', 'a mosquitto ACL file needs the gateway\'s client certificate (TLS) to name the gateway user');
          return;
        }
        acl = new MosquittoAcl({ aclFile, gatewayUser: cn, ...((config.pidFile ?? '').trim() ? { pidFile: config.pidFile.trim() } : {}) });
      }
      const bus = new MqttBus(url, { ...tlsOptions, clientId: (config.clientId ?? '').trim() || `edge-gateway-provisioning-${this.id}` }, acl);
      bus.on('connected', () => setConnection('connected'));
      let lastProblem = '';
      bus.on('offline', (reason) => {
        if (reason !== lastProblem) this.warn(`broker ${url}: ${reason}`);
        lastProblem = reason;
        setConnection(`broker: ${reason}`);
      });
      attached = provisioner.attach(bus);
    }
    attached.catch((err: Error) => setConnection(`broker: ${err.message}`));
    const heartbeatMs = integerSetting('heartbeat', config.heartbeat, DEFAULT_HEARTBEAT_SECONDS, 5, 86_400) * 1000;
    const sweeper = setInterval(() => void provisioner.sweep().catch((err: Error) => this.warn(`registry: ${err.message}`)), heartbeatMs);

    this.on('input', (msg: NodeMessage, _send: unknown, done: (err?: Error) => void) => {
      const command = String(msg.topic ?? '');
      const run = async (): Promise<void> => {
        switch (command) {
          case 'claim': {
            const { id, label } = idAndLabel(msg.payload);
            await provisioner.claim(id, 'flow', label);
            return;
          }
          case 'import-csv': {
            const { claims, problems } = parseClaimsCsv(String(msg.payload ?? ''));
            for (const c of claims) await provisioner.claim(c.id, 'csv', c.label);
            if (problems.length) this.warn(`CSV import: ${claims.length} claim(s); ${problems.join('; ')}`);
            return;
          }
          case 'unclaim':
            return provisioner.unclaim(idAndLabel(msg.payload).id);
          case 'deprovision':
            return provisioner.deprovision(idAndLabel(msg.payload).id);
          case 'revoke':
            return provisioner.revoke(idAndLabel(msg.payload).id);
          default:
            throw new Error(`unknown command "${command.slice(0, 40)}": use topic claim, unclaim, deprovision, revoke or import-csv`);
        }
      };
      run().then(() => done(), (err: Error) => done(err));
    });

    this.on('close', (_removed: boolean, done: () => void) => {
      closing = true;
      clearInterval(sweeper);
      unwire?.();
      provisioner.removeAllListeners();
      // Not waiting for the first connection: an unreachable broker must not hold up a redeploy.
      void provisioner
        .detach()
        .catch(() => undefined)
        .finally(() => done());
    });
  }
  RED.nodes.registerType('device-provisioning', DeviceProvisioningNodeCtor);
};
