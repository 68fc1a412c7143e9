/**
 * The OSCORE option value (RFC 8613 §6.1): the compressed COSE header.
 *
 *   0 0 0 h k n n n | Partial IV (n bytes) | s | kid context (s bytes) | kid (rest)
 *
 * Decoding is strict and throws only OscoreError('bad-option') (answered with 4.02).
 */
import { OscoreError } from './errors';

export interface OscoreOptionValue {
  partialIv?: Buffer;
  kidContext?: Buffer;
  kid?: Buffer;
}

const RESERVED_BITS = 0b1110_0000;
const FLAG_KID_CONTEXT = 0b0001_0000;
const FLAG_KID = 0b0000_1000;
const PIV_LENGTH_MASK = 0b0000_0111;
const MAX_PIV_LENGTH = 5; // n = 6 and 7 are reserved
const MAX_OPTION_LENGTH = 255; // RFC 8613 Figure 3

export function encodeOscoreOption(value: OscoreOptionValue): Buffer {
  const piv = value.partialIv;
  const pivLength = piv ? piv.length : 0;
  if (pivLength > MAX_PIV_LENGTH) throw new OscoreError('invalid-argument', 'Partial IV longer than 5 bytes');
  const { kidContext, kid } = value;
  if (kidContext && kidContext.length > 255) throw new OscoreError('invalid-argument', 'kid context longer than 255 bytes');
  const flags = pivLength | (kidContext ? FLAG_KID_CONTEXT : 0) | (kid ? FLAG_KID : 0);
  // All flag bits zero: the option value is empty (§2).
  if (flags === 0) return Buffer.alloc(0);
  const length = 1 + pivLength + (kidContext ? 1 + kidContext.length : 0) + (kid ? kid.length : 0);
  if (length > MAX_OPTION_LENGTH) throw new OscoreError('invalid-argument', 'OSCORE option longer than 255 bytes');
  // One buffer, every byte written: this runs for every protected message.
  const encoded = Buffer.allocUnsafe(length);
  encoded[0] = flags;
  let at = 1;
  if (piv) at += piv.copy(encoded, at);
  if (kidContext) {
    encoded[at++] = kidContext.length;
    at += kidContext.copy(encoded, at);
  }
  if (kid) kid.copy(encoded, at);
  return encoded;
}

function bad(reason: string): never {
  throw new OscoreError('bad-option', `malformed OSCORE option: ${reason}`);
}

export function decodeOscoreOption(encoded: Buffer): OscoreOptionValue {
  if (encoded.length === 0) return {};
  if (encoded.length > MAX_OPTION_LENGTH) bad('longer than 255 bytes');
  const flags = encoded[0];
  if (flags & RESERVED_BITS) bad('reserved flag bits set');
  if (flags === 0) bad('flag byte 0x00 must be sent as an empty option');
  const n = flags & PIV_LENGTH_MASK;
  if (n > MAX_PIV_LENGTH) bad(`reserved Partial IV length ${n}`);
  let offset = 1;
  const result: OscoreOptionValue = {};
  if (n > 0) {
    if (offset + n > encoded.length) bad('truncated Partial IV');
    result.partialIv = encoded.subarray(offset, offset + n);
    // Leading zero bytes SHALL be removed (§5): a second encoding of one number is refused.
    if (n > 1 && result.partialIv[0] === 0) bad('Partial IV has a leading zero byte');
    offset += n;
  }
  if (flags & FLAG_KID_CONTEXT) {
    if (offset + 1 > encoded.length) bad('truncated kid context length');
    const s = encoded[offset];
    offset += 1;
    if (offset + s > encoded.length) bad('truncated kid context');
    result.kidContext = encoded.subarray(offset, offset + s);
    offset += s;
  }
  if (flags & FLAG_KID) {
    result.kid = encoded.subarray(offset);
  } else if (offset !== encoded.length) {
    bad('trailing bytes without kid flag');
  }
  return result;
}
