/**
 * Registers the gateway with an upstream (cloud) CoRE Resource Directory and keeps that
 * registration and the router's UDP binding alive, optionally listing the devices registered
 * locally so the upstream can route to them through the gateway's proxy.
 */
import { createSocket, type Socket } from 'node:dgram';
import type { NodeAPI, Node, NodeDef, NodeMessage, NodeStatus } from 'node-red';
import { parseCoapUri, CoapUriError, type ParsedCoapUri } from '../lib/coap/client';
import { CloudLink, MAX_BODY_BYTES, type CloudLinkState } from '../lib/coap/cloud-link/cloud-link';
import { UdpTransport } from '../lib/coap/cloud-link/udp-transport';
import { endpointSocket } from '../lib/coap/cloud-link/endpoint-socket';
import { gatewayLinks } from '../lib/coap/cloud-link/local-links';
import { serialiseLinks } from '../lib/coap/link-format';
import { integerSetting, SettingError, settingsOrRefuse } from './settings';
import type { CoapEndpointNode } from './endpoint-node';
import type { CoapRdNode } from './coap-rd-node';

interface CloudLinkDef extends NodeDef {
  upstream: string;
  discover: boolean;
  ep: string;
  d: string;
  lifetime: string | number;
  keepAlive: string | number;
  endpoint: string;
  rd: string;
  base: string;
}

interface Settings {
  upstream: ParsedCoapUri;
  ep: string;
  d?: string;
  lifetime: number;
  keepAliveMs: number;
  base?: string;
}

function readSettings(c: CloudLinkDef): Settings {
  let upstream: ParsedCoapUri;
  try {
    upstream = parseCoapUri(c.upstream ?? '');
  } catch (err) {
    if (err instanceof CoapUriError) throw new SettingError(`upstream: ${err.message}`);
    throw err;
  }
  const ep = (c.ep ?? '').trim();
  if (!/^[^\s&=]{1,63}$/.test(ep)) throw new SettingError('endpoint name must be 1 to 63 characters, without spaces, "&" or "="');
  const d = (c.d ?? '').trim();
  if (d && !/^[^\s&=]{1,63}$/.test(d)) throw new SettingError('sector must be 1 to 63 characters, without spaces, "&" or "="');
  const base = (c.base ?? '').trim();
  if (base && !/^coap:\/\/\S+$/.test(base)) throw new SettingError('base must be a coap:// URI, or blank');
  return {
    upstream,
    ep,
    ...(d ? { d } : {}),
    lifetime: integerSetting('lifetime', c.lifetime, 3600, 60, 86_400 * 7),
    keepAliveMs: integerSetting('keep-alive', c.keepAlive, 25, 0, 3600) * 1000,
    ...(base ? { base } : {}),
  };
}

function statusOf(state: CloudLinkState, upstream: string): NodeStatus {
  switch (state.status) {
    case 'starting':
      return { fill: 'yellow', shape: 'ring', text: `registering with ${upstream}` };
    case 'registered':
      return { fill: 'green', shape: 'dot', text: `registered at ${upstream}${state.location ?? ''}` };
    case 'retrying':
      return { fill: 'red', shape: 'ring', text: `${state.error ?? 'failed'} (retry in ${Math.ceil((state.retryInMs ?? 0) / 1000)} s)` };
    case 'stopped':
      return { fill: 'grey', shape: 'ring', text: 'stopped' };
  }
}

