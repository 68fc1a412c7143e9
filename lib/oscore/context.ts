/**
 * Security Context derivation (RFC 8613 §3.2): Sender Key, Recipient Key and Common IV from
 * the Master Secret with HKDF-SHA256, info = [id, id_context, alg_aead, type, L] in CBOR.
 */
import { hkdfSync } from 'node:crypto';
import { algorithmParameters, maxIdLength, type AeadAlgorithm } from './algorithms';
import { encodeCbor } from './cbor';
import { OscoreError } from './errors';

export interface ContextInput {
  masterSecret: Buffer;
  /** Default: empty (RFC 8613 §3.2). */
  masterSalt?: Buffer;
  senderId: Buffer;
  recipientId: Buffer;
  /** Omitted means nil in the info structure; an empty Buffer is a (distinct) empty ID Context. */
  idContext?: Buffer;
  /** COSE algorithm: 10 = AES-CCM-16-64-128 (default), 30 = AES-CCM-16-128-128. */
  alg?: AeadAlgorithm;
}

export interface DerivedContext {
  alg: AeadAlgorithm;
  senderId: Buffer;
  recipientId: Buffer;
  idContext: Buffer | undefined;
  senderKey: Buffer;
  recipientKey: Buffer;
  commonIv: Buffer;
}

/** The serialised HKDF info (exported for the RFC vectors, which list it). */
export function hkdfInfo(id: Buffer, idContext: Buffer | undefined, alg: AeadAlgorithm, type: 'Key' | 'IV', length: number): Buffer {
  return encodeCbor([id, idContext ?? null, alg, type, length]);
}

function hkdf(input: ContextInput, info: Buffer, length: number): Buffer {
  // An empty salt is what RFC 5869 turns into HashLen zero bytes; node does the same.
  return Buffer.from(hkdfSync('sha256', input.masterSecret, input.masterSalt ?? Buffer.alloc(0), info, length));
}

export function deriveContext(input: ContextInput): DerivedContext {
  const alg = input.alg ?? 10;
  const { keyLength, nonceLength } = algorithmParameters(alg);
  if (input.masterSecret.length === 0) throw new OscoreError('invalid-argument', 'Master Secret is empty');
  for (const [name, id] of [['Sender ID', input.senderId], ['Recipient ID', input.recipientId]] as const) {
    if (id.length > maxIdLength(alg)) {
      throw new OscoreError('invalid-argument', `${name} is ${id.length} bytes; at most ${maxIdLength(alg)} allowed`);
    }
  }
  if (input.senderId.equals(input.recipientId)) {
    throw new OscoreError('invalid-argument', 'Sender ID and Recipient ID must differ (RFC 8613 §3.3)');
  }
  const idContext = input.idContext;
  return {
    alg,
    senderId: Buffer.from(input.senderId),
    recipientId: Buffer.from(input.recipientId),
    idContext: idContext && Buffer.from(idContext),
    senderKey: hkdf(input, hkdfInfo(input.senderId, idContext, alg, 'Key', keyLength), keyLength),
    recipientKey: hkdf(input, hkdfInfo(input.recipientId, idContext, alg, 'Key', keyLength), keyLength),
    commonIv: hkdf(input, hkdfInfo(Buffer.alloc(0), idContext, alg, 'IV', nonceLength), nonceLength),
  };
}
