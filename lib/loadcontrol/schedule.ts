/**
 * The local load-control schedule: known events, opted-in devices and what each device should be
 * doing now. At every interval boundary (and on every change) it works out each device's
 * command afresh from the events, the device's limits and its state before the event, so that a
 * cancellation, a modification, a device leaving or a clock jump all end in the right state:
 * nothing is remembered as "pending", only recomputed.
 */
import { EventEmitter } from 'node:events';
import { type Clock, MAX_TIMER_MS, systemClock } from './clock';
import { planEvent, PlanError, type PlannedEvent, type PlannedInterval } from './event-plan';
import type { OadrEvent, Report } from './openadr3-types';
import type { Participant } from './participants';
import { buildReport, type IntervalParticipation, type RanInterval } from './report';
import { reportRequests, type ReportRequests } from './report-request';
import { commandFor, DEFAULT_SIGNAL_OPTIONS, signalOf, type SignalOptions } from './signals';
import { validateObject } from './validate';

export interface ScheduleOptions {
  readonly clientName: string;
  readonly clock?: Clock;
  /** 0 ≤ r < 1; start randomisation draws from it. */
  readonly random?: () => number;
  readonly signals?: SignalOptions;
  /** Start randomisation when the event sets none (ms, 0 = none). */
  readonly randomizeStartMs?: number;
  /** Cap for open-ended (PT0S) intervals. */
  readonly openEndedMs?: number;
  /** Most events kept; more are refused with a notice (the VTN is outside our control). */
  readonly maxEvents?: number;
  /** Longest wait between two looks at the clock: bounds how late a clock jump is seen. */
  readonly watchdogMs?: number;
  /** A wall-clock step beyond this, against the monotonic clock, is a jump. */
  readonly clockJumpMs?: number;
}

export const DEFAULT_SCHEDULE = {
  openEndedMs: 4 * 3600_000,
  maxEvents: 100,
  watchdogMs: 30_000,
  clockJumpMs: 2_000,
  randomizeStartMs: 0,
} as const;

export type CommandReason = 'event' | 'restore';

export interface DeviceCommand {
  readonly participant: Participant;
  readonly value: number;
  readonly reason: CommandReason;
  readonly programID?: string;
  readonly eventID?: string;
  readonly intervalID?: number;
  /** The level and payload types behind an event command. */
  readonly level?: number;
  readonly from?: readonly string[];
  readonly clamped: boolean;
  readonly at: string;
}

export type StateChange =
  | { kind: 'event-received' | 'event-modified'; eventID: string; programID: string; eventName?: string; start: string; end: string }
  | { kind: 'event-cancelled'; eventID: string; programID: string }
  | { kind: 'event-ended'; eventID: string; programID: string }
  | { kind: 'event-rejected'; eventID?: string; reason: string }
  | { kind: 'interval-started'; eventID: string; programID: string; intervalID: number; start: string; end: string; devices: string[] }
  | { kind: 'device-restored'; device: string; value: number; eventID?: string }
  | { kind: 'device-opted-out'; device: string; eventIDs: string[] }
  | { kind: 'report-declined'; eventID: string; reason: string }
  | { kind: 'clock-jump'; jumpMs: number };

/** A device curtailed now, and the value it goes back to: persisted across restarts. */
export interface Curtailment {
  readonly participant: Participant;
  readonly baseline: number;
  readonly eventID: string;
  readonly intervalID: number;
  readonly value: number;
}

/** The owner took a device out of an event: kept until the event is over, across restarts. */
export interface OptOut {
  readonly device: string;
  readonly eventID: string;
  /** The event's end (ms): the opt-out is forgotten then, even if the event is never seen again. */
  readonly untilMs: number;
}

export interface ScheduleEvents {
  command: [DeviceCommand];
  state: [StateChange];
  report: [Report];
  /** The set of curtailed devices changed. */
  curtailments: [Curtailment[]];
  /** The owner's opt-outs changed. */
  'opt-outs': [OptOut[]];
}

