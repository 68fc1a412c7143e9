/** The gateway's reverse proxy: reaches registered endpoints and groups of them by name. */
import type { NodeAPI, Node, NodeDef, NodeStatus } from 'node-red';
import { ReverseProxy, DEFAULT_PROXY_OPTIONS, type ProxyOptions } from '../lib/coap/proxy/reverse-proxy';
import { parseGroups, GroupConfigError } from '../lib/coap/proxy/groups';
import type { EndpointDirectory } from '../lib/coap/rd/directory';
import { integerSetting, settingsOrRefuse } from './settings';
import type { CoapEndpointNode } from './endpoint-node';
import type { CoapRdNode } from './coap-rd-node';

interface CoapProxyDef extends NodeDef {
  endpoint: string;
  rd: string;
  groups: unknown;
  timeout: string | number;
  maxPending: string | number;
  maxObservations: string | number;
  maxGroupSize: string | number;
  cacheEntries: string | number;
  cacheKb: string | number;
}

/** How often the status line is refreshed (only sent when its text changes). */
const STATUS_INTERVAL_MS = 2000;
/** Endpoints whose silence was already logged: bounded, so a flood of names cannot grow it. */
const MAX_LOGGED_TIMEOUTS = 100;

function optionsFrom(config: CoapProxyDef): Partial<ProxyOptions> {
  const d = DEFAULT_PROXY_OPTIONS;
  return {
    upstreamTimeoutMs: integerSetting('device timeout', config.timeout, d.upstreamTimeoutMs / 1000, 1, 600) * 1000,
    maxPendingRequests: integerSetting('max pending requests', config.maxPending, d.maxPendingRequests, 1, 100_000),
    maxUpstreamObservations: integerSetting('max observations', config.maxObservations, d.maxUpstreamObservations, 0, 100_000),
    maxGroupSize: integerSetting('max group size', config.maxGroupSize, d.maxGroupSize, 1, 10_000),
    cacheMaxEntries: integerSetting('cache entries', config.cacheEntries, d.cacheMaxEntries, 0, 1_000_000),
    cacheMaxBytes: integerSetting('cache size', config.cacheKb, d.cacheMaxBytes / 1024, 0, 1_048_576) * 1024,
    groups: parseGroups(config.groups),
  };
}

export = function register(RED: NodeAPI): void {
  function CoapProxyNode(this: Node, config: CoapProxyDef): void {
    RED.nodes.createNode(this, config);
    const endpointNode = RED.nodes.getNode(config.endpoint) as CoapEndpointNode | null;
    if (!endpointNode) {
      this.status({ fill: 'red', shape: 'ring', text: 'no CoAP endpoint configured' });
      this.error('coap-proxy needs a coap-endpoint config node');
      return;
    }
    const options = settingsOrRefuse(this, 'coap-proxy', () => optionsFrom(config), [GroupConfigError]);
    if (!options) return;

    // The coap-rd node may be created after this one: look it up at every use.
    const directory = (): EndpointDirectory | undefined => {
      const rd = config.rd ? (RED.nodes.getNode(config.rd) as Partial<CoapRdNode> | null) : null;
      return rd?.directory;
    };
    const proxy = new ReverseProxy(endpointNode.endpoint, directory, options);
    try {
      proxy.start();
    } catch (err) {
      this.status({ fill: 'red', shape: 'ring', text: (err as Error).message });
      this.error(`coap-proxy cannot serve /ep, /d and /grp: ${(err as Error).message}`);
      return;
    }

    const loggedTimeouts = new Set<string>();
    proxy.on('upstream-timeout', (e) => {
      if (loggedTimeouts.has(e.ep) || loggedTimeouts.size >= MAX_LOGGED_TIMEOUTS) return;
      loggedTimeouts.add(e.ep);
      this.warn(`endpoint "${e.ep}" (${e.base}) did not answer in time: answered 5.04`);
    });
    proxy.on('upstream-error', (e, err) => this.debug(`endpoint "${e.ep}": ${err.message}: answered 5.02`));
    let overloadLogged = false;
    proxy.on('overload', () => {
      if (!overloadLogged) this.warn(`more than ${proxy.options.maxPendingRequests} proxied requests in flight: answering 5.03`);
      overloadLogged = true;
    });
    let refusedLogged = false;
    proxy.on('refused', (uri) => {
      // Someone tried to use the gateway as an open proxy: worth one line, not one per datagram.
      if (!refusedLogged) this.warn(`refused Proxy-Uri ${JSON.stringify(uri.slice(0, 200))}: not a registered endpoint (5.05)`);
      refusedLogged = true;
    });

    let lastText: string | undefined;
    let endpointFailure: string | undefined;
    const refresh = (): void => {
      let status: NodeStatus;
      const stats = proxy.stats();
      if (endpointFailure !== undefined) status = { fill: 'red', shape: 'ring', text: endpointFailure };
      else if (!directory()) status = { fill: 'red', shape: 'ring', text: 'no resource directory' };
      else status = { fill: 'green', shape: 'dot', text: `proxying ${stats.endpoints} endpoints, ${stats.observers} observers` };
      if (stats.pending === 0) overloadLogged = false;
      // Status travels to every open editor: send it only when it changes.
      if (status.text === lastText) return;
      lastText = String(status.text);
      this.status(status);
    };
    const unwatch = endpointNode.watchState((state) => {
      endpointFailure = state.kind === 'failed' ? state.text : undefined;
      refresh();
    });
    const timer = setInterval(refresh, STATUS_INTERVAL_MS);
    // Once every node of the flow exists, the coap-rd node can be found.
    const first = setImmediate(refresh);

    this.on('close', (_removed: boolean, done: () => void) => {
      clearInterval(timer);
      clearImmediate(first);
      unwatch();
      proxy.stop().then(done, done);
    });
  }
  RED.nodes.registerType('coap-proxy', CoapProxyNode);
};
