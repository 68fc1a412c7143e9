/** From an interval's payloads to a device's command value, within the owner's limits. */
import type { LoadControlLimits } from '../sharing/choices';
import type { ValuesMap } from './openadr3-types';
import type { Participant } from './participants';

export interface SignalOptions {
  /** PRICE at or above each threshold raises the level by one: [t1, t2, t3]. */
  readonly priceThresholds: readonly number[];
  /** °C a thermostat setpoint moves per level (positive: cooling season, setpoint raised). */
  readonly setpointStep: number;
}

export const DEFAULT_SIGNAL_OPTIONS: SignalOptions = { priceThresholds: [0.25, 0.4, 0.6], setpointStep: 1 };

/** What an interval asks for, reduced to what the gateway acts on. */
export interface Signal {
  /** 0 (normal) to 3 (maximum shed), from SIMPLE or PRICE. */
  readonly level: number;
  /** IMPORT_CAPACITY_LIMIT, in watts. */
  readonly importLimitW?: number;
  /** The payload types that decided it, e.g. ["SIMPLE"]. */
  readonly from: readonly string[];
}

/** Relative reduction per level. */
const LEVEL_REDUCTION = [0, 0.25, 0.5, 0.75] as const;

function numbers(p: ValuesMap): number[] {
  return p.values.filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
}

/**
 * The strictest of the interval's payloads. Unknown payload types are ignored (OpenADR 3 lets
 * programs define their own); `unitsOf` gives a payload type's units from the descriptors.
 */
export function signalOf(payloads: readonly ValuesMap[], options: SignalOptions, unitsOf: (type: string) => string | undefined = () => undefined): Signal {
  let level = 0;
  let importLimitW: number | undefined;
  const from: string[] = [];
  for (const p of payloads) {
    const [value] = numbers(p);
    if (value === undefined) continue;
    if (p.type === 'SIMPLE') {
      level = Math.max(level, Math.min(3, Math.max(0, Math.round(value))));
      from.push(p.type);
    } else if (p.type === 'PRICE') {
      level = Math.max(level, options.priceThresholds.filter((t) => value >= t).length);
      from.push(p.type);
    } else if (p.type === 'IMPORT_CAPACITY_LIMIT') {
      const units = (unitsOf(p.type) ?? 'KW').toUpperCase();
      const watts = units === 'W' ? value : units === 'MW' ? value * 1e6 : value * 1000;
      importLimitW = importLimitW === undefined ? watts : Math.min(importLimitW, watts);
      from.push(p.type);
    }
  }
  return { level: Math.min(level, 3), importLimitW, from };
}

export interface Command {
  readonly value: number;
  /** The limits changed what the signal asked for. */
  readonly clamped: boolean;
  /** Estimated share of the device's rated power shed (0 to 1). */
  readonly shed: number;
}

function clamp(value: number, limits: LoadControlLimits): { value: number; clamped: boolean } {
  let v = value;
  if (limits.min !== undefined && v < limits.min) v = limits.min;
  if (limits.max !== undefined && v > limits.max) v = limits.max;
  return { value: v, clamped: v !== value };
}

const round1 = (n: number): number => Math.round(n * 10) / 10;

/**
 * The device's command for a signal, from its value before the event (`baseline`):
 * - percentages (brightness, power, level, anything not listed below) are reduced by 25, 50
 *   or 75 % of the baseline at levels 1 to 3, or by the share an import limit needs;
 * - "setpoint" moves by `setpointStep` °C per level;
 * - "switch" turns off (0) from level 2 or when an import limit needs half or more.
 * Then the owner's limits apply: they always win.
 */
export function commandFor(p: Participant, baseline: number, signal: Signal, options: SignalOptions, totalRatedW: number): Command {
  let reduction: number = LEVEL_REDUCTION[signal.level] ?? 0;
  if (signal.importLimitW !== undefined && totalRatedW > signal.importLimitW) {
    reduction = Math.max(reduction, 1 - signal.importLimitW / totalRatedW);
  }
  if (p.quantity === 'setpoint') {
    const steps = Math.round(reduction / 0.25);
    const { value, clamped } = clamp(round1(baseline + steps * options.setpointStep), p.limits);
    // Roughly 10 % of an air conditioner's power per °C.
    return { value, clamped, shed: Math.min(1, Math.abs(value - baseline) * 0.1) };
  }
  if (p.quantity === 'switch') {
    const { value, clamped } = clamp(reduction >= 0.5 ? 0 : baseline, p.limits);
    return { value, clamped, shed: baseline > 0 && value === 0 ? 1 : 0 };
  }
  const { value, clamped } = clamp(round1(baseline * (1 - reduction)), p.limits);
  return { value, clamped, shed: baseline > 0 ? Math.max(0, Math.min(1, (baseline - value) / baseline)) : 0 };
}
