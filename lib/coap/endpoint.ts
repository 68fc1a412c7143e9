/**
 * A CoAP server socket shared by every resource served on it: routes requests to handlers,
 * answers what nobody handles (4.04, 4.05, /.well-known/core), bounds the requests a flow may
 * leave unanswered, and never lets a bad datagram or a throwing handler escape.
 */
import { EventEmitter } from 'node:events';
import type { AddressInfo } from 'node:net';
import type { RemoteInfo, Socket } from 'node:dgram';
import { inspectDatagram } from './datagram-guard';
import { createServer, parameters as coapParameters } from 'coap';
import type { Server as CoapServer, IncomingMessage, OutgoingMessage } from 'coap';
import { Router, type MethodFilter, type Method, METHODS } from './router';
import { serialiseLinks, matchesQuery, type Link } from './link-format';
import { ContentFormat, contentFormatNumber } from './content-format';
import { queryObject } from './query';
import { LeanServer, isLeanRequest, type ReplyChannel } from './lean-server';
import { ServerExchange, observationKey, type ExchangeBook } from './server-exchange';
import type { ParsedPacket } from 'coap-packet';
// node-coap's option value decoding (what its IncomingMessage holds); not re-exported by its index.
import { fromBinary } from 'coap/dist/lib/option_converter';

const METHOD_OF_CODE: Readonly<Record<string, Method>> = {
  '0.01': 'GET', '0.02': 'POST', '0.03': 'PUT', '0.04': 'DELETE', '0.05': 'FETCH', '0.06': 'PATCH', '0.07': 'iPATCH',
};

export type Family = 'udp4' | 'udp6';

export interface EndpointOptions {
  /** Bind address; empty means every interface of the family ("0.0.0.0" or "::"). */
  address: string;
  /** UDP port; 0 picks a free one (tests). */
  port: number;
  family: Family;
  /** Requests handed to handlers and not yet answered; more get 5.03 with Max-Age. */
  maxPendingRequests: number;
  /** A handler that has not answered by then gets 5.03 sent on its behalf. */
  responseTimeoutMs: number;
  /** Observations held open at once; a request beyond it is answered once, without Observe (RFC 7641 §4.1). */
  maxObservers: number;
  /** Largest request body a client may send through Block1; beyond it 4.13 with Size1. */
  maxRequestBodyBytes: number;
  /**
   * Recent exchanges remembered so that a retransmitted request gets the same answer and is not
   * handled twice (RFC 7252 §4.5); the oldest is forgotten first.
   */
  maxRememberedExchanges: number;
}

export const DEFAULT_ENDPOINT_OPTIONS: EndpointOptions = {
  address: '',
  port: 5683,
  family: 'udp4',
  maxPendingRequests: 256,
  responseTimeoutMs: 30_000,
  maxObservers: 256,
  maxRequestBodyBytes: 64 * 1024,
  maxRememberedExchanges: 8192,
};

export type OptionValue = string | number | Buffer | Buffer[];

export interface CoapRequest {
  method: Method;
  /** Uri-Path segments, exactly as sent (a segment may contain "/"). */
  path: string[];
  /** Uri-Query options, in order, e.g. ["ep=node1", "lt=60"]. */
  query: string[];
  payload: Buffer;
  contentFormat?: number;
  accept?: number;
  /** Every option the request carried, by name (repeatable ones as arrays). */
  options: Record<string, OptionValue>;
  remote: { address: string; port: number };
  /** Parameters captured by the route pattern (":name", "*"). */
  params: Record<string, string>;
  token: Buffer;
  /** The Observe option: 0 registers, 1 deregisters (RFC 7641). */
  observe?: number;
  /** Proxy-Uri, or the URI built from Proxy-Scheme and the Uri-* options. */
  proxyUri?: string;
}

export interface CoapReply {
  code: string;
  payload?: Buffer;
  contentFormat?: number;
  /** Extra options, e.g. {"Max-Age": 60, "ETag": Buffer}. */
  options?: Record<string, OptionValue>;
}

export interface Exchange {
  readonly request: CoapRequest;
  /**
   * True when the client asked to observe and the route accepted it: respond() then sends the
   * first notification and notify() the later ones, until the client leaves or end() is called.
   */
  readonly observing: boolean;
  /** Sends the reply; false when the exchange was already answered or timed out. */
  respond(reply: CoapReply): boolean;
  /** Sends a further notification; false when the observation is over. */
  notify(reply: CoapReply): boolean;
  /** Ends an observation from the server's side. */
  end(): void;
  /** Called once, when the request is answered or given up (not when an observation ends). */
  onSettled(listener: () => void): void;
  /** Called once, when an observation ends: client reset, deregistration, failed delivery or end(). */
  onObservationEnd(listener: () => void): void;
}