interface DeviceState {
  participant: Participant;
  /** Last value the device reported. */
  reported?: number;
  /** Last value commanded, by us or by the owner. */
  commanded?: number;
  /** Value to restore: taken when the device is first curtailed. */
  baseline?: number;
  /** The event interval now in force on the device. */
  curtailed?: { eventID: string; intervalID: number; value: number };
  /** Start offsets drawn per event. */
  offsets: Map<string, number>;
  /** Latest power the device reported (W), for usage reports. */
  powerW?: number;
}

/** Ended events are kept this long (a VTN that still lists them is not news). */
const PRUNE_AFTER_MS = 3600_000;
/** Most opt-outs kept (device × event): only the owner makes them, but a saved file is read back too. */
const MAX_OPT_OUTS = 10_000;
const iso = (ms: number): string => new Date(ms).toISOString();
const intervalKey = (eventID: string, intervalID: number): string => `${eventID}\u0000${intervalID}`;

export class LoadControlSchedule extends EventEmitter<ScheduleEvents> {
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly signals: SignalOptions;
  private readonly opts: Required<Omit<ScheduleOptions, 'clock' | 'random' | 'signals'>>;
  private readonly events = new Map<string, PlannedEvent>();
  private readonly devices = new Map<string, DeviceState>();
  /** Per event interval: the devices that took part, for its report. */
  private readonly participation = new Map<string, Map<string, IntervalParticipation>>();
  private readonly started = new Set<string>();
  /** Reports the events asked for, per event, and those already made. */
  private readonly requests = new Map<string, ReportRequests>();
  private readonly reported = new Set<string>();
  /** Per device key: the events the owner took it out of, and until when. Outlives the device leaving. */
  private readonly optOuts = new Map<string, Map<string, number>>();
  private lastOptOuts = '[]';
  private readonly ended = new Set<string>();
  private timer: unknown;
  private lastWall: number;
  private lastMono: number;
  private running = false;
  private lastCurtailments = '[]';
  /** Malformed events already refused, so that each is told once, not at every poll. */
  private readonly refused = new Set<string>();

  constructor(options: ScheduleOptions) {
    super();
    this.clock = options.clock ?? systemClock;
    this.random = options.random ?? Math.random;
    this.signals = options.signals ?? DEFAULT_SIGNAL_OPTIONS;
    this.opts = {
      clientName: options.clientName,
      randomizeStartMs: options.randomizeStartMs ?? DEFAULT_SCHEDULE.randomizeStartMs,
      openEndedMs: options.openEndedMs ?? DEFAULT_SCHEDULE.openEndedMs,
      maxEvents: options.maxEvents ?? DEFAULT_SCHEDULE.maxEvents,
      watchdogMs: options.watchdogMs ?? DEFAULT_SCHEDULE.watchdogMs,
      clockJumpMs: options.clockJumpMs ?? DEFAULT_SCHEDULE.clockJumpMs,
    };
    this.lastWall = this.clock.now();
    this.lastMono = this.clock.monotonic();
  }

  start(): void {
    this.running = true;
    this.tick();
  }

  /** Stops the timer. Devices are left as they are: call restoreAll() first to hand them back. */
  stop(): void {
    this.running = false;
    if (this.timer !== undefined) this.clock.clearTimer(this.timer);
    this.timer = undefined;
  }

  /** Every curtailed device back to its state before the event (used on shutdown). */
  restoreAll(): void {
    for (const d of this.devices.values()) this.restore(d);
  }

  curtailments(): Curtailment[] {
    const out: Curtailment[] = [];
    for (const d of this.devices.values()) {
      if (d.curtailed) out.push({ participant: d.participant, baseline: d.baseline ?? d.participant.normal, ...d.curtailed });
    }
    return out;
  }

  /**
   * Curtailments saved before a restart. A device still configured is taken back as curtailed,
   * with its saved baseline, and the next look at the clock keeps or restores it; one no longer
   * configured is restored at once.
   */
  adopt(saved: readonly Curtailment[]): void {
    for (const c of saved) {
      const d = this.devices.get(c.participant.key);
      if (d) {
        // The saved baseline is the value before the event; a fresh start could only guess it.
        d.curtailed ??= { eventID: c.eventID, intervalID: c.intervalID, value: c.value };
        d.baseline = c.baseline;
      } else {
        this.emit('command', { participant: c.participant, value: c.baseline, reason: 'restore', eventID: c.eventID, clamped: false, at: iso(this.clock.now()) });
        this.emit('state', { kind: 'device-restored', device: c.participant.name, value: c.baseline, eventID: c.eventID });
      }
    }
    this.noteCurtailments();
    this.tick();
  }

