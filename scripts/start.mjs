// `npm start`: runs the Node-RED devDependency on http://127.0.0.1:1880 with this package
// installed (linked) into a user dir of its own and the example gateway flow deployed.
//   EDGE_GATEWAY_USERDIR  user dir (default .gateway/ in this checkout; delete it to start afresh)
//   PORT                  editor/dashboard port (default 1880)
// and, read only when the example is written into flows.json (tests use them to stay off the
// default ports and on loopback):
//   EDGE_GATEWAY_COAP_PORT   CoAP UDP port (default 5683)
//   EDGE_GATEWAY_MQTTS_PORT  the broker's TLS port for devices (default 8883)
//   EDGE_GATEWAY_BIND        address both listen on (default: every interface)
// On first start it also makes a demo PKI in <userDir>/pki/ (scripts/demo-pki.js), to which the
// broker's TLS configuration points; `npm run device -- <id>` makes device certificates from it.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import pki from './demo-pki.js';

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

// The demo PKI: without openssl everything else still starts, and the broker waits for TLS material.
const openssl = pki.findOpenssl();
let demo;
try {
  demo = openssl ? pki.ensureDemoPki(openssl, userDir) : undefined;
} catch (err) {
  console.log(`openssl could not make the demo PKI (${String(err.stderr || err.message).trim()}); the MQTT broker stays off until its TLS material is configured`);
}
if (!openssl) {
  console.log('openssl not found: install the Debian package openssl (apt-get install openssl); the MQTT broker stays off until its TLS material is configured');
} else if (demo?.created) {
  console.log(`Made a demo PKI in ${demo.dir}: devices' certificates must chain to ${demo.ca.certFile}`);
}

/** The example's TLS configuration still empty (as imported) gets the demo PKI's files. */
function withDemoPki(node) {
  if (!demo || node.id !== 'eg.tls' || node.type !== 'tls-config' || node.cert || node.key || node.ca) return node;
  return { ...node, name: 'demo PKI (npm start)', cert: demo.broker.certFile, key: demo.broker.keyFile, ca: demo.ca.certFile };
}

const flows = join(userDir, 'flows.json');
if (!existsSync(flows)) {
  const env = (name) => (process.env[name] ? process.env[name] : undefined);
  const coapPort = env('EDGE_GATEWAY_COAP_PORT');
  const mqttsPort = env('EDGE_GATEWAY_MQTTS_PORT');
  const bind = env('EDGE_GATEWAY_BIND');
  const example = JSON.parse(readFileSync(join(root, 'examples', 'edge gateway.json'), 'utf8')).map((node) => {
    if (node.type === 'coap-endpoint') return { ...node, port: coapPort ? Number(coapPort) : node.port, address: bind ?? node.address };
    if (node.type === 'gateway-broker') return { ...node, port: mqttsPort ? Number(mqttsPort) : node.port, host: bind ?? node.host };
    return withDemoPki(node);
  });
  writeFileSync(flows, JSON.stringify(example, null, 2));
  console.log(`Deployed examples/edge gateway.json into ${userDir}`);
} else {
  // A user dir from before the demo PKI (or before openssl was installed) gets it now.
  let current;
  try {
    current = JSON.parse(readFileSync(flows, 'utf8'));
  } catch {
    current = undefined; // Node-RED itself says what is wrong with the file
  }
  const updated = Array.isArray(current) ? current.map(withDemoPki) : current;
  if (Array.isArray(current) && updated.some((n, i) => n !== current[i])) {
    // Renamed into place, so a crash never leaves the owner's flows half written.
    writeFileSync(`${flows}.tmp`, JSON.stringify(updated, null, 2));
    renameSync(`${flows}.tmp`, flows);
    console.log(`Pointed the broker's TLS configuration at the demo PKI in ${demo.dir}`);
  }
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
