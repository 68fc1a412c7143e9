/**
 * A small CoAP client over node-coap, for the reverse proxy and flows that call devices: one
 * request with a clean timeout, or one observation that can really be cancelled. Block-wise
 * transfers (RFC 7959) are left to node-coap: Block2 bodies arrive reassembled, bodies over
 * 1024 bytes go out with Block1.
 */
import { createSocket, type Socket } from 'node:dgram';
import { isIP } from 'node:net';
import { Agent, request as nodeCoapRequest, registerOption } from 'coap';
import type { IncomingMessage, OutgoingMessage } from 'coap';
// node-coap's own name ↔ bytes conversions (Content-Format names, uints), so that option values
// it decoded for us go back on the wire exactly as they came. Not re-exported by its index.
import { toBinary } from 'coap/dist/lib/option_converter';
import type { Family, OptionValue } from './endpoint';
import { OPTION_NUMBERS } from './option-numbers';
import type { Method } from './router';
import { LeanResetError, LeanTransport, type LeanResult } from './lean-transport';

// An ETag is opaque bytes (RFC 7252 §5.10.6); node-coap's default decodes it as UTF-8 text,
// which corrupts binary ETags on their way through the proxy. Process-wide, and harmless:
// an ETag then reads as a Buffer, which every OptionValue consumer accepts.
registerOption(
  'ETag',
  (value) => (Buffer.isBuffer(value) ? value : Buffer.from(String(value))),
  (bytes) => bytes,
);

export interface CoapTarget {
  host: string;
  port: number;
  family: Family;
}

export interface ClientRequest {
  method: Method;
  /** Uri-Path segments; a segment may contain "/". */
  path: readonly string[];
  /** Uri-Query options, e.g. ["a=1"]. */
  query: readonly string[];
  payload?: Buffer;
  /** Further options by name or number (as node-coap names them); repeatable ones as arrays. */
  options?: Record<string, OptionValue>;
}

export interface ClientResponse {
  code: string;
  payload: Buffer;
  /** Every option of the (last block of the) response, as node-coap decodes it. */
  options: Record<string, OptionValue>;
}

export class CoapTimeoutError extends Error {
  constructor(readonly timeoutMs: number, target: CoapTarget) {
    super(`no CoAP answer from ${formatTarget(target)} within ${timeoutMs} ms`);
  }
}

/** The peer answered with a Reset: it does not know the exchange (RFC 7252 §4.2). */
export class CoapResetError extends Error {}

export const DEFAULT_COAP_PORT = 5683;
const MAX_BLOCK_PAYLOAD = 1024;
const BLOCK_SIZE_EXPONENT_1024 = 6;

export { OPTION_NUMBERS } from './option-numbers';

/** Options node-coap must see by name (it converts or acts on them); the rest go by number. */
const BY_NAME = new Set([
  'If-Match', 'Uri-Host', 'ETag', 'If-None-Match', 'Observe', 'Uri-Port', 'Location-Path', 'Uri-Path',
  'Content-Format', 'Max-Age', 'Uri-Query', 'Accept', 'Location-Query', 'Block2', 'Block1', 'Size2',
  'Proxy-Uri', 'Proxy-Scheme', 'Size1',
]);

/** The option number for a name or a numeric string; undefined for an unknown name. */
export function optionNumber(name: string): number | undefined {
  if (/^\d+$/.test(name)) return Number(name);
  return OPTION_NUMBERS[name];
}

/**
 * Turns options as node-coap decoded them into what its setOption() writes back unchanged:
 * names it mangles (setOption capitalises "OSCORE" to "Oscore") or does not know become option
 * numbers, and every value becomes bytes. Unknown non-numeric names are dropped.
 */