  optOutList(): OptOut[] {
    const out: OptOut[] = [];
    for (const [device, events] of this.optOuts) {
      // A known event's own end wins: it may have been extended since the opt-out.
      for (const [eventID, until] of events) out.push({ device, eventID, untilMs: this.events.get(eventID)?.endMs ?? until });
    }
    return out;
  }

  /**
   * Opt-outs saved before a restart. Call before start(), so that no device the owner took out
   * of an event is curtailed again, not even for a moment; those already over are dropped.
   */
  adoptOptOuts(saved: readonly OptOut[]): void {
    const now = this.clock.now();
    for (const o of saved) if (o.untilMs > now) this.addOptOut(o.device, o.eventID, o.untilMs);
    this.noteCurtailments();
    this.tick();
  }

  private addOptOut(device: string, eventID: string, untilMs: number): void {
    let events = this.optOuts.get(device);
    if (!events?.has(eventID) && this.optOutCount() >= MAX_OPT_OUTS) return;
    if (!events) this.optOuts.set(device, (events = new Map()));
    events.set(eventID, untilMs);
  }

  private optOutCount(): number {
    let n = 0;
    for (const events of this.optOuts.values()) n += events.size;
    return n;
  }

  private optedOut(d: DeviceState, eventID: string): boolean {
    return this.optOuts.get(d.participant.key)?.has(eventID) === true;
  }

  knownEvents(): PlannedEvent[] {
    return [...this.events.values()];
  }

  participants(): Participant[] {
    return [...this.devices.values()].map((d) => d.participant);
  }

  /**
   * A new or changed event from the VTN. Malformed ones are refused with a notice and change
   * nothing else; an event already known keeps its last good version.
   */
  upsertEvent(raw: unknown): 'added' | 'modified' | 'unchanged' | 'rejected' {
    const id = typeof (raw as { id?: unknown })?.id === 'string' ? (raw as { id: string }).id : undefined;
    const v = validateObject('event', raw);
    if (!v.ok) return this.reject(id, v.reason, raw);
    let planned: PlannedEvent;
    try {
      planned = planEvent(raw as OadrEvent, this.opts.openEndedMs);
    } catch (err) {
      if (!(err instanceof PlanError) && !(err instanceof RangeError)) throw err;
      return this.reject(id, err.message, raw);
    }
    const known = this.events.get(planned.id);
    if (known && known.fingerprint === planned.fingerprint) return 'unchanged';
    // An event that is over before we learn of it has nothing left to do.
    if (!known && planned.endMs <= this.clock.now()) return 'unchanged';
    if (!known && this.events.size >= this.opts.maxEvents) return this.reject(planned.id, `more than ${this.opts.maxEvents} events known; this one is ignored`);
    this.events.set(planned.id, planned);
    const requests = reportRequests(planned.source.reportDescriptors, planned.intervals.length, this.opts.clientName);
    this.requests.set(planned.id, requests);
    if (known) {
      // A modified interval is a new interval: let its start, and the reports it ends, happen again.
      const now = this.clock.now();
      for (const i of planned.intervals) if (i.startMs > now) this.started.delete(intervalKey(planned.id, i.id));
      for (const k of [...this.reported]) {
        const [eventID, , to] = k.split('\u0000');
        if (eventID === planned.id && !((planned.intervals[Number(to)]?.endMs ?? Infinity) <= now)) this.reported.delete(k);
      }
      this.ended.delete(planned.id);
    }
    this.emit('state', {
      kind: known ? 'event-modified' : 'event-received',
      eventID: planned.id,
      programID: planned.programID,
      eventName: planned.name,
      start: Number.isFinite(planned.startMs) ? iso(planned.startMs) : '',
      end: Number.isFinite(planned.endMs) ? iso(planned.endMs) : '',
    });
    for (const reason of requests.declined) this.emit('state', { kind: 'report-declined', eventID: planned.id, reason });
    this.tick();
    return known ? 'modified' : 'added';
  }

