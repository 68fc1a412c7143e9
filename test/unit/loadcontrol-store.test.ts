/** The curtailment file: round trip, missing file, damaged entries and files. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadCurtailments, saveCurtailments } from '../../lib/loadcontrol/curtailment-store';
import type { Curtailment } from '../../lib/loadcontrol/schedule';

const bulb: Curtailment = {
  participant: { key: 'coap:bulb', name: 'bulb', transport: 'coap', quantity: 'brightness', limits: { min: 30 }, normal: 100, ratedWatts: 60, endpoint: 'bulb', path: '/dim' },
  baseline: 80,
  eventID: 'ev1',
  intervalID: 0,
  value: 40,
};

test('curtailments: saved atomically and read back; no file is no curtailment', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lc-store-'));
  const file = join(dir, 'sub', 'loadcontrol-x.json');
  assert.deepEqual(loadCurtailments(file), []);
  saveCurtailments(file, [bulb]);
  assert.deepEqual(loadCurtailments(file), [bulb]);
  saveCurtailments(file, []);
  assert.deepEqual(loadCurtailments(file), []);
  assert.deepEqual(readdirSync(join(dir, 'sub')), ['loadcontrol-x.json'], 'no temporary file left behind');
});

test('curtailments: entries of the wrong shape are dropped, a damaged file is an error', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lc-store-'));
  const file = join(dir, 'c.json');
  writeFileSync(file, JSON.stringify([bulb, { participant: { key: 'x' } }, 7]));
  assert.deepEqual(loadCurtailments(file), [bulb]);
  writeFileSync(file, '{"half": ');
  assert.throws(() => loadCurtailments(file), SyntaxError);
  writeFileSync(file, '{}');
  assert.throws(() => loadCurtailments(file), /does not hold a list/);
});
