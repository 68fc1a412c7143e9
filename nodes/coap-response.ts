/** Answers the CoAP request a coap-in node received, like "http response". */
import type { NodeAPI, Node, NodeDef } from 'node-red';
import { exchanges } from '../lib/coap/exchange-registry';
import { normaliseResponseCode, codeName } from '../lib/coap/codes';
import { contentFormatNumber, encodePayload } from '../lib/coap/content-format';
import type { OptionValue } from '../lib/coap/endpoint';

interface CoapResponseDef extends NodeDef {
  code: string;
  contentFormat: string;
  maxAge: string;
}

interface ResponseMessage {
  payload?: unknown;
  statusCode?: unknown;
  contentFormat?: unknown;
  options?: unknown;
  _coapExchange?: unknown;
}

function optionsFrom(value: unknown): Record<string, OptionValue> {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw new Error('msg.options must be an object of CoAP options');
  const out: Record<string, OptionValue> = {};
  for (const [name, v] of Object.entries(value as Record<string, unknown>)) {
    if (typeof v === 'string' || typeof v === 'number' || Buffer.isBuffer(v)) out[name] = v;
    else throw new Error(`msg.options["${name}"] must be a string, number or Buffer`);
  }
  return out;
}

export = function register(RED: NodeAPI): void {
  function CoapResponseNode(this: Node, config: CoapResponseDef): void {
    RED.nodes.createNode(this, config);
    let lastCode: string | undefined;

    this.on('input', (raw, _send, done) => {
      const msg = raw as ResponseMessage;
      const exchange = exchanges.get(msg._coapExchange);
      if (!exchange) {
        lastCode = undefined;
        this.status({ fill: 'yellow', shape: 'ring', text: 'no pending request' });
        done(new Error('no pending CoAP request for this message: it did not come from coap-in, was answered already or timed out'));
        return;
      }
      try {
        const code = normaliseResponseCode(msg.statusCode ?? (config.code || '2.05'));
        if (!code) throw new Error(`"${String(msg.statusCode ?? config.code)}" is not a CoAP response code such as 2.05 or 4.04`);
        const wanted = contentFormatNumber(msg.contentFormat ?? config.contentFormat);
        const { payload, format } = encodePayload(msg.payload, wanted);
        const options = optionsFrom(msg.options);
        if (config.maxAge?.trim() && options['Max-Age'] === undefined) options['Max-Age'] = Number(config.maxAge);
        exchange.respond({ code, payload, contentFormat: payload.length > 0 ? format : undefined, options });
        // Status travels to every open editor: send it only when it changes.
        if (code !== lastCode) this.status({ fill: code.startsWith('2.') ? 'green' : 'yellow', shape: 'dot', text: `${code} ${codeName(code)}` });
        lastCode = code;
        done();
      } catch (err) {
        // The client must not be left waiting for a flow bug.
        exchange.respond({ code: '5.00' });
        lastCode = undefined;
        this.status({ fill: 'red', shape: 'ring', text: (err as Error).message });
        done(err as Error);
      }
    });

    this.on('close', (done: () => void) => {
      this.status({});
      done();
    });
  }
  RED.nodes.registerType('coap-response', CoapResponseNode);
};
