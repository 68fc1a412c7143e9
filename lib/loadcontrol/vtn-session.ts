/**
 * The VEN's side of the conversation with its VTN: polls programs and events (with back-off while
 * the VTN is unreachable, known events keep running meanwhile), takes webhook notifications when
 * subscribed, and delivers reports, queued and retried until the VTN has them.
 */
import { EventEmitter } from 'node:events';
import { backoffDelay, type BackoffOptions } from '../nat/backoff';
import { type Clock, systemClock } from './clock';
import type { ObjectType, OadrNotification, Report } from './openadr3-types';
import type { LoadControlSchedule } from './schedule';
import { SchemaError, validateObject } from './validate';
import { VtnHttpError, VtnUnreachableError, type QueryValue, type VtnClient } from './vtn-client';

export interface VtnSessionOptions {
  readonly client: VtnClient;
  readonly schedule: LoadControlSchedule;
  /** clientName in reports and subscriptions. */
  readonly venName: string;
  /** Only these programs (by programName); empty: every program the VTN lists for us. */
  readonly programNames?: readonly string[];
  /** Sent as targetType/targetValues on GET /programs and /events when set. */
  readonly targetType?: string;
  readonly targetValues?: readonly string[];
  readonly pollMs?: number;
  readonly backoff?: BackoffOptions;
  readonly maxQueuedReports?: number;
  readonly clock?: Clock;
  /** Reports still owed from before a restart (oldest first): sent once the VTN answers. */
  readonly queuedReports?: readonly Report[];
  /** Called with the whole queue after every change, to keep it on disk; a throw is told once as a notice. */
  readonly saveQueue?: (queue: readonly Report[]) => void;
}

export const DEFAULT_SESSION = { pollMs: 60_000, maxQueuedReports: 100, backoff: { initialMs: 2_000, maxMs: 300_000 } } as const;

export type SessionChange =
  | { kind: 'vtn-reachable'; programs: string[]; events: number }
  | { kind: 'vtn-unreachable'; reason: string; retryInMs: number; failures: number }
  | { kind: 'notice'; reason: string }
  | { kind: 'report-sent'; eventID: string; reportName?: string; reportID?: string }
  | { kind: 'report-dropped'; eventID: string; reason: string }
  | { kind: 'subscribed'; programID: string; subscriptionID?: string }
  | { kind: 'notification'; objectType: ObjectType; operation: string; id?: string };

export interface SessionEvents {
  state: [SessionChange];
}

export class VtnSession extends EventEmitter<SessionEvents> {
  private readonly clock: Clock;
  private readonly pollMs: number;
  private readonly backoff: BackoffOptions;
  private readonly maxQueued: number;
  private timer: unknown;
  private failures = 0;
  private reachable?: boolean;
  private stopped = true;
  private polling?: Promise<void>;
  private readonly queue: Report[] = [];
  /** The queue on its way out; stop() waits for it, so that a restart reads the queue as the VTN left it. */
  private flushing?: Promise<void>;
  private saveFailed = false;
  private programIDs = new Map<string, string>();
  private readonly subscriptions = new Map<string, string>();
  private readonly subscribeFailed = new Set<string>();
  private webhook?: { callbackUrl: string; bearerToken: string };

  constructor(private readonly o: VtnSessionOptions) {
    super();
    this.clock = o.clock ?? systemClock;
    this.pollMs = o.pollMs ?? DEFAULT_SESSION.pollMs;
    this.backoff = o.backoff ?? DEFAULT_SESSION.backoff;
    this.maxQueued = o.maxQueuedReports ?? DEFAULT_SESSION.maxQueuedReports;
    this.queue.push(...(o.queuedReports ?? []).slice(-this.maxQueued));
    o.schedule.on('report', (r) => this.queueReport(r));
  }

  start(): void {
    this.stopped = false;
    void this.pollNow();
  }