export type Handler = (exchange: Exchange) => void;

export interface RouteOptions {
  /** Advertised in /.well-known/core. */
  link?: Link;
  /** Whether GET with Observe: 0 opens an observation (RFC 7641). */
  observable?: boolean;
}

interface ServedRoute extends RouteOptions {
  handler: Handler;
}

const MAX_AGE_WHEN_BUSY = 5;

export interface EndpointEvents {
  listening: [AddressInfo];
  error: [Error];
  /** A handler threw, or a reply could not be sent; the client got 5.00. */
  'handler-error': [Error, CoapRequest];
  'request-timeout': [CoapRequest];
  overload: [CoapRequest];
  'observer-limit': [CoapRequest];
  /** A datagram refused before node-coap saw it (malformed, unknown critical option, oversized Block1). */
  'rejected-datagram': [string, { address: string; port: number }];
}

export class CoapEndpoint extends EventEmitter<EndpointEvents> {
  readonly options: EndpointOptions;
  private server: CoapServer | undefined;
  private readonly router = new Router<ServedRoute>();
  private readonly book: ExchangeBook;
  private proxyHandler: Handler | undefined;
  private listeningAddress: AddressInfo | undefined;
  private lean: LeanServer | undefined;
  /** A request handed to node-coap with its answer ready (block-wise): see LeanServer. */
  private handingOver: { reply: CoapReply; separate: boolean } | undefined;

  constructor(options: Partial<EndpointOptions> = {}) {
    super();
    this.options = { ...DEFAULT_ENDPOINT_OPTIONS, ...options };
    const options_ = this.options;
    this.book = {
      pending: 0,
      observations: 0,
      byClient: new Map(),
      open: new Set(),
      get responseTimeoutMs() {
        return options_.responseTimeoutMs;
      },
      maxAgeWhenBusy: MAX_AGE_WHEN_BUSY,
      handlerError: (err, request) => this.emit('handler-error', err, request),
      timedOut: (request) => this.emit('request-timeout', request),
    };
  }

  get address(): AddressInfo | undefined {
    return this.listeningAddress;
  }

  get pendingRequests(): number {
    return this.book.pending;
  }

  get activeObservations(): number {
    return this.book.observations;
  }

  /** Past exchanges held for deduplication (at most maxRememberedExchanges). */
  get rememberedExchanges(): number {
    return this.lean?.rememberedExchanges ?? 0;
  }

  start(): Promise<AddressInfo> {
    if (this.server) return Promise.reject(new Error('endpoint already started'));
    const { family, port } = this.options;
    const address = this.options.address || (family === 'udp6' ? '::' : '0.0.0.0');
    const server = createServer({ type: family, reuseAddr: false });
    this.server = server;
    admitOscoreFetch(server);
    server.on('request', (req: IncomingMessage, res: OutgoingMessage) => this.fromNodeCoap(req, res));
    return new Promise((resolve, reject) => {
      let settled = false;
      server.on('error', (err: Error) => {
        if (!settled) {
          settled = true;
          this.server = undefined;
          closeQuietly(server);
          reject(err);
        } else {
          this.emit('error', err);
        }
      });
      server.listen(port, address, (err?: Error) => {
        if (settled) return;
        settled = true;
        if (err) {
          this.server = undefined;
          closeQuietly(server);
          reject(err);
          return;
        }
        const sock = (server as unknown as { _sock: Socket })._sock;
        this.guard(sock);
        this.listeningAddress = sock.address();
        this.emit('listening', this.listeningAddress);
        resolve(this.listeningAddress);
      });
    });
  }

  stop(): Promise<void> {
    for (const exchange of [...this.book.open]) exchange.drop();
    this.lean?.close();
    this.lean = undefined;
    const server = this.server;
    this.server = undefined;
    this.listeningAddress = undefined;
    if (!server) return Promise.resolve();
    // node-coap leaves the empty-ACK timer of a request it rejected itself running (e.g. a Block1
    // with num > 0 and no earlier blocks). So: stop receiving, let those timers fire on the open
    // socket (their senders land in node-coap's cache, whose clearing on close stops them), then
    // close. Sends after close go nowhere: thrown out of a timer, they would end the runtime.
    const sock = (server as unknown as { _sock?: Socket })._sock;
    sock?.removeAllListeners('message');
    return new Promise((resolve) => {
      setTimeout(() => {
        if (sock) sock.send = (() => undefined) as Socket['send'];
        server.close(() => resolve());
      }, coapParameters.piggybackReplyMs + 10);
    });
  }

