import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_RESERVE, FileSequenceStorage, MemorySequenceStorage, OscoreError, SenderSequence, type SequenceStorage } from '../../lib/oscore';

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'oscore-seq-'));
}

test('sender sequence: first start at 0, persists ahead by K before using a number', () => {
  const storage = new MemorySequenceStorage();
  const seq = new SenderSequence(storage, 10);
  assert.equal(seq.restarted, false);
  assert.equal(storage.writes, 0);
  assert.equal(seq.take(), 0);
  assert.equal(storage.load(), 10, 'ceiling written before 0 is used');
  for (let i = 1; i < 10; i++) assert.equal(seq.take(), i);
  assert.equal(storage.writes, 1, 'one write per K numbers');
  assert.equal(seq.take(), 10);
  assert.equal(storage.load(), 20);
  assert.equal(storage.writes, 2);
});

test('sender sequence: a restart skips to the stored ceiling, so no number is reused', () => {
  const storage = new MemorySequenceStorage();
  const first = new SenderSequence(storage, 16);
  const used = new Set<number>();
  for (let i = 0; i < 21; i++) used.add(first.take());
  // "crash": drop the object without any shutdown step
  const second = new SenderSequence(storage, 16);
  assert.equal(second.restarted, true);
  assert.equal(second.peek(), 32);
  for (let i = 0; i < 100; i++) assert.ok(!used.has(second.take()));
});

test('sender sequence: a failing write stops before the number is used', () => {
  let fail = false;
  const inner = new MemorySequenceStorage();
  const storage: SequenceStorage = {
    load: () => inner.load(),
    save: (c) => {
      if (fail) throw new OscoreError('state-unavailable', 'disk full');
      inner.save(c);
    },
  };
  const seq = new SenderSequence(storage, 2);
  assert.equal(seq.take(), 0);
  assert.equal(seq.take(), 1);
  fail = true;
  assert.throws(() => seq.take(), (e: unknown) => e instanceof OscoreError && e.kind === 'state-unavailable');
  assert.equal(seq.peek(), 2, 'number 2 was not handed out');
  fail = false;
  assert.equal(seq.take(), 2);
});

test('sender sequence: exhaustion at 2^40 and bad K are refused', () => {
  const seq = new SenderSequence(new MemorySequenceStorage(2 ** 40 - 1), 5);
  assert.equal(seq.take(), 2 ** 40 - 1);
  assert.throws(() => seq.take(), (e: unknown) => e instanceof OscoreError && e.kind === 'sequence-exhausted');
  assert.throws(() => new SenderSequence(new MemorySequenceStorage(), 0), OscoreError);
  assert.equal(DEFAULT_RESERVE, 1024);
});

test('file storage: missing file is a first start; writes are atomic JSON; corrupt files are errors', (t) => {
  const dir = tempDir();
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'ctx.json');
  const storage = new FileSequenceStorage(path);
  assert.equal(storage.load(), undefined);
  storage.save(1024);
  assert.equal(storage.load(), 1024);
  assert.deepEqual(JSON.parse(readFileSync(path, 'utf8')), { version: 1, ceiling: 1024 });
  assert.equal(existsSync(`${path}.tmp`), false, 'temporary file renamed away');
  for (const content of ['', '{', '{"version":2,"ceiling":5}', '{"version":1,"ceiling":-1}', '{"version":1,"ceiling":1.5}', '{"version":1}', 'null']) {
    writeFileSync(path, content);
    assert.throws(() => storage.load(), (e: unknown) => e instanceof OscoreError && e.kind === 'state-unavailable', content);
  }
  // A missing directory is created; a path below a plain file cannot be written.
  const unwritable = new FileSequenceStorage(join(path, 'ctx.json'));
  assert.throws(() => unwritable.save(1), (e: unknown) => e instanceof OscoreError && e.kind === 'state-unavailable');
});

test('kill -9: after SIGKILL the next start is above every number the killed process handed out', async (t) => {
  const dir = tempDir();
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'ctx.json');
  let previousMax = -1;
  for (let round = 0; round < 3; round++) {
    const child = spawn(process.execPath, ['--import', 'tsx', join(__dirname, '..', 'support', 'oscore-sequence-child.ts'), path, '64'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let output = '';
    const reported = await new Promise<string>((resolve, reject) => {
      child.on('error', reject);
      child.stdout.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        // Kill once enough numbers are out, whatever the machine's speed.
        if ((output.match(/^used /gm)?.length ?? 0) >= 500 && child.exitCode === null && !child.killed) child.kill('SIGKILL');
      });
      child.on('exit', () => resolve(output));
    });
    const start = Number(/^start (\d+)$/m.exec(reported)?.[1]);
    const used = [...reported.matchAll(/^used (\d+)$/gm)].map((m) => Number(m[1]));
    assert.ok(used.length >= 500, `round ${round}: ${used.length} numbers reported`);
    assert.ok(start > previousMax, `round ${round}: restart at ${start} is above the previous run's ${previousMax}`);
    previousMax = Math.max(...used);
    const next = new SenderSequence(new FileSequenceStorage(path), 64).peek();
    assert.ok(next > previousMax, `resumes at ${next}, above ${previousMax}`);
  }
});
