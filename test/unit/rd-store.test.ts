import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync, mkdirSync, statSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RegistrationStore } from '../../lib/coap/rd/store';
import { writeFileAtomic } from '../../lib/util/atomic-file';
import { ResourceDirectory } from '../../lib/coap/rd/registry';
import { parseLinks } from '../../lib/coap/link-format';

const dir = (): string => mkdtempSync(join(tmpdir(), 'rd-store-'));
const src = { address: '192.0.2.5', port: 5683 };

describe('atomic write', () => {
  test('replaces the file whole, private, leaving no temp file behind', async () => {
    const d = dir();
    const file = join(d, 'sub', 'rd.json');
    await writeFileAtomic(file, 'first');
    await writeFileAtomic(file, 'second');
    assert.equal(readFileSync(file, 'utf8'), 'second');
    assert.deepEqual(readdirSync(join(d, 'sub')), ['rd.json']);
    assert.equal(statSync(file).mode & 0o777, 0o600);
  });

  test('a failed write leaves the old content and no temp file, and is reported', async () => {
    const d = dir();
    const file = join(d, 'rd.json');
    mkdirSync(file); // rename onto a directory fails
    const errors: Error[] = [];
    const store = new RegistrationStore(file, { onError: (e) => errors.push(e) });
    store.schedule(() => []);
    await store.flush();
    assert.equal(errors.length, 1);
    assert.deepEqual(readdirSync(d), ['rd.json']);
  });
});

describe('load', () => {
  test('a missing file is an empty directory', () => {
    assert.deepEqual(new RegistrationStore(join(dir(), 'none.json')).load(), { registrations: [], skipped: 0 });
  });

  for (const [why, content] of [
    ['not JSON', '{"version":1,"registrations":[{"id":'],
    ['wrong shape', '{"version":1,"registrations":{}}'],
    ['unknown version', '{"version":99,"registrations":[]}'],
    ['null', 'null'],
  ] as const) {
    test(`a corrupt file (${why}) is moved aside, never thrown`, () => {
      const d = dir();
      const file = join(d, 'rd.json');
      writeFileSync(file, content);
      const result = new RegistrationStore(file, { clock: () => Date.UTC(2024, 0, 2, 3, 4, 5, 6) }).load();
      assert.deepEqual(result.registrations, []);
      assert.ok(result.problem);
      assert.equal(result.movedAside, `${file}.corrupt-2024-01-02T03-04-05-006Z`);
      assert.equal(readFileSync(result.movedAside, 'utf8'), content);
      assert.equal(existsSync(file), false);
    });
  }

  test('entries that are not registrations are skipped, the rest kept', () => {
    const rd = new ResourceDirectory({ clock: () => 1000 });
    rd.register({ query: ['ep=a'], links: parseLinks('</x>'), source: src });
    const good = rd.snapshot()[0];
    const file = join(dir(), 'rd.json');
    writeFileSync(file, JSON.stringify({ version: 1, registrations: [good, { id: 'x' }, 42, { ...good, id: '../evil' }] }));
    const result = new RegistrationStore(file).load();
    assert.equal(result.skipped, 3);
    assert.deepEqual(result.registrations, [JSON.parse(JSON.stringify(good))]);
  });
});

describe('restart', () => {
  test('what one directory saved, the next restores, less what expired meanwhile', async () => {
    let now = 1_700_000_000_000;
    const file = join(dir(), 'rd.json');
    const first = new ResourceDirectory({ clock: () => now });
    const store = new RegistrationStore(file, { debounceMs: 60_000 });
    const save = (): void => store.schedule(() => first.snapshot());
    first.on('registered', save);
    first.register({ query: ['ep=long', 'lt=3600'], links: parseLinks('</t>;rt="temperature"'), source: src });
    first.register({ query: ['ep=short', 'lt=60'], links: [], source: src });
    // Debounced: nothing written until flushed (the node flushes on close).
    assert.equal(existsSync(file), false);
    await store.flush();
    now += 120_000;
    const second = new ResourceDirectory({ clock: () => now });
    const loaded = new RegistrationStore(file).load();
    assert.equal(loaded.registrations.length, 2);
    assert.deepEqual(second.restore(loaded.registrations), { restored: 1, dropped: 1 });
    assert.deepEqual(second.lookupResources(['rt=temperature']).map((l) => l.href), ['coap://192.0.2.5/t']);
  });
});
