/**
 * Keeps the gateway registered as an endpoint with an upstream CoRE Resource Directory
 * (RFC 9176 §5.3): registers, refreshes at 2/3 of the lifetime, sends the links again when they
 * change, registers anew when the upstream has forgotten the registration (4.04 to an update),
 * backs off on errors, pings to keep the router's UDP binding open, and removes the
 * registration on stop. Reports through events; never throws at callers.
 */
import { EventEmitter } from 'node:events';
import { backoffDelay, type BackoffOptions } from '../../nat/backoff';
import { ContentFormat } from '../content-format';
import { parseLinks, serialiseLinks, type Link } from '../link-format';
import type { UpstreamResponse, UpstreamTransport } from './udp-transport';

export type CloudLinkStatus = 'starting' | 'registered' | 'retrying' | 'stopped';

/** Why the last 'registered' state was reached. */
export type RegisteredReason = 'registered' | 're-registered';

export interface CloudLinkState {
  status: CloudLinkStatus;
  /** The registration resource on the upstream, e.g. "/rd/4521". */
  location?: string;
  /** The registration interface used, e.g. "/rd". */
  rdPath?: string;
  reason?: RegisteredReason;
  /** Why the registration was made anew: the upstream forgot it, or cannot update one. */
  cause?: 'forgotten' | 'update-unsupported' | 'expired';
  links?: number;
  /** While retrying: the failure and when the next attempt is. */
  error?: string;
  failures: number;
  retryInMs?: number;
}

export interface CloudLinkOptions {
  transport: UpstreamTransport;
  /** Endpoint name (and sector) the gateway registers as. */
  ep: string;
  d?: string;
  /** Registration lifetime in seconds (RFC 9176 "lt"). */
  lifetime: number;
  /** The registration interface; when absent it is discovered (or "/rd" without discovery). */
  rdPath?: readonly string[];
  discover?: boolean;
  /** Further registration parameters, e.g. ["base=coap://203.0.113.7:5690", "et=gateway"]. */
  extraQuery?: readonly string[];
  /** The links to register, asked for at each registration and after linksChanged(). */
  links: () => Link[];
  /** CoAP ping interval; 0 turns pings off (refreshes still keep the binding open). */
  keepAliveMs: number;
  requestTimeoutMs?: number;
  backoff?: BackoffOptions;
  /** Schedules a callback; returns the cancel function. Tests pass timers they fire by hand. */
  setTimer?: (callback: () => void, delayMs: number) => () => void;
  clock?: () => number;
}

export interface CloudLinkEvents {
  /** Registered, re-registered, retrying or stopped. */
  change: [CloudLinkState];
  /** A refresh the upstream accepted: nothing visible changed. */
  refreshed: [CloudLinkState];
  /** A keep-alive ping and whether the upstream answered it. */
  ping: [ok: boolean, error?: Error];
}

export class CloudLinkError extends Error {
  constructor(
    message: string,
    readonly code?: string,
    /** Max-Age of a 4.29/5.03 answer: the upstream says when to come back. */
    readonly retryAfterS?: number,
  ) {
    super(message);
  }
}

export const CLOUD_LINK_BACKOFF: BackoffOptions = { initialMs: 5_000, maxMs: 600_000 };
/** A registration body goes in one datagram: no Block1 on this transport. */
export const MAX_BODY_BYTES = 1024;

function realTimer(callback: () => void, delayMs: number): () => void {
  const t = setTimeout(callback, Math.min(delayMs, 0x7fff_ffff));
  return () => clearTimeout(t);
}

export class CloudLink extends EventEmitter<CloudLinkEvents> {
  private readonly options: Required<Omit<CloudLinkOptions, 'd' | 'rdPath'>> & Pick<CloudLinkOptions, 'd' | 'rdPath'>;
  private rdPath?: string[];
  private location?: string[];
  private lastSuccess = 0;
  private everRegistered = false;
  private linksDirty = false;
  /** Why the next registration is a re-registration. */
  private cause: CloudLinkState['cause'];
  private failures = 0;
  private running = false;
  private cycle?: Promise<void>;
  private again = false;
  private cancelNext?: () => void;
  private cancelPing?: () => void;
  private stopped?: Promise<void>;
  private lastState: CloudLinkState = { status: 'starting', failures: 0 };

  constructor(options: CloudLinkOptions) {
    super();
    if (!Number.isInteger(options.lifetime) || options.lifetime < 1) throw new RangeError('lifetime must be a whole number of seconds >= 1');
    this.options = {
      discover: false,
      extraQuery: [],
      requestTimeoutMs: 20_000,
      backoff: CLOUD_LINK_BACKOFF,
      setTimer: realTimer,
      clock: Date.now,
      ...options,
    };
    this.rdPath = options.rdPath ? [...options.rdPath] : undefined;
  }

