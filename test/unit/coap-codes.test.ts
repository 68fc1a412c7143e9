import { test } from 'node:test';
import assert from 'node:assert/strict';
import { normaliseResponseCode, codeName } from '../../lib/coap/codes';

test('response codes are accepted as "c.dd", number, raw byte or name', () => {
  assert.equal(normaliseResponseCode('2.05'), '2.05');
  assert.equal(normaliseResponseCode(2.05), '2.05');
  assert.equal(normaliseResponseCode(4.04), '4.04');
  assert.equal(normaliseResponseCode(69), '2.05');
  assert.equal(normaliseResponseCode(132), '4.04');
  assert.equal(normaliseResponseCode('content'), '2.05');
  assert.equal(normaliseResponseCode(' Not Found '), '4.04');
  assert.equal(codeName('5.04'), 'Gateway Timeout');
});

test('non-response codes are refused', () => {
  for (const bad of ['0.01', '1.00', '2.32', '3.00', '6.00', 'abc', '', 1, 255, null, undefined, {}, Number.NaN]) {
    assert.equal(normaliseResponseCode(bad), undefined, `accepted ${String(bad)}`);
  }
});