  /** Stops polling and removes our subscriptions from the VTN (best effort). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) this.clock.clearTimer(this.timer);
    this.timer = undefined;
    await this.polling?.catch(() => undefined);
    await this.flushing?.catch(() => undefined);
    await Promise.all([...this.subscriptions.values()].map((id) => this.o.client.deleteSubscription(id).catch(() => undefined)));
    this.subscriptions.clear();
  }

  /**
   * Subscribe for webhook notifications at `callbackUrl` (where the gateway is reachable from
   * the VTN); the VTN must present `bearerToken`. Polling continues, less urgent but still the
   * safety net.
   */
  useWebhook(callbackUrl: string, bearerToken: string): void {
    this.webhook = { callbackUrl, bearerToken };
  }

  queuedReports(): number {
    return this.queue.length;
  }

  /** One poll now (also what the timer runs). Resolves when done; never rejects. */
  pollNow(): Promise<void> {
    this.polling ??= this.poll().finally(() => {
      this.polling = undefined;
    });
    return this.polling;
  }

  /**
   * A webhook call. Answers the HTTP status to give: 401 for a wrong token, 400 for an object
   * that fails the schema (with a notice; nothing else changes), 200 otherwise.
   */
  notify(authorization: string | undefined, body: unknown): { status: number; reason?: string } {
    if (!this.webhook || authorization !== `Bearer ${this.webhook.bearerToken}`) return { status: 401, reason: 'wrong or missing bearer token' };
    const v = validateObject('notification', body);
    if (!v.ok) {
      this.emit('state', { kind: 'notice', reason: `notification refused: ${v.reason}` });
      return { status: 400, reason: v.reason };
    }
    const n = body as OadrNotification;
    const id = typeof n.object.id === 'string' ? n.object.id : undefined;
    this.emit('state', { kind: 'notification', objectType: n.objectType, operation: n.operation, id });
    try {
      if (n.objectType === 'EVENT') {
        const programID = n.object.programID;
        if (typeof programID === 'string' && !this.programIDs.has(programID)) return { status: 200 };
        if (n.operation === 'DELETE' && id) this.o.schedule.removeEvent(id);
        else if (n.operation === 'POST' || n.operation === 'PUT') this.o.schedule.upsertEvent(n.object);
      } else if (n.objectType === 'PROGRAM') {
        void this.pollNow();
      }
    } catch (err) {
      // Called from an HTTP handler: a throw there would take the process down.
      this.emit('state', { kind: 'notice', reason: `notification not applied: ${(err as Error)?.message ?? String(err)}` });
      return { status: 500, reason: 'not applied' };
    }
    return { status: 200 };
  }

  private queueReport(report: Report): void {
    this.queue.push(report);
    while (this.queue.length > this.maxQueued) {
      const dropped = this.queue.shift();
      if (dropped) this.emit('state', { kind: 'report-dropped', eventID: dropped.eventID, reason: `more than ${this.maxQueued} reports waiting for the VTN` });
    }
    this.saveQueue();
    if (this.reachable !== false) void this.flush();
  }

  /** Out of the queue by identity: while it was on its way, the queue may have moved on. */
  private take(report: Report): void {
    const at = this.queue.indexOf(report);
    if (at >= 0) this.queue.splice(at, 1);
    this.saveQueue();
  }

  private saveQueue(): void {
    if (!this.o.saveQueue) return;
    try {
      this.o.saveQueue(this.queue);
      this.saveFailed = false;
    } catch (err) {
      if (!this.saveFailed) this.emit('state', { kind: 'notice', reason: `queued reports not saved: ${(err as Error)?.message ?? String(err)}` });
      this.saveFailed = true;
    }
  }

  private flush(): Promise<void> {
    this.flushing ??= this.sendQueued().finally(() => {
      this.flushing = undefined;
    });
    return this.flushing;
  }

  private async sendQueued(): Promise<void> {
    while (this.queue.length && !this.stopped) {
      const report = this.queue[0]!;
      try {
        const created = await this.o.client.createReport(report);
        this.take(report);
        this.emit('state', { kind: 'report-sent', eventID: report.eventID, reportName: report.reportName ?? undefined, reportID: created.id });
      } catch (err) {
        // 4xx (e.g. 400, 404 for a deleted event) but 401/429: the VTN will never take this one; nor a report failing the schema.
        const refused = (err instanceof VtnHttpError && err.status >= 400 && err.status < 500 && err.status !== 401 && err.status !== 429) || err instanceof SchemaError;
        if (!refused) return; // unreachable: the next successful poll flushes again
        this.take(report);
        this.emit('state', { kind: 'report-dropped', eventID: report.eventID, reason: (err as Error).message });
      }
    }
  }

