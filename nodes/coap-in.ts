/** Serves one CoAP resource from a flow, like "http in": each request becomes a message. */
import type { NodeAPI, Node, NodeDef, NodeMessage } from 'node-red';
import { isMethodFilter, patternSegments, type MethodFilter } from '../lib/coap/router';
import { decodePayload, PayloadDecodeError, contentFormatName } from '../lib/coap/content-format';
import { exchanges } from '../lib/coap/exchange-registry';
import { queryObject } from '../lib/coap/query';
import type { Link } from '../lib/coap/link-format';
import type { Exchange } from '../lib/coap/endpoint';
import { oscoreErrorReply, oscoreResources, type OscoreSender } from '../lib/oscore/coap-server';
import { reportOscore, type OscoreReport } from './oscore-server';
import { OscoreError } from '../lib/oscore/errors';
import { endpointStatus, type CoapEndpointNode } from './endpoint-node';
import { ContextWaiting, contextIds, resolveContexts, type ResolvedContext } from './oscore-node';
import { refuseToStart } from './settings';

interface CoapInDef extends NodeDef {
  endpoint: string;
  method: string;
  url: string;
  rt: string;
  iface: string;
  ct: string;
  /** The oscore-context config node accepted for protected requests (a typed, tracked reference)... */
  oscore: unknown;
  /** ...and the ids of further ones, one per further client. */
  oscoreMore: unknown;
  /** Refuse unprotected requests with 4.01. */
  requireOscore: boolean;
}

export = function register(RED: NodeAPI): void {
  function CoapInNode(this: Node, config: CoapInDef): void {
    RED.nodes.createNode(this, config);
    const endpointNode = RED.nodes.getNode(config.endpoint) as CoapEndpointNode | null;
    const method: MethodFilter = isMethodFilter(config.method) ? config.method : 'GET';
    const segments = patternSegments(config.url ?? '');
    let label = `${method} /${segments.join('/')}`;

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

    let secured: ResolvedContext[];
    try {
      secured = resolveContexts(RED, [...new Set([...contextIds(config.oscore), ...contextIds(config.oscoreMore)])]);
      if (config.requireOscore === true && secured.length === 0) throw new Error('"require OSCORE" needs at least one oscore-context');
    } catch (err) {
      if (err instanceof ContextWaiting) {
        // Serves nothing until the context can start: never unprotected by accident.
        this.status({ fill: 'yellow', shape: 'ring', text: err.message });
        this.warn(`coap-in ${label} not serving: ${err.message}`);
        return;
      }
      refuseToStart(this, 'coap-in', (err as Error).message);
      return;
    }
    const required = config.requireOscore === true;
    if (secured.length > 0) label += required ? ' (OSCORE only)' : ' (+OSCORE)';

    const deliver = (exchange: Exchange, sender?: OscoreSender): void => {
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
      const from = sender && secured.find((s) => s.context === sender.context);
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
        ...(sender ? { oscore: { context: from?.label ?? '', kid: sender.kid.toString('hex') } } : {}),
        _coapExchange: exchanges.add(exchange),
      };
      this.send(msg);
    };

    const unroutes: Array<() => void> = [];
    const oscore = secured.length > 0 ? oscoreResources(endpointNode.endpoint) : undefined;
    let report: OscoreReport | undefined;
    try {
      unroutes.push(
        endpointNode.endpoint.route(
          method,
          link.href,
          (exchange) => {
            if (!required) return deliver(exchange);
            exchange.respond(oscoreErrorReply(new OscoreError('not-protected', 'OSCORE required')));
            report?.refused(new OscoreError('not-protected', 'unprotected request'), exchange.request.remote);
          },
          { link },
        ),
      );
      if (oscore) {
        const contexts = secured.map((s) => s.context);
        unroutes.push(oscore.serve(method, link.href, contexts, (exchange, sender) => deliver(exchange, sender)));
        report = reportOscore(this, oscore);
      }
    } catch (err) {
      for (const unroute of unroutes) unroute();
      this.status({ fill: 'red', shape: 'ring', text: (err as Error).message });
      this.error(`coap-in cannot serve ${label}: ${(err as Error).message}`);
      return;
    }

    const unwatch = endpointNode.watchState((state) => this.status(endpointStatus(state, label)));

    this.on('close', (_removed: boolean, done: () => void) => {
      unwatch();
      for (const unroute of unroutes) unroute();
      report?.stop();
      done();
    });
  }
  RED.nodes.registerType('coap-in', CoapInNode);
};
