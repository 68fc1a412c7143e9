/** AEAD nonce and Partial IV encoding (RFC 8613 §5.2, §5). */
import { MAX_SEQUENCE_NUMBER } from './algorithms';
import { OscoreError } from './errors';

/** Sender Sequence Number → Partial IV: big-endian, leading zero bytes removed, 0 → 0x00. */
export function encodePartialIv(sequenceNumber: number): Buffer {
  if (!Number.isSafeInteger(sequenceNumber) || sequenceNumber < 0 || sequenceNumber > MAX_SEQUENCE_NUMBER) {
    throw new OscoreError('invalid-argument', `sequence number out of range: ${sequenceNumber}`);
  }
  const bytes: number[] = [];
  let v = sequenceNumber;
  do {
    bytes.unshift(v % 256);
    v = Math.floor(v / 256);
  } while (v > 0);
  return Buffer.from(bytes);
}

export function decodePartialIv(partialIv: Buffer): number {
  let n = 0;
  for (const byte of partialIv) n = n * 256 + byte;
  return n;
}

/**
 * nonce = Common IV XOR (S | ID_PIV left-padded to nonceLength-6 | PIV left-padded to 5), where
 * S is the length of ID_PIV, the Sender ID of the endpoint that generated the Partial IV.
 */
export function buildNonce(commonIv: Buffer, idPiv: Buffer, partialIv: Buffer): Buffer {
  const length = commonIv.length;
  if (idPiv.length > length - 6) throw new OscoreError('invalid-argument', 'ID longer than nonce length - 6');
  if (partialIv.length > 5) throw new OscoreError('invalid-argument', 'Partial IV longer than 5 bytes');
  const nonce = Buffer.alloc(length);
  nonce[0] = idPiv.length;
  idPiv.copy(nonce, length - 5 - idPiv.length);
  partialIv.copy(nonce, length - partialIv.length);
  for (let i = 0; i < length; i++) nonce[i] ^= commonIv[i];
  return nonce;
}
