import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OscoreError, ReplayWindow } from '../../lib/oscore';

test('replay window: default size 32; fresh, duplicate and too-old', () => {
  const w = new ReplayWindow();
  assert.equal(w.size, 32);
  assert.equal(w.check(0), 'fresh');
  w.accept(0);
  assert.equal(w.check(0), 'duplicate');
  w.accept(5);
  assert.equal(w.check(5), 'duplicate');
  assert.equal(w.check(3), 'fresh', 'a skipped number inside the window is still accepted');
  w.accept(3);
  assert.equal(w.check(3), 'duplicate');
  w.accept(100);
  assert.equal(w.check(68), 'too-old', '100 - 68 = 32 is outside a window of 32');
  assert.equal(w.check(69), 'fresh', '100 - 69 = 31 is the oldest slot');
  assert.equal(w.check(5), 'too-old');
  assert.throws(() => w.accept(100), (e: unknown) => e instanceof OscoreError && e.kind === 'replay');
});

test('replay window: out-of-order arrivals within the window are each accepted once', () => {
  const w = new ReplayWindow(32);
  const order = [10, 7, 12, 8, 11, 9, 40, 20, 39, 9, 8, 12];
  const results = order.map((n) => {
    const r = w.check(n);
    if (r === 'fresh') w.accept(n);
    return r;
  });
  assert.deepEqual(results, ['fresh', 'fresh', 'fresh', 'fresh', 'fresh', 'fresh', 'fresh', 'fresh', 'fresh', 'duplicate', 'too-old', 'duplicate']);
});

test('replay window: a big jump clears the bitmap; shifting keeps earlier marks', () => {
  const w = new ReplayWindow(8);
  for (const n of [1, 2, 3]) w.accept(n);
  w.accept(6);
  assert.deepEqual([1, 2, 3, 4, 5, 6].map((n) => w.check(n)), ['duplicate', 'duplicate', 'duplicate', 'fresh', 'fresh', 'duplicate']);
  w.accept(2 ** 40 - 1);
  assert.equal(w.check(2 ** 40 - 2), 'fresh');
  assert.equal(w.check(6), 'too-old');
});

test('replay window: resetTo makes the lower limit and everything below it unacceptable', () => {
  const w = new ReplayWindow(32);
  w.resetTo(500);
  assert.equal(w.check(500), 'duplicate');
  assert.equal(w.check(499), 'duplicate');
  assert.equal(w.check(470), 'duplicate', 'inside the window: marked as seen');
  assert.equal(w.check(468), 'too-old');
  assert.equal(w.check(0), 'too-old');
  assert.equal(w.check(501), 'fresh');
});

test('replay window: an exhaustive comparison with a set-based model', () => {
  // Deterministic pseudo-random sequence; the model accepts n iff unseen and n > highest - size.
  let seed = 12345;
  const next = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
  const w = new ReplayWindow(32);
  const seen = new Set<number>();
  let highest = -1;
  for (let i = 0; i < 20_000; i++) {
    const n = Math.max(0, highest + 8 - (next() % 48));
    const expectFresh = !seen.has(n) && n > highest - 32;
    assert.equal(w.check(n) === 'fresh', expectFresh, `step ${i}, n ${n}, highest ${highest}`);
    if (expectFresh) {
      w.accept(n);
      seen.add(n);
      highest = Math.max(highest, n);
    }
  }
});
