/**
 * Points Dynamic DNS names at the gateway's external address (dyndns2), from port-mapping's
 * messages or a plain address; credentials stay in Node-RED's credential store.
 */
import { isIP } from 'node:net';
import type { NodeAPI, Node, NodeDef, NodeMessage, NodeStatus } from 'node-red';
import { DdnsUpdater, type DdnsState } from '../lib/nat/ddns/ddns-updater';
import { Dyndns2ConfigError, parseHostnames } from '../lib/nat/ddns/dyndns2';
import { ddnsUserAgent, packageVersion } from '../lib/nat/ddns/user-agent';
import { settingsOrRefuse } from './settings';

interface DdnsUpdateDef extends NodeDef {
  server: string;
  hostnames: string;
}

interface DdnsCredentials {
  username?: string;
  password?: string;
}

const USER_AGENT = ddnsUserAgent(packageVersion(__dirname));

function statusOf(state: DdnsState, hostnames: readonly string[]): NodeStatus {
  const names = hostnames.length === 1 ? hostnames[0] : `${hostnames.length} names`;
  switch (state.status) {
    case 'idle':
      return { fill: 'grey', shape: 'ring', text: 'waiting for an address' };
    case 'updating':
      return { fill: 'yellow', shape: 'ring', text: `updating ${names} to ${state.address}` };
    case 'updated':
      return { fill: 'green', shape: 'dot', text: `${names} → ${state.address}` };
    case 'retrying':
      return { fill: 'red', shape: 'ring', text: `${state.code}: ${state.reason} (retry in ${Math.ceil((state.retryInMs ?? 0) / 1000)} s)` };
    case 'disabled':
      return { fill: 'red', shape: 'dot', text: `${state.code}: ${state.reason}; stopped until redeployed` };
    case 'stopped':
      return { fill: 'grey', shape: 'ring', text: 'stopped' };
  }
}

/** The address in a message: port-mapping's payload.externalAddress, or a plain string. */
function addressFrom(msg: NodeMessage): { address?: string; ignore?: string; error?: string } {
  const payload = msg.payload as unknown;
  if (typeof payload === 'string') return isIP(payload.trim()) ? { address: payload.trim() } : { error: `"${payload.slice(0, 60)}" is not an IP address` };
  if (payload !== null && typeof payload === 'object') {
    const p = payload as { status?: unknown; externalAddress?: unknown };
    if (p.status !== undefined && p.status !== 'mapped') return { ignore: `port mapping is ${String(p.status)}` };
    if (typeof p.externalAddress === 'string' && isIP(p.externalAddress)) return { address: p.externalAddress };
    return { error: 'payload.externalAddress is not an IP address' };
  }
  return { error: 'msg.payload must be an IP address or a port-mapping message' };
}

export = function register(RED: NodeAPI): void {
  function DdnsUpdateNode(this: Node<DdnsCredentials>, config: DdnsUpdateDef): void {
    RED.nodes.createNode(this, config);
    const idle = (): void => void this.on('input', (_msg: NodeMessage, _send: unknown, done: (err?: Error) => void) => done());
    if (!this.credentials?.username) {
      // A freshly imported flow has no credentials yet: not an error, a step still to do.
      this.status({ fill: 'yellow', shape: 'ring', text: 'set the user name and password' });
      this.warn('ddns-update waits for its user name and password (credentials)');
      idle();
      return;
    }
    const { username, password } = this.credentials;
    const settings = settingsOrRefuse(
      this,
      'ddns-update',
      () => {
        const hostnames = parseHostnames(config.hostnames ?? '');
        const updater = new DdnsUpdater({ server: config.server || 'https://', hostnames, username, password: password ?? '', userAgent: USER_AGENT });
        return { hostnames, updater };
      },
      [Dyndns2ConfigError],
    );
    if (!settings) return;
    const { hostnames, updater } = settings;
    const server = new URL(config.server);
    if (server.protocol === 'http:' && !['127.0.0.1', 'localhost', '[::1]'].includes(server.hostname)) {
      this.warn(`${server.host} is plain http: the password crosses the network unencrypted`);
    }

    let closing = false;
    updater.on('change', (state) => {
      this.status(statusOf(state, hostnames));
      if (closing || state.status === 'updating' || state.status === 'stopped') return;
      if (state.status === 'retrying' && state.failures === 1) this.warn(`update failed: ${state.code}: ${state.reason}; retrying with growing delays`);
      if (state.status === 'disabled') this.error(`update refused: ${state.code}: ${state.reason}. Updates stopped until the node is redeployed.`);
      this.send({
        topic: `ddns/${state.status}`,
        payload: {
          status: state.status,
          address: state.address,
          hostnames,
          code: state.code,
          reason: state.reason,
          answers: state.answers?.map((a) => ({ hostname: a.hostname, answer: a.line })),
          retryIn: state.retryInMs === undefined ? undefined : Math.round(state.retryInMs / 1000),
        },
      });
    });
    this.status(statusOf(updater.state, hostnames));

    this.on('input', (msg: NodeMessage, _send: unknown, done: (err?: Error) => void) => {
      const { address, ignore, error } = addressFrom(msg);
      if (error) return done(new Error(`no update: ${error}`));
      if (ignore || !address) return done();
      updater.submit(address); // 'unchanged', 'queued' and 'disabled' are already visible in the status
      done();
    });

    this.on('close', (_removed: boolean, done: () => void) => {
      closing = true;
      updater.stop();
      done();
    });
  }
  RED.nodes.registerType<Node<DdnsCredentials>, DdnsUpdateDef, object, DdnsCredentials>('ddns-update', DdnsUpdateNode, {
    credentials: { username: { type: 'text' }, password: { type: 'password' } },
  });
};
