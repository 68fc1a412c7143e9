/** AEAD nonce and Partial IV encoding (RFC 8613 §5.2, §5). */
import { MAX_SEQUENCE_NUMBER } from './algorithms';
import { OscoreError } from './errors';

/** Sender Sequence Number → Partial IV: big-endian, leading zero bytes removed, 0 → 0x00. */
export function encodePartialIv(sequenceNumber: number): Buffer {
  if (!Number.isSafeInteger(sequenceNumber) || sequenceNumber < 0 || sequenceNumber > MAX_SEQUENCE_NUMBER) {
    throw new OscoreError('invalid-argument', `sequence number out of range: ${sequenceNumber}`);
  }
  let length = 1;
  for (let v = sequenceNumber; v >= 256; v = Math.floor(v / 256)) length++;
  const piv = Buffer.allocUnsafe(length);
  // Division, not shifts: numbers reach 2^40, beyond 32-bit bitwise operators.
  for (let i = length - 1, v = sequenceNumber; i >= 0; i--, v = Math.floor(v / 256)) piv[i] = v % 256;
  return piv;
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
  const nonce = Buffer.allocUnsafe(length);
  commonIv.copy(nonce, 0); // then XOR the padded fields in place; the zero padding leaves the IV as is
  nonce[0] ^= idPiv.length;
  const idStart = length - 5 - idPiv.length;
  for (let i = 0; i < idPiv.length; i++) nonce[idStart + i] ^= idPiv[i];
  const pivStart = length - partialIv.length;
  for (let i = 0; i < partialIv.length; i++) nonce[pivStart + i] ^= partialIv[i];
  return nonce;
}
