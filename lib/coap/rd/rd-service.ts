/**
 * Serves a ResourceDirectory on a CoapEndpoint (RFC 9176): registration, simple registration,
 * the registration resources, lookup, and the discovery links in /.well-known/core. Sweeps
 * expired registrations on an unref'd timer set for the next lifetime to run out.
 */
import { EventEmitter } from 'node:events';
import type { CoapEndpoint, CoapRequest, Exchange } from '../endpoint';
import { ContentFormat } from '../content-format';
import { parseLinks, serialiseLinks, LinkFormatError, LinkFormatLimitError, type Link } from '../link-format';
import type { ResourceDirectory, Source } from './registry';
import { RdError, badRequest } from './rd-error';
import { fetchWellKnownCore, FetchError, type FetchCore } from './fetch-core';

export interface RdServiceEvents {
  /** A request refused with a 4.xx/5.xx (bad input, limits); the service carried on. */
  rejected: [RdError, CoapRequest];
  /** A simple registration whose /.well-known/core could not be fetched or used. */
  'simple-registration-failed': [Error, Source];
}

export interface RdServiceOptions {
  /** How the RD fetches a simple registrant's links; node-coap by default, a fake in tests. */
  fetchCore?: FetchCore;
  /** Schedules the expiry sweep; tests pass one they fire by hand. Returns the cancel function. */
  setTimer?: (callback: () => void, delayMs: number) => () => void;
}

function realTimer(callback: () => void, delayMs: number): () => void {
  const timer = setTimeout(callback, delayMs);
  // A pending expiry must not keep Node-RED (or a test run) alive.
  timer.unref();
  return () => clearTimeout(timer);
}

const LF = ContentFormat.linkFormat;
const BUSY_MAX_AGE = 5;
// setTimeout's limit; a later expiry is reached by re-arming.
const MAX_TIMER_MS = 0x7fff_ffff;
const utf8 = new TextDecoder('utf-8', { fatal: true });

export class RdService extends EventEmitter<RdServiceEvents> {
  private readonly unroutes: Array<() => void> = [];
  private readonly fetchCore: FetchCore;
  private readonly setTimer: NonNullable<RdServiceOptions['setTimer']>;
  private cancelTimer: (() => void) | undefined;
  private pendingSimple = 0;
  private running = false;
  private readonly rearm = (): void => this.scheduleSweep();

  constructor(
    private readonly endpoint: CoapEndpoint,
    readonly directory: ResourceDirectory,
    options: RdServiceOptions = {},
  ) {
    super();
    this.fetchCore = options.fetchCore ?? fetchWellKnownCore;
    this.setTimer = options.setTimer ?? realTimer;
  }

  /** Adds the routes; throws RouteConflictError when something else already serves one of them. */
  start(): void {
    if (this.running) return;
    const link = (href: string, rt: string): { link: Link } => ({ link: { href, attributes: { rt, ct: LF } } });
    try {
      this.unroutes.push(this.endpoint.route('POST', '/rd', this.guard((x) => this.register(x)), link('/rd', 'core.rd')));
      this.unroutes.push(this.endpoint.route('POST', '/rd/:id', this.guard((x) => this.update(x))));
      this.unroutes.push(this.endpoint.route('DELETE', '/rd/:id', this.guard((x) => this.remove(x))));
      this.unroutes.push(this.endpoint.route('GET', '/rd/:id', this.guard((x) => this.read(x))));
      this.unroutes.push(
        this.endpoint.route('GET', '/rd-lookup/ep', this.guard((x) => this.lookup(x, 'ep')), link('/rd-lookup/ep', 'core.rd-lookup-ep')),
      );
      this.unroutes.push(
        this.endpoint.route('GET', '/rd-lookup/res', this.guard((x) => this.lookup(x, 'res')), link('/rd-lookup/res', 'core.rd-lookup-res')),
      );
      this.unroutes.push(this.endpoint.route('POST', '/.well-known/rd', this.guard((x) => this.simpleRegister(x))));
    } catch (err) {
      for (const unroute of this.unroutes.splice(0)) unroute();
      throw err;
    }
    this.running = true;
    for (const event of ['registered', 'updated', 'removed'] as const) this.directory.on(event, this.rearm);
    this.scheduleSweep();
  }

  stop(): void {
    this.running = false;
    for (const unroute of this.unroutes.splice(0)) unroute();
    for (const event of ['registered', 'updated', 'removed'] as const) this.directory.off(event, this.rearm);
    this.cancelTimer?.();
    this.cancelTimer = undefined;
  }

  private scheduleSweep(): void {
    this.cancelTimer?.();
    this.cancelTimer = undefined;
    const next = this.directory.nextExpiry();
    if (!this.running || next === undefined) return;
    const delay = Math.min(MAX_TIMER_MS, Math.max(0, next - this.directory.clock()));
    this.cancelTimer = this.setTimer(() => {
      this.cancelTimer = undefined;
      this.directory.sweep();
      this.scheduleSweep();
    }, delay);
  }

