/**
 * Sharing choices as they arrive from the dashboard (JSON from a browser): checked field by
 * field and bounded, so a bad or hostile request is refused with a reason, never stored.
 */
import type { LoadControlLimits, ShareLevel, SharingChoices } from './choices';
import { NAME, NAME_RULE } from './names';

export class SharingChoiceError extends Error {}

export const MAX_WINDOW_MINUTES = 7 * 24 * 60;
export const MAX_THIRD_PARTIES = 16;
export const MAX_LIMIT_QUANTITIES = 16;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function fail(message: string): never {
  throw new SharingChoiceError(message);
}

export function parseShareLevel(value: unknown, where: string): ShareLevel {
  if (!isRecord(value)) fail(`${where} must be an object with a mode`);
  switch (value.mode) {
    case 'none':
      return { mode: 'none' };
    case 'raw':
      return { mode: 'raw' };
    case 'summary': {
      const w = value.windowMinutes;
      if (typeof w !== 'number' || !Number.isInteger(w) || w < 1 || w > MAX_WINDOW_MINUTES) {
        fail(`${where}.windowMinutes must be an integer from 1 to ${MAX_WINDOW_MINUTES}`);
      }
      return { mode: 'summary', windowMinutes: w };
    }
    default:
      return fail(`${where}.mode must be "none", "raw" or "summary"`);
  }
}

function parseName(name: string, where: string): string {
  if (!NAME.test(name)) fail(`${where} "${name.slice(0, 40)}" must be ${NAME_RULE}`);
  return name;
}

function parseLimits(value: unknown, where: string): LoadControlLimits {
  if (!isRecord(value)) fail(`${where} must be an object`);
  const out: { min?: number; max?: number } = {};
  for (const key of ['min', 'max'] as const) {
    const v = value[key];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'number' || !Number.isFinite(v)) fail(`${where}.${key} must be a number`);
    out[key] = v;
  }
  if (out.min !== undefined && out.max !== undefined && out.min > out.max) fail(`${where}: min is above max`);
  return out;
}

export function parseSharingChoices(value: unknown): SharingChoices {
  if (!isRecord(value)) fail('sharing choices must be an object');
  const vendor = parseShareLevel(value.vendor, 'vendor');

  const tp = value.thirdParties ?? {};
  if (!isRecord(tp)) fail('thirdParties must be an object');
  const names = Object.keys(tp);
  if (names.length > MAX_THIRD_PARTIES) fail(`at most ${MAX_THIRD_PARTIES} third parties`);
  const thirdParties: Record<string, ShareLevel> = {};
  for (const name of names) thirdParties[parseName(name, 'third party')] = parseShareLevel(tp[name], `thirdParties.${name}`);

  if (typeof value.vendorCommands !== 'boolean') fail('vendorCommands must be true or false');

  const lc = value.loadControl ?? { optIn: false, limits: {} };
  if (!isRecord(lc) || typeof lc.optIn !== 'boolean') fail('loadControl.optIn must be true or false');
  const rawLimits = lc.limits ?? {};
  if (!isRecord(rawLimits)) fail('loadControl.limits must be an object');
  const quantities = Object.keys(rawLimits);
  if (quantities.length > MAX_LIMIT_QUANTITIES) fail(`at most ${MAX_LIMIT_QUANTITIES} load-control quantities`);
  const limits: Record<string, LoadControlLimits> = {};
  for (const q of quantities) limits[parseName(q, 'quantity')] = parseLimits(rawLimits[q], `loadControl.limits.${q}`);

  return { vendor, thirdParties, vendorCommands: value.vendorCommands, loadControl: { optIn: lc.optIn, limits } };
}