export function wireOptions(options: Record<string, OptionValue>): Record<string, Buffer | Buffer[]> {
  const out: Record<string, Buffer | Buffer[]> = {};
  for (const [name, value] of Object.entries(options)) {
    const number = optionNumber(name);
    if (number === undefined) continue;
    const key = BY_NAME.has(name) ? name : String(number);
    const bytes = (v: string | number | Buffer): Buffer => (BY_NAME.has(name) ? toBinary(name, v) : rawBytes(v));
    out[key] = Array.isArray(value) ? value.map(bytes) : bytes(value);
  }
  return out;
}

function rawBytes(value: string | number | Buffer): Buffer {
  if (Buffer.isBuffer(value)) return value;
  if (typeof value === 'string') return Buffer.from(value, 'utf8');
  const bytes: number[] = [];
  for (let n = value; n > 0; n = Math.floor(n / 256)) bytes.unshift(n % 256);
  return Buffer.from(bytes);
}

export function formatTarget(target: CoapTarget): string {
  const host = target.family === 'udp6' ? `[${target.host}]` : target.host;
  return `coap://${host}:${target.port}`;
}

export class CoapUriError extends Error {}

export interface ParsedCoapUri {
  target: CoapTarget;
  path: string[];
  query: string[];
}

/**
 * Parses "coap://host[:port][/path][?query]" (IPv6 literals in brackets). Only the coap scheme:
 * anything else is refused, so a caller never forwards to coaps, http or a file URI by mistake.
 * Host names are kept as given (node-coap resolves them); family follows the literal.
 */
