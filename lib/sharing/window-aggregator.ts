/**
 * Summary windows: the first reading of a series opens a window of N minutes, readings until it
 * ends are summarised, and one message leaves when it ends. Series are bounded, since message
 * topics (and so series) come from devices.
 */
import { Summary } from './summary';
import type { Timers } from './timers';

export interface ClosedWindow {
  readonly payload: unknown;
  readonly count: number;
  readonly minutes: number;
  readonly from: number; // ms since the epoch
  readonly to: number;
}

export interface WindowAggregatorOptions<M> {
  timers: Timers;
  /** Open windows at most; a reading that would open one more is refused. */
  maxSeries: number;
  /** Distinct payload fields one window keeps. */
  maxFields: number;
  onClose: (meta: M, window: ClosedWindow) => void;
}

interface OpenWindow<M> {
  meta: M;
  summary: Summary;
  minutes: number;
  from: number;
  timer: unknown;
}

export class WindowAggregator<M> {
  private readonly open = new Map<string, OpenWindow<M>>();

  constructor(private readonly options: WindowAggregatorOptions<M>) {}

  get size(): number {
    return this.open.size;
  }

  /** Adds a reading to the series' open window (opening one); false when the series limit refuses it. */
  add(key: string, minutes: number, meta: M, payload: unknown): boolean {
    const seriesKey = `${minutes}\u0000${key}`;
    let window = this.open.get(seriesKey);
    if (window === undefined) {
      if (this.open.size >= this.options.maxSeries) return false;
      const { timers } = this.options;
      const opened: OpenWindow<M> = { meta, summary: new Summary(this.options.maxFields), minutes, from: timers.now(), timer: undefined };
      opened.timer = timers.setTimeout(() => this.close(seriesKey), minutes * 60_000);
      this.open.set(seriesKey, opened);
      window = opened;
    }
    window.meta = meta;
    window.summary.add(payload);
    return true;
  }

  private close(seriesKey: string): void {
    const window = this.open.get(seriesKey);
    if (window === undefined) return;
    this.open.delete(seriesKey);
    this.options.onClose(window.meta, {
      payload: window.summary.payload(),
      count: window.summary.count,
      minutes: window.minutes,
      from: window.from,
      to: this.options.timers.now(),
    });
  }

  /** Drops every open window without sending it. */
  stop(): void {
    for (const window of this.open.values()) this.options.timers.clearTimeout(window.timer);
    this.open.clear();
  }
}
