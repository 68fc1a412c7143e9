// Compiles lib/ and nodes/ with tsc, then copies what Node-RED reads beside the .js files:
// each node's .html, the message catalogues, the icons and the dashboard plugin's files.
import { execFileSync } from 'node:child_process';
import { cpSync, readdirSync, rmSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const tsc = require.resolve('typescript/bin/tsc');

rmSync(join(root, 'dist'), { recursive: true, force: true });
execFileSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit' });

const out = join(root, 'dist', 'nodes');
mkdirSync(out, { recursive: true });
for (const f of readdirSync(join(root, 'nodes'))) {
  if (f.endsWith('.html')) cpSync(join(root, 'nodes', f), join(out, f));
}
cpSync(join(root, 'nodes', 'locales'), join(out, 'locales'), { recursive: true });
cpSync(join(root, 'icons'), join(out, 'icons'), { recursive: true });
// The dashboard plugin: its editor .html and the page it serves.
cpSync(join(root, 'nodes', 'dashboard', 'plugin.html'), join(out, 'dashboard', 'plugin.html'));
cpSync(join(root, 'nodes', 'dashboard', 'page'), join(out, 'dashboard', 'page'), { recursive: true });
