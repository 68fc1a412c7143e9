/** ISO 8601 durations as OpenADR 3 writes them (the document's duration pattern), in milliseconds. */

const PATTERN = /^(-?)P(?=\d|T\d)(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)([DW]))?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$/;
const SECOND = 1000;
const DAY = 86_400 * SECOND;

/**
 * Milliseconds in `text`. Years and months have no fixed length; they count as 365 and 30 days
 * (events measured in months are not load-control events). Throws on anything else.
 */
export function durationMs(text: string): number {
  const m = PATTERN.exec(text);
  if (!m) throw new RangeError(`"${text}" is not an ISO 8601 duration`);
  const n = (i: number): number => (m[i] === undefined ? 0 : Number(m[i]));
  const days = n(4) * (m[5] === 'W' ? 7 : 1);
  const ms = n(2) * 365 * DAY + n(3) * 30 * DAY + days * DAY + n(6) * 3600 * SECOND + n(7) * 60 * SECOND + Math.round(n(8) * SECOND);
  return m[1] === '-' ? -ms : ms;
}

/** "PT1H30M" style text for whole seconds. */
export function isoDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s === 0) return 'PT0S';
  const h = Math.floor(s / 3600);
  const min = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  return `PT${h ? `${h}H` : ''}${min ? `${min}M` : ''}${sec ? `${sec}S` : ''}`;
}