  /** The VTN no longer has the event (deleted: cancelled). Devices it curtails are restored. */
  removeEvent(eventID: string): boolean {
    const e = this.events.get(eventID);
    if (!e) return false;
    this.events.delete(eventID);
    const ended = this.ended.has(eventID);
    // The reports asked for still cover what happened: those owed are made now, cut short.
    this.makeReports(e, this.clock.now(), true);
    this.forget(eventID);
    if (!ended) this.emit('state', { kind: 'event-cancelled', eventID, programID: e.programID });
    this.tick();
    return true;
  }

  /** A complete list from the VTN: add and modify what is in it, cancel what is gone. */
  syncEvents(list: readonly unknown[]): void {
    const ids = new Set<string>();
    for (const raw of list) {
      const id = (raw as { id?: unknown })?.id;
      if (typeof id === 'string') ids.add(id);
      this.upsertEvent(raw);
    }
    for (const id of [...this.events.keys()]) if (!ids.has(id)) this.removeEvent(id);
  }

  /** The opted-in devices now. A device that left is restored first. */
  setParticipants(list: readonly Participant[]): void {
    const keep = new Set(list.map((p) => p.key));
    for (const [key, d] of this.devices) {
      if (keep.has(key)) continue;
      this.restore(d);
      this.devices.delete(key);
    }
    for (const p of list) {
      const d = this.devices.get(p.key);
      if (d) d.participant = p;
      else this.devices.set(p.key, { participant: p, offsets: new Map() });
    }
    this.tick();
  }

  /** What the device says it is doing: its value (e.g. brightness) and/or power (W). */
  deviceReported(key: string, report: { value?: number; powerW?: number }): boolean {
    const d = this.devices.get(key);
    if (!d) return false;
    if (report.value !== undefined && Number.isFinite(report.value)) d.reported = report.value;
    if (report.powerW !== undefined && Number.isFinite(report.powerW)) {
      d.powerW = report.powerW;
      const member = d.curtailed && this.participation.get(intervalKey(d.curtailed.eventID, d.curtailed.intervalID))?.get(key);
      if (member) {
        member.sumW += report.powerW;
        member.samples += 1;
      }
    }
    return true;
  }

  /**
   * The owner (or a flow) set the device. Outside an event this becomes the value to restore;
   * during one it is an override: the device leaves the event and keeps the owner's value.
   */
  ownerCommanded(key: string, value: number): boolean {
    const d = this.devices.get(key);
    if (!d) return false;
    d.commanded = value;
    if (!d.curtailed) {
      d.baseline = undefined;
      return true;
    }
    d.baseline = value;
    this.override(key);
    return true;
  }

  /** The owner's override: the device leaves the events running now, and is restored. */
  override(key: string): string[] {
    const d = this.devices.get(key);
    if (!d) return [];
    const now = this.clock.now();
    const running = [...this.events.values()].filter((e) => e.startMs <= now && now < e.endMs).map((e) => e.id);
    if (d.curtailed && !running.includes(d.curtailed.eventID)) running.push(d.curtailed.eventID);
    for (const id of running) this.addOptOut(key, id, this.events.get(id)?.endMs ?? now);
    this.emit('state', { kind: 'device-opted-out', device: d.participant.name, eventIDs: running });
    this.restore(d);
    return running;
  }

  /** Looks at the clock now: boundaries passed, clock jumps, what each device should do. */
  tick(): void {
    if (!this.running) return;
    const wall = this.clock.now();
    const mono = this.clock.monotonic();
    const jump = wall - this.lastWall - (mono - this.lastMono);
    this.lastWall = wall;
    this.lastMono = mono;
    if (Math.abs(jump) > this.opts.clockJumpMs) this.emit('state', { kind: 'clock-jump', jumpMs: Math.round(jump) });
    // Opt-outs of events never seen again (cancelled while we were away) end with their event.
    for (const [device, events] of this.optOuts) {
      for (const [id, until] of events) if (!this.events.has(id) && until <= wall) events.delete(id);
      if (!events.size) this.optOuts.delete(device);
    }
    this.reconcile(wall);
    this.plan(wall);
    this.noteCurtailments();
  }

