/**
 * The plain CoAP message model lib/oscore works on, independent of any CoAP library: the
 * request/response layer only (Code, options, payload). Type, Message ID and Token belong to
 * the messaging layer, which OSCORE does not protect (RFC 8613 §4.2); the transport keeps them.
 */
import { OscoreError } from './errors';
import { decodeOptionList, encodeOptionsAndPayload } from './option-list';

export interface CoapOption {
  number: number;
  value: Buffer;
}

export interface CoapMessage {
  /** Raw code byte, class << 5 | detail (0x01 GET, 0x45 2.05). */
  code: number;
  /** In any order; repeatable options keep their relative order when encoded. */
  options: CoapOption[];
  payload: Buffer;
}

export const PAYLOAD_MARKER = 0xff;

/** Plaintext of the COSE object (RFC 8613 §5.3): Code, Class E options, 0xff + payload if any. */
export function encodePlaintext(code: number, innerOptions: readonly CoapOption[], payload: Buffer): Buffer {
  return encodeOptionsAndPayload(code, innerOptions, payload);
}

export function decodePlaintext(plaintext: Buffer): CoapMessage {
  if (plaintext.length < 1) throw new OscoreError('malformed-message', 'empty plaintext');
  const { options, payload } = decodeOptionList(plaintext, 1);
  return { code: plaintext[0], options, payload };
}

/** CoAP uint option value (RFC 7252 §3.2): big-endian, no leading zero bytes, 0 is empty. */
export function encodeUint(value: number): Buffer {
  if (!Number.isSafeInteger(value) || value < 0) throw new OscoreError('invalid-argument', `not a uint: ${value}`);
  const bytes: number[] = [];
  for (let v = value; v > 0; v = Math.floor(v / 256)) bytes.unshift(v % 256);
  return Buffer.from(bytes);
}

export function decodeUint(value: Buffer): number {
  if (value.length > 6) throw new OscoreError('malformed-message', 'uint option longer than 6 bytes');
  let n = 0;
  for (const byte of value) n = n * 256 + byte;
  return n;
}

export function findOption(options: readonly CoapOption[], number: number): CoapOption | undefined {
  return options.find((o) => o.number === number);
}
