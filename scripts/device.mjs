// `npm run device -- <device-id>`: a pretend device for the gateway that `npm start` runs. It gets a
// certificate for <device-id> from the demo CA in <userDir>/pki/ (made once, kept in
// <userDir>/pki/devices/) and runs the reference device (examples/device-simulator) against the
// gateway's broker. Claimed on the dashboard, it is provisioned and stays connected until Ctrl-C;
// not claimed, the gateway refuses it and the owner gets a notice.
//   EDGE_GATEWAY_USERDIR     user dir of `npm start` (default .gateway/ in this checkout)
//   EDGE_GATEWAY_MQTTS_PORT  the broker's TLS port (default 8883); or --url mqtts://host:port
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import pki from './demo-pki.js';
import simulator from '../examples/device-simulator/simulator.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const userDir = resolve(process.env.EDGE_GATEWAY_USERDIR || join(root, '.gateway'));
const args = process.argv.slice(2);
const urlAt = args.indexOf('--url');
const url = urlAt >= 0 ? args[urlAt + 1] : `mqtts://127.0.0.1:${process.env.EDGE_GATEWAY_MQTTS_PORT || 8883}`;
const id = args.filter((_, i) => urlAt < 0 || (i !== urlAt && i !== urlAt + 1))[0];

function fail(message) {
  console.error(message);
  process.exit(1);
}

if (!id) fail('usage: npm run device -- <device-id> [--url mqtts://127.0.0.1:8883]');
const openssl = pki.findOpenssl();
if (!openssl) fail('openssl not found: install the Debian package openssl (apt-get install openssl)');
let cert;
let ca;
try {
  cert = pki.ensureDeviceCert(openssl, userDir, id);
  ca = pki.ensureDemoPki(openssl, userDir).ca;
} catch (err) {
  fail(String(err.stderr || err.message).trim());
}

console.log(`${id}: certificate ${cert.certFile} (CN=${id}, from the demo CA); connecting to ${url}`);
const result = await simulator.provision({ id, cert: cert.cert, key: cert.key, ca: ca.cert, local: url, model: 'demo lamp', behaviours: ['switch', 'dim'] });
if (result.mode !== 'provisioned') {
  const local = result.local;
  if (local.rejected) fail(`${id}: refused by the gateway (${local.rejected.code}): ${local.rejected.reason}`);
  fail(`${id}: no provisioning (${local.error}); is \`npm start\` running, with its broker on ${url}?`);
}
console.log(`${id}: provisioned, configuration ${JSON.stringify(result.config)}`);
result.client.on('message', (topic, payload) => console.log(`${topic} ${payload}`));
await result.client.subscribeAsync(result.config.topics.commands, { qos: 1 });
console.log(`${id}: online; commands on ${result.config.topics.commands} are printed here. Ctrl-C to stop.`);
result.client.on('close', () => console.log(`${id}: disconnected`));
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    // A clean disconnect: the retained status stays `online` unless the device says otherwise.
    result.client.publish(`devices/${id}/status`, 'offline', { qos: 1, retain: true }, () => result.client.end(false, () => process.exit(0)));
  });
}
