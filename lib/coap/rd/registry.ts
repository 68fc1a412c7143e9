/**
 * The Resource Directory's state (RFC 9176 §5): registrations by id, keyed uniquely by
 * (ep, d), with lifetimes measured on an injected clock. Pure logic: no sockets, no timers;
 * rd-service.ts binds it to a CoAP endpoint and sweeps it when the next lifetime runs out.
 */
import { EventEmitter } from 'node:events';
import { randomBytes } from 'node:crypto';
import type { Link } from '../link-format';
import type { DirectoryEvents, EndpointDirectory, RegisteredEndpoint, RemovalReason } from './directory';
import { rdLimits, MIN_LIFETIME, MAX_LIFETIME, type RdLimits } from './limits';
import { RdError, badRequest } from './rd-error';
import { SourceRateLimiter } from './rate-limit';
import { baseFromSource, checkBase } from './base-uri';
import { lookupEndpoints, lookupResources, parseLookupQuery } from './lookup';

export interface Registration extends RegisteredEndpoint {
  /** Endpoint attributes other than ep, d, lt and base, e.g. et (RFC 9176 §5.3 extra-attrs). */
  readonly attributes: Readonly<Record<string, readonly string[]>>;
  /** Whether the registrant gave base; otherwise it follows the source address. */
  readonly baseExplicit: boolean;
  /** First registration and latest registration or update, ms since the epoch. */
  readonly registeredAt: number;
  readonly updatedAt: number;
  /** Made by simple registration (RFC 9176 §5.1). */
  readonly simple: boolean;
}

export interface Source {
  address: string;
  port: number;
}

export interface DirectoryOptions {
  limits?: Partial<RdLimits>;
  /** ms since the epoch; tests pass a fake one. */
  clock?: () => number;
  /** New registration resource ids; random by default. */
  newId?: () => string;
}

