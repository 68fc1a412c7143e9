/**
 * Every failure of lib/oscore is an OscoreError with a kind. Kinds that a server answers on
 * the wire carry the CoAP code and diagnostic payload of RFC 8613 §7.4 and §8.2; such answers
 * are sent unprotected (§8.3: OSCORE errors bypass OSCORE processing).
 */
import type { CoapMessage } from './message';
import { OPTION } from './option-numbers';

export type OscoreErrorKind =
  /** OSCORE option or COSE object cannot be decoded (§8.2 step 2). */
  | 'bad-option'
  /** No Recipient Context for the 'kid' / 'kid context' received (§8.2 step 2). */
  | 'context-not-found'
  /** AEAD verification failed (§8.2 step 6, §8.4 step 5). */
  | 'decryption-failed'
  /** Partial IV seen before, or a response the exchange no longer accepts (§7.4, §7.4.1). */
  | 'replay'
  /** The CoAP framing, option list or decrypted plaintext is not a valid CoAP message. */
  | 'malformed-message'
  /** A message without the OSCORE option where one is required. */
  | 'not-protected'
  /** A verified response that does not fit the request (e.g. Observe on a non-Observe request, §4.1.3.5.2). */
  | 'unexpected-response'
  /** Sender Sequence Number would exceed its maximum (§7.2.1): a new context is needed. */
  | 'sequence-exhausted'
  /** Persisted state could not be read or written; never silently restart at 0. */
  | 'state-unavailable'
  /** Bad configuration or a message the caller may not protect (e.g. nested OSCORE, §4.1.3.7). */
  | 'invalid-argument';

interface WireError {
  code: string;
  diagnostic: string;
}

const WIRE: Partial<Record<OscoreErrorKind, WireError>> = {
  'bad-option': { code: '4.02', diagnostic: 'Failed to decode COSE' },
  'context-not-found': { code: '4.01', diagnostic: 'Security context not found' },
  'decryption-failed': { code: '4.00', diagnostic: 'Decryption failed' },
  replay: { code: '4.01', diagnostic: 'Replay detected' },
  'malformed-message': { code: '4.00', diagnostic: 'Malformed message' },
  'not-protected': { code: '4.01', diagnostic: 'OSCORE required' },
};

export class OscoreError extends Error {
  override readonly name = 'OscoreError';

  constructor(
    readonly kind: OscoreErrorKind,
    message: string,
  ) {
    super(message);
  }

  /** The CoAP response code a server answers with ("4.01"), or undefined for local errors. */
  get responseCode(): string | undefined {
    return WIRE[this.kind]?.code;
  }

  /** The diagnostic payload suggested by RFC 8613 §8.2 / §7.4. */
  get diagnostic(): string | undefined {
    return WIRE[this.kind]?.diagnostic;
  }
}

export function isOscoreError(error: unknown): error is OscoreError {
  return error instanceof OscoreError;
}

/**
 * The unprotected error response a server sends for a failed OSCORE request, or undefined
 * when the error is not one a server answers. Outer Max-Age 0 (§4.1.3.1) keeps OSCORE-unaware
 * caches from storing it.
 */
export function errorResponse(error: OscoreError): CoapMessage | undefined {
  const wire = WIRE[error.kind];
  if (!wire) return undefined;
  const [cls, detail] = wire.code.split('.').map(Number);
  return {
    code: (cls << 5) | detail,
    options: [{ number: OPTION.MAX_AGE, value: Buffer.alloc(0) }],
    payload: Buffer.from(wire.diagnostic, 'utf8'),
  };
}