export function parseCoapUri(uri: string): ParsedCoapUri {
  const match = /^coap:\/\/(\[[^\]]*\]|[^/?#:[\]]*)(?::(\d*))?([^?#]*)(?:\?([^#]*))?(?:#.*)?$/i.exec(uri.trim());
  if (!match) throw new CoapUriError(`not a coap:// URI: ${JSON.stringify(uri)}`);
  const [, rawHost = '', rawPort, rawPath = '', rawQuery] = match;
  const bracketed = rawHost.startsWith('[');
  const host = (bracketed ? rawHost.slice(1, -1) : rawHost).toLowerCase();
  if (host === '') throw new CoapUriError(`no host in ${JSON.stringify(uri)}`);
  if (bracketed && isIP(host) !== 6) throw new CoapUriError(`not an IPv6 address: [${host}]`);
  const port = rawPort === undefined || rawPort === '' ? DEFAULT_COAP_PORT : Number(rawPort);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new CoapUriError(`bad port in ${JSON.stringify(uri)}`);
  const decode = (s: string): string => {
    try {
      return decodeURIComponent(s);
    } catch {
      throw new CoapUriError(`bad percent-encoding in ${JSON.stringify(uri)}`);
    }
  };
  // RFC 7252 §6.4: "/" alone is no segment; every further "/" starts one.
  const segments = rawPath === '' || rawPath === '/' ? [] : rawPath.slice(1).split('/').map(decode);
  const query = rawQuery === undefined || rawQuery === '' ? [] : rawQuery.split('&').map(decode);
  return { target: { host, port, family: isIP(host) === 6 ? 'udp6' : 'udp4' }, path: segments, query };
}

/** The target of an RD base URI ("coap://192.0.2.5:5683", "coap://[2001:db8::5]"). */
export function parseBase(base: string): CoapTarget {
  return parseCoapUri(base).target;
}

export interface Observation {
  /** Ends the observation and deregisters it upstream (GET with Observe: 1, RFC 7641 §3.6). */
  cancel(): void;
}

export interface ObserveHandlers {
  /** Every notification, the first response included; a non-2.xx one is the last. */
  onNotification(response: ClientResponse): void;
  /** Once, when the observation is over without cancel(): a final code, refusal, timeout or reset. */
  onEnd?(error?: Error): void;
}

export interface ObserveOptions {
  /**
   * What cancel() sends, on the observation's Token, instead of node-coap's copy of the
   * registration with Observe 1 (RFC 7641 §3.6): OSCORE needs a freshly protected request (a
   * copy would repeat the registration's Partial IV). false, or undefined from the function:
   * cancel without a word, and the device's next notification is answered with a Reset.
   */
  deregistration?: (() => ClientRequest | undefined) | false;
  /**
   * The caller orders notifications itself: node-coap's RFC 7641 §3.4 check on the Observe
   * value is off. OSCORE's outer Observe is not protected (RFC 8613 §4.1.3.5.2): one forged
   * large value would make node-coap drop every genuine notification; the Partial IV orders them.
   */
  unordered?: boolean;
}

/** node-coap's observe stream: its typings leave out close() and the ordering switch. */
interface ObserveStream extends IncomingMessage {
  close(eagerDeregister?: boolean): void;
  _disableFiltering: boolean;
}

/** node-coap's request internals: the Token it chose, reused by a deregistration. */
interface OutgoingInternals {
  _packet: { token: Buffer };
}

/** node-coap's agent internals we need: abort() stops retransmitting a request we gave up on. */
interface AgentInternals {
  abort(req: OutgoingMessage): void;
}

/**
 * Owns one UDP socket per address family. The sockets are ours, not node-coap's: an agent on
 * its own socket closes it before sending a deregistration, so cancel() would never reach the
 * device (see test/unit/coap-endpoint-observe.test.ts).
 */
export class CoapClient {
  private readonly agents = new Map<Family, { agent: Agent; socket: Socket }>();
  /** Plain requests (no Observe, no Block1/Block2 asked for): a lean transport, one socket per family. */
  private readonly lean = new Map<Family, LeanTransport>();
  private closed = false;

  /** unref: the sockets do not keep the process alive (a shared, long-lived client). */
  constructor(private readonly settings: { unref?: boolean } = {}) {}

  request(target: CoapTarget, req: ClientRequest, timeoutMs: number): Promise<ClientResponse> {
    if (leanable(req)) return this.leanRequest(target, req, timeoutMs);
    return new Promise((resolve, reject) => {
      let out: OutgoingMessage;
      let agent: Agent;
      try {
        ({ out, agent } = this.start(target, req, false));
      } catch (err) {
        reject(err as Error);
        return;
      }
      let done = false;
      const finish = (err: Error | undefined, res?: ClientResponse): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        if (err) reject(err);
        else resolve(res as ClientResponse);
      };
      const timer = setTimeout(() => {
        (agent as unknown as AgentInternals).abort(out);
        finish(new CoapTimeoutError(timeoutMs, target));
      }, timeoutMs);
      out.on('response', (res: IncomingMessage) => {
        if (res.code === '0.00') finish(new CoapResetError(`${formatTarget(target)} answered with a reset`));
        else finish(undefined, toResponse(res));
      });
      out.on('error', (err: Error) => finish(err));
      out.end(req.payload ?? Buffer.alloc(0));
    });
  }

  private leanRequest(target: CoapTarget, req: ClientRequest, timeoutMs: number): Promise<ClientResponse> {
    return new Promise((resolve, reject) => {
      try {
        if (this.closed) throw new Error('CoAP client is closed');
        let transport = this.lean.get(target.family);
        if (!transport) {
          transport = new LeanTransport(target.family, this.settings.unref === true);
          this.lean.set(target.family, transport);
        }
        transport.request(
          target.host,
          target.port,
          req.method,
          requestOptions(req),
          req.payload ?? Buffer.alloc(0),
          timeoutMs,
          (err, result) => {
            if (err instanceof LeanResetError) reject(new CoapResetError(`${formatTarget(target)} answered with a reset`));
            else if (err) reject(err);
            else resolve(leanResponse(result as LeanResult));
          },
          () => reject(new CoapTimeoutError(timeoutMs, target)),
        );
      } catch (err) {
        reject(err as Error);
      }
    });
  }

  /** GET, or FETCH when req.method is FETCH (RFC 8132; an OSCORE observation's outer code, RFC 8613 §4.1.3.5). */
  observe(target: CoapTarget, req: ClientRequest, handlers: ObserveHandlers, timeoutMs: number, options: ObserveOptions = {}): Observation {
    let stream: ObserveStream | undefined;
    let over = false;
    const method = req.method === 'FETCH' ? 'FETCH' : 'GET';
    const { out, agent } = this.start(target, { ...req, method }, true);
    const end = (err?: Error): void => {
      if (over) return;
      over = true;
      clearTimeout(timer);
      handlers.onEnd?.(err);
    };
    const timer = setTimeout(() => {
      (agent as unknown as AgentInternals).abort(out);
      end(new CoapTimeoutError(timeoutMs, target));
    }, timeoutMs);
    const leave = (s: ObserveStream): void => {
      if (options.deregistration === undefined) return void s.close(true);
      s.close(false);
      const deregistration = options.deregistration ? options.deregistration() : undefined;
      if (deregistration) this.deregister(target, deregistration, (out as unknown as OutgoingInternals)._packet.token);
    };
    out.on('error', (err: Error) => {
      stream?.close(false);
      end(err);
    });
    out.on('response', (res: IncomingMessage) => {
      clearTimeout(timer);
      if (over) {
        // cancelled while the registration was on its way: leave without waiting for more
        const late = observeStream(res);
        if (late) leave(late);
        return;
      }
      if (res.code === '0.00') return end(new CoapResetError(`${formatTarget(target)} answered with a reset`));
      const first = toResponse(res);
      handlers.onNotification(first);
      const candidate = observeStream(res);
      if (!candidate || typeof res.headers['Observe'] !== 'number' || !first.code.startsWith('2.')) {
        // Declined (no Observe option) or refused: one answer, and the observation is over.
        candidate?.close(false);
        return end();
      }
      if (over) {
        // the handler cancelled on the first answer
        leave(candidate);
        return;
      }
      stream = candidate;
      if (options.unordered) stream._disableFiltering = true;
      let skippedFirst = false;
      stream.on('data', () => {
        // node-coap pushes the first response into the stream too; it was delivered above.
        if (!skippedFirst) {
          skippedFirst = true;
          return;
        }
        if (over) return;
        const notification = toResponse(stream as ObserveStream);
        handlers.onNotification(notification);
        if (!notification.code.startsWith('2.')) {
          (stream as ObserveStream).close(false);
          end();
        }
      });
    });
    out.end(req.payload ?? Buffer.alloc(0));
    return {
      cancel: () => {
        if (over) return;
        over = true;
        clearTimeout(timer);
        if (stream) leave(stream);
        else (agent as unknown as AgentInternals).abort(out);
      },
    };
  }

  /** A deregistration of our own on the observation's Token; its answer only needs node-coap's ACK. */
  private deregister(target: CoapTarget, req: ClientRequest, token: Buffer): void {
    try {
      const out = nodeCoapRequest({
        host: target.host,
        port: target.port,
        method: req.method,
        confirmable: true,
        observe: 1,
        token,
        agent: this.agentFor(target.family),
        options: requestOptions(req),
      } as Parameters<typeof nodeCoapRequest>[0]);
      out.on('error', () => undefined); // a lost deregistration: the next notification gets a Reset
      out.end(req.payload ?? Buffer.alloc(0));
    } catch {
      // client closed: nothing can be sent any more
    }
  }

  /** Closes the sockets; requests and observations still open are dropped without a word. */
  close(): Promise<void> {
    this.closed = true;
    const entries = [...this.agents.values()];
    this.agents.clear();
    const leans = [...this.lean.values()];
    this.lean.clear();
    for (const { agent, socket } of entries) {
      // Stops every retransmission timer (a deregistration just sent has one); on its own socket
      // the agent leaves the socket to us.
      agent.close();
      // Anything node-coap still sends after this (an ACK from a late message) goes nowhere
      // instead of throwing out of a timer.
      socket.send = (() => undefined) as Socket['send'];
    }
    const sockets = entries.map((e) => e.socket);
    return Promise.all([
      ...sockets.map((s) => new Promise<void>((resolve) => {
        try {
          s.close(() => resolve());
        } catch {
          resolve(); // already closed
        }
      })),
      ...leans.map((t) => t.close()),
    ]).then(() => undefined);
  }

  private agentFor(family: Family): Agent {
    if (this.closed) throw new Error('CoAP client is closed');
    let entry = this.agents.get(family);
    if (!entry) {
      const socket = createSocket({ type: family });
      if (this.settings.unref) socket.unref();
      const agent = new Agent({ type: family, socket });
      // A socket error must not become an uncaught 'error' event; requests time out instead.
      agent.on('error', () => undefined);
      socket.on('error', () => undefined);
      entry = { agent, socket };
      this.agents.set(family, entry);
    }
    return entry.agent;
  }

  private start(target: CoapTarget, req: ClientRequest, observe: boolean): { out: OutgoingMessage; agent: Agent } {
    const agent = this.agentFor(target.family);
    const payload = req.payload ?? Buffer.alloc(0);
    const options = requestOptions(req);
    // node-coap sends Block1 only when asked, with this byte as the block-size exponent.
    if (payload.length > MAX_BLOCK_PAYLOAD) options.Block1 = Buffer.of(BLOCK_SIZE_EXPONENT_1024);
    const out = nodeCoapRequest({
      host: target.host,
      port: target.port,
      method: req.method,
      confirmable: true,
      observe: observe ? true : undefined,
      agent,
      options,
    });
    return { out, agent };
  }
}