  /**
   * Puts inspectDatagram in front of node-coap's own datagram handler, and serves plain requests
   * on the lean path (lean-server.ts); the rest (Observe, block-wise, FETCH, ACKs of node-coap's
   * own messages) goes to node-coap.
   */
  private guard(sock: Socket): void {
    const handlers = sock.listeners('message') as Array<(msg: Buffer, rinfo: RemoteInfo) => void>;
    for (const h of handlers) sock.removeListener('message', h);
    const nodeCoap = (msg: Buffer, rinfo: RemoteInfo): void => {
      for (const h of handlers) h(msg, rinfo);
    };
    const lean = new LeanServer(sock, this.options, (raw, rinfo, reply, separate) => {
      this.handingOver = { reply, separate };
      try {
        nodeCoap(raw, rinfo);
      } finally {
        this.handingOver = undefined;
      }
    });
    this.lean = lean;
    sock.on('message', (msg: Buffer, rinfo: RemoteInfo) => {
      const verdict = inspectDatagram(msg, this.options);
      if (verdict.pass) {
        const { packet } = verdict;
        if (lean.settle(packet, rinfo)) return;
        if (isLeanRequest(packet)) {
          const channel = lean.channel(packet, msg, rinfo, () => nodeCoap(msg, rinfo));
          if (channel) this.fromLean(packet, channel, rinfo);
          return;
        }
        nodeCoap(msg, rinfo);
        return;
      }
      if (verdict.reply) sock.send(verdict.reply, rinfo.port, rinfo.address);
      if (!verdict.quiet) this.emit('rejected-datagram', verdict.reason, { address: rinfo.address, port: rinfo.port });
    });
  }

  /** Serves `pattern` for `method`; returns the function that stops serving it. */
  route(method: MethodFilter, pattern: string, handler: Handler, options: RouteOptions = {}): () => void {
    return this.router.add(method, pattern, { handler, ...options });
  }

  /**
   * Who answers requests that carry Proxy-Uri or Proxy-Scheme. Without one they get 5.05
   * (RFC 7252 §5.7.2): the gateway is never an open forward proxy.
   */
  handleProxyRequests(handler: Handler | undefined): void {
    this.proxyHandler = handler;
  }

  private links(): Link[] {
    return this.router.values().flatMap((r) => (r.link ? [r.link] : []));
  }

  private fromNodeCoap(req: IncomingMessage, res: OutgoingMessage): void {
    const handingOver = this.handingOver;
    if (handingOver) {
      this.handingOver = undefined;
      handOver(res, handingOver.reply, handingOver.separate);
      return;
    }
    const channel = nodeCoapChannel(res);
    let request: CoapRequest;
    try {
      // node-coap keeps the decoded options on the message; its typings leave them out.
      const options = withoutPlaceholder((req as unknown as { options?: RawOption[] }).options ?? []);
      const token = (req as unknown as { _packet: { token?: Buffer } })._packet.token;
      request = toRequest(req.method as string, options, req.payload, req.rsinfo, token);
    } catch (err) {
      channel.send({ code: '4.02', payload: Buffer.from((err as Error).message) });
      return;
    }
    this.dispatch(request, channel);
  }

  private fromLean(packet: ParsedPacket, channel: ReplyChannel, rinfo: RemoteInfo): void {
    let request: CoapRequest;
    try {
      // Decodes the option values as node-coap's IncomingMessage does, so handlers see no difference.
      const options = packet.options as RawOption[];
      for (const option of options) option.value = fromBinary(option.name as string, option.value as Buffer);
      request = toRequest(METHOD_OF_CODE[packet.code] as string, options, packet.payload, rinfo, packet.token);
    } catch (err) {
      channel.send({ code: '4.02', payload: Buffer.from((err as Error).message) });
      return;
    }
    this.dispatch(request, channel);
  }

  private dispatch(request: CoapRequest, channel: ReplyChannel): void {
    if (request.proxyUri !== undefined) {
      if (!this.proxyHandler) return void channel.send({ code: '5.05' });
      // The proxy relays observations (RFC 7641 §5): the only route an OSCORE client has, its
      // Uri-Path being encrypted (RFC 8613 §4.1.3.3).
      this.runHandler(this.proxyHandler, request, channel, this.observing(request, channel, true));
      return;
    }
    if (request.path.length === 2 && request.path[0] === '.well-known' && request.path[1] === 'core') {
      this.serveDiscovery(request, channel);
      return;
    }
    const match = this.router.match(request.method, request.path);
    if (match.kind === 'not-found') return void channel.send({ code: '4.04' });
    if (match.kind === 'method-not-allowed') return void channel.send({ code: '4.05' });
    if (this.book.pending >= this.options.maxPendingRequests) {
      this.emit('overload', request);
      channel.send({ code: '5.03', options: { 'Max-Age': MAX_AGE_WHEN_BUSY } });
      return;
    }
    request.params = match.params;
    this.runHandler(match.value.handler, request, channel, this.observing(request, channel, match.value.observable === true));
  }