  get state(): CloudLinkState {
    return this.lastState;
  }

  start(): void {
    if (this.running || this.stopped) return;
    this.running = true;
    this.publish({ status: 'starting', failures: 0 }, 'change');
    this.trigger();
    this.schedulePing();
  }

  /** Refresh now (before the timer would); a no-op while backing off. */
  refreshNow(): void {
    if (this.lastState.status === 'retrying') return;
    this.trigger();
  }

  /** The links changed: the next refresh, sent now, carries them. */
  linksChanged(): void {
    this.linksDirty = true;
    if (this.lastState.status === 'registered') this.trigger();
  }

  /**
   * Stops, then removes the registration from the upstream (bounded) and closes the transport.
   * `removalTransport` sends the DELETE instead, when the usual socket is going away too (the
   * gateway's endpoint closing in the same redeploy); it is closed afterwards as well.
   */
  stop(removalTransport?: UpstreamTransport): Promise<void> {
    this.stopped ??= this.shutdown(removalTransport);
    return this.stopped;
  }

  private async shutdown(removalTransport?: UpstreamTransport): Promise<void> {
    this.running = false;
    this.cancelNext?.();
    this.cancelPing?.();
    const { transport, requestTimeoutMs } = this.options;
    // Closing the transport ends a request in flight at once; otherwise give it a moment.
    if (removalTransport) transport.close();
    if (this.cycle) await Promise.race([this.cycle.catch(() => undefined), new Promise((r) => setTimeout(r, 2_000).unref())]);
    const location = this.location;
    this.location = undefined;
    const remover = removalTransport ?? transport;
    if (location) {
      // RFC 9176 §5.3.2. Bounded: Node-RED gives a closing node 15 s in all.
      await remover.request({ method: 'DELETE', path: location }, Math.min(requestTimeoutMs, 5_000)).catch(() => undefined);
    }
    remover.close();
    if (!removalTransport) transport.close();
    this.publish({ status: 'stopped', failures: 0 }, 'change');
  }

  private trigger(): void {
    if (!this.running) return;
    if (this.cycle) {
      this.again = true;
      return;
    }
    this.cancelNext?.();
    this.cancelNext = undefined;
    this.cycle = this.runCycle().finally(() => {
      this.cycle = undefined;
      if (this.again && this.running) {
        this.again = false;
        this.trigger();
      }
    });
  }

  private schedule(delayMs: number): void {
    this.cancelNext?.();
    this.cancelNext = this.options.setTimer(() => {
      this.cancelNext = undefined;
      this.trigger();
    }, delayMs);
  }

  private schedulePing(): void {
    const { keepAliveMs, setTimer, transport, requestTimeoutMs } = this.options;
    if (keepAliveMs <= 0 || !this.running) return;
    this.cancelPing = setTimer(() => {
      this.cancelPing = undefined;
      transport.ping(requestTimeoutMs).then(
        () => this.emit('ping', true),
        (err: Error) => {
          this.emit('ping', false, err);
          // The upstream is gone or the binding closed: find out now, not at the next refresh.
          if (this.lastState.status === 'registered') this.trigger();
        },
      ).finally(() => this.schedulePing());
    }, keepAliveMs);
  }

  private async runCycle(): Promise<void> {
    const { lifetime, clock } = this.options;
    try {
      this.rdPath ??= await this.discover();
      if (this.location && clock() - this.lastSuccess > lifetime * 1000) {
        // Too late to refresh: the upstream has dropped it by now.
        this.location = undefined;
        this.cause = 'expired';
      }
      if (!this.location) {
        await this.register();
      } else {
        const res = await this.update();
        if (res.code === '2.04') {
          this.succeeded();
          if (!this.running) return;
          this.publish({ ...this.registeredState(), reason: this.lastState.reason }, 'refreshed');
          this.schedule(this.refreshDelayMs());
          return;
        }
        if (res.code === '4.04' || res.code === '4.05' || res.code === '5.01') {
          // 4.04: the upstream forgot us (restart, expiry). 4.05/5.01: an RD from before RFC 9176
          // that cannot update a registration (libcoap's coap-rd): registering again refreshes it.
          this.cause = res.code === '4.04' ? 'forgotten' : 'update-unsupported';
          this.location = undefined;
          await this.register();
        } else {
          throw failure('refresh', res);
        }
      }
      if (!this.running) return;
      this.publish({ ...this.registeredState(), reason: this.everRegistered ? 're-registered' : 'registered', ...(this.cause ? { cause: this.cause } : {}) }, 'change');
      this.everRegistered = true;
      this.cause = undefined;
      this.schedule(this.refreshDelayMs());
    } catch (err) {
      if (!this.running) return;
      this.failures++;
      const e = err instanceof CloudLinkError ? err : new CloudLinkError(err instanceof Error ? err.message : String(err));
      const delay = Math.max(backoffDelay(this.failures, this.options.backoff), (e.retryAfterS ?? 0) * 1000);
      this.publish({ status: 'retrying', error: e.message, failures: this.failures, retryInMs: delay, ...this.where() }, 'change');
      this.schedule(delay);
    }
  }

