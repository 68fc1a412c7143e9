/**
 * What a load-control node shows its owner, and the owner's override, for the dashboard: the
 * property `loadControl` of a started load-control node. The override is the same as the flow
 * message {topic: 'override'}: the device leaves the events running now, is restored, and the
 * opt-out is persisted with the node's state.
 */
import { EventEmitter } from 'node:events';
import type { LoadControlSchedule } from './schedule';
import type { Participant } from './participants';

/** One device (one commanded quantity of it) in one event, now. */
export interface DeviceLoadControl {
  /** The provisioned device's id (MQTT), the endpoint or group (CoAP), else the configured name. */
  readonly deviceId: string;
  readonly quantity: string;
  readonly state: 'curtailed' | 'opted-out';
  readonly eventID: string;
  readonly eventName?: string;
  readonly programID?: string;
  /** The value commanded now (curtailed only). */
  readonly value?: number;
  /** When the event ends (ISO), if known. */
  readonly until?: string;
}

export type OptOutResult = { readonly result: 'opted-out'; readonly eventIDs: string[] } | { readonly result: 'unknown-device' } | { readonly result: 'no-event' };

export interface LoadControlOwner {
  /** Devices curtailed now, and those the owner took out of an event not yet over. */
  devices(): DeviceLoadControl[];
  /** The owner's override from outside the flow (the dashboard). */
  optOut(deviceId: string): OptOutResult;
  /** 'changed': curtailments or opt-outs changed. */
  on(event: 'changed', listener: () => void): this;
  off(event: 'changed', listener: () => void): this;
}

export function deviceIdOf(p: Participant): string {
  return p.deviceId ?? p.endpoint ?? p.group ?? p.name;
}

const iso = (ms: number): string | undefined => (Number.isFinite(ms) ? new Date(ms).toISOString() : undefined);

class ScheduleOwner extends EventEmitter implements LoadControlOwner {
  constructor(
    private readonly schedule: LoadControlSchedule,
    private readonly now: () => number,
    private readonly overridden: (p: Participant, eventIDs: string[]) => void,
  ) {
    super();
    const changed = (): void => void this.emit('changed');
    schedule.on('curtailments', changed);
    schedule.on('opt-outs', changed);
  }

  devices(): DeviceLoadControl[] {
    const events = new Map(this.schedule.knownEvents().map((e) => [e.id, e]));
    const byKey = new Map(this.schedule.participants().map((p) => [p.key, p]));
    const out: DeviceLoadControl[] = [];
    for (const c of this.schedule.curtailments()) {
      const e = events.get(c.eventID);
      out.push({ deviceId: deviceIdOf(c.participant), quantity: c.participant.quantity, state: 'curtailed', eventID: c.eventID, eventName: e?.name, programID: e?.programID, value: c.value, until: e && iso(e.endMs) });
    }
    const now = this.now();
    for (const o of this.schedule.optOutList()) {
      const p = byKey.get(o.device);
      if (!p || o.untilMs <= now) continue;
      const e = events.get(o.eventID);
      out.push({ deviceId: deviceIdOf(p), quantity: p.quantity, state: 'opted-out', eventID: o.eventID, eventName: e?.name, programID: e?.programID, until: iso(o.untilMs) });
    }
    return out;
  }

  optOut(deviceId: string): OptOutResult {
    const mine = this.schedule.participants().filter((p) => deviceIdOf(p) === deviceId);
    if (!mine.length) return { result: 'unknown-device' };
    const now = this.now();
    const running = this.schedule.knownEvents().filter((e) => e.startMs <= now && now < e.endMs);
    const optedOut = new Set(this.schedule.optOutList().map((o) => `${o.device}\u0000${o.eventID}`));
    const curtailed = new Set(this.schedule.curtailments().map((c) => c.participant.key));
    // In an event: curtailed now, or due to be (a randomised start) in one it has not left.
    const inEvent = mine.filter((p) => curtailed.has(p.key) || running.some((e) => !optedOut.has(`${p.key}\u0000${e.id}`)));
    if (!inEvent.length) return { result: 'no-event' };
    const eventIDs = new Set<string>();
    for (const p of inEvent) {
      const left = this.schedule.override(p.key);
      for (const id of left) eventIDs.add(id);
      this.overridden(p, left);
    }
    return { result: 'opted-out', eventIDs: [...eventIDs] };
  }
}

/** The owner's view of a schedule; `overridden` is told of each override (for the node's log). */
export function ownerView(schedule: LoadControlSchedule, now: () => number = Date.now, overridden: (p: Participant, eventIDs: string[]) => void = () => undefined): LoadControlOwner {
  return new ScheduleOwner(schedule, now, overridden);
}
