/**
 * COSE_Encrypt0 content encryption through node:crypto AES-CCM; ciphertext = encrypted || tag.
 * Per message this is most of OSCORE's cost, so it allocates no more than node:crypto needs: the
 * cipher options are shared, and CCM's final() (always empty) is not concatenated. A KeyObject per
 * context instead of the raw key was measured: no faster on Node 20, so the raw key stays.
 */
import { createCipheriv, createDecipheriv, type CipherCCMOptions } from 'node:crypto';
import { algorithmParameters, type AeadAlgorithm } from './algorithms';

const CCM_OPTIONS = new Map<number, CipherCCMOptions>();
function ccmOptions(tagLength: number): CipherCCMOptions {
  let options = CCM_OPTIONS.get(tagLength);
  if (!options) {
    options = { authTagLength: tagLength };
    CCM_OPTIONS.set(tagLength, options);
  }
  return options;
}

export function aeadSeal(alg: AeadAlgorithm, key: Buffer, nonce: Buffer, aad: Buffer, plaintext: Buffer): Buffer {
  const { cipher, tagLength } = algorithmParameters(alg);
  const c = createCipheriv(cipher, key, nonce, ccmOptions(tagLength));
  c.setAAD(aad, { plaintextLength: plaintext.length });
  const encrypted = c.update(plaintext);
  c.final(); // CCM returns nothing here; the tag is ready after it
  return Buffer.concat([encrypted, c.getAuthTag()], encrypted.length + tagLength);
}

/** The plaintext, or undefined when the ciphertext does not verify. Never throws for bad input data. */
export function aeadOpen(alg: AeadAlgorithm, key: Buffer, nonce: Buffer, aad: Buffer, ciphertext: Buffer): Buffer | undefined {
  const { cipher, tagLength } = algorithmParameters(alg);
  if (ciphertext.length < tagLength) return undefined;
  const bodyLength = ciphertext.length - tagLength;
  try {
    const d = createDecipheriv(cipher, key, nonce, ccmOptions(tagLength));
    d.setAuthTag(ciphertext.subarray(bodyLength));
    d.setAAD(aad, { plaintextLength: bodyLength });
    const plaintext = d.update(ciphertext.subarray(0, bodyLength));
    d.final(); // throws when the tag does not verify
    return plaintext;
  } catch {
    return undefined;
  }
}
