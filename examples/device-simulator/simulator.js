#!/usr/bin/env node
/*
 * Reference device for the gateway's MQTT provisioning (see the README, "Device provisioning").
 * The fallback ladder:
 *   1. local broker (mqtts://gateway:8883) accepts the certificate and answers `accepted` → provisioned
 *   2. local broker missing, refusing or answering `rejected` → the vendor's default broker
 *   3. no network at all (neither answers) → the device acts locally on its own
 *
 *   node simulator.js --id dev-1 --cert dev.crt --key dev.key --ca ca.crt \
 *        --local mqtts://127.0.0.1:8883 [--vendor mqtt://vendor.example:1883] [--firmware 1.0.0]
 */
'use strict';
const { readFileSync } = require('node:fs');
const { X509Certificate } = require('node:crypto');
const mqtt = require('mqtt');

/** The identity the broker will see: the certificate's CN (the topic ACL is built on it). */
function certificateId(certPem) {
  const subject = new X509Certificate(certPem).subject; // "CN=dev-1" (one RDN per line)
  const cn = /^CN=(.+)$/m.exec(subject);
  return cn ? cn[1] : '';
}

function once(client, timeoutMs, onTimeout) {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(onTimeout()), timeoutMs);
    client.__settle = (v) => {
      clearTimeout(timer);
      resolve(v);
    };
  });
}

/**
 * Tries the local broker: connect with the client certificate, announce, wait for the answer.
 * Resolves { ok: true, client, config } or { ok: false, error | rejected }.
 */
async function tryLocal(o) {
  const topicId = certificateId(o.cert);
  const base = `provisioning/${topicId}`;
  const client = mqtt.connect(o.local, {
    ca: o.ca,
    cert: o.cert,
    key: o.key,
    clientId: `${topicId}-${Math.random().toString(16).slice(2, 8)}`,
    reconnectPeriod: 0,
    connectTimeout: o.timeoutMs,
    will: { topic: `devices/${topicId}/status`, payload: Buffer.from('offline'), qos: 1, retain: true },
    ...(o.servername ? { servername: o.servername } : {}),
  });
  const result = once(client, o.timeoutMs, () => ({ ok: false, error: 'no answer from the local broker' }));
  client.on('error', (err) => client.__settle({ ok: false, error: err.message }));
  client.on('close', () => client.__settle({ ok: false, error: 'connection closed' }));
  client.on('message', (topic, payload) => {
    let body;
    try {
      body = JSON.parse(payload.toString());
    } catch {
      return;
    }
    if (topic === `${base}/accepted`) client.__settle({ ok: true, client, config: body });
    else if (topic === `${base}/rejected`) client.__settle({ ok: false, rejected: body });
    else if (topic === `${base}/deprovision`) client.emit('deprovisioned', body);
  });
  client.on('connect', async () => {
    try {
      await client.subscribeAsync([`${base}/accepted`, `${base}/rejected`, `${base}/deprovision`], { qos: 1 });
      await client.publishAsync(`devices/${topicId}/status`, 'online', { qos: 1, retain: true });
      const hello = { id: o.id, firmware: o.firmware, model: o.model, vendor: o.vendor, behaviours: o.behaviours };
      await client.publishAsync(`${base}/hello`, o.rawHello ?? JSON.stringify(hello), { qos: 1 });
    } catch (err) {
      client.__settle({ ok: false, error: err.message });
    }
  });
  const outcome = await result;
  client.removeAllListeners('close');
  client.removeAllListeners('error');
  client.on('error', () => undefined);
  if (!outcome.ok) client.end(true);
  if (outcome.ok && outcome.config && Number(outcome.config.heartbeatSeconds) > 0) {
    // Heartbeat: the retained status again, so the gateway sees the device alive.
    const beat = setInterval(() => client.publish(`devices/${topicId}/status`, 'online', { qos: 0, retain: true }), outcome.config.heartbeatSeconds * 1000);
    beat.unref();
    client.once('close', () => clearInterval(beat));
  }
  return outcome;
}

async function tryVendor(o) {
  if (!o.vendor_url) return { ok: false, error: 'no vendor broker configured' };
  const client = mqtt.connect(o.vendor_url, { reconnectPeriod: 0, connectTimeout: o.timeoutMs });
  const outcome = await new Promise((resolve) => {
    client.once('connect', () => resolve({ ok: true, client }));
    client.once('error', (err) => resolve({ ok: false, error: err.message }));
    client.once('close', () => resolve({ ok: false, error: 'connection closed' }));
  });
  if (!outcome.ok) client.end(true);
  return outcome;
}

/**
 * Runs the ladder once. Resolves one of
 *   { mode: 'provisioned', client, config, local }
 *   { mode: 'vendor', client, local }
 *   { mode: 'local', local, vendor }          (acts on its own)
 * where `local` says what the local broker did.
 */
async function provision(options) {
  const o = {
    firmware: '1.0.0',
    model: 'sim-1',
    vendor: 'Example Devices',
    behaviours: ['switch'],
    timeoutMs: 5000,
    ...options,
  };
  o.vendor_url = options.vendorUrl;
  const local = o.local ? await tryLocal(o) : { ok: false, error: 'no local broker configured' };
  if (local.ok) return { mode: 'provisioned', client: local.client, config: local.config, local: { ok: true } };
  const vendor = await tryVendor(o);
  if (vendor.ok) return { mode: 'vendor', client: vendor.client, local };
  return { mode: 'local', local, vendor };
}

module.exports = { provision, certificateId };

if (require.main === module) {
  const args = process.argv.slice(2);
  const arg = (name) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const read = (name) => (arg(name) ? readFileSync(arg(name), 'utf8') : undefined);
  provision({
    id: arg('id'),
    cert: read('cert'),
    key: read('key'),
    ca: read('ca'),
    local: arg('local'),
    vendorUrl: arg('vendor'),
    firmware: arg('firmware') ?? '1.0.0',
  }).then((r) => {
    console.log(r.mode === 'provisioned' ? `provisioned: ${JSON.stringify(r.config)}` : `${r.mode}: local broker said ${JSON.stringify(r.local)}`);
    if (r.mode === 'local') return;
    r.client.on('message', (topic, payload) => console.log(`${topic} ${payload}`));
    process.on('SIGINT', () => r.client.end(false, () => process.exit(0)));
  });
}
