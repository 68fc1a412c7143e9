/**
 * Config node: the embedded MQTT broker. Devices connect over TLS with a client certificate from
 * the CA in the chosen tls-config node; the gateway's own flows (core mqtt nodes) may use a plain
 * listener on 127.0.0.1, off by default. device-provisioning nodes use it in-process.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Node, NodeAPI, NodeDef } from 'node-red';
import type { GatewayBrokerNode } from './gateway-broker.types';
import { GatewayBroker, BROKER_DEFAULTS, type GatewayBrokerOptions } from '../lib/provisioning/broker/gateway-broker';
import type { IdentitySource } from '../lib/provisioning/broker/identity';
import { integerSetting, SettingError } from './settings';

interface GatewayBrokerDef extends NodeDef {
  tls: string;
  host: string;
  port: string | number;
  identityFrom: IdentitySource;
  loopback: boolean;
  loopbackPort: string | number;
  persist: boolean;
  maxClients: string | number;
  maxMessageKiB: string | number;
  queueLimit: string | number;
  maxInflight: string | number;
  crlFile: string;
}

/** What the tls-config core node offers (see @node-red/nodes core/network/05-tls.js). */
interface TlsConfigNode extends Node {
  valid?: boolean;
  addTLSOptions(opts: Record<string, unknown>): Record<string, unknown>;
}

/** A freshly imported flow without its certificates: a step still to do, not an error. */
class NotConfiguredYet extends SettingError {}

function readOptions(RED: NodeAPI, node: Node, c: GatewayBrokerDef): GatewayBrokerOptions {
  const options: GatewayBrokerOptions = {
    maxClients: integerSetting('max clients', c.maxClients, BROKER_DEFAULTS.maxClients, 1, 100_000),
    maxMessageBytes: integerSetting('max message size', c.maxMessageKiB, BROKER_DEFAULTS.maxMessageBytes / 1024, 1, 256 * 1024) * 1024,
    queueLimit: integerSetting('queue limit', c.queueLimit, BROKER_DEFAULTS.queueLimit, 1, 10_000),
    maxInflight: integerSetting('max inflight', c.maxInflight, BROKER_DEFAULTS.maxInflight, 1, 65_535),
  };
  if (c.loopback === true) options.loopbackPort = integerSetting('loopback port', c.loopbackPort, 1883, 0, 65535);
  if (c.tls) {
    const tlsNode = RED.nodes.getNode(c.tls) as TlsConfigNode | null;
    if (!tlsNode) throw new SettingError('the chosen TLS configuration is not deployed');
    const material = tlsNode.addTLSOptions({});
    if (tlsNode.valid === false) throw new SettingError('the TLS configuration is not valid (see its error)');
    if (!material.ca || !material.cert || !material.key) {
      throw new NotConfiguredYet('waiting for the TLS configuration: the CA certificate (for the devices), and the broker certificate and key');
    }
    const crlFile = (c.crlFile ?? '').trim();
    let crl: Buffer | undefined;
    if (crlFile) {
      try {
        crl = readFileSync(crlFile);
      } catch (err) {
        throw new SettingError(`cannot read the CRL file: ${(err as Error).message}`);
      }
    }
    options.tls = {
      ...(crl ? { crl } : {}),
      port: integerSetting('port', c.port, 8883, 0, 65535),
      host: (c.host ?? '').trim() || '0.0.0.0',
      ca: material.ca as string | Buffer,
      cert: material.cert as string | Buffer,
      key: material.key as string | Buffer,
      identityFrom: c.identityFrom === 'san' ? 'san' : 'cn',
    };
  }
  if (!options.tls && options.loopbackPort === undefined) throw new NotConfiguredYet('waiting for a TLS configuration for devices, or the loopback listener');
  const userDir = (RED.settings as { userDir?: unknown }).userDir;
  if (c.persist !== false && typeof userDir === 'string' && userDir !== '') {
    options.persistenceDir = join(userDir, 'edge-gateway', `broker-${node.id.replace(/[^A-Za-z0-9_.-]/g, '_')}`);
  }
  return options;
}

export = function register(RED: NodeAPI): void {
  function GatewayBrokerNodeCtor(this: GatewayBrokerNode, config: GatewayBrokerDef): void {
    RED.nodes.createNode(this, config);
    let options: GatewayBrokerOptions | undefined;
    let problem: SettingError | undefined;
    try {
      options = readOptions(RED, this, config);
    } catch (err) {
      if (!(err instanceof SettingError)) throw err;
      problem = err;
    }
    this.broker = new GatewayBroker(options ?? {});
    this.state = { kind: 'starting' };
    const logged = new Set<string>();
    this.broker.on('refused', (r) => {
      // Once per identity and kind, so a misbehaving device cannot flood the log.
      const key = `${r.kind}:${r.identity}`;
      if (logged.has(key) || logged.size > 1000) return;
      logged.add(key);
      this.warn(r.reason);
    });
    const start = problem !== undefined ? Promise.reject(problem) : this.broker.start();
    this.ready = start.then(
      () => {
        const parts = [
          this.broker.tlsAddress ? `TLS ${this.broker.tlsAddress.address}:${this.broker.tlsAddress.port}` : '',
          this.broker.loopbackAddress ? `loopback ${this.broker.loopbackAddress.port}` : '',
        ].filter(Boolean);
        this.state = { kind: 'running', text: parts.join(', ') };
        this.log(`MQTT broker listening: ${this.state.text}`);
        return this.state;
      },
      (err: Error) => {
        this.state = { kind: 'failed', text: err.message };
        if (err instanceof NotConfiguredYet) this.warn(`gateway-broker ${err.message}`);
        else this.error(`gateway-broker not started: ${err.message}`);
        return this.state;
      },
    );
    this.on('close', (_removed: boolean, done: () => void) => {
      void this.ready.then(() => this.broker.close()).finally(() => done());
    });
  }
  RED.nodes.registerType('gateway-broker', GatewayBrokerNodeCtor);
};