  /** Whether the request opens an observation; a deregistration (Observe: 1) ends its own first. */
  private observing(request: CoapRequest, channel: ReplyChannel, observable: boolean): boolean {
    if (request.observe === 1) this.book.byClient.get(observationKey(request))?.();
    if (request.observe !== 0 || !observable || !channel.observable) return false;
    if (this.book.observations < this.options.maxObservers) return true;
    this.emit('observer-limit', request);
    return false;
  }

  private runHandler(handler: Handler, request: CoapRequest, channel: ReplyChannel, observing: boolean): void {
    new ServerExchange(this.book, request, channel, observing).run(handler);
  }

  private serveDiscovery(request: CoapRequest, channel: ReplyChannel): void {
    if (request.method !== 'GET') return void channel.send({ code: '4.05' });
    let links = this.links();
    for (const [key, value] of Object.entries(queryObject(request.query))) {
      for (const v of ([] as string[]).concat(value)) links = links.filter((l) => matchesQuery(l, key, v));
    }
    if (links.length === 0 && request.query.length > 0) return void channel.send({ code: '4.04' });
    channel.send({ code: '2.05', payload: Buffer.from(serialiseLinks(links)), contentFormat: ContentFormat.linkFormat });
  }
}

function closeQuietly(server: CoapServer): void {
  try {
    server.close();
  } catch {
    // never bound: nothing to release
  }
}

/** The Content-Format admitOscoreFetch lends a request while node-coap looks for one. */
const placeholders = new WeakSet<object>();

/**
 * node-coap answers a FETCH without Content-Format with 4.15 before we see it. An OSCORE message
 * has none to name: its payload is defined by the OSCORE option, and an observation through the
 * proxy is an outer FETCH (RFC 8613 §4.2). So such a request carries a placeholder past that check,
 * removed again (withoutPlaceholder) before any handler sees the request.
 */
function admitOscoreFetch(server: CoapServer): void {
  // node-coap's per-datagram entry point, after parsing; its typings leave it out.
  const internals = server as unknown as { _handle(packet: ParsedPacket, rsinfo: RemoteInfo): void };
  const handle = internals._handle.bind(server);
  internals._handle = (packet, rsinfo) => {
    const options = packet.options as RawOption[];
    if (packet.code === '0.05' && options.some((o) => o.name === 'OSCORE') && !options.some((o) => o.name === 'Content-Format')) {
      const placeholder: RawOption = { name: 'Content-Format', value: Buffer.of(0) };
      placeholders.add(placeholder);
      options.push(placeholder);
    }
    handle(packet, rsinfo);
  };
}

function withoutPlaceholder(options: RawOption[]): RawOption[] {
  return options.some((o) => placeholders.has(o)) ? options.filter((o) => !placeholders.has(o)) : options;
}

/** node-coap's stream for an Observe: 0 request; its typings do not export it. */
interface ObserveStream {
  statusCode: string;
  setOption(name: string, value: OptionValue): unknown;
  write(payload: Buffer): boolean;
  end(): void;
  /** Sends one message without adding an Observe option: how a server declines to be observed. */
  _doSend(payload?: Buffer): void;
  _counter: number;
}

function isObserveStream(res: OutgoingMessage): boolean {
  return typeof (res as unknown as Partial<ObserveStream>)._doSend === 'function';
}

function nodeCoapChannel(res: OutgoingMessage): ReplyChannel {
  return {
    observable: isObserveStream(res),
    send: (reply) => plainReply(res, reply),
    notify: (reply) => notify(res, reply),
    end: () => res.end(),
    onClosed: (listener) => {
      res.on('finish', listener);
      res.on('close', listener);
    },
    // node-coap's empty-ACK timer would fire on the closed socket and throw out of a timer,
    // which would take the whole runtime down.
    abandon: () => clearTimeout((res as unknown as { _ackTimer?: NodeJS.Timeout })._ackTimer),
  };
}

