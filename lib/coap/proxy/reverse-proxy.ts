/**
 * The gateway's reverse proxy, served on a CoapEndpoint:
 *   /ep/<ep>/<path...>        forwarded to the registered endpoint <ep> (name unique across sectors)
 *   /d/<d>/<ep>/<path...>     the same, naming the sector (needed when <ep> is registered in several)
 *   /grp/<group>/<path...>    sent to every member at once; answered with a summary
 *   Proxy-Uri: coap://<host:port of a registered endpoint>/...   forwarded; anything else 5.05
 *   Proxy-Uri: coap://<ep>/... (or Proxy-Scheme + Uri-Host: <ep>)   the endpoint by name: how an
 *     OSCORE client names the device, its Uri-Path being encrypted (RFC 8613 §4.1.3.3)
 * OSCORE messages (option 9) pass byte for byte and are never cached: the proxy holds no keys.
 * Only registered endpoints are ever reached: never an open proxy. Observe is relayed, GET
 * answers cached, and everything an outsider can grow is bounded.
 */
import { EventEmitter } from 'node:events';
import { isIP } from 'node:net';
import type { CoapEndpoint, CoapReply, Exchange, OptionValue } from '../endpoint';
import type { EndpointDirectory, RegisteredEndpoint } from '../rd/directory';
import {
  CoapClient,
  CoapTimeoutError,
  CoapUriError,
  parseCoapUri,
  wireOptions,
  type ClientResponse,
  type CoapTarget,
} from '../client';
import { ResponseCache, cacheKey } from './cache';
import { ObserveRelays } from './observe-relay';
import { forwardRequestOptions, forwardResponseOptions } from './forward-options';
import { encodeSummary, fanOut, groupMembers, summaryFormat, type GroupDefinition, type MemberResult } from './groups';
import { endpointKey, resolveByAuthority, resolveByName, type Resolution } from './resolve';

export interface ProxyOptions {
  /** How long a device may take to answer before the client gets 5.04. */
  upstreamTimeoutMs: number;
  /** Proxied exchanges in flight (a group request counts once); more get 5.03 with Max-Age. */
  maxPendingRequests: number;
  /** Upstream observations open at once; beyond it an Observe request is answered once, without Observe. */
  maxUpstreamObservations: number;
  /** Members a group request may reach; a larger group gets 5.03. */
  maxGroupSize: number;
  cacheMaxEntries: number;
  cacheMaxBytes: number;
  groups: GroupDefinition[];
  /** Clock for the cache (ms). */
  now: () => number;
}

export const DEFAULT_PROXY_OPTIONS: ProxyOptions = {
  upstreamTimeoutMs: 10_000,
  maxPendingRequests: 64,
  maxUpstreamObservations: 64,
  maxGroupSize: 100,
  cacheMaxEntries: 256,
  cacheMaxBytes: 1024 * 1024,
  groups: [],
  now: Date.now,
};

const MAX_AGE_WHEN_BUSY_S = 5;
const MAX_AGE_GROUP_TOO_LARGE_S = 60;

export interface ProxyEvents {
  /** The device did not answer in time; the client got 5.04. */
  'upstream-timeout': [RegisteredEndpoint];
  /** The device answered with a reset or the request could not be sent; the client got 5.02. */
  'upstream-error': [RegisteredEndpoint, Error];
  overload: [];
  /** A Proxy-Uri for something that is not a registered endpoint; the client got 5.05. */
  refused: [string];
  /** A request arrived while no resource directory was attached; the client got 5.03. */
  'no-directory': [];
}

export interface ProxyStats {
  endpoints: number;
  observers: number;
  upstreamObservations: number;
  pending: number;
  cacheEntries: number;
}

type DirectorySource = () => EndpointDirectory | undefined;

export class ReverseProxy extends EventEmitter<ProxyEvents> {
  readonly options: ProxyOptions;
  private readonly client: CoapClient;
  private readonly cache: ResponseCache;
  private readonly relays: ObserveRelays;
  private readonly unroutes: Array<() => void> = [];
  private attached: EndpointDirectory | undefined;
  private pending = 0;
  private started = false;
  /** Numbers the relays of OSCORE observations, each its own. */
  private oscoreObservations = 0;

  private readonly onRemoved = (e: RegisteredEndpoint): void => {
    this.cache.invalidateGroup(endpointKey(e));
    this.relays.endGroup(endpointKey(e), { code: '4.04', payload: Buffer.from(`endpoint "${e.ep}" left the directory`) });
  };
  private readonly onUpdated = (e: RegisteredEndpoint): void => this.cache.invalidateGroup(endpointKey(e));