// Parameters that have a meaning of their own and so cannot be stored as endpoint attributes.
const RESERVED = new Set(['ep', 'd', 'lt', 'base', 'rt', 'href', 'anchor', 'page', 'count']);
const ATTR_NAME = /^[A-Za-z0-9!#$&+\-.^_`|~]+$/;
const MAX_NAME_BYTES = 63;
const MAX_MAX_AGE = 0xffff_ffff;

type Params = Map<string, string[]>;

function paramsOf(query: readonly string[]): Params {
  const params: Params = new Map();
  for (const q of query) {
    const eq = q.indexOf('=');
    const key = eq < 0 ? q : q.slice(0, eq);
    params.set(key, [...(params.get(key) ?? []), eq < 0 ? '' : q.slice(eq + 1)]);
  }
  return params;
}

function single(params: Params, key: string): string | undefined {
  const values = params.get(key);
  if (values === undefined) return undefined;
  if (values.length > 1) throw badRequest(`${key} given more than once`);
  return values[0];
}

/** ep and d: 1..63 UTF-8 bytes, no C0/C1 control characters (RFC 9176 §5.3). */
function checkName(key: string, value: string): string {
  if (value === '' || Buffer.byteLength(value, 'utf8') > MAX_NAME_BYTES) throw badRequest(`${key} must be 1 to ${MAX_NAME_BYTES} bytes`);
  if (/[\u0000-\u001f\u007f-\u009f]/.test(value)) throw badRequest(`${key} must not contain control characters`);
  return value;
}

function checkLifetime(value: string): number {
  const lt = /^[0-9]{1,10}$/.test(value) ? Number(value) : NaN;
  if (!(lt >= MIN_LIFETIME && lt <= MAX_LIFETIME)) throw badRequest(`lt must be an integer from ${MIN_LIFETIME} to ${MAX_LIFETIME}`);
  return lt;
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

export class ResourceDirectory extends EventEmitter<DirectoryEvents> implements EndpointDirectory {
  readonly limits: RdLimits;
  readonly clock: () => number;
  private readonly newId: () => string;
  /** Insertion order is registration order: endpoints() lists the oldest first. */
  private readonly byId = new Map<string, Registration>();
  /** The same registrations by endpoint name (one per sector), so a proxied request finds its device without a scan. */
  private readonly byName = new Map<string, Map<string, Registration>>();
  private readonly rate: SourceRateLimiter;

  constructor(options: DirectoryOptions = {}) {
    super();
    this.limits = rdLimits(options.limits);
    this.clock = options.clock ?? Date.now;
    this.newId = options.newId ?? (() => randomBytes(4).toString('hex'));
    this.rate = new SourceRateLimiter(this.limits.maxRegistrationsPerSourcePerMinute, this.limits.maxTrackedSources, this.clock);
  }

  get size(): number {
    return this.live().length;
  }

  endpoint(ep: string, d?: string): Registration | undefined {
    const live = this.named(ep);
    if (d !== undefined) return live.find((r) => r.d === d);
    return live.find((r) => r.d === undefined) ?? live[0];
  }

  named(ep: string): Registration[] {
    const sectors = this.byName.get(ep);
    if (!sectors) return [];
    const now = this.clock();
    return [...sectors.values()].filter((r) => r.expiresAt > now);
  }

  endpoints(): Registration[] {
    return this.live();
  }

  get(id: string): Registration | undefined {
    const reg = this.byId.get(id);
    return reg && reg.expiresAt > this.clock() ? reg : undefined;
  }

  /**
   * Counts a registration attempt from `address` against the per-minute limit; throws 4.29
   * Too Many Requests (RFC 8516) with Max-Age saying when to retry.
   */
  admit(address: string): void {
    const verdict = this.rate.admit(address);
    if (!verdict.allowed) {
      throw new RdError('4.29', `more than ${this.limits.maxRegistrationsPerSourcePerMinute} registrations a minute from ${address}`, {
        'Max-Age': verdict.retryAfter,
      });
    }
  }

  /**
   * Everything register() would refuse, checked before a simple registration goes and fetches
   * the registrant's links: bad parameters (4.00) and a full directory (5.03).
   */
  preflight(query: readonly string[], simple: boolean): void {
    this.sweep();
    const params = paramsOf(query);
    const { ep, d } = this.checkRegistration(params, simple);
    if (params.has('lt')) checkLifetime(single(params, 'lt') as string);
    const base = single(params, 'base');
    if (base !== undefined) checkBase(base);
    this.attributesOf(params, {});
    const known = [...this.byId.values()].some((r) => r.ep === ep && r.d === d);
    if (!known && this.byId.size >= this.limits.maxRegistrations) throw this.full();
  }

  /**
   * Registration (RFC 9176 §5.3) or simple registration (§5.1): a new (ep, d) creates a
   * registration resource; a known one has its content and parameters replaced and keeps its id.
   */
  register(input: { query: readonly string[]; links: readonly Link[]; source: Source; simple?: boolean }): { registration: Registration; created: boolean } {
    this.sweep();
    const params = paramsOf(input.query);
    const { ep, d } = this.checkRegistration(params, input.simple === true);
    this.checkLinks(input.links);
    const lt = params.has('lt') ? checkLifetime(single(params, 'lt') as string) : this.limits.defaultLifetime;
    const baseParam = single(params, 'base');
    const existing = [...this.byId.values()].find((r) => r.ep === ep && r.d === d);
    if (!existing && this.byId.size >= this.limits.maxRegistrations) throw this.full();
    const now = this.clock();
    const registration: Registration = deepFreeze({
      id: existing?.id ?? this.freshId(),
      ep,
      ...(d === undefined ? {} : { d }),
      base: baseParam === undefined ? baseFromSource(input.source.address, input.source.port) : checkBase(baseParam),
      lt,
      expiresAt: now + lt * 1000,
      links: structuredClone([...input.links]),
      source: { address: input.source.address, port: input.source.port },
      attributes: this.attributesOf(params, {}),
      baseExplicit: baseParam !== undefined,
      registeredAt: existing?.registeredAt ?? now,
      updatedAt: now,
      simple: input.simple === true,
    });
    this.put(registration);
    if (existing) this.emit('updated', registration);
    else this.emit('registered', registration);
    return { registration, created: !existing };
  }

  /**
   * Registration update (RFC 9176 §5.3.1): resets the lifetime, optionally changes lt, base and
   * endpoint attributes, and replaces the links when new ones are given.
   */
  update(id: string, input: { query: readonly string[]; links?: readonly Link[]; source: Source }): Registration {
    this.sweep();
    const existing = this.byId.get(id);
    if (!existing) throw new RdError('4.04', `no registration /rd/${id}`);
    const params = paramsOf(input.query);
    if (params.has('ep') || params.has('d')) throw badRequest('an update cannot change ep or d; register again instead');
    if (input.links) this.checkLinks(input.links);
    const lt = params.has('lt') ? checkLifetime(single(params, 'lt') as string) : existing.lt;
    const baseParam = single(params, 'base');
    const base =
      baseParam !== undefined
        ? checkBase(baseParam)
        : existing.baseExplicit
          ? existing.base
          : baseFromSource(input.source.address, input.source.port);
    const now = this.clock();
    const registration: Registration = deepFreeze({
      ...existing,
      base,
      lt,
      expiresAt: now + lt * 1000,
      links: input.links ? structuredClone([...input.links]) : existing.links,
      source: { address: input.source.address, port: input.source.port },
      attributes: this.attributesOf(params, existing.attributes),
      baseExplicit: baseParam !== undefined || existing.baseExplicit,
      updatedAt: now,
    });
    this.put(registration);
    this.emit('updated', registration);
    return registration;
  }

  /** Registration removal (RFC 9176 §5.3.2), or the node's "remove" command. */
  remove(id: string, reason: RemovalReason = 'deleted'): boolean {
    const reg = this.byId.get(id);
    if (!reg) return false;
    this.drop(reg);
    this.emit('removed', reg, reason);
    return true;
  }

  /** Removes every registration whose lifetime has run out; returns how many. */
  sweep(): number {
    const now = this.clock();
    let n = 0;
    for (const reg of [...this.byId.values()]) {
      if (reg.expiresAt <= now && this.drop(reg)) {
        n++;
        this.emit('removed', reg, 'expired');
      }
    }
    return n;
  }

  /** When the next lifetime runs out (ms since the epoch), if anything is registered. */
  nextExpiry(): number | undefined {
    let next: number | undefined;
    for (const reg of this.byId.values()) if (next === undefined || reg.expiresAt < next) next = reg.expiresAt;
    return next;
  }

  lookupEndpoints(query: readonly string[]): Link[] {
    return lookupEndpoints(this.live(), parseLookupQuery(query));
  }

  lookupResources(query: readonly string[]): Link[] {
    return lookupResources(this.live(), parseLookupQuery(query));
  }

  /** Every registration (expired ones not yet swept included), for persistence. */
  snapshot(): Registration[] {
    return [...this.byId.values()];
  }

  /**
   * Puts back registrations saved by snapshot(), without events: they were announced when they
   * were made. Expired ones, ones that clash with what is held and ones beyond the limit are left out.
   */
  restore(saved: readonly Registration[]): { restored: number; dropped: number } {
    const now = this.clock();
    let restored = 0;
    for (const reg of saved) {
      const clash = this.byId.has(reg.id) || [...this.byId.values()].some((r) => r.ep === reg.ep && r.d === reg.d);
      if (reg.expiresAt <= now || clash || this.byId.size >= this.limits.maxRegistrations) continue;
      this.put(deepFreeze(structuredClone(reg)));
      restored++;
    }
    return { restored, dropped: saved.length - restored };
  }

  private put(reg: Registration): void {
    this.byId.set(reg.id, reg);
    let sectors = this.byName.get(reg.ep);
    if (!sectors) this.byName.set(reg.ep, (sectors = new Map()));
    sectors.set(reg.id, reg);
  }

  private drop(reg: Registration): boolean {
    const sectors = this.byName.get(reg.ep);
    if (sectors?.delete(reg.id) && sectors.size === 0) this.byName.delete(reg.ep);
    return this.byId.delete(reg.id);
  }

  private live(): Registration[] {
    const now = this.clock();
    return [...this.byId.values()].filter((r) => r.expiresAt > now);
  }

  private checkRegistration(params: Params, simple: boolean): { ep: string; d: string | undefined } {
    const ep = single(params, 'ep');
    if (ep === undefined) throw badRequest('ep (endpoint name) is required');
    const d = single(params, 'd');
    if (simple && params.has('base')) throw badRequest('simple registration takes no base (RFC 9176 §5.1)');
    return { ep: checkName('ep', ep), d: d === undefined ? undefined : checkName('d', d) };
  }

  private checkLinks(links: readonly Link[]): void {
    if (links.length > this.limits.maxLinks) {
      throw new RdError('4.13', `more than ${this.limits.maxLinks} links in one registration`);
    }
  }

  private attributesOf(params: Params, previous: Readonly<Record<string, readonly string[]>>): Record<string, string[]> {
    const attributes: Record<string, string[]> = {};
    for (const [key, values] of Object.entries(previous)) attributes[key] = [...values];
    for (const [key, values] of params) {
      if (key === 'ep' || key === 'd' || key === 'lt' || key === 'base') continue;
      if (RESERVED.has(key) || !ATTR_NAME.test(key)) throw badRequest(`"${key}" cannot be an endpoint attribute`);
      for (const v of values) {
        if (Buffer.byteLength(v, 'utf8') > this.limits.maxAttributeBytes || /[\u0000-\u001f\u007f]/.test(v)) {
          throw badRequest(`${key} must be at most ${this.limits.maxAttributeBytes} bytes of text`);
        }
      }
      // Later values of a key replace earlier ones (RFC 9176 §5.3.1).
      attributes[key] = [...values];
    }
    if (Object.keys(attributes).length > this.limits.maxAttributes) {
      throw badRequest(`more than ${this.limits.maxAttributes} endpoint attributes`);
    }
    return attributes;
  }

  private full(): RdError {
    // Retry when the soonest registration runs out: that is when room may appear.
    const soonest = this.nextExpiry() ?? this.clock();
    const wait = Math.min(MAX_MAX_AGE, Math.max(1, Math.ceil((soonest - this.clock()) / 1000)));
    return new RdError('5.03', `the directory holds its maximum of ${this.limits.maxRegistrations} registrations`, { 'Max-Age': wait });
  }

  private freshId(): string {
    for (;;) {
      const id = this.newId();
      if (!this.byId.has(id)) return id;
    }
  }
}
