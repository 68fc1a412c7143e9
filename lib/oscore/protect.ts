/**
 * Stateless COSE_Encrypt0 protection of one CoAP message (RFC 8613 §4, §5, §6): keys, nonce and
 * AAD come from the caller (security-context.ts), which owns sequence numbers and replay state.
 */
import { aeadOpen, aeadSeal } from './aead';
import type { AeadAlgorithm } from './algorithms';
import { OscoreError } from './errors';
import { decodePlaintext, encodePlaintext, findOption, type CoapMessage, type CoapOption } from './message';
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
  const observe = findOption(original.options, OPTION.OBSERVE) !== undefined;
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
  let found: CoapOption | undefined;
  for (const option of message.options) {
    if (option.number !== OPTION.OSCORE) continue;
    if (found) throw new OscoreError('bad-option', 'OSCORE option repeated');
    found = option;
  }
  if (!found) throw new OscoreError('not-protected', 'no OSCORE option');
  // §2: an OSCORE message without payload is malformed.
  if (message.payload.length === 0) throw new OscoreError('bad-option', 'OSCORE message without payload');
  return decodeOscoreOption(found.value);
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
  const kept = keptOuterOptions(received.options);
  // Decoded inner options are in order already; only kept Outer ones (Uri-Host, Proxy-Scheme, ...) need merging.
  const options = kept.length === 0 ? inner.options : sortOptions([...kept, ...inner.options]);
  return { code: inner.code, options, payload: inner.payload };
}
