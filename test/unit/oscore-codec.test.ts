import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  buildNonce,
  decodeOptionList,
  decodeOscoreOption,
  decodePartialIv,
  decodeUdpFrame,
  encodeOptionList,
  encodeOscoreOption,
  encodePartialIv,
  hkdfInfo,
  OscoreError,
  type CoapOption,
} from '../../lib/oscore';

const h = (hex: string): Buffer => Buffer.from(hex, 'hex');

function throwsKind(fn: () => unknown, kind: string, label: string): void {
  assert.throws(fn, (e: unknown) => e instanceof OscoreError && e.kind === kind, label);
}

test('OSCORE option: reserved flag bits, reserved Partial IV lengths and truncations are bad-option', () => {
  const bad: [string, string][] = [
    ['20', 'reserved bit 0x20'],
    ['40', 'reserved bit 0x40'],
    ['80', 'reserved bit 0x80'],
    ['00', 'flag byte zero must be an empty value'],
    ['0600000000000000', 'n = 6'],
    ['07', 'n = 7'],
    ['02', 'Partial IV truncated'],
    ['0514', 'Partial IV truncated (5 announced)'],
    ['10', 'kid context length missing'],
    ['1005aabb', 'kid context truncated'],
    ['0114ff', 'trailing byte without kid flag'],
    ['020014', 'Partial IV with leading zero'],
  ];
  for (const [value, label] of bad) throwsKind(() => decodeOscoreOption(h(value)), 'bad-option', label);
  throwsKind(() => decodeOscoreOption(Buffer.alloc(256, 0x08)), 'bad-option', 'longer than 255');
});

test('OSCORE option: every field combination round-trips', () => {
  for (const partialIv of [undefined, h('00'), h('14'), h('0102030405')]) {
    for (const kidContext of [undefined, h(''), h('37cbf3210017a2d3')]) {
      for (const kid of [undefined, h(''), h('01'), h('01020304050607')]) {
        const value = { partialIv, kidContext, kid };
        const decoded = decodeOscoreOption(encodeOscoreOption(value));
        assert.deepEqual(decoded.partialIv, partialIv);
        assert.deepEqual(decoded.kidContext, kidContext);
        assert.deepEqual(decoded.kid, kid);
      }
    }
  }
});

test('Partial IV: minimal big-endian, 0 is 0x00, at most 2^40 - 1', () => {
  assert.equal(encodePartialIv(0).toString('hex'), '00');
  assert.equal(encodePartialIv(20).toString('hex'), '14');
  assert.equal(encodePartialIv(256).toString('hex'), '0100');
  assert.equal(encodePartialIv(2 ** 40 - 1).toString('hex'), 'ffffffffff');
  assert.equal(decodePartialIv(h('ffffffffff')), 2 ** 40 - 1);
  throwsKind(() => encodePartialIv(2 ** 40), 'invalid-argument', '2^40');
  throwsKind(() => encodePartialIv(-1), 'invalid-argument', '-1');
});

test('nonce: S, padded ID and padded Partial IV XOR Common IV', () => {
  const zeroIv = Buffer.alloc(13);
  assert.equal(buildNonce(zeroIv, h('0102'), h('0304')).toString('hex'), '02' + '00000000000102' + '0000000304');
  const iv = h('ffffffffffffffffffffffffff');
  assert.equal(buildNonce(iv, h(''), h('00')).toString('hex'), 'ffffffffffffffffffffffffff');
  throwsKind(() => buildNonce(zeroIv, Buffer.alloc(8), h('00')), 'invalid-argument', 'ID of 8 bytes');
});

test('cbor-x encodes the HKDF info deterministically: bstr, null, minimal ints, tstr', () => {
  // [h'', null, 10, "Key", 16] and an ID Context; lengths up to 23 in the initial byte, 24+ in one extra byte.
  assert.equal(hkdfInfo(h(''), undefined, 10, 'Key', 16).toString('hex'), '8540f60a634b657910');
  assert.equal(hkdfInfo(h('01'), h(''), 30, 'IV', 13).toString('hex'), '85410140181e6249560d');
  assert.equal(hkdfInfo(h(''), Buffer.alloc(24, 0xaa), 10, 'Key', 16).toString('hex'), '85405818' + 'aa'.repeat(24) + '0a634b657910');
  // A plain Uint8Array (not a Buffer) would get cbor-x's tag 64 by default; our encoder turns that off.
  const plain = new Uint8Array([1]) as Buffer;
  assert.equal(hkdfInfo(plain, undefined, 10, 'Key', 16).toString('hex'), '854101f60a634b657910');
});

test('option list: RFC 7252 deltas and extended lengths round-trip, sorted stably', () => {
  const options: CoapOption[] = [
    { number: 11, value: h('7631') },
    { number: 3, value: Buffer.from('localhost') },
    { number: 11, value: h('7632') },
    { number: 258, value: h('1a') },
    { number: 2000, value: Buffer.alloc(300, 1) },
    { number: 60, value: Buffer.alloc(13, 2) },
  ];
  const encoded = encodeOptionList(options);
  const decoded = decodeOptionList(encoded, 0);
  assert.deepEqual(decoded.options.map((o) => [o.number, o.value.toString('hex')]), [
    [3, Buffer.from('localhost').toString('hex')],
    [11, '7631'],
    [11, '7632'],
    [60, '02'.repeat(13)],
    [258, '1a'],
    [2000, '01'.repeat(300)],
  ]);
  assert.equal(decoded.payload.length, 0);
});

test('option list: nibble 15, truncation, overflow and empty payload after marker are malformed', () => {
  for (const [bytes, label] of [
    ['f0', 'delta nibble 15'],
    ['0f', 'length nibble 15'],
    ['d0', 'missing 1-byte delta extension'],
    ['e000', 'missing byte of 2-byte delta extension'],
    ['03aabb', 'value runs past the end'],
    ['ff', 'payload marker without payload'],
    ['e0fef3e0fef3', 'option number above 65535'],
  ] as const) {
    throwsKind(() => decodeOptionList(h(bytes), 0), 'malformed-message', label);
  }
});

test('CoAP UDP frame: bad version, reserved token length and truncation are malformed', () => {
  for (const [bytes, label] of [
    ['', 'empty'],
    ['440100', 'short header'],
    ['840100000000', 'version 2'],
    ['4901000000', 'token length 9'],
    ['44010000aabb', 'truncated token'],
  ] as const) {
    throwsKind(() => decodeUdpFrame(h(bytes)), 'malformed-message', label);
  }
});
