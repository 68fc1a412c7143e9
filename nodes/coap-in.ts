/** Serves one CoAP resource from a flow, like "http in": each request becomes a message. */
import type { NodeAPI, Node, NodeDef, NodeMessage } from 'node-red';
import { isMethodFilter, patternSegments, type MethodFilter } from '../lib/coap/router';
import { decodePayload, PayloadDecodeError, contentFormatName } from '../lib/coap/content-format';
import { exchanges } from '../lib/coap/exchange-registry';
import { queryObject } from '../lib/coap/query';
import type { Link } from '../lib/coap/link-format';
import { endpointStatus, type CoapEndpointNode } from './endpoint-node';

interface CoapInDef extends NodeDef {
  endpoint: string;
  method: string;
  url: string;
  rt: string;
  iface: string;
  ct: string;
}

export = function register(RED: NodeAPI): void {
  function CoapInNode(this: Node, config: CoapInDef): void {
    RED.nodes.createNode(this, config);
    const endpointNode = RED.nodes.getNode(config.endpoint) as CoapEndpointNode | null;
    const method: MethodFilter = isMethodFilter(config.method) ? config.method : 'GET';
    const segments = patternSegments(config.url ?? '');
    const label = `${method} /${segments.join('/')}`;

    if (!endpointNode) {
      this.status({ fill: 'red', shape: 'ring', text: 'no CoAP endpoint configured' });
      this.error('coap-in needs a coap-endpoint config node');
      return;
    }
    if (segments.length === 0) {
      this.status({ fill: 'red', shape: 'ring', text: 'no resource path' });
      this.error('coap-in needs a resource path, e.g. /hello');
      return;
    }

    const link: Link = { href: `/${segments.join('/')}`, attributes: {} };
    const attrs = link.attributes as Record<string, string | number>;
    if (config.rt?.trim()) attrs.rt = config.rt.trim();
    if (config.iface?.trim()) attrs.if = config.iface.trim();
    if (config.ct?.trim() && /^\d+$/.test(config.ct.trim())) attrs.ct = Number(config.ct.trim());

    let unroute: (() => void) | undefined;
    try {
      unroute = endpointNode.endpoint.route(
        method,
        link.href,
        (exchange) => {
          const { request } = exchange;
          let payload: unknown;
          try {
            payload = decodePayload(request.payload, request.contentFormat);
          } catch (err) {
            if (!(err instanceof PayloadDecodeError)) throw err;
            exchange.respond({ code: '4.00', payload: Buffer.from(err.message) });
            this.status({ fill: 'yellow', shape: 'ring', text: `4.00 to ${request.remote.address}: bad payload` });
            return;
          }
          const msg: NodeMessage & Record<string, unknown> = {
            payload,
            topic: `/${request.path.join('/')}`,
            coap: {
              method: request.method,
              path: request.path,
              params: request.params,
              query: queryObject(request.query),
              contentFormat: request.contentFormat === undefined ? undefined : contentFormatName(request.contentFormat),
              accept: request.accept,
              options: request.options,
              remote: request.remote,
            },
            _coapExchange: exchanges.add(exchange),
          };
          this.send(msg);
        },
        { link },
      );
    } catch (err) {
      this.status({ fill: 'red', shape: 'ring', text: (err as Error).message });
      this.error(`coap-in cannot serve ${label}: ${(err as Error).message}`);
      return;
    }

    const unwatch = endpointNode.watchState((state) => this.status(endpointStatus(state, label)));

    this.on('close', (_removed: boolean, done: () => void) => {
      unwatch();
      unroute?.();
      done();
    });
  }
  RED.nodes.registerType('coap-in', CoapInNode);
};
