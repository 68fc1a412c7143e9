/** COSE_Encrypt0 content encryption through node:crypto AES-CCM; ciphertext = encrypted || tag. */
import { createCipheriv, createDecipheriv } from 'node:crypto';
import { algorithmParameters, type AeadAlgorithm } from './algorithms';

export function aeadSeal(alg: AeadAlgorithm, key: Buffer, nonce: Buffer, aad: Buffer, plaintext: Buffer): Buffer {
  const { cipher, tagLength } = algorithmParameters(alg);
  const c = createCipheriv(cipher, key, nonce, { authTagLength: tagLength });
  c.setAAD(aad, { plaintextLength: plaintext.length });
  const encrypted = Buffer.concat([c.update(plaintext), c.final()]);
  return Buffer.concat([encrypted, c.getAuthTag()]);
}

/** The plaintext, or undefined when the ciphertext does not verify. Never throws for bad input data. */
export function aeadOpen(alg: AeadAlgorithm, key: Buffer, nonce: Buffer, aad: Buffer, ciphertext: Buffer): Buffer | undefined {
  const { cipher, tagLength } = algorithmParameters(alg);
  if (ciphertext.length < tagLength) return undefined;
  const body = ciphertext.subarray(0, ciphertext.length - tagLength);
  try {
    const d = createDecipheriv(cipher, key, nonce, { authTagLength: tagLength });
    d.setAuthTag(ciphertext.subarray(ciphertext.length - tagLength));
    d.setAAD(aad, { plaintextLength: body.length });
    const plaintext = d.update(body);
    d.final(); // throws when the tag does not verify
    return plaintext;
  } catch {
    return undefined;
  }
}