  constructor(
    private readonly endpoint: CoapEndpoint,
    private readonly directorySource: DirectorySource,
    options: Partial<ProxyOptions> = {},
  ) {
    super();
    this.options = { ...DEFAULT_PROXY_OPTIONS, ...options };
    this.client = new CoapClient();
    this.cache = new ResponseCache({ maxEntries: this.options.cacheMaxEntries, maxBytes: this.options.cacheMaxBytes }, this.options.now);
    this.relays = new ObserveRelays(this.options.maxUpstreamObservations, replyFrom, (err) => failureReply(err));
  }

  /** Serves the proxy's routes and Proxy-Uri; throws RouteConflictError when they are taken. */
  start(): void {
    if (this.started) return;
    const routes: Array<[string, (ex: Exchange) => void, boolean]> = [
      ['/ep/:ep/*', (ex) => this.byName(ex, ex.request.params.ep as string, undefined, ex.request.path.slice(2)), true],
      ['/d/:d/:ep/*', (ex) => this.byName(ex, ex.request.params.ep as string, ex.request.params.d as string, ex.request.path.slice(3)), true],
      ['/grp/:group/*', (ex) => this.group(ex, ex.request.params.group as string, ex.request.path.slice(2)), false],
    ];
    try {
      for (const [pattern, handler, observable] of routes) this.unroutes.push(this.endpoint.route('ANY', pattern, handler, { observable }));
    } catch (err) {
      for (const unroute of this.unroutes.splice(0)) unroute();
      throw err;
    }
    this.endpoint.handleProxyRequests((ex) => this.byProxyUri(ex));
    this.started = true;
  }

  /** Stops serving, ends the relays (deregistering upstream) and closes the client's sockets. */
  async stop(): Promise<void> {
    for (const unroute of this.unroutes.splice(0)) unroute();
    if (this.started) this.endpoint.handleProxyRequests(undefined);
    this.started = false;
    this.relays.closeAll();
    this.attach(undefined);
    this.cache.clear();
    // Let the deregistrations leave before the socket closes.
    await new Promise((resolve) => setImmediate(resolve));
    await this.client.close();
  }

  stats(): ProxyStats {
    const directory = this.directory();
    return {
      endpoints: directory?.endpoints().length ?? 0,
      observers: this.relays.observerCount,
      upstreamObservations: this.relays.upstreamCount,
      pending: this.pending,
      cacheEntries: this.cache.size,
    };
  }

  /** The directory, (re)subscribing to its changes when the source hands out another one. */
  directory(): EndpointDirectory | undefined {
    const current = this.directorySource();
    if (current !== this.attached) this.attach(current);
    return current;
  }

  private attach(directory: EndpointDirectory | undefined): void {
    this.attached?.off('removed', this.onRemoved);
    this.attached?.off('updated', this.onUpdated);
    this.attached = directory;
    directory?.on('removed', this.onRemoved);
    directory?.on('updated', this.onUpdated);
  }

  private withDirectory(ex: Exchange): EndpointDirectory | undefined {
    const directory = this.directory();
    if (!directory) {
      this.emit('no-directory');
      ex.respond({ code: '5.03', payload: Buffer.from('no resource directory'), options: { 'Max-Age': MAX_AGE_WHEN_BUSY_S } });
    }
    return directory;
  }

  private byName(ex: Exchange, ep: string, d: string | undefined, path: string[]): void {
    const directory = this.withDirectory(ex);
    if (directory) this.forward(ex, resolveByName(directory, ep, d), path, ex.request.query);
  }

  private byProxyUri(ex: Exchange): void {
    const { request } = ex;
    const explicit = request.options['Proxy-Uri'];
    let target: CoapTarget;
    let path: string[];
    let query: string[];
    try {
      if (explicit !== undefined) {
        ({ target, path, query } = parseCoapUri(String(explicit)));
      } else {
        // Proxy-Scheme with Uri-Host/Uri-Port/Uri-Path/Uri-Query (RFC 7252 §6.5).
        const host = request.options['Uri-Host'];
        const port = request.options['Uri-Port'];
        if (String(request.options['Proxy-Scheme']).toLowerCase() !== 'coap' || host === undefined) throw new CoapUriError('not coap');
        const authority = String(host).includes(':') ? `[${String(host)}]` : String(host);
        ({ target } = parseCoapUri(`coap://${authority}${port === undefined ? '' : `:${uint(port)}`}`));
        path = request.path;
        query = request.query;
      }
    } catch {
      this.emit('refused', request.proxyUri ?? '');
      ex.respond({ code: '5.05', payload: Buffer.from('only coap:// URIs of registered endpoints are proxied') });
      return;
    }
    const directory = this.withDirectory(ex);
    if (!directory) return;
    let resolution = resolveByAuthority(directory, target);
    if (resolution.kind !== 'found' && !portGiven(request.options, explicit) && isIP(target.host) === 0) {
      resolution = resolveByName(directory, hostName(request.options, explicit) ?? target.host);
    }
    if (resolution.kind === 'unknown') {
      this.emit('refused', request.proxyUri ?? '');
      ex.respond({ code: '5.05', payload: Buffer.from('not a registered endpoint: this gateway is not an open proxy') });
      return;
    }
    this.forward(ex, resolution, path, query);
  }

