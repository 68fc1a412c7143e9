/**
 * Keeps one port mapping alive: creates it, renews it before its lease ends, re-creates it
 * when the router forgets it (reboot), follows the external address, backs off on failure
 * and removes the mapping on stop. Reports through 'change' events; never throws at callers.
 */
import { EventEmitter } from 'node:events';
import { asNatError, NatError, validateRequest } from './errors';
import { backoffDelay, DEFAULT_BACKOFF, type BackoffOptions } from './backoff';
import type { Mapping, MappingRequest, PortMapper } from './types';

export type MappingStatus = 'starting' | 'mapped' | 'retrying' | 'stopped';

/** Why the last 'mapped' state was reached. */
export type MappedReason = 'created' | 'renewed' | 'recreated' | 'address-changed';

export interface MappingState {
  status: MappingStatus;
  /** Backend in use, e.g. "UPnP IGD v2". */
  backend?: string;
  externalAddress?: string;
  mapping?: Mapping;
  reason?: MappedReason;
  /** Last failure, while retrying. */
  error?: NatError;
  /** Consecutive failures. */
  failures: number;
  /** While retrying: when the next attempt is. */
  retryInMs?: number;
}

export interface MappingManagerOptions {
  mapper: PortMapper;
  request: MappingRequest;
  /** How often to check that the router still holds the mapping and the address is unchanged. */
  checkIntervalMs?: number;
  /** Renew when this fraction of the granted lease has passed (RFC 6886 suggests half). */
  renewFraction?: number;
  backoff?: BackoffOptions;
  /** Upper bound for removing the mapping on stop. */
  stopTimeoutMs?: number;
}

export interface MappingManagerEvents {
  /** Status, external address or mapped port changed, or the mapping had to be re-created. */
  change: [state: MappingState];
  /** A lease renewal that changed nothing visible. */
  renewed: [state: MappingState];
}

export class MappingManager extends EventEmitter<MappingManagerEvents> {
  private readonly options: Required<Omit<MappingManagerOptions, 'mapper' | 'request'>> & Pick<MappingManagerOptions, 'mapper' | 'request'>;
  private current?: { mapping: Mapping; at: number };
  private address?: string;
  private everMapped = false;
  private failures = 0;
  private timer?: NodeJS.Timeout;
  private running = false;
  private cycle?: Promise<void>;
  private stopped?: Promise<void>;
  private lastState: MappingState = { status: 'starting', failures: 0 };

  constructor(options: MappingManagerOptions) {
    super();
    validateRequest(options.request);
    this.options = {
      checkIntervalMs: 60_000,
      renewFraction: 0.5,
      backoff: DEFAULT_BACKOFF,
      stopTimeoutMs: 5_000,
      ...options,
    };
  }

  get state(): MappingState {
    return this.lastState;
  }

  start(): void {
    if (this.running || this.stopped) return;
    this.running = true;
    this.publish({ status: 'starting', failures: 0 }, 'change');
    this.schedule(0);
  }

  /** Stops checking, removes the mapping (bounded by stopTimeoutMs) and closes the backend. */
  stop(): Promise<void> {
    this.stopped ??= this.shutdown();
    return this.stopped;
  }

  private async shutdown(): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    const { mapper, stopTimeoutMs } = this.options;
    const deadline = Date.now() + stopTimeoutMs;
    // Let a cycle that is creating the mapping finish, so it can be removed as well.
    if (this.cycle) await withTimeout(this.cycle, stopTimeoutMs).catch(() => undefined);
    const held = this.current?.mapping;
    this.current = undefined;
    if (held) await withTimeout(mapper.unmap(held), Math.max(deadline - Date.now(), 500)).catch(() => undefined);
    mapper.close();
    this.publish({ status: 'stopped', failures: 0, backend: mapper.kind }, 'change');
  }

  private schedule(delayMs: number): void {
    if (!this.running) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.cycle = this.runCycle().finally(() => {
        this.cycle = undefined;
      });
    }, delayMs);
  }

  private async runCycle(): Promise<void> {
    const { mapper } = this.options;
    try {
      if (!this.current) {
        await this.create(this.everMapped ? 'recreated' : 'created');
      } else {
        const listed = await mapper.list();
        if (!this.running) return;
        const mine = this.current.mapping;
        const held = listed.some((m) => m.protocol === mine.protocol && m.externalPort === mine.externalPort && m.internalPort === mine.internalPort);
        if (!held) await this.create('recreated');
        else if (Date.now() >= this.renewAt()) await this.create('renewed');
        else await this.checkAddress();
      }
      this.failures = 0;
      this.schedule(this.nextCheckIn());
    } catch (err) {
      if (!this.running) return;
      this.failures += 1;
      const retryInMs = backoffDelay(this.failures, this.options.backoff);
      this.publish(
        { status: 'retrying', backend: mapper.kind, externalAddress: this.address, error: asNatError(err), failures: this.failures, retryInMs },
        'change',
      );
      this.schedule(retryInMs);
    }
  }

  private async create(reason: MappedReason): Promise<void> {
    const { mapper, request } = this.options;
    const address = await mapper.externalAddress();
    // Renewals ask for the port the router granted before, so it does not move.
    const externalPort = this.current?.mapping.externalPort ?? request.externalPort;
    const mapping = await mapper.map({ ...request, externalPort });
    if (!this.running) {
      // stop() came while the router was answering: do not leave this mapping behind.
      this.current = { mapping, at: Date.now() };
      return;
    }
    const before = this.lastState;
    this.current = { mapping, at: Date.now() };
    this.everMapped = true;
    this.address = address;
    const visible =
      reason !== 'renewed' ||
      before.status !== 'mapped' ||
      before.externalAddress !== address ||
      before.mapping?.externalPort !== mapping.externalPort;
    this.publish({ status: 'mapped', backend: mapper.kind, externalAddress: address, mapping, reason, failures: 0 }, visible ? 'change' : 'renewed');
  }

  private async checkAddress(): Promise<void> {
    const address = await this.options.mapper.externalAddress();
    if (!this.running || address === this.address) return;
    this.address = address;
    this.publish({ ...this.lastState, status: 'mapped', externalAddress: address, reason: 'address-changed', failures: 0, error: undefined, retryInMs: undefined }, 'change');
  }

  private renewAt(): number {
    const c = this.current;
    if (!c || c.mapping.lifetimeSeconds === 0) return Number.POSITIVE_INFINITY;
    return c.at + c.mapping.lifetimeSeconds * 1000 * this.options.renewFraction;
  }

  private nextCheckIn(): number {
    const untilRenew = this.renewAt() - Date.now();
    return Math.max(0, Math.min(this.options.checkIntervalMs, untilRenew));
  }

  private publish(state: MappingState, event: 'change' | 'renewed'): void {
    this.lastState = state;
    this.emit(event, state);
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new NatError('unreachable', `no answer within ${ms} ms`)), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(t);
        reject(e);
      },
    );
  });
}
