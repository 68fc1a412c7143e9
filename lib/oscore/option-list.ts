/**
 * CoAP option list codec (RFC 7252 §3.1): delta/length nibbles with 1- or 2-byte extensions,
 * optionally followed by the payload marker and payload. Used for the OSCORE plaintext (whose
 * bytes must match RFC 8613 Appendix C exactly) and for outer options of raw frames.
 * Decoding is strict and only ever throws OscoreError('malformed-message').
 */
import { OscoreError } from './errors';
import type { CoapOption } from './message';

const MAX_OPTION_NUMBER = 0xffff;
const MAX_EXTENDED = 0xffff + 269;

function nibble(value: number): { nibble: number; ext: number[] } {
  if (value < 13) return { nibble: value, ext: [] };
  if (value < 269) return { nibble: 13, ext: [value - 13] };
  const v = value - 269;
  return { nibble: 14, ext: [v >> 8, v & 0xff] };
}

/** Sorted by option number; a stable sort keeps repeated options in the caller's order. */
export function sortOptions(options: readonly CoapOption[]): CoapOption[] {
  return options
    .map((option, index) => ({ option, index }))
    .sort((a, b) => a.option.number - b.option.number || a.index - b.index)
    .map((entry) => entry.option);
}

export function encodeOptionList(options: readonly CoapOption[]): Buffer {
  const chunks: Buffer[] = [];
  let previous = 0;
  for (const option of sortOptions(options)) {
    if (!Number.isInteger(option.number) || option.number < 0 || option.number > MAX_OPTION_NUMBER) {
      throw new OscoreError('invalid-argument', `option number out of range: ${option.number}`);
    }
    if (option.value.length > MAX_EXTENDED) throw new OscoreError('invalid-argument', 'option value too long');
    const delta = nibble(option.number - previous);
    const length = nibble(option.value.length);
    chunks.push(Buffer.from([(delta.nibble << 4) | length.nibble, ...delta.ext, ...length.ext]), option.value);
    previous = option.number;
  }
  return Buffer.concat(chunks);
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
