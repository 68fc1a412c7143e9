/**
 * CoAP option list codec (RFC 7252 §3.1): delta/length nibbles with 1- or 2-byte extensions,
 * optionally followed by the payload marker and payload. Used for the OSCORE plaintext (whose
 * bytes must match RFC 8613 Appendix C exactly) and for outer options of raw frames.
 * Decoding is strict and only ever throws OscoreError('malformed-message').
 */
import { OscoreError } from './errors';
import { PAYLOAD_MARKER, type CoapOption } from './message';

const MAX_OPTION_NUMBER = 0xffff;
const MAX_EXTENDED = 0xffff + 269;

/** Bytes of a delta or length field beyond the nibble (RFC 7252 §3.1). */
function extensionLength(value: number): number {
  return value < 13 ? 0 : value < 269 ? 1 : 2;
}

function nibble(value: number): number {
  return value < 13 ? value : value < 269 ? 13 : 14;
}

function writeExtension(target: Buffer, offset: number, value: number): number {
  if (value < 13) return offset;
  if (value < 269) {
    target[offset] = value - 13;
    return offset + 1;
  }
  target.writeUInt16BE(value - 269, offset);
  return offset + 2;
}

function byNumber(a: CoapOption, b: CoapOption): number {
  return a.number - b.number;
}

/** The list itself when already sorted (the usual case), else a sorted copy. */
function inOrder(options: readonly CoapOption[]): readonly CoapOption[] {
  for (let i = 1; i < options.length; i++) {
    // Array.prototype.sort is stable: repeated options keep the caller's order.
    if (options[i].number < options[i - 1].number) return [...options].sort(byNumber);
  }
  return options;
}

/** Sorted by option number, as a new array; repeated options keep the caller's order. */
export function sortOptions(options: readonly CoapOption[]): CoapOption[] {
  const sorted = inOrder(options);
  return sorted === options ? options.slice() : (sorted as CoapOption[]);
}

/** Encoded size of a sorted list, checking the numbers and lengths on the way. */
function encodedLength(sorted: readonly CoapOption[]): number {
  let total = 0;
  let previous = 0;
  for (const option of sorted) {
    if (!Number.isInteger(option.number) || option.number < 0 || option.number > MAX_OPTION_NUMBER) {
      throw new OscoreError('invalid-argument', `option number out of range: ${option.number}`);
    }
    if (option.value.length > MAX_EXTENDED) throw new OscoreError('invalid-argument', 'option value too long');
    total += 1 + extensionLength(option.number - previous) + extensionLength(option.value.length) + option.value.length;
    previous = option.number;
  }
  return total;
}

/** Writes a sorted list checked by encodedLength(); returns the offset after it. */
function writeOptions(target: Buffer, offset: number, sorted: readonly CoapOption[]): number {
  let at = offset;
  let previous = 0;
  for (const option of sorted) {
    const delta = option.number - previous;
    const length = option.value.length;
    target[at] = (nibble(delta) << 4) | nibble(length);
    at = writeExtension(target, at + 1, delta);
    at = writeExtension(target, at, length);
    option.value.copy(target, at);
    at += length;
    previous = option.number;
  }
  return at;
}

export function encodeOptionList(options: readonly CoapOption[]): Buffer {
  return encodeOptionsAndPayload(undefined, options, undefined);
}

/**
 * [prefix byte] options [0xff payload] in one buffer: the OSCORE plaintext is built per message,
 * and assembling it from parts cost a measurable share of protect().
 */
export function encodeOptionsAndPayload(prefix: number | undefined, options: readonly CoapOption[], payload: Buffer | undefined): Buffer {
  const sorted = inOrder(options);
  const head = prefix === undefined ? 0 : 1;
  const tail = payload && payload.length > 0 ? 1 + payload.length : 0;
  const target = Buffer.allocUnsafe(head + encodedLength(sorted) + tail);
  if (prefix !== undefined) target[0] = prefix;
  const at = writeOptions(target, head, sorted);
  if (tail > 0) {
    target[at] = PAYLOAD_MARKER;
    (payload as Buffer).copy(target, at + 1);
  }
  return target;
}

function malformed(reason: string): never {
  throw new OscoreError('malformed-message', reason);
}

function readExtended(buffer: Buffer, offset: number, value: number): { value: number; offset: number } {
  if (value < 13) return { value, offset };
  if (value === 13) {
    if (offset + 1 > buffer.length) malformed('truncated option header');
    return { value: buffer[offset] + 13, offset: offset + 1 };
  }
  if (value === 14) {
    if (offset + 2 > buffer.length) malformed('truncated option header');
    return { value: buffer.readUInt16BE(offset) + 269, offset: offset + 2 };
  }
  return malformed('reserved option nibble 15');
}

/**
 * Decodes options from `start` to the end of the buffer or the payload marker. Option values
 * and the payload are views into `buffer`.
 */
export function decodeOptionList(buffer: Buffer, start: number): { options: CoapOption[]; payload: Buffer } {
  const options: CoapOption[] = [];
  let offset = start;
  let number = 0;
  while (offset < buffer.length) {
    const head = buffer[offset];
    if (head === 0xff) {
      // RFC 7252 §3: a marker followed by a zero-length payload is a format error.
      if (offset + 1 === buffer.length) malformed('payload marker without payload');
      return { options, payload: buffer.subarray(offset + 1) };
    }
    const delta = readExtended(buffer, offset + 1, head >> 4);
    const length = readExtended(buffer, delta.offset, head & 0x0f);
    number += delta.value;
    if (number > MAX_OPTION_NUMBER) malformed('option number out of range');
    const end = length.offset + length.value;
    if (end > buffer.length) malformed('option value runs past the end');
    options.push({ number, value: buffer.subarray(length.offset, end) });
    offset = end;
  }
  return { options, payload: Buffer.alloc(0) };
}