  private forward(ex: Exchange, resolution: Resolution, path: string[], query: string[]): void {
    if (resolution.kind === 'unknown') return void ex.respond({ code: '4.04', payload: Buffer.from('no such registered endpoint') });
    if (resolution.kind === 'ambiguous') {
      return void ex.respond({
        code: '4.00',
        payload: Buffer.from(`endpoint name registered in several sectors (${resolution.sectors.join(', ')}): use /d/<sector>/<ep>/...`),
      });
    }
    if (resolution.kind === 'unreachable') return void ex.respond({ code: '5.02', payload: Buffer.from('endpoint base is not a coap:// URI') });
    const { endpoint, target } = resolution;
    const { request } = ex;
    const verdict = forwardRequestOptions(request.options);
    if (verdict.kind === 'unsafe') return void ex.respond({ code: '5.02', payload: Buffer.from(`unknown unsafe option ${verdict.option}`) });
    if (verdict.kind === 'hop-limit') return void ex.respond({ code: '5.08' });
    const group = endpointKey(endpoint);
    // Requests carry option names as coap-packet spells them: number 9 is always 'OSCORE'.
    const oscore = request.options['OSCORE'] !== undefined;
    // An OSCORE response means something only to its own client (RFC 8613 §4.1.3.1): never cached.
    const cacheable = request.method === 'GET' && !oscore;
    // With the cache off (no entries allowed) only a relay needs the key.
    const caching = cacheable && this.options.cacheMaxEntries > 0;
    // Nor is an OSCORE observation shared: its notifications verify only with its own client's
    // registration (RFC 8613 §8.4.2). It gets a relay of its own, never joined by another client.
    const key = ex.observing && oscore ? `oscore ${++this.oscoreObservations}` : caching || ex.observing ? cacheKey(group, path, query, request.options['Accept']) : '';
    // A relay observes upstream with GET: any other plain method is answered once, never turned
    // into a GET; an OSCORE observation keeps its outer FETCH.
    const relayed = ex.observing && (oscore || request.method === 'GET');

    if (relayed && this.relays.canJoin(key)) {
      this.relays.join(key, group, ex, (handlers) => {
        try {
          if (oscore) {
            // Passed on as it came: outer FETCH and ciphertext. Without keys the proxy cannot
            // deregister it, so leaving resets the device's next notification (RFC 7641 §3.6);
            // the outer Observe is unprotected, so the Partial IVs order notifications, end to end.
            const upstream = { method: request.method, path, query, payload: request.payload, options: verdict.options };
            return this.client.observe(target, upstream, handlers, this.options.upstreamTimeoutMs, { deregistration: false, unordered: true });
          }
          return this.client.observe(target, { method: 'GET', path, query, options: verdict.options }, handlers, this.options.upstreamTimeoutMs);
        } catch (err) {
          queueMicrotask(() => handlers.onEnd?.(err as Error));
          return { cancel: () => undefined };
        }
      });
      return;
    }
    if (caching) {
      const hit = this.cache.get(key);
      if (hit) return void answerOnce(ex, replyFrom(hit.response, hit.maxAgeS));
    }
    if (this.pending >= this.options.maxPendingRequests) return this.busy(ex);
    this.pending++;
    this.client
      .request(target, { method: request.method, path, query, payload: request.payload, options: verdict.options }, this.options.upstreamTimeoutMs)
      .then(
        (res) => {
          this.pending--;
          if (cacheable) {
            if (caching) this.cache.put(key, group, res);
          } else if (request.method !== 'FETCH' && res.code.startsWith('2.')) this.cache.invalidatePath(group, path);
          answerOnce(ex, replyFrom(res));
        },
        (err: Error) => {
          this.pending--;
          if (err instanceof CoapTimeoutError) this.emit('upstream-timeout', endpoint);
          else this.emit('upstream-error', endpoint, err);
          ex.respond(failureReply(err));
        },
      );
  }

