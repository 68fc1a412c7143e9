/**
 * Between node-coap's view of a message (option records by name, codes as "2.05", methods by
 * name) and lib/oscore's CoapMessage (option numbers and bytes). Kept apart from the protocol
 * core so that lib/oscore/index.ts stays free of any CoAP library.
 */
// node-coap's own name ↔ bytes conversions, so values round-trip exactly as node-coap reads them.
import { fromBinary, toBinary } from 'coap/dist/lib/option_converter';
import type { CoapReply, CoapRequest, OptionValue } from '../coap/endpoint';
import { optionNumber } from '../coap/client';
import { OPTION_NUMBERS } from '../coap/option-numbers';
import { METHODS, type Method } from '../coap/router';
import type { CoapMessage, CoapOption } from './message';
import { OPTION, codeString } from './option-numbers';

const NAMES = new Map<number, string>(Object.entries(OPTION_NUMBERS).map(([name, number]) => [number, name]));

function bytesOf(name: string, value: string | number | Buffer): Buffer {
  if (Buffer.isBuffer(value)) return value;
  try {
    return toBinary(name, value) as Buffer;
  } catch {
    // no converter for this name: strings as UTF-8, numbers as a CoAP uint
  }
  if (typeof value === 'string') return Buffer.from(value, 'utf8');
  const bytes: number[] = [];
  for (let n = value; n > 0; n = Math.floor(n / 256)) bytes.unshift(n % 256);
  return Buffer.from(bytes);
}

/** Options by name or number (as node-coap and flows write them) as a numbered list; unknown names are dropped. */
export function optionList(options: Record<string, OptionValue>): CoapOption[] {
  const list: CoapOption[] = [];
  for (const [name, value] of Object.entries(options)) {
    const number = optionNumber(name);
    if (number === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) list.push({ number, value: bytesOf(name, v) });
  }
  return list;
}

/** A numbered list as node-coap would have decoded it: by name, converted, repeatable ones as arrays. */
export function optionRecord(options: readonly CoapOption[]): Record<string, OptionValue> {
  const out: Record<string, OptionValue> = {};
  for (const { number, value } of options) {
    const name = NAMES.get(number) ?? String(number);
    const v = (fromBinary(name, value) as string | number | Buffer | null) ?? value;
    const prev = out[name];
    out[name] = prev === undefined ? v : ([] as Array<string | number | Buffer>).concat(prev as never, v as never) as Buffer[];
  }
  return out;
}

/** Options keyed by number, bytes untouched: what node-coap's setOption writes back unchanged. */
export function wireRecord(options: readonly CoapOption[]): Record<string, Buffer | Buffer[]> {
  const out: Record<string, Buffer | Buffer[]> = {};
  for (const { number, value } of options) {
    const key = String(number);
    const prev = out[key];
    out[key] = prev === undefined ? value : ([] as Buffer[]).concat(prev, value);
  }
  return out;
}

export function methodCode(method: Method): number {
  return METHODS.indexOf(method) + 1;
}

export function codeMethod(code: number): Method | undefined {
  return code >= 1 && code <= METHODS.length ? METHODS[code - 1] : undefined;
}

/** "2.05" → 0x45; undefined for anything else. */
export function codeByte(code: string): number | undefined {
  const match = /^([0-7])\.(\d\d)$/.exec(code);
  if (!match) return undefined;
  const detail = Number(match[2]);
  return detail > 31 ? undefined : (Number(match[1]) << 5) | detail;
}

/** A request as the endpoint received it. */
export function requestMessage(request: CoapRequest): CoapMessage {
  return { code: methodCode(request.method), options: optionList(request.options), payload: request.payload };
}

/** A reply as a flow (coap-response) gives it, before protection. */
export function replyMessage(reply: CoapReply): CoapMessage {
  const options = optionList(reply.options ?? {}).filter((o) => o.number !== OPTION.CONTENT_FORMAT || reply.contentFormat === undefined);
  if (reply.contentFormat !== undefined) options.push({ number: OPTION.CONTENT_FORMAT, value: bytesOf('Content-Format', reply.contentFormat) });
  return { code: codeByte(reply.code) ?? 0xa0, options, payload: reply.payload ?? Buffer.alloc(0) };
}

/** A (protected, or OSCORE error) message as the endpoint sends it. */
export function wireReply(message: CoapMessage): CoapReply {
  return { code: codeString(message.code), payload: message.payload, options: wireRecord(message.options) };
}

/** The Uri-Path and Uri-Query of a (decrypted) message as strings. */
export function uriOf(message: CoapMessage): { path: string[]; query: string[] } {
  const path = message.options.filter((o) => o.number === OPTION.URI_PATH).map((o) => o.value.toString('utf8'));
  const query = message.options.filter((o) => o.number === OPTION.URI_QUERY).map((o) => o.value.toString('utf8'));
  return { path: path.filter((s, i) => s !== '' || i < path.length - 1), query };
}

/** Whether node-coap's option record holds the OSCORE option (coap-packet names it "OSCORE"; by number "9"). */
export function hasOscoreOption(options: Record<string, OptionValue>): boolean {
  return options.OSCORE !== undefined || options[String(OPTION.OSCORE)] !== undefined;
}
