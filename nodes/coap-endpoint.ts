/** Config node: one CoAP UDP socket that coap-in (and later the RD and proxy) nodes share. */
import type { NodeAPI, NodeDef } from 'node-red';
import { CoapEndpoint, DEFAULT_ENDPOINT_OPTIONS, type Family } from '../lib/coap/endpoint';
import { integerSetting, SettingError } from './settings';
import type { CoapEndpointNode, EndpointState } from './endpoint-node';

interface CoapEndpointDef extends NodeDef {
  address: string;
  port: string | number;
  family: Family;
  maxPendingRequests: string | number;
  responseTimeout: string | number;
  maxObservers: string | number;
  maxRequestBody: string | number;
}

export = function register(RED: NodeAPI): void {
  function CoapEndpointNodeCtor(this: CoapEndpointNode, config: CoapEndpointDef): void {
    RED.nodes.createNode(this, config);
    const family: Family = config.family === 'udp6' ? 'udp6' : 'udp4';
    let endpoint: CoapEndpoint;
    let configError: string | undefined;
    try {
      endpoint = new CoapEndpoint({
        address: (config.address ?? '').trim(),
        port: integerSetting('port', config.port, DEFAULT_ENDPOINT_OPTIONS.port, 0, 65535),
        family,
        maxPendingRequests: integerSetting('max pending requests', config.maxPendingRequests, DEFAULT_ENDPOINT_OPTIONS.maxPendingRequests, 1, 100_000),
        responseTimeoutMs:
          integerSetting('response timeout', config.responseTimeout, DEFAULT_ENDPOINT_OPTIONS.responseTimeoutMs / 1000, 1, 3600) * 1000,
        maxObservers: integerSetting('max observers', config.maxObservers, DEFAULT_ENDPOINT_OPTIONS.maxObservers, 0, 100_000),
        maxRequestBodyBytes:
          integerSetting('max request body', config.maxRequestBody, DEFAULT_ENDPOINT_OPTIONS.maxRequestBodyBytes / 1024, 1, 16 * 1024) * 1024,
      });
    } catch (err) {
      if (!(err instanceof SettingError)) throw err;
      configError = err.message;
      endpoint = new CoapEndpoint();
    }
    this.endpoint = endpoint;
    this.state = { kind: 'starting' };
    const listeners = new Set<(state: EndpointState) => void>();
    const setState = (state: EndpointState): void => {
      this.state = state;
      for (const l of listeners) l(state);
    };
    this.watchState = (listener) => {
      listeners.add(listener);
      listener(this.state);
      return () => listeners.delete(listener);
    };

    endpoint.on('error', (err) => this.error(`CoAP socket error: ${err.message}`));
    endpoint.on('handler-error', (err, req) => this.warn(`answered 5.00 to ${req.method} /${req.path.join('/')}: ${err.message}`));
    let overloadLogged = false;
    endpoint.on('overload', () => {
      // One line per overload episode, not one per refused datagram.
      if (!overloadLogged) this.warn(`more than ${endpoint.options.maxPendingRequests} requests unanswered: answering 5.03`);
      overloadLogged = true;
    });
    const refusedSources = new Set<string>();
    endpoint.on('rejected-datagram', (reason, from) => {
      // Once per source address, so a flood cannot flood the log too.
      if (refusedSources.has(from.address) || refusedSources.size > 100) return;
      refusedSources.add(from.address);
      this.warn(`refused a datagram from ${from.address}: ${reason}`);
    });
    endpoint.on('request-timeout', (req) => {
      this.warn(`no coap-response within ${endpoint.options.responseTimeoutMs / 1000} s for ${req.method} /${req.path.join('/')}: answered 5.03`);
    });

    const started = configError === undefined ? endpoint.start() : Promise.reject(new Error(configError));
    started.then(
      (addr) => {
        overloadLogged = false;
        const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
        setState({ kind: 'listening', text: `${host}:${addr.port}` });
        this.log(`CoAP endpoint listening on ${family} ${host}:${addr.port}`);
      },
      (err: Error) => {
        setState({ kind: 'failed', text: err.message });
        this.error(`CoAP endpoint not started (${family} ${config.address || "*"}:${config.port}): ${err.message}`);
      },
    );

    this.on('close', (_removed: boolean, done: () => void) => {
      listeners.clear();
      endpoint.stop().then(done, done);
    });
  }
  RED.nodes.registerType('coap-endpoint', CoapEndpointNodeCtor);
};