  private reject(eventID: string | undefined, reason: string, raw?: unknown): 'rejected' {
    const key = `${eventID ?? ''}\u0000${reason}\u0000${raw === undefined ? '' : JSON.stringify(raw)}`;
    if (this.refused.has(key)) return 'rejected';
    if (this.refused.size >= 1000) this.refused.clear();
    this.refused.add(key);
    this.emit('state', { kind: 'event-rejected', eventID, reason });
    return 'rejected';
  }

  private noteCurtailments(): void {
    const now = this.curtailments();
    const text = JSON.stringify(now);
    if (text !== this.lastCurtailments) {
      this.lastCurtailments = text;
      this.emit('curtailments', now);
    }
    const optOuts = this.optOutList();
    const optText = JSON.stringify(optOuts);
    if (optText !== this.lastOptOuts) {
      this.lastOptOuts = optText;
      this.emit('opt-outs', optOuts);
    }
  }

  private forget(eventID: string): void {
    for (const k of [...this.started]) if (k.startsWith(`${eventID}\u0000`)) this.started.delete(k);
    for (const k of [...this.reported]) if (k.startsWith(`${eventID}\u0000`)) this.reported.delete(k);
    for (const k of [...this.participation.keys()]) if (k.startsWith(`${eventID}\u0000`)) this.participation.delete(k);
    this.ended.delete(eventID);
    this.requests.delete(eventID);
    for (const d of this.devices.values()) d.offsets.delete(eventID);
    for (const [device, events] of this.optOuts) {
      events.delete(eventID);
      if (!events.size) this.optOuts.delete(device);
    }
  }

  private offsetFor(d: DeviceState, e: PlannedEvent): number {
    let offset = d.offsets.get(e.id);
    if (offset === undefined) {
      const range = e.randomizeStartMs || this.opts.randomizeStartMs;
      offset = range > 0 ? Math.floor(this.random() * range) : 0;
      d.offsets.set(e.id, offset);
    }
    return offset;
  }

  /** The interval in force on this device now: randomisation delays the event's first start only. */
  private activeFor(d: DeviceState, now: number): { event: PlannedEvent; interval: PlannedInterval } | undefined {
    let best: { event: PlannedEvent; interval: PlannedInterval } | undefined;
    for (const e of this.events.values()) {
      if (this.optedOut(d, e.id)) continue;
      const firstStart = e.startMs + this.offsetFor(d, e);
      const interval = e.intervals.find((i) => Math.max(i.startMs, firstStart) <= now && now < i.endMs);
      if (!interval) continue;
      if (!best || e.priority < best.event.priority || (e.priority === best.event.priority && interval.startMs > best.interval.startMs)) best = { event: e, interval };
    }
    return best;
  }

  private unitsOf(e: PlannedEvent): (type: string) => string | undefined {
    return (type) => e.source.payloadDescriptors?.find((p) => p.payloadType === type)?.units ?? undefined;
  }

  private reconcile(now: number): void {
    const totalRatedW = [...this.devices.values()].reduce((sum, d) => sum + d.participant.ratedWatts, 0);
    // Interval starts, announced once each, whether or not a device is in it.
    for (const e of this.events.values()) {
      for (const i of e.intervals) {
        const k = intervalKey(e.id, i.id);
        if (i.startMs <= now && now < i.endMs && !this.started.has(k)) {
          this.started.add(k);
          const devices = [...this.devices.values()].filter((d) => !this.optedOut(d, e.id)).map((d) => d.participant.name);
          this.emit('state', { kind: 'interval-started', eventID: e.id, programID: e.programID, intervalID: i.id, start: iso(i.startMs), end: iso(i.endMs), devices });
        }
      }
    }
    for (const d of this.devices.values()) {
      const active = this.activeFor(d, now);
      if (!active) {
        this.restore(d);
        continue;
      }
      const { event, interval } = active;
      const signal = signalOf(interval.payloads, this.signals, this.unitsOf(event));
      if (!d.curtailed) d.baseline = d.reported ?? d.commanded ?? d.participant.normal;
      const baseline = d.baseline ?? d.participant.normal;
      const cmd = commandFor(d.participant, baseline, signal, this.signals, totalRatedW);
      const same = d.curtailed && d.curtailed.eventID === event.id && d.curtailed.intervalID === interval.id && d.curtailed.value === cmd.value;
      if (same) continue;
      d.curtailed = { eventID: event.id, intervalID: interval.id, value: cmd.value };
      const k = intervalKey(event.id, interval.id);
      let members = this.participation.get(k);
      if (!members) this.participation.set(k, (members = new Map()));
      members.set(d.participant.key, { participant: d.participant, baseline, value: cmd.value, shed: cmd.shed, sumW: d.powerW ?? 0, samples: d.powerW === undefined ? 0 : 1 });
      this.emit('command', {
        participant: d.participant,
        value: cmd.value,
        reason: 'event',
        programID: event.programID,
        eventID: event.id,
        intervalID: interval.id,
        level: signal.level,
        from: signal.from,
        clamped: cmd.clamped,
        at: iso(now),
      });
    }
    this.reportEnded(now);
  }

