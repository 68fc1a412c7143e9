/**
 * Content-Format numbers (RFC 7252 §12.3 and the IANA registry) and the conversions between a
 * flow's msg.payload and a CoAP payload.
 */
import { decode as cborDecode, encode as cborEncode } from 'cbor-x';

export const ContentFormat = {
  textPlain: 0,
  linkFormat: 40,
  xml: 41,
  octetStream: 42,
  exi: 47,
  json: 50,
  cbor: 60,
  senmlJson: 110,
  senmlCbor: 112,
} as const;

const NAMES: Record<number, string> = {
  0: 'text/plain;charset=utf-8',
  40: 'application/link-format',
  41: 'application/xml',
  42: 'application/octet-stream',
  47: 'application/exi',
  50: 'application/json',
  60: 'application/cbor',
  110: 'application/senml+json',
  112: 'application/senml+cbor',
};

/** Accepts a number or a media type string (with or without ";charset=utf-8"). */
export function contentFormatNumber(input: unknown): number | undefined {
  if (typeof input === 'number') return Number.isInteger(input) && input >= 0 && input <= 0xffff ? input : undefined;
  if (typeof input !== 'string' || input.trim() === '') return undefined;
  const text = input.trim().toLowerCase();
  if (/^\d+$/.test(text)) return contentFormatNumber(Number(text));
  for (const [num, name] of Object.entries(NAMES)) {
    if (name === text || name.split(';')[0] === text) return Number(num);
  }
  return undefined;
}

export function contentFormatName(format: number): string {
  return NAMES[format] ?? String(format);
}

function isJsonFormat(format: number): boolean {
  return format === ContentFormat.json || format === ContentFormat.senmlJson;
}

function isCborFormat(format: number): boolean {
  return format === ContentFormat.cbor || format === ContentFormat.senmlCbor;
}

function isTextFormat(format: number): boolean {
  return format === ContentFormat.textPlain || format === ContentFormat.linkFormat || format === ContentFormat.xml;
}

export class PayloadDecodeError extends Error {}

/**
 * Turns a received payload into what a flow expects: text for text formats, a parsed value for
 * JSON and CBOR, the raw Buffer otherwise. Throws PayloadDecodeError for a body that does not
 * match its declared format, so the caller can answer 4.00.
 */
export function decodePayload(payload: Buffer, format: number | undefined): unknown {
  if (format === undefined) return payload;
  if (isTextFormat(format)) return payload.toString('utf8');
  if (payload.length === 0 && (isJsonFormat(format) || isCborFormat(format))) return undefined;
  try {
    if (isJsonFormat(format)) return JSON.parse(payload.toString('utf8'));
    if (isCborFormat(format)) return cborDecode(payload);
  } catch (err) {
    throw new PayloadDecodeError(`payload is not valid ${contentFormatName(format)}: ${(err as Error).message}`);
  }
  return payload;
}

/**
 * Turns msg.payload into bytes. With no explicit format the format follows the value: Buffer →
 * octet-stream, string → text/plain, anything else → JSON.
 */
export function encodePayload(value: unknown, format: number | undefined): { payload: Buffer; format: number | undefined } {
  if (value === undefined || value === null) return { payload: Buffer.alloc(0), format };
  if (Buffer.isBuffer(value)) return { payload: value, format: format ?? ContentFormat.octetStream };
  if (format !== undefined && isCborFormat(format)) return { payload: Buffer.from(cborEncode(value)), format };
  if (typeof value === 'string') return { payload: Buffer.from(value, 'utf8'), format: format ?? ContentFormat.textPlain };
  if (format === undefined || isJsonFormat(format)) {
    return { payload: Buffer.from(JSON.stringify(value), 'utf8'), format: format ?? ContentFormat.json };
  }
  return { payload: Buffer.from(String(value), 'utf8'), format };
}
