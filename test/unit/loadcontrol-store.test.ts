/** The load-control state file and the report queue file: round trip, missing file, damaged entries and files. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadState, saveState } from '../../lib/loadcontrol/curtailment-store';
import { loadReportQueue, saveReportQueue } from '../../lib/loadcontrol/report-queue-store';
import type { Curtailment, OptOut } from '../../lib/loadcontrol/schedule';
import type { Report } from '../../lib/loadcontrol/openadr3-types';

const bulb: Curtailment = {
  participant: { key: 'coap:bulb', name: 'bulb', transport: 'coap', quantity: 'brightness', limits: { min: 30 }, normal: 100, ratedWatts: 60, endpoint: 'bulb', path: '/dim' },
  baseline: 80,
  eventID: 'ev1',
  intervalID: 0,
  value: 40,
};
const optOut: OptOut = { device: 'coap:bulb', eventID: 'ev1', untilMs: Date.parse('2026-07-01T13:00:00Z') };
const report = (eventID: string): Report => ({ programID: 'p1', eventID, clientName: 'gw', resources: [{ resourceName: 'AGGREGATED_REPORT', intervals: [{ id: 0, payloads: [{ type: 'USAGE', values: [1.5] }] }] }] });

test('state: curtailments and opt-outs saved atomically and read back; no file is no state', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lc-store-'));
  const file = join(dir, 'sub', 'loadcontrol-x.json');
  assert.deepEqual(loadState(file), { curtailments: [], optOuts: [] });
  saveState(file, { curtailments: [bulb], optOuts: [optOut] });
  assert.deepEqual(loadState(file), { curtailments: [bulb], optOuts: [optOut] });
  saveState(file, { curtailments: [], optOuts: [] });
  assert.deepEqual(loadState(file), { curtailments: [], optOuts: [] });
  assert.deepEqual(readdirSync(join(dir, 'sub')), ['loadcontrol-x.json'], 'no temporary file left behind');
});

test('state: entries of the wrong shape are dropped, a damaged file is an error, the older plain list is read', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lc-store-'));
  const file = join(dir, 'c.json');
  writeFileSync(file, JSON.stringify([bulb, { participant: { key: 'x' } }, 7]));
  assert.deepEqual(loadState(file), { curtailments: [bulb], optOuts: [] }, 'the format before opt-outs were kept');
  writeFileSync(file, JSON.stringify({ curtailments: [bulb, null], optOuts: [optOut, { device: 'x', eventID: 'e', untilMs: 'soon' }, 'y'] }));
  assert.deepEqual(loadState(file), { curtailments: [bulb], optOuts: [optOut] });
  writeFileSync(file, '{"half": ');
  assert.throws(() => loadState(file), SyntaxError);
  writeFileSync(file, '{}');
  assert.throws(() => loadState(file), /does not hold the load-control state/);
  writeFileSync(file, 'x'.repeat(1024 * 1024 + 1));
  assert.throws(() => loadState(file), /larger than/);
});

test('report queue: saved and read back in order, capped to the newest, non-reports dropped', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lc-queue-'));
  const file = join(dir, 'q.json');
  assert.deepEqual(loadReportQueue(file, 10), []);
  saveReportQueue(file, [report('e1'), report('e2'), report('e3')]);
  assert.deepEqual(loadReportQueue(file, 10).map((r) => r.eventID), ['e1', 'e2', 'e3']);
  assert.deepEqual(loadReportQueue(file, 2).map((r) => r.eventID), ['e2', 'e3'], 'the bound holds after a restart with a smaller limit');
  writeFileSync(file, JSON.stringify([report('e1'), { eventID: 'no-resources' }, 42]));
  assert.deepEqual(loadReportQueue(file, 10).map((r) => r.eventID), ['e1']);
  writeFileSync(file, '{"a":1}');
  assert.throws(() => loadReportQueue(file, 10), /does not hold a list/);
});