  private restore(d: DeviceState): void {
    if (!d.curtailed) return;
    const { eventID } = d.curtailed;
    const value = d.baseline ?? d.commanded ?? d.participant.normal;
    d.curtailed = undefined;
    d.baseline = undefined;
    // What we commanded last: the baseline of a later event if the device never reports.
    d.commanded = value;
    this.emit('command', { participant: d.participant, value, reason: 'restore', eventID, clamped: false, at: iso(this.clock.now()) });
    this.emit('state', { kind: 'device-restored', device: d.participant.name, value, eventID });
    this.noteCurtailments();
  }

  /**
   * The reports the event asked for whose last interval is over (all still owed when the event
   * is cut short). Intervals we did not see run (the event came late, or before a restart) are
   * left out; a report with none is not made.
   */
  private makeReports(e: PlannedEvent, now: number, cutShort: boolean): void {
    const plans = this.requests.get(e.id)?.plans ?? [];
    plans.forEach((plan, index) => {
      for (const w of plan.windows) {
        const last = e.intervals[w.to];
        const key = `${e.id}\u0000${plan.key}\u0000${w.to}`;
        if (!last || this.reported.has(key) || (!cutShort && last.endMs > now)) continue;
        const ran: RanInterval[] = [];
        for (const i of e.intervals.slice(w.from, w.to + 1)) {
          const k = intervalKey(e.id, i.id);
          if (!this.started.has(k) || i.startMs > now) continue;
          const endMs = cutShort ? Math.max(i.startMs + 1000, Math.min(i.endMs, now)) : i.endMs;
          ran.push({ interval: { ...i, endMs }, members: [...(this.participation.get(k)?.values() ?? [])] });
        }
        if (!ran.length && cutShort) continue;
        this.reported.add(key);
        if (ran.length) this.emit('report', buildReport(this.opts.clientName, e, plan, ran, `${e.id}-report-${index}-interval-${last.id}`));
      }
    });
  }

  /** The reports due, and the event's end once its intervals are over. */
  private reportEnded(now: number): void {
    for (const e of this.events.values()) {
      this.makeReports(e, now, false);
      if (e.endMs <= now && !this.ended.has(e.id)) {
        this.ended.add(e.id);
        this.emit('state', { kind: 'event-ended', eventID: e.id, programID: e.programID });
      }
      // Long over: forgotten, so that old events do not count against maxEvents.
      if (e.endMs + PRUNE_AFTER_MS <= now) {
        this.events.delete(e.id);
        this.forget(e.id);
      }
    }
  }

  /** One timer, to the next boundary (an interval's start or end, a device's randomised start). */
  private plan(now: number): void {
    if (this.timer !== undefined) this.clock.clearTimer(this.timer);
    let next = now + this.opts.watchdogMs;
    const consider = (t: number): void => {
      if (t > now && t < next) next = t;
    };
    for (const e of this.events.values()) {
      for (const i of e.intervals) {
        consider(i.startMs);
        consider(i.endMs);
      }
      for (const d of this.devices.values()) consider(e.startMs + (d.offsets.get(e.id) ?? 0));
    }
    this.timer = this.clock.setTimer(() => {
      this.timer = undefined;
      this.tick();
    }, Math.min(next - now, MAX_TIMER_MS));
  }
}