  /** Turns an RdError into its CoAP answer; anything else goes to the endpoint (5.00, logged). */
  private guard(handler: (exchange: Exchange) => void | Promise<void>): (exchange: Exchange) => void {
    const refuse = (exchange: Exchange, err: unknown): void => {
      if (!(err instanceof RdError)) throw err;
      exchange.respond({ code: err.code, payload: Buffer.from(err.message), options: err.options });
      this.emit('rejected', err, exchange.request);
    };
    return (exchange) => {
      try {
        const result = handler(exchange);
        if (result) {
          result.catch((err: unknown) => {
            if (err instanceof RdError) refuse(exchange, err);
            else exchange.respond({ code: '5.00' });
          });
        }
      } catch (err) {
        refuse(exchange, err);
      }
    };
  }

  /** The links in a request body; undefined for an empty body. */
  private bodyLinks(request: CoapRequest): Link[] | undefined {
    const { limits } = this.directory;
    if (request.payload.length === 0) return undefined;
    if (request.payload.length > limits.maxBodyBytes) {
      throw new RdError('4.13', `a registration body is at most ${limits.maxBodyBytes} bytes`, { Size1: limits.maxBodyBytes });
    }
    if (request.contentFormat !== undefined && request.contentFormat !== LF) {
      throw new RdError('4.15', 'registrations are application/link-format (Content-Format 40)');
    }
    return this.parse(request.payload, (message, limit) => (limit ? new RdError('4.13', message) : badRequest(message)));
  }

  private parse(body: Buffer, refuse: (message: string, limit: boolean) => Error): Link[] {
    const { limits } = this.directory;
    let text: string;
    try {
      text = utf8.decode(body);
    } catch {
      throw refuse('link-format must be UTF-8', false);
    }
    try {
      return parseLinks(text, { maxLinks: limits.maxLinks, maxParamsPerLink: limits.maxParamsPerLink });
    } catch (err) {
      if (!(err instanceof LinkFormatError)) throw err;
      throw refuse(`malformed link-format: ${err.message}`, err instanceof LinkFormatLimitError);
    }
  }

  private register(exchange: Exchange): void {
    const { request } = exchange;
    this.directory.admit(request.remote.address);
    const links = this.bodyLinks(request) ?? [];
    const { registration } = this.directory.register({ query: request.query, links, source: request.remote });
    // A re-registration answers with the same code and location as the first (RFC 9176 §5.3).
    exchange.respond({ code: '2.01', options: { 'Location-Path': [Buffer.from('rd'), Buffer.from(registration.id)] } });
  }

  private update(exchange: Exchange): void {
    const { request } = exchange;
    const id = request.params.id as string;
    if (!this.directory.get(id)) throw new RdError('4.04', `no registration /rd/${id}`);
    const links = this.bodyLinks(request);
    this.directory.update(id, { query: request.query, links, source: request.remote });
    exchange.respond({ code: '2.04' });
  }

  private remove(exchange: Exchange): void {
    const id = exchange.request.params.id as string;
    if (!this.directory.get(id) || !this.directory.remove(id, 'deleted')) throw new RdError('4.04', `no registration /rd/${id}`);
    exchange.respond({ code: '2.02' });
  }

  private read(exchange: Exchange): void {
    const id = exchange.request.params.id as string;
    const reg = this.directory.get(id);
    if (!reg) throw new RdError('4.04', `no registration /rd/${id}`);
    this.checkAccept(exchange.request);
    exchange.respond({ code: '2.05', contentFormat: LF, payload: Buffer.from(serialiseLinks(reg.links)) });
  }

  private lookup(exchange: Exchange, kind: 'ep' | 'res'): void {
    this.checkAccept(exchange.request);
    const { query } = exchange.request;
    const links = kind === 'ep' ? this.directory.lookupEndpoints(query) : this.directory.lookupResources(query);
    // No match is an empty 2.05, not 4.04 (RFC 9176 §6.2).
    exchange.respond({ code: '2.05', contentFormat: LF, payload: Buffer.from(serialiseLinks(links)) });
  }

  private checkAccept(request: CoapRequest): void {
    if (request.accept !== undefined && request.accept !== LF) throw new RdError('4.06', 'only application/link-format (40) is served');
  }

  /**
   * Simple registration (RFC 9176 §5.1): fetch the registrant's /.well-known/core, register
   * what it lists, and only then answer 2.04, so the answer says whether it worked.
   */
  private async simpleRegister(exchange: Exchange): Promise<void> {
    const { request } = exchange;
    const source: Source = { address: request.remote.address, port: request.remote.port };
    this.directory.admit(source.address);
    if (request.payload.length > 0) throw badRequest('a simple registration has an empty body');
    this.directory.preflight(request.query, true);
    if (this.pendingSimple >= this.directory.limits.maxPendingSimpleRegistrations) {
      throw new RdError('5.03', 'too many simple registrations in progress', { 'Max-Age': BUSY_MAX_AGE });
    }
    this.pendingSimple++;
    try {
      const { limits } = this.directory;
      const body = await this.fetchCore({ ...source, timeoutMs: limits.simpleFetchTimeoutMs, maxBytes: limits.maxBodyBytes });
      if (!this.running) return;
      const links = this.parse(body, (message) => new FetchError('5.02', `/.well-known/core: ${message}`));
      this.directory.register({ query: request.query, links, source, simple: true });
      exchange.respond({ code: '2.04' });
    } catch (err) {
      if (!(err instanceof FetchError) && !(err instanceof RdError)) throw err;
      if (err instanceof FetchError) this.emit('simple-registration-failed', err, source);
      if (this.running) throw err instanceof FetchError ? new RdError(err.code, err.message) : err;
    } finally {
      this.pendingSimple--;
    }
  }
}
