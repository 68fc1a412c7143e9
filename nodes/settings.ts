/** Reading editor fields, which arrive as strings or numbers and may be blank or nonsense. */
export class SettingError extends Error {}

/** Blank means the default; anything else must be an integer within [min, max]. */
export function integerSetting(name: string, value: unknown, fallback: number, min: number, max: number): number {
  if (value === undefined || value === null || (typeof value === 'string' && value.trim() === '')) return fallback;
  const n = typeof value === 'number' ? value : Number(value);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new SettingError(`${name} must be an integer from ${min} to ${max}, not "${String(value)}"`);
  }
  return n;
}
