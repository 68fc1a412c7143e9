// `npm test` (after the build): type-checks tests and sources, then runs every test/**/*.test.ts
// with node's built-in runner, whose closing "# pass N / # fail N" lines CI reads.
//   node scripts/test.mjs [dir-or-file ...]   run a subset, e.g. test/unit
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);

try {
  execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', join(root, 'tsconfig.json')], { stdio: 'inherit' });
} catch {
  console.error('type check failed (see above)');
  console.log('0 passed, 1 failed');
  process.exit(1);
}

function collect(path) {
  if (statSync(path).isFile()) return path.endsWith('.test.ts') ? [path] : [];
  return readdirSync(path).sort().flatMap((entry) => collect(join(path, entry)));
}

const targets = process.argv.slice(2);
const files = (targets.length ? targets : ['test']).flatMap((t) => collect(resolve(root, t)));
if (files.length === 0) {
  console.error('no test files found');
  process.exit(1);
}
// spec for people, TAP to a file from which the plain closing line is taken.
const tapFile = join(mkdtempSync(join(tmpdir(), 'edge-gateway-test-')), 'results.tap');
const result = spawnSync(
  process.execPath,
  [
    '--import', 'tsx', '--test', '--test-timeout=60000',
    '--test-reporter=spec', '--test-reporter-destination=stdout',
    '--test-reporter=tap', `--test-reporter-destination=${tapFile}`,
    ...files.map((f) => relative(root, f)),
  ],
  { cwd: root, stdio: 'inherit' },
);
const tap = existsSync(tapFile) ? readFileSync(tapFile, 'utf8') : '';
const count = (name) => Number(new RegExp(`^# ${name} (\\d+)$`, 'm').exec(tap)?.[1] ?? 0);
const [passed, failed, skipped, todo, cancelled] = ['pass', 'fail', 'skipped', 'todo', 'cancelled'].map(count);
if (skipped + todo > 0) console.error(`${skipped + todo} test(s) skipped or todo: a skipped test is not a pass`);
console.log(`${passed} passed, ${failed + cancelled} failed, ${skipped + todo} skipped`);
process.exit(result.status !== 0 || failed + cancelled + skipped + todo > 0 || passed === 0 ? 1 : 0);
