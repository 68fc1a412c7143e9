/** The directly written AAD equals the general CBOR encoding of RFC 8613 §5.4 for every length class. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildAad } from '../../lib/oscore/aad';
import { encodeCbor } from '../../lib/oscore/cbor';

test('buildAad matches cbor-x for kid, Partial IV and class I lengths across the CBOR head sizes', () => {
  for (const alg of [10, 30] as const) {
    for (const kidLength of [0, 1, 7, 23, 24, 255, 256, 70_000]) {
      for (const pivLength of [0, 1, 5]) {
        const kid = Buffer.alloc(kidLength, 0xab);
        const piv = Buffer.alloc(pivLength, 0x01);
        const classI = Buffer.alloc(kidLength % 3, 0x07);
        const expected = encodeCbor(['Encrypt0', Buffer.alloc(0), encodeCbor([1, [alg], kid, piv, classI])]);
        assert.deepEqual(buildAad(alg, kid, piv, classI), expected, `alg ${alg}, kid ${kidLength}, piv ${pivLength}`);
      }
    }
  }
});