export = function register(RED: NodeAPI): void {
  function CloudLinkNode(this: Node, config: CloudLinkDef): void {
    RED.nodes.createNode(this, config);
    const settings = settingsOrRefuse(this, 'cloud-link', () => readSettings(config));
    if (!settings) return;
    const { target } = settings.upstream;
    const upstreamText = `coap://${target.family === 'udp6' ? `[${target.host}]` : target.host}:${target.port}`;
    const endpointNode = config.endpoint ? (RED.nodes.getNode(config.endpoint) as CoapEndpointNode | null) : null;
    const rdNode = config.rd ? (RED.nodes.getNode(config.rd) as CoapRdNode | null) : null;
    if (config.rd && !rdNode) this.warn('the chosen coap-rd node is not deployed: no local endpoints are listed');

    let shortenedWarned = false;
    const currentLinks = () => {
      const { links, shortened } = gatewayLinks(rdNode?.directory.endpoints() ?? [], [], MAX_BODY_BYTES);
      if (shortened > 0 && !shortenedWarned) {
        shortenedWarned = true;
        this.warn(`${shortened} local endpoint(s) listed upstream without their resources or left out: a registration holds at most ${MAX_BODY_BYTES} bytes of links`);
      }
      return links;
    };

    let link: CloudLink | undefined;
    let closing = false;
    let ownSocket: Socket | undefined;
    const start = (socket: Socket, owned: boolean): void => {
      link = new CloudLink({
        transport: new UdpTransport(socket, target, owned),
        ep: settings.ep,
        d: settings.d,
        lifetime: settings.lifetime,
        ...(settings.upstream.path.length > 0 ? { rdPath: settings.upstream.path } : {}),
        discover: config.discover === true,
        extraQuery: settings.base ? [`base=${settings.base}`] : [],
        links: currentLinks,
        keepAliveMs: settings.keepAliveMs,
      });
      link.on('change', (state) => {
        this.status(statusOf(state, upstreamText));
        if (closing || state.status === 'starting' || state.status === 'stopped') return;
        if (state.status === 'retrying' && state.failures === 1) this.warn(`registration with ${upstreamText} failed: ${state.error}; retrying with growing delays`);
        this.send({ topic: `cloud-link/${state.status}`, payload: { ...state, upstream: upstreamText, ep: settings.ep } });
      });
      link.on('refreshed', (state) => this.status(statusOf(state, upstreamText)));
      link.start();
    };

    // Only real changes of the listed links go upstream, not every device's own refresh.
    let advertised = serialiseLinks(currentLinks());
    const onDirectoryChange = (): void => {
      const now = serialiseLinks(currentLinks());
      if (now === advertised) return;
      advertised = now;
      link?.linksChanged();
    };
    const directoryEvents = ['registered', 'updated', 'removed'] as const;
    for (const e of directoryEvents) rdNode?.directory.on(e, onDirectoryChange);

    let unwatch: (() => void) | undefined;
    if (endpointNode) {
      // Register from the endpoint's own port, once it listens.
      unwatch = endpointNode.watchState((state) => {
        if (link || closing) return;
        if (state.kind === 'failed') return void this.status({ fill: 'red', shape: 'ring', text: `endpoint: ${state.text}` });
        if (state.kind !== 'listening') return void this.status({ fill: 'yellow', shape: 'ring', text: 'waiting for the CoAP endpoint' });
        const socket = endpointSocket(endpointNode.endpoint);
        if (!socket) return void this.status({ fill: 'red', shape: 'ring', text: 'cannot use the endpoint socket' });
        if (endpointNode.endpoint.options.family !== target.family) {
          this.status({ fill: 'red', shape: 'ring', text: `the endpoint is ${endpointNode.endpoint.options.family}, the upstream ${target.family}` });
          return;
        }
        start(socket, false);
      });
    } else {
      ownSocket = createSocket({ type: target.family });
      ownSocket.on('error', (err) => this.warn(`cloud-link socket: ${err.message}`));
      ownSocket.bind(0, () => {
        if (!closing && ownSocket) start(ownSocket, true);
      });
    }
    if (!link) this.status({ fill: 'yellow', shape: 'ring', text: `registering with ${upstreamText}` });

    const removalTransport = (): UdpTransport | undefined => {
      try {
        const socket = createSocket({ type: target.family });
        socket.on('error', () => undefined);
        return new UdpTransport(socket, target, true);
      } catch {
        return undefined;
      }
    };

    // Any input: refresh now and report the state.
    this.on('input', (_msg: NodeMessage, send: (m: NodeMessage) => void, done: (err?: Error) => void) => {
      link?.refreshNow();
      send({ topic: `cloud-link/${link?.state.status ?? 'starting'}`, payload: { ...(link?.state ?? { status: 'starting' }), upstream: upstreamText, ep: settings.ep } });
      done();
    });

    this.on('close', (_removed: boolean, done: () => void) => {
      closing = true;
      unwatch?.();
      for (const e of directoryEvents) rdNode?.directory.off(e, onDirectoryChange);
      if (link) {
        // The endpoint's socket may close in this same redeploy: the DELETE goes from a socket
        // of its own. stop() bounds it to 5 s and closes both.
        const own = ownSocket ? undefined : removalTransport();
        link.stop(own).then(done, done);
        return;
      }
      try {
        ownSocket?.close();
      } catch {
        // not bound yet or already closed
      }
      done();
    });
  }
  RED.nodes.registerType('cloud-link', CloudLinkNode);
};
