/**
 * Stateless COSE_Encrypt0 protection of one CoAP message (RFC 8613 §4, §5, §6): keys, nonce and
 * AAD come from the caller (security-context.ts), which owns sequence numbers and replay state.
 */
import { aeadOpen, aeadSeal } from './aead';
import type { AeadAlgorithm } from './algorithms';
import { OscoreError } from './errors';
import { decodePlaintext, encodePlaintext, type CoapMessage, type CoapOption } from './message';
import { decodeOscoreOption, encodeOscoreOption, type OscoreOptionValue } from './option';
import { keptOuterOptions, splitOptions } from './option-classes';
import { sortOptions } from './option-list';
import { CODE, OPTION, codeClass } from './option-numbers';

export interface Crypto {
  alg: AeadAlgorithm;
  key: Buffer;
  nonce: Buffer;
  aad: Buffer;
}

export interface ProtectParams extends Crypto {
  isRequest: boolean;
  header: OscoreOptionValue;
  /** Additional Class U options, e.g. an Outer Max-Age 0 (§4.1.3.1). */
  extraOuter?: readonly CoapOption[];
}

export function protectMessage(original: CoapMessage, params: ProtectParams): CoapMessage {
  const observe = original.options.some((o) => o.number === OPTION.OBSERVE);
  const { inner, outer } = splitOptions(original.options, !params.isRequest && observe);
  const plaintext = encodePlaintext(original.code, inner, original.payload);
  const ciphertext = aeadSeal(params.alg, params.key, params.nonce, params.aad, plaintext);
  // Outer Code (§4.2): POST / 2.04, or FETCH / 2.05 with Observe so proxies can forward (§4.1.3.5).
  const code = params.isRequest ? (observe ? CODE.FETCH : CODE.POST) : observe ? CODE.CONTENT : CODE.CHANGED;
  const oscore: CoapOption = { number: OPTION.OSCORE, value: encodeOscoreOption(params.header) };
  return { code, options: sortOptions([...outer, ...(params.extraOuter ?? []), oscore]), payload: ciphertext };
}

/**
 * Reads the compressed COSE header of a received message. A message without OSCORE option is
 * 'not-protected'; a repeated option, a malformed value or an empty payload is 'bad-option'.
 */
export function readOscoreHeader(message: CoapMessage): OscoreOptionValue {
  const found = message.options.filter((o) => o.number === OPTION.OSCORE);
  if (found.length === 0) throw new OscoreError('not-protected', 'no OSCORE option');
  if (found.length > 1) throw new OscoreError('bad-option', 'OSCORE option repeated');
  // §2: an OSCORE message without payload is malformed.
  if (message.payload.length === 0) throw new OscoreError('bad-option', 'OSCORE message without payload');
  return decodeOscoreOption(found[0].value);
}

function validInnerCode(code: number, isRequest: boolean): boolean {
  const cls = codeClass(code);
  if (cls === 7) return true; // signalling (§4.3)
  return isRequest ? cls === 0 && code !== 0 : cls === 2 || cls === 4 || cls === 5;
}

/** Decrypts and rebuilds the original message: inner Code, options and payload plus the kept Outer options. */
export function unprotectMessage(received: CoapMessage, crypto: Crypto, isRequest: boolean): CoapMessage {
  const plaintext = aeadOpen(crypto.alg, crypto.key, crypto.nonce, crypto.aad, received.payload);
  if (!plaintext) throw new OscoreError('decryption-failed', 'AEAD verification failed');
  const inner = decodePlaintext(plaintext);
  if (!validInnerCode(inner.code, isRequest)) {
    throw new OscoreError('malformed-message', `inner code 0x${inner.code.toString(16)} not valid in a ${isRequest ? 'request' : 'response'}`);
  }
  if (inner.options.some((o) => o.number === OPTION.OSCORE)) throw new OscoreError('malformed-message', 'nested OSCORE option');
  return { code: inner.code, options: sortOptions([...keptOuterOptions(received.options), ...inner.options]), payload: inner.payload };
}