function requestOptions(req: ClientRequest): Record<string, Buffer | Buffer[]> {
  return {
    ...wireOptions(req.options ?? {}),
    'Uri-Path': req.path.map((s) => Buffer.from(s, 'utf8')),
    'Uri-Query': req.query.map((s) => Buffer.from(s, 'utf8')),
  };
}

/**
 * Whether the lean transport can carry a request: no Block1 to send (node-coap segments it),
 * and no Observe, Block1 or Block2 asked for by the caller (left to node-coap as before).
 */
function leanable(req: ClientRequest): boolean {
  if ((req.payload?.length ?? 0) > MAX_BLOCK_PAYLOAD) return false;
  const options = req.options;
  if (!options) return true;
  for (const name of Object.keys(options)) {
    const number = optionNumber(name);
    if (number === 6 || number === 23 || number === 27) return false;
  }
  return true;
}

function leanResponse(result: LeanResult): ClientResponse {
  return toResponse(result.message as unknown as IncomingMessage);
}

function observeStream(res: IncomingMessage): ObserveStream | undefined {
  const candidate = res as unknown as Partial<ObserveStream>;
  return typeof candidate.close === 'function' ? (res as unknown as ObserveStream) : undefined;
}

function toResponse(res: IncomingMessage): ClientResponse {
  const options: Record<string, OptionValue> = {};
  // node-coap keeps the decoded options on the message; its typings leave them out.
  for (const { name, value } of (res as unknown as { options?: Array<{ name: string | number; value: OptionValue }> }).options ?? []) {
    const key = String(name);
    const prev = options[key];
    if (value === null) continue;
    options[key] = prev === undefined ? value : ([] as Array<string | number | Buffer>).concat(prev as never, value as never) as Buffer[];
  }
  return { code: res.code, payload: res.payload ?? Buffer.alloc(0), options };
}

let shared: CoapClient | undefined;

/** A process-wide client whose sockets do not keep the process alive. */
export function sharedClient(): CoapClient {
  shared ??= new CoapClient({ unref: true });
  return shared;
}

export function coapRequest(target: CoapTarget, req: ClientRequest, timeoutMs: number, client: CoapClient = sharedClient()): Promise<ClientResponse> {
  return client.request(target, req, timeoutMs);
}

export function coapObserve(
  target: CoapTarget,
  req: ClientRequest,
  onNotification: (response: ClientResponse) => void,
  options: { timeoutMs?: number; onEnd?: (error?: Error) => void; client?: CoapClient } = {},
): Observation {
  return (options.client ?? sharedClient()).observe(target, req, { onNotification, onEnd: options.onEnd }, options.timeoutMs ?? 10_000);
}