  private group(ex: Exchange, name: string, path: string[]): void {
    const definition = this.options.groups.find((g) => g.name === name);
    if (!definition) return void ex.respond({ code: '4.04', payload: Buffer.from(`no group "${name}"`) });
    const directory = this.withDirectory(ex);
    if (!directory) return;
    const { request } = ex;
    const format = summaryFormat(request.accept);
    if (format === undefined) return void ex.respond({ code: '4.06', payload: Buffer.from('the summary is JSON (50) or CBOR (60)') });
    const { endpoints, missing } = groupMembers(definition, directory);
    if (endpoints.length > this.options.maxGroupSize) {
      return void ex.respond({
        code: '5.03',
        payload: Buffer.from(`group "${name}" has ${endpoints.length} members, more than the ${this.options.maxGroupSize} allowed`),
        options: { 'Max-Age': MAX_AGE_GROUP_TOO_LARGE_S },
      });
    }
    // Accept chooses the summary's format; it is not the members' business.
    const { Accept: _accept, ...rest } = request.options;
    const verdict = forwardRequestOptions(rest);
    if (verdict.kind === 'unsafe') return void ex.respond({ code: '5.02', payload: Buffer.from(`unknown unsafe option ${verdict.option}`) });
    if (verdict.kind === 'hop-limit') return void ex.respond({ code: '5.08' });
    if (this.pending >= this.options.maxPendingRequests) return this.busy(ex);
    this.pending++;
    const req = { method: request.method, path, query: request.query, payload: request.payload, options: verdict.options };
    void fanOut(this.client, endpoints, req, this.options.upstreamTimeoutMs)
      .then((answers) => {
        const results = answers.map(({ endpoint, code, response }): MemberResult => ({
          ep: endpoint.ep,
          d: endpoint.d,
          code,
          ...(response ? { contentFormat: contentFormatOf(response), payload: response.payload } : {}),
        }));
        const all = [...results, ...missing.map((ep): MemberResult => ({ ep, code: '4.04' }))];
        ex.respond({ code: '2.05', payload: encodeSummary(name, all, format), contentFormat: format });
      })
      .finally(() => this.pending--);
  }

  private busy(ex: Exchange): void {
    this.emit('overload');
    ex.respond({ code: '5.03', options: { 'Max-Age': MAX_AGE_WHEN_BUSY_S } });
  }
}

/**
 * Answers without keeping an observation open: an Observe request beyond the relay's limit gets
 * the value once, and the endpoint's observer slot is freed at once.
 */
function answerOnce(ex: Exchange, reply: CoapReply): void {
  ex.respond(reply);
  if (ex.observing) ex.end();
}

/** The device's answer as the client gets it; from the cache with the Max-Age left. */
function replyFrom(res: ClientResponse, maxAgeS?: number): CoapReply {
  const options: Record<string, OptionValue> = forwardResponseOptions(res.options);
  if (maxAgeS !== undefined) options['Max-Age'] = maxAgeS;
  return { code: res.code, payload: res.payload, options: wireOptions(options) };
}

function failureReply(err: Error): CoapReply {
  if (err instanceof CoapTimeoutError) return { code: '5.04', payload: Buffer.from('the endpoint did not answer in time') };
  return { code: '5.02', payload: Buffer.from(`the endpoint could not be reached: ${err.message}`) };
}

function contentFormatOf(res: ClientResponse): number | undefined {
  const bytes = wireOptions({ 'Content-Format': res.options['Content-Format'] ?? Buffer.alloc(0) })['Content-Format'];
  if (res.options['Content-Format'] === undefined || !Buffer.isBuffer(bytes)) return undefined;
  let n = 0;
  for (const b of bytes) n = n * 256 + b;
  return n;
}

function uint(value: OptionValue): number {
  if (typeof value === 'number') return value;
  let n = 0;
  for (const b of Buffer.isBuffer(value) ? value : Buffer.from(String(value))) n = n * 256 + b;
  return n;
}

/** Whether the client named a port: then it means an authority, never an endpoint name. */
function portGiven(options: Record<string, OptionValue>, proxyUri: OptionValue | undefined): boolean {
  if (proxyUri !== undefined) return /^coap:\/\/[^/?#]*:\d+/i.test(String(proxyUri));
  return options['Uri-Port'] !== undefined;
}

/** The host as the client wrote it (endpoint names keep their case). */
function hostName(options: Record<string, OptionValue>, proxyUri: OptionValue | undefined): string | undefined {
  if (proxyUri === undefined) return options['Uri-Host'] === undefined ? undefined : String(options['Uri-Host']);
  const match = /^coap:\/\/([^/?#:[\]]+)/i.exec(String(proxyUri));
  if (!match) return undefined;
  try {
    return decodeURIComponent(match[1] as string);
  } catch {
    return undefined;
  }
}