/** node-coap's OutgoingMessage internals that say how the answer goes out. */
interface OutgoingInternals {
  _ackTimer?: NodeJS.Timeout | null;
  _packet: { ack: boolean; confirmable: boolean; messageId?: number };
}

/**
 * Answers, through node-coap (which sends it block-wise), a request the lean path received and
 * handled. When the lean path already sent the empty ACK, the answer goes as a CON with a new
 * message ID: what node-coap's own empty-ACK timer would have made of it.
 */
function handOver(res: OutgoingMessage, reply: CoapReply, separate: boolean): void {
  const internals = res as unknown as OutgoingInternals;
  clearTimeout(internals._ackTimer ?? undefined);
  internals._ackTimer = null;
  if (separate && internals._packet.ack) {
    internals._packet.ack = false;
    internals._packet.confirmable = true;
    delete internals._packet.messageId;
  }
  plainReply(res, reply);
}

function applyReply(res: { setOption(name: string, value: OptionValue): unknown }, reply: CoapReply): void {
  for (const [name, value] of Object.entries(reply.options ?? {})) res.setOption(name, value);
  if (reply.contentFormat !== undefined) res.setOption('Content-Format', reply.contentFormat);
}

/** One response, never an observation, whichever stream node-coap handed us. */
function plainReply(res: OutgoingMessage, reply: CoapReply): void {
  if (isObserveStream(res)) {
    const stream = res as unknown as ObserveStream;
    stream.statusCode = reply.code;
    applyReply(stream, reply);
    stream._doSend(reply.payload ?? Buffer.alloc(0));
    // Counting the message keeps the stream's 'finish' from sending an empty second one.
    stream._counter = Math.max(stream._counter, 1);
    return;
  }
  res.code = reply.code;
  applyReply(res, reply);
  res.end(reply.payload ?? Buffer.alloc(0));
}

function notify(res: OutgoingMessage, reply: CoapReply): void {
  const stream = res as unknown as ObserveStream;
  stream.statusCode = reply.code;
  applyReply(stream, reply);
  stream.write(reply.payload ?? Buffer.alloc(0));
}

interface RawOption {
  name: string | number;
  value: unknown;
}

/** A request from its decoded options (node-coap's decoding); repeated options become arrays. */
function toRequest(
  method: string,
  raw: readonly RawOption[],
  payload: Buffer | undefined,
  rinfo: { address: string; port: number },
  token: Buffer | undefined,
): CoapRequest {
  if (!(METHODS as readonly string[]).includes(method)) throw new Error(`unsupported method ${method}`);
  const path: string[] = [];
  const query: string[] = [];
  const options: Record<string, OptionValue> = {};
  // What node-coap's IncomingMessage.headers would say: the last decoded, non-binary value.
  let contentFormat: unknown;
  let accept: unknown;
  let observe: unknown;
  for (const { name, value } of raw) {
    const key = String(name);
    const v = value as OptionValue;
    if (key === 'Uri-Path') path.push(String(v));
    else if (key === 'Uri-Query') query.push(String(v));
    else if (v != null && !Buffer.isBuffer(v)) {
      if (key === 'Content-Format') contentFormat = v;
      else if (key === 'Accept') accept = v;
      else if (key === 'Observe') observe = v;
    }
    const prev = options[key];
    // Decoded values are never arrays: an array here is one this loop made for a repeated option.
    if (prev === undefined) options[key] = v;
    else if (Array.isArray(prev)) (prev as Array<string | number | Buffer>).push(v as string | number | Buffer);
    else options[key] = [prev, v] as Buffer[];
  }
  // An empty trailing segment ("/a/") is legitimate in CoAP but never meant by our routes.
  if (path.length > 0 && path[path.length - 1] === '') path.pop();
  return {
    method: method as Method,
    path,
    query,
    payload: payload ?? Buffer.alloc(0),
    contentFormat: contentFormatNumber(contentFormat),
    accept: contentFormatNumber(accept),
    options,
    remote: { address: rinfo.address, port: rinfo.port },
    params: {},
    token: token ?? Buffer.alloc(0),
    observe: typeof observe === 'number' ? observe : undefined,
    proxyUri: proxyUriOf(options),
  };
}

function proxyUriOf(options: Record<string, OptionValue>): string | undefined {
  const uri = options['Proxy-Uri'];
  if (uri !== undefined) return String(uri);
  const scheme = options['Proxy-Scheme'];
  if (scheme === undefined) return undefined;
  const host = options['Uri-Host'] ?? '';
  const port = options['Uri-Port'];
  return `${String(scheme)}://${String(host)}${port === undefined ? '' : `:${String(port)}`}`;
}
