/**
 * A CoAP server socket shared by every resource served on it: routes requests to handlers,
 * answers what nobody handles (4.04, 4.05, /.well-known/core), bounds the requests a flow may
 * leave unanswered, and never lets a bad datagram or a throwing handler escape.
 */
import { EventEmitter } from 'node:events';
import type { AddressInfo } from 'node:net';
import { createServer } from 'coap';
import type { Server as CoapServer, IncomingMessage, OutgoingMessage } from 'coap';
import { Router, type MethodFilter, type Method, METHODS } from './router';
import { serialiseLinks, matchesQuery, type Link } from './link-format';
import { ContentFormat, contentFormatNumber } from './content-format';
import { queryObject } from './query';

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
}

export const DEFAULT_ENDPOINT_OPTIONS: EndpointOptions = {
  address: '',
  port: 5683,
  family: 'udp4',
  maxPendingRequests: 256,
  responseTimeoutMs: 30_000,
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
  /** Sends the reply; false when the exchange was already answered or timed out. */
  respond(reply: CoapReply): boolean;
  /** Called once, when the exchange is answered or given up. */
  onSettled(listener: () => void): void;
}

export type Handler = (exchange: Exchange) => void;

interface ServedRoute {
  handler: Handler;
  link?: Link;
}

const MAX_AGE_WHEN_BUSY = 5;

export interface EndpointEvents {
  listening: [AddressInfo];
  error: [Error];
  /** A handler threw, or a reply could not be sent; the client got 5.00. */
  'handler-error': [Error, CoapRequest];
  'request-timeout': [CoapRequest];
  overload: [CoapRequest];
}

export class CoapEndpoint extends EventEmitter<EndpointEvents> {
  readonly options: EndpointOptions;
  private server: CoapServer | undefined;
  private readonly router = new Router<ServedRoute>();
  private pending = 0;
  private listeningAddress: AddressInfo | undefined;

  constructor(options: Partial<EndpointOptions> = {}) {
    super();
    this.options = { ...DEFAULT_ENDPOINT_OPTIONS, ...options };
  }

  get address(): AddressInfo | undefined {
    return this.listeningAddress;
  }

  get pendingRequests(): number {
    return this.pending;
  }

  start(): Promise<AddressInfo> {
    if (this.server) return Promise.reject(new Error('endpoint already started'));
    const { family, port } = this.options;
    const address = this.options.address || (family === 'udp6' ? '::' : '0.0.0.0');
    const server = createServer({ type: family, reuseAddr: false });
    this.server = server;
    server.on('request', (req: IncomingMessage, res: OutgoingMessage) => this.dispatch(req, res));
    return new Promise((resolve, reject) => {
      let settled = false;
      server.on('error', (err: Error) => {
        if (!settled) {
          settled = true;
          this.server = undefined;
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
          reject(err);
          return;
        }
        const sock = (server as unknown as { _sock: { address(): AddressInfo } })._sock;
        this.listeningAddress = sock.address();
        this.emit('listening', this.listeningAddress);
        resolve(this.listeningAddress);
      });
    });
  }

  stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    this.listeningAddress = undefined;
    if (!server) return Promise.resolve();
    return new Promise((resolve) => server.close(() => resolve()));
  }

  /** Serves `pattern` for `method`; returns the function that stops serving it. */
  route(method: MethodFilter, pattern: string, handler: Handler, link?: Link): () => void {
    return this.router.add(method, pattern, { handler, link });
  }

  private links(): Link[] {
    return this.router.values().flatMap((r) => (r.link ? [r.link] : []));
  }

  private dispatch(req: IncomingMessage, res: OutgoingMessage): void {
    let request: CoapRequest;
    try {
      request = toRequest(req);
    } catch (err) {
      send(res, { code: '4.02', payload: Buffer.from((err as Error).message) });
      return;
    }
    if (request.path.length === 2 && request.path[0] === '.well-known' && request.path[1] === 'core') {
      this.serveDiscovery(request, res);
      return;
    }
    const match = this.router.match(request.method, request.path);
    if (match.kind === 'not-found') return void send(res, { code: '4.04' });
    if (match.kind === 'method-not-allowed') return void send(res, { code: '4.05' });
    if (this.pending >= this.options.maxPendingRequests) {
      this.emit('overload', request);
      send(res, { code: '5.03', options: { 'Max-Age': MAX_AGE_WHEN_BUSY } });
      return;
    }
    request.params = match.params;
    this.runHandler(match.value.handler, request, res);
  }

  private runHandler(handler: Handler, request: CoapRequest, res: OutgoingMessage): void {
    this.pending++;
    let done = false;
    const listeners: Array<() => void> = [];
    const settle = (): void => {
      done = true;
      this.pending--;
      clearTimeout(timer);
      for (const l of listeners) l();
    };
    const timer = setTimeout(() => {
      if (done) return;
      settle();
      this.emit('request-timeout', request);
      send(res, { code: '5.03', options: { 'Max-Age': MAX_AGE_WHEN_BUSY } });
    }, this.options.responseTimeoutMs);
    const exchange: Exchange = {
      request,
      respond: (reply) => {
        if (done) return false;
        settle();
        try {
          send(res, reply);
        } catch (err) {
          this.emit('handler-error', err as Error, request);
          try {
            send(res, { code: '5.00' });
          } catch {
            // the response stream is already spent; the client will retransmit or time out
          }
        }
        return true;
      },
      onSettled: (listener) => {
        if (done) listener();
        else listeners.push(listener);
      },
    };
    try {
      handler(exchange);
    } catch (err) {
      this.emit('handler-error', err as Error, request);
      exchange.respond({ code: '5.00' });
    }
  }

  private serveDiscovery(request: CoapRequest, res: OutgoingMessage): void {
    if (request.method !== 'GET') return void send(res, { code: '4.05' });
    let links = this.links();
    for (const [key, value] of Object.entries(queryObject(request.query))) {
      for (const v of ([] as string[]).concat(value)) links = links.filter((l) => matchesQuery(l, key, v));
    }
    if (links.length === 0 && request.query.length > 0) return void send(res, { code: '4.04' });
    send(res, { code: '2.05', payload: Buffer.from(serialiseLinks(links)), contentFormat: ContentFormat.linkFormat });
  }
}

function send(res: OutgoingMessage, reply: CoapReply): void {
  res.code = reply.code;
  for (const [name, value] of Object.entries(reply.options ?? {})) {
    res.setOption(name, value);
  }
  if (reply.contentFormat !== undefined) res.setOption('Content-Format', reply.contentFormat);
  res.end(reply.payload ?? Buffer.alloc(0));
}

interface RawOption {
  name: string | number;
  value: unknown;
}

function toRequest(req: IncomingMessage): CoapRequest {
  const method = req.method as string;
  if (!(METHODS as readonly string[]).includes(method)) throw new Error(`unsupported method ${method}`);
  const path: string[] = [];
  const query: string[] = [];
  const options: Record<string, OptionValue> = {};
  // node-coap keeps the decoded options on the message; its typings leave them out.
  const raw = (req as unknown as { options?: RawOption[] }).options ?? [];
  for (const { name, value } of raw) {
    const key = String(name);
    const v = value as OptionValue;
    if (key === 'Uri-Path') path.push(String(v));
    else if (key === 'Uri-Query') query.push(String(v));
    const prev = options[key];
    if (prev === undefined) options[key] = v;
    else options[key] = ([] as Array<string | number | Buffer>).concat(prev as never, v as never) as Buffer[];
  }
  // An empty trailing segment ("/a/") is legitimate in CoAP but never meant by our routes.
  const contentFormat = contentFormatNumber(req.headers['Content-Format']);
  const accept = contentFormatNumber(req.headers['Accept']);
  return {
    method: method as Method,
    path: path.filter((s, i) => s !== '' || i < path.length - 1),
    query,
    payload: req.payload ?? Buffer.alloc(0),
    contentFormat,
    accept,
    options,
    remote: { address: req.rsinfo.address, port: req.rsinfo.port },
    params: {},
  };
}
