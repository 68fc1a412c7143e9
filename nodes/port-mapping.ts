/**
 * Maps the gateway's public port on the home router (UPnP IGD or NAT-PMP), keeps the mapping
 * alive and reports the external address; every visible change becomes a message.
 */
import type { NodeAPI, Node, NodeDef, NodeMessage, NodeStatus } from 'node-red';
import { MappingManager, type MappingState } from '../lib/nat/mapping-manager';
import { createPortMapper, isBackendChoice, type BackendChoice } from '../lib/nat/select';
import type { MappingProtocol } from '../lib/nat/types';
import { integerSetting, SettingError, settingsOrRefuse } from './settings';

interface PortMappingDef extends NodeDef {
  backend: string;
  protocol: string;
  internalPort: string | number;
  externalPort: string | number;
  lifetime: string | number;
  checkInterval: string | number;
  description: string;
  router: string;
}

interface Settings {
  backend: BackendChoice;
  protocols: MappingProtocol[];
  internalPort: number;
  externalPort: number;
  lifetime: number;
  checkIntervalMs: number;
  description: string;
  router?: { host: string; port?: number };
}

function readSettings(c: PortMappingDef): Settings {
  const backend = c.backend || 'auto';
  if (!isBackendChoice(backend)) throw new SettingError(`unknown protocol "${backend}": use auto, upnp or natpmp`);
  const protocol = c.protocol || 'udp';
  if (protocol !== 'udp' && protocol !== 'tcp' && protocol !== 'both') throw new SettingError(`protocol must be udp, tcp or both, not "${protocol}"`);
  const internalPort = integerSetting('internal port', c.internalPort, 5683, 1, 65535);
  const router = (c.router ?? '').trim();
  const hostPort = /^([^:\s]+)(?::(\d+))?$/.exec(router);
  if (router && !hostPort) throw new SettingError(`router must be an address or address:port, not "${router}"`);
  return {
    backend,
    protocols: protocol === 'both' ? ['udp', 'tcp'] : [protocol],
    internalPort,
    externalPort: integerSetting('external port', c.externalPort, internalPort, 1, 65535),
    lifetime: integerSetting('lease', c.lifetime, 3600, 120, 604_800),
    checkIntervalMs: integerSetting('check interval', c.checkInterval, 60, 5, 86_400) * 1000,
    description: (c.description ?? '').trim() || 'Node-RED edge gateway',
    router: hostPort ? { host: hostPort[1]!, port: hostPort[2] === undefined ? undefined : integerSetting('router port', hostPort[2], 5351, 1, 65535) } : undefined,
  };
}

/** What a flow sees: plain data, no error objects. */
function payloadOf(state: MappingState, protocol: MappingProtocol, internalPort: number): Record<string, unknown> {
  return {
    status: state.status,
    protocol,
    internalPort,
    externalAddress: state.externalAddress,
    externalPort: state.mapping?.externalPort,
    lifetime: state.mapping?.lifetimeSeconds,
    backend: state.backend,
    reason: state.reason,
    error: state.error?.message,
    upnpCode: state.error?.upnpCode,
    natPmpResult: state.error?.natPmpResult,
    retryIn: state.retryInMs === undefined ? undefined : Math.round(state.retryInMs / 1000),
  };
}

function statusOf(states: MappingState[]): NodeStatus {
  const failing = states.find((s) => s.status === 'retrying');
  if (failing) {
    const retry = failing.retryInMs === undefined ? '' : ` (retry in ${Math.ceil(failing.retryInMs / 1000)} s)`;
    return { fill: 'red', shape: 'ring', text: `${failing.error?.message ?? 'failed'}${retry}` };
  }
  if (states.every((s) => s.status === 'mapped')) {
    const ports = [...new Set(states.map((s) => s.mapping?.externalPort))].join('+');
    return { fill: 'green', shape: 'dot', text: `${states[0]?.externalAddress}:${ports}` };
  }
  if (states.some((s) => s.status === 'stopped')) return { fill: 'grey', shape: 'ring', text: 'stopped' };
  return { fill: 'yellow', shape: 'ring', text: 'looking for the router' };
}

export = function register(RED: NodeAPI): void {
  function PortMappingNode(this: Node, config: PortMappingDef): void {
    RED.nodes.createNode(this, config);
    const settings = settingsOrRefuse(this, 'port-mapping', () => readSettings(config));
    if (!settings) return;

    const managers = settings.protocols.map(
      (protocol) =>
        new MappingManager({
          mapper: createPortMapper(settings.backend, {
            natPmp: settings.router ? { gateway: settings.router.host, port: settings.router.port } : {},
          }),
          request: {
            protocol,
            internalPort: settings.internalPort,
            externalPort: settings.externalPort,
            lifetimeSeconds: settings.lifetime,
            description: settings.description,
          },
          checkIntervalMs: settings.checkIntervalMs,
        }),
    );
    const message = (i: number): NodeMessage => {
      const protocol = settings.protocols[i]!;
      const state = managers[i]!.state;
      return { topic: `port-mapping/${state.status}`, payload: payloadOf(state, protocol, settings.internalPort) };
    };
    const showStatus = (): void => this.status(statusOf(managers.map((m) => m.state)));

    let closing = false;
    managers.forEach((manager, i) => {
      manager.on('change', (state) => {
        showStatus();
        if (state.status === 'starting' || closing) return;
        if (state.status === 'retrying' && state.failures === 1) this.warn(`${settings.protocols[i]} port mapping failed: ${state.error?.message}`);
        this.send(message(i));
      });
      manager.on('renewed', showStatus);
      manager.start();
    });

    // Any input asks for the current state, one message per protocol.
    this.on('input', (_msg: NodeMessage, send: (msgs: NodeMessage | NodeMessage[]) => void, done: (err?: Error) => void) => {
      managers.forEach((_m, i) => send(message(i)));
      done();
    });

    this.on('close', (_removed: boolean, done: () => void) => {
      closing = true;
      // Each manager removes its mapping within its stop timeout (5 s), well under Node-RED's 15 s.
      Promise.all(managers.map((m) => m.stop())).then(
        () => done(),
        () => done(),
      );
    });
  }
  RED.nodes.registerType('port-mapping', PortMappingNode);
};
