import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { catalogueFromSetting } from '../../nodes/dashboard/catalogue-setting';

describe('vendor catalogue from settings.js', () => {
  test('none configured: empty, no warning', () => {
    const warnings: string[] = [];
    assert.deepEqual(catalogueFromSetting(undefined, '/nowhere', (m) => warnings.push(m))(), []);
    assert.deepEqual(warnings, []);
  });

  test('inline entries', () => {
    const get = catalogueFromSetting([{ vendor: 'Acme', name: 'Acme Lighting' }], undefined, () => undefined);
    assert.deepEqual(get(), [{ vendor: 'Acme', model: undefined, name: 'Acme Lighting', url: undefined, support: undefined }]);
  });

  test('a file relative to the user dir, re-read when it changes; a broken file warns once and is not used', () => {
    const dir = mkdtempSync(join(tmpdir(), 'edge-gateway-catalogue-'));
    try {
      const file = join(dir, 'vendors.json');
      writeFileSync(file, JSON.stringify([{ vendor: 'Acme', name: 'Acme v1' }]));
      const warnings: string[] = [];
      const get = catalogueFromSetting('vendors.json', dir, (m) => warnings.push(m));
      assert.equal(get()[0]?.name, 'Acme v1');
      writeFileSync(file, JSON.stringify([{ vendor: 'Acme', name: 'Acme version 2' }]));
      utimesSync(file, new Date(), new Date(Date.now() + 5000));
      assert.equal(get()[0]?.name, 'Acme version 2');
      writeFileSync(file, '[{ not json');
      utimesSync(file, new Date(), new Date(Date.now() + 10_000));
      assert.deepEqual(get(), []);
      assert.deepEqual(get(), []);
      assert.equal(warnings.length, 1, `one warning, got ${JSON.stringify(warnings)}`);
      assert.match(warnings[0] ?? '', /vendors\.json/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('an invalid inline catalogue warns and is not used', () => {
    const warnings: string[] = [];
    assert.deepEqual(catalogueFromSetting([{ vendor: 'Acme' }], undefined, (m) => warnings.push(m))(), []);
    assert.equal(warnings.length, 1);
  });
});
