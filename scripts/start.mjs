// `npm start`: runs the Node-RED devDependency on http://127.0.0.1:1880 with this package
// installed (linked) into a user dir of its own and the example gateway flow deployed.
//   EDGE_GATEWAY_USERDIR  user dir (default .gateway/ in this checkout; delete it to start afresh)
//   PORT                  editor/dashboard port (default 1880)
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync, copyFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const userDir = resolve(process.env.EDGE_GATEWAY_USERDIR || join(root, '.gateway'));
const port = Number(process.env.PORT || 1880);

mkdirSync(join(userDir, 'node_modules'), { recursive: true });
const link = join(userDir, 'node_modules', pkg.name);
if (!existsSync(link)) symlinkSync(root, link, 'dir');
if (!existsSync(join(userDir, 'package.json'))) {
  const manifest = { name: 'edge-gateway-userdir', private: true, dependencies: { [pkg.name]: `file:${root}` } };
  writeFileSync(join(userDir, 'package.json'), JSON.stringify(manifest, null, 2));
}

// The credential secret is made once per user dir and never leaves it.
const settingsFile = join(userDir, 'settings.js');
if (!existsSync(settingsFile)) {
  const secret = randomBytes(24).toString('hex');
  writeFileSync(
    settingsFile,
    `module.exports = {
  uiHost: process.env.HOST || '127.0.0.1',
  uiPort: Number(process.env.PORT || ${port}),
  flowFile: 'flows.json',
  credentialSecret: '${secret}',
  logging: { console: { level: 'info', metrics: false, audit: false } },
  editorTheme: { projects: { enabled: false } },
};
`,
    { mode: 0o600 },
  );
}

const flows = join(userDir, 'flows.json');
if (!existsSync(flows)) {
  copyFileSync(join(root, 'examples', 'edge gateway.json'), flows);
  console.log(`Deployed examples/edge gateway.json into ${userDir}`);
} else {
  console.log(`Keeping the flows in ${flows} (delete ${userDir} to start again from the example)`);
}

const require = createRequire(import.meta.url);
const redJs = join(dirname(require.resolve('node-red/package.json')), 'red.js');
const child = spawn(process.execPath, [redJs, '--userDir', userDir, '--settings', settingsFile], {
  stdio: 'inherit',
  env: { ...process.env, PORT: String(port) },
});
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
