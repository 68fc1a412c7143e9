// `npm run bench` (after the build): runs every bench/*.bench.ts in turn, each in its own process
// so that one benchmark's leftovers (sockets, timers, JIT state) cannot colour the next.
// Exits non-zero when a benchmark does; a benchmark fails on wrong answers, never on timing.
//   node scripts/bench.mjs [file ...]   run a subset, e.g. bench/coap-in.bench.ts
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
// A guard against a hung benchmark, far above what any benchmark should take: not a timing verdict.
const HANG_LIMIT_MS = 10 * 60 * 1000;

const targets = process.argv.slice(2);
const files = targets.length
  ? targets.map((t) => resolve(root, t))
  : readdirSync(join(root, 'bench'))
      .filter((f) => f.endsWith('.bench.ts'))
      .sort()
      .map((f) => join(root, 'bench', f));
if (files.length === 0) {
  console.error('no bench/*.bench.ts files found');
  process.exit(1);
}

const failed = [];
for (const file of files) {
  const name = relative(root, file);
  console.log(`\n== ${name}`);
  const result = spawnSync(process.execPath, ['--import', 'tsx', file], {
    cwd: root,
    stdio: 'inherit',
    timeout: HANG_LIMIT_MS,
    killSignal: 'SIGKILL',
  });
  if (result.error) console.error(`${name}: ${result.error.message}`);
  if (result.status !== 0) failed.push(name);
}
console.log(`\n${files.length - failed.length} of ${files.length} benchmarks ran clean${failed.length ? `; failed: ${failed.join(', ')}` : ''}`);
process.exit(failed.length > 0 ? 1 : 0);