  private async discover(): Promise<string[]> {
    if (!this.options.discover) return ['rd'];
    const res = await this.options.transport.request({ method: 'GET', path: ['.well-known', 'core'], query: ['rt=core.rd'] }, this.options.requestTimeoutMs);
    if (res.code !== '2.05') throw failure('discovery', res);
    let links: Link[];
    try {
      links = parseLinks(res.payload.toString('utf8'), { maxLinks: 100 });
    } catch (err) {
      throw new CloudLinkError(`discovery: malformed link-format from the upstream: ${(err as Error).message}`);
    }
    // RFC 9176 §4.3: the registration interface is the link with rt=core.rd.
    const rd = links.find((l) => String(l.attributes?.rt ?? '').split(' ').includes('core.rd'));
    if (!rd) throw new CloudLinkError('discovery: the upstream lists no resource with rt=core.rd');
    const href = rd.href.replace(/^coap:\/\/[^/]*/i, '');
    return href.split('/').filter((s) => s !== '').map(decodeURIComponent);
  }

  private body(): Buffer {
    const text = serialiseLinks(this.options.links());
    const body = Buffer.from(text, 'utf8');
    if (body.length > MAX_BODY_BYTES) throw new CloudLinkError(`the links take ${body.length} bytes; at most ${MAX_BODY_BYTES} fit in one registration`);
    return body;
  }

  private async register(): Promise<void> {
    const { ep, d, lifetime, extraQuery, transport, requestTimeoutMs } = this.options;
    const body = this.body();
    const query = [`ep=${ep}`, ...(d ? [`d=${d}`] : []), `lt=${lifetime}`, ...extraQuery];
    const res = await transport.request({ method: 'POST', path: this.rdPath as string[], query, payload: body, contentFormat: ContentFormat.linkFormat }, requestTimeoutMs);
    if (res.code !== '2.01' && res.code !== '2.04') throw failure('registration', res);
    if (res.locationPath.length === 0) throw new CloudLinkError(`registration: ${res.code} without a Location-Path`);
    this.location = res.locationPath;
    this.linksDirty = false;
    this.succeeded();
  }

  private update(): Promise<UpstreamResponse> {
    const { transport, requestTimeoutMs } = this.options;
    const withLinks = this.linksDirty;
    const payload = withLinks ? this.body() : undefined;
    return transport
      .request(
        { method: 'POST', path: this.location as string[], ...(payload ? { payload, contentFormat: ContentFormat.linkFormat } : {}) },
        requestTimeoutMs,
      )
      .then((res) => {
        if (res.code === '2.04' && withLinks) this.linksDirty = false;
        return res;
      });
  }

  private succeeded(): void {
    this.failures = 0;
    this.lastSuccess = this.options.clock();
  }

  private refreshDelayMs(): number {
    return Math.max(1_000, Math.floor((this.options.lifetime * 1000 * 2) / 3));
  }

  private where(): Pick<CloudLinkState, 'location' | 'rdPath'> {
    return {
      ...(this.location ? { location: `/${this.location.join('/')}` } : {}),
      ...(this.rdPath ? { rdPath: `/${this.rdPath.join('/')}` } : {}),
    };
  }

  private registeredState(): CloudLinkState {
    return { status: 'registered', failures: 0, links: this.options.links().length, ...this.where() };
  }

  private publish(state: CloudLinkState, event: 'change' | 'refreshed'): void {
    this.lastState = state;
    this.emit(event, state);
  }
}

function failure(what: string, res: UpstreamResponse): CloudLinkError {
  const text = res.payload.length > 0 && res.payload.length < 200 ? `: ${res.payload.toString('utf8')}` : '';
  return new CloudLinkError(`${what} answered ${res.code}${text}`, res.code, res.maxAge);
}
