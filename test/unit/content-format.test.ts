import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encode } from 'cbor-x';
import {
  contentFormatNumber,
  decodePayload,
  encodePayload,
  PayloadDecodeError,
  ContentFormat,
} from '../../lib/coap/content-format';

test('content formats by number, numeric string or media type', () => {
  assert.equal(contentFormatNumber(50), 50);
  assert.equal(contentFormatNumber('60'), 60);
  assert.equal(contentFormatNumber('application/json'), 50);
  assert.equal(contentFormatNumber('text/plain'), 0);
  assert.equal(contentFormatNumber('text/plain;charset=utf-8'), 0);
  assert.equal(contentFormatNumber(''), undefined);
  assert.equal(contentFormatNumber('image/gif'), undefined);
  assert.equal(contentFormatNumber(-1), undefined);
  assert.equal(contentFormatNumber(70000), undefined);
});

test('decoding follows the declared format', () => {
  assert.equal(decodePayload(Buffer.from('hi'), ContentFormat.textPlain), 'hi');
  assert.deepEqual(decodePayload(Buffer.from('{"a":1}'), ContentFormat.json), { a: 1 });
  assert.deepEqual(decodePayload(Buffer.from(encode({ t: 21.5 })), ContentFormat.cbor), { t: 21.5 });
  assert.deepEqual(decodePayload(Buffer.from([1, 2]), ContentFormat.octetStream), Buffer.from([1, 2]));
  assert.deepEqual(decodePayload(Buffer.from([1, 2]), undefined), Buffer.from([1, 2]));
  assert.equal(decodePayload(Buffer.alloc(0), ContentFormat.json), undefined);
});

test('a body that does not match its format is a PayloadDecodeError', () => {
  assert.throws(() => decodePayload(Buffer.from('{not json'), ContentFormat.json), PayloadDecodeError);
  assert.throws(() => decodePayload(Buffer.from([0xff, 0xff, 0xff]), ContentFormat.cbor), PayloadDecodeError);
});

test('encoding picks a format from the value unless one is given', () => {
  assert.deepEqual(encodePayload('hi', undefined), { payload: Buffer.from('hi'), format: 0 });
  assert.deepEqual(encodePayload({ a: 1 }, undefined), { payload: Buffer.from('{"a":1}'), format: 50 });
  assert.deepEqual(encodePayload(Buffer.from([7]), undefined), { payload: Buffer.from([7]), format: 42 });
  assert.deepEqual(encodePayload(undefined, 0), { payload: Buffer.alloc(0), format: 0 });
  const cbor = encodePayload({ a: 1 }, ContentFormat.cbor);
  assert.equal(cbor.format, 60);
  assert.deepEqual(decodePayload(cbor.payload, 60), { a: 1 });
  assert.deepEqual(encodePayload(42, 0), { payload: Buffer.from('42'), format: 0 });
});
