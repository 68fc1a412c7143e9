/**
 * Additional Authenticated Data (RFC 8613 §5.4):
 *   external_aad = bstr .cbor [oscore_version 1, [alg_aead], request_kid, request_piv, class I options]
 *   AAD = Enc_structure = ["Encrypt0", h'', external_aad]
 * The same for a request and its responses: responses bind to the request's kid and Partial IV.
 */
import type { AeadAlgorithm } from './algorithms';
import { encodeCbor } from './cbor';

const OSCORE_VERSION = 1;

export function aadArray(alg: AeadAlgorithm, requestKid: Buffer, requestPiv: Buffer, classIOptions: Buffer = Buffer.alloc(0)): Buffer {
  return encodeCbor([OSCORE_VERSION, [alg], requestKid, requestPiv, classIOptions]);
}

export function buildAad(alg: AeadAlgorithm, requestKid: Buffer, requestPiv: Buffer, classIOptions?: Buffer): Buffer {
  // external_aad is the aad_array wrapped in a bstr: encoding the Buffer yields exactly that.
  return encodeCbor(['Encrypt0', Buffer.alloc(0), aadArray(alg, requestKid, requestPiv, classIOptions)]);
}