  private query(extra: Record<string, QueryValue> = {}): Record<string, QueryValue> {
    const q: Record<string, QueryValue> = { ...extra };
    if (this.o.targetType) {
      q.targetType = this.o.targetType;
      q.targetValues = this.o.targetValues ?? [this.o.venName];
    }
    return q;
  }

  private async poll(): Promise<void> {
    if (this.stopped) return;
    try {
      const programs = await this.o.client.programs(this.query());
      for (const bad of programs.invalid) this.emit('state', { kind: 'notice', reason: `program ignored: ${bad.reason}` });
      const wanted = this.o.programNames?.length ? new Set(this.o.programNames) : undefined;
      const chosen = programs.valid.filter((p) => typeof p.id === 'string' && (!wanted || wanted.has(String(p.programName))));
      const events: unknown[] = [];
      for (const p of chosen) {
        const list = await this.o.client.events(this.query({ programID: p.id as string }));
        // Invalid ones go to the schedule too: it refuses them with a notice and keeps the last good version.
        events.push(...list.valid, ...list.invalid.map((i) => i.object));
      }
      if (this.stopped) return;
      this.programIDs = new Map(chosen.map((p) => [p.id as string, String(p.programName)]));
      this.o.schedule.syncEvents(events);
      this.failures = 0;
      if (this.reachable !== true) this.emit('state', { kind: 'vtn-reachable', programs: [...this.programIDs.values()], events: events.length });
      this.reachable = true;
      await this.subscribe();
      void this.flush();
      this.schedule(this.pollMs);
    } catch (err) {
      // Whatever went wrong (the VTN, its answers, or a fault of ours), the same: retry later. A
      // rejection here would reach no one but the process.
      if (!(err instanceof VtnUnreachableError || err instanceof VtnHttpError || err instanceof SchemaError)) {
        this.emit('state', { kind: 'notice', reason: `poll failed unexpectedly: ${(err as Error)?.message ?? String(err)}` });
      }
      this.failures += 1;
      this.reachable = false;
      const retryInMs = Math.min(backoffDelay(this.failures, this.backoff), Math.max(this.pollMs, this.backoff.initialMs));
      this.emit('state', { kind: 'vtn-unreachable', reason: (err as Error)?.message ?? String(err), retryInMs, failures: this.failures });
      this.schedule(retryInMs);
    }
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    if (this.timer !== undefined) this.clock.clearTimer(this.timer);
    this.timer = this.clock.setTimer(() => {
      this.timer = undefined;
      void this.pollNow();
    }, ms);
  }

  private async subscribe(): Promise<void> {
    if (!this.webhook) return;
    for (const programID of this.programIDs.keys()) {
      if (this.subscriptions.has(programID)) continue;
      try {
        const created = await this.o.client.createSubscription({
          clientName: this.o.venName,
          programID,
          objectOperations: [{ objects: ['EVENT', 'PROGRAM'], operations: ['POST', 'PUT', 'DELETE'], callbackUrl: this.webhook.callbackUrl, bearerToken: this.webhook.bearerToken }],
          // The same targeting as the polls: the VTN filters its callbacks by it.
          ...(this.o.targetType ? { targets: [{ type: this.o.targetType, values: [...(this.o.targetValues ?? [this.o.venName])] }] } : {}),
        });
        this.subscriptions.set(programID, created.id ?? '');
        this.emit('state', { kind: 'subscribed', programID, subscriptionID: created.id });
      } catch (err) {
        // Said once per program; polling is the fallback and is tried again at each poll.
        if (!this.subscribeFailed.has(programID)) {
          this.subscribeFailed.add(programID);
          this.emit('state', { kind: 'notice', reason: `subscription for program ${programID} failed: ${(err as Error).message}; polling carries on` });
        }
        return;
      }
    }
  }
}
