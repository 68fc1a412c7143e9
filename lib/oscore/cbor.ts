/**
 * The few CBOR structures OSCORE needs (HKDF info, external_aad, Enc_structure), encoded with
 * cbor-x. A private Encoder keeps them deterministic whatever other code configures globally:
 * - tagUint8Array false: cbor-x otherwise wraps a plain Uint8Array in tag 64; RFC 8613 wants a
 *   bare bstr (major type 2). Buffers are bstr either way; callers pass Buffers regardless.
 * - useRecords false: no cbor-x record extension for objects (we only encode arrays).
 * cbor-x already uses the shortest form for ints and lengths, null is 0xf6, strings are tstr;
 * the RFC 8613 vectors and test/unit/oscore-codec.test.ts pin that byte for byte.
 */
import { Encoder } from 'cbor-x';

const encoder = new Encoder({ tagUint8Array: false, useRecords: false, pack: false, sequential: false });

export type CborItem = Buffer | string | number | null | readonly CborItem[];

export function encodeCbor(item: CborItem): Buffer {
  // cbor-x returns a view into an internal buffer it reuses across calls: copy it out.
  return Buffer.from(encoder.encode(item));
}
