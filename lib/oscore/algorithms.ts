/** The COSE AEAD algorithms supported (RFC 8152 §10.2), both AES-128 in CCM mode with a 13-byte nonce. */
import { OscoreError } from './errors';

export type AeadAlgorithm = 10 | 30;

export interface AlgorithmParameters {
  cipher: 'aes-128-ccm';
  keyLength: number;
  nonceLength: number;
  tagLength: number;
}

const ALGORITHMS: Record<AeadAlgorithm, AlgorithmParameters> = {
  // AES-CCM-16-64-128: mandatory to implement (RFC 8613 §5), 8-byte tag.
  10: { cipher: 'aes-128-ccm', keyLength: 16, nonceLength: 13, tagLength: 8 },
  // AES-CCM-16-128-128: same cipher and nonce, 16-byte tag.
  30: { cipher: 'aes-128-ccm', keyLength: 16, nonceLength: 13, tagLength: 16 },
};

export function algorithmParameters(alg: number): AlgorithmParameters {
  const params = (ALGORITHMS as Record<number, AlgorithmParameters | undefined>)[alg];
  if (!params) throw new OscoreError('invalid-argument', `unsupported AEAD algorithm ${alg} (supported: 10, 30)`);
  return params;
}

/** RFC 8613 §3.3: an ID is at most nonce length - 6 bytes (7 for the algorithms here). */
export function maxIdLength(alg: AeadAlgorithm): number {
  return algorithmParameters(alg).nonceLength - 6;
}

/** RFC 8613 §7.2.1 and §12.6: the Partial IV holds at most 40 bits. */
export const MAX_SEQUENCE_NUMBER = 2 ** 40 - 1;
