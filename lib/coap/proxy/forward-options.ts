/**
 * Which options a proxy copies between the client's side and the device's side (RFC 7252
 * §5.7.2–5.7.3, RFC 7641, RFC 7959, RFC 8768). End-to-end options pass untouched (ETag,
 * If-Match, Content-Format, Accept, OSCORE, ...); hop-by-hop ones are ours to set.
 */
import type { OptionValue } from '../endpoint';
import { OPTION_NUMBERS } from '../client';

/** The request's target (we set it), the observation and the block transfer (node-coap's, per hop). */
const REQUEST_HOP_BY_HOP = new Set([
  'Uri-Host', 'Uri-Port', 'Uri-Path', 'Uri-Query', 'Proxy-Uri', 'Proxy-Scheme',
  'Observe', 'Block1', 'Block2', 'Q-Block1', 'Q-Block2', 'Size2', 'Hop-Limit',
]);

const RESPONSE_HOP_BY_HOP = new Set([
  'Observe', 'Block1', 'Block2', 'Q-Block1', 'Q-Block2', 'Size1', 'Size2',
  'Uri-Host', 'Uri-Port', 'Uri-Path', 'Uri-Query', 'Proxy-Uri', 'Proxy-Scheme', 'Hop-Limit',
]);

/** RFC 8768 §3: what a proxy puts in when the client sent none, so forwarding loops end. */
export const DEFAULT_HOP_LIMIT = 16;

export type RequestOptionsVerdict =
  | { kind: 'forward'; options: Record<string, OptionValue> }
  /** An option the proxy does not know and may not forward blindly: 5.02 (RFC 7252 §5.7.1). */
  | { kind: 'unsafe'; option: number }
  /** Hop-Limit ran out: 5.08 (RFC 8768 §3). */
  | { kind: 'hop-limit' };

export function forwardRequestOptions(options: Record<string, OptionValue>): RequestOptionsVerdict {
  const out: Record<string, OptionValue> = {};
  for (const [name, value] of Object.entries(options)) {
    if (REQUEST_HOP_BY_HOP.has(name)) continue;
    if (OPTION_NUMBERS[name] === undefined) {
      const number = Number(name);
      // node-coap names every option it knows; a bare number is one nobody here understands.
      if (Number.isInteger(number) && (number & 0x02) !== 0) return { kind: 'unsafe', option: number };
    }
    out[name] = value;
  }
  const hops = options['Hop-Limit'] === undefined ? DEFAULT_HOP_LIMIT + 1 : uintOf(options['Hop-Limit']);
  if (hops <= 1) return { kind: 'hop-limit' };
  out['Hop-Limit'] = Buffer.of(Math.min(255, hops - 1));
  return { kind: 'forward', options: out };
}

/** The device's options that travel back to the client. */
export function forwardResponseOptions(options: Record<string, OptionValue>): Record<string, OptionValue> {
  const out: Record<string, OptionValue> = {};
  for (const [name, value] of Object.entries(options)) {
    if (!RESPONSE_HOP_BY_HOP.has(name)) out[name] = value;
  }
  return out;
}

function uintOf(value: OptionValue): number {
  if (typeof value === 'number') return value;
  const bytes = Array.isArray(value) ? value[0] : typeof value === 'string' ? Buffer.from(value) : value;
  if (!bytes) return 0;
  let n = 0;
  for (const b of bytes) n = n * 256 + b;
  return n;
}
