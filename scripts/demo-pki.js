/*
 * Certificates made with the openssl CLI (node:crypto cannot sign them): the local demo PKI of
 * `npm start` / `npm run device`, and the tests' throw-away PKI (test/support/certs.ts).
 * CommonJS with a .d.ts beside it, like the device simulator, so the .mjs scripts run it without a
 * build and the TypeScript tests import it typed.
 */
'use strict';
const { execFileSync } = require('node:child_process');
const { accessSync, chmodSync, constants, existsSync, mkdirSync, readFileSync, writeFileSync } = require('node:fs');
const { hostname } = require('node:os');
const { delimiter, join } = require('node:path');
const { randomBytes } = require('node:crypto');

/** The openssl binary on PATH, or undefined. */
function findOpenssl() {
  for (const dir of (process.env.PATH || '').split(delimiter)) {
    const candidate = join(dir, 'openssl');
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];

/** openssl argument lists for a self-signed CA `<dir>/<name>.crt` + `.key`. */
function caArgs(dir, name, cn, days) {
  return [['req', '-x509', ...EC_KEY, '-keyout', join(dir, `${name}.key`), '-out', join(dir, `${name}.crt`), '-subj', `/CN=${cn}`, '-days', String(days)]];
}

/**
 * openssl argument lists for a key, a request and a certificate `<dir>/<name>.crt` signed by
 * `<issuerDir or dir>/<issuer>.crt`.
 */
function issueArgs(dir, issuer, name, o) {
  const from = o.issuerDir || dir;
  const ext = join(dir, `${name}.ext`);
  writeFileSync(ext, `subjectAltName=${o.san}\nextendedKeyUsage=${o.usage || 'serverAuth,clientAuth'}\n`);
  const serial = o.serial === undefined ? `0x${randomBytes(8).toString('hex')}` : String(o.serial);
  return [
    ['req', ...EC_KEY, '-keyout', join(dir, `${name}.key`), '-out', join(dir, `${name}.csr`), '-subj', `/CN=${o.cn}`],
    ['x509', '-req', '-in', join(dir, `${name}.csr`), '-CA', join(from, `${issuer}.crt`), '-CAkey', join(from, `${issuer}.key`), '-set_serial', serial, '-out', join(dir, `${name}.crt`), '-days', String(o.days), '-extfile', ext],
  ];
}

function runOpenssl(openssl, argLists) {
  for (const args of argLists) execFileSync(openssl, args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

function readPair(dir, name) {
  const certFile = join(dir, `${name}.crt`);
  const keyFile = join(dir, `${name}.key`);
  return { certFile, keyFile, cert: readFileSync(certFile, 'utf8'), key: readFileSync(keyFile, 'utf8') };
}

/** A key is for its owner only; openssl writes it with the umask's mode. */
function issued(openssl, dir, argLists, name) {
  runOpenssl(openssl, argLists);
  chmodSync(join(dir, `${name}.key`), 0o600);
  return readPair(dir, name);
}

/** The same rule as lib/provisioning/topics.ts isValidDeviceId (this file runs without a build). */
const DEVICE_ID = /^[A-Za-z0-9][A-Za-z0-9._:@-]{0,63}$/;

const pkiDir = (userDir) => join(userDir, 'pki');

/**
 * `<userDir>/pki/`: the demo CA that devices' certificates chain to (the "vendor/owner CA") and the
 * broker's certificate for localhost, 127.0.0.1, ::1 and this host's name. Made once; kept after.
 */
function ensureDemoPki(openssl, userDir) {
  const dir = pkiDir(userDir);
  mkdirSync(join(dir, 'devices'), { recursive: true, mode: 0o700 });
  let created = false;
  if (!existsSync(join(dir, 'ca.crt'))) {
    issued(openssl, dir, caArgs(dir, 'ca', `edge-gateway demo CA (${hostname()})`, 3650), 'ca');
    created = true;
  }
  if (!existsSync(join(dir, 'broker.crt'))) {
    const host = hostname();
    const names = ['DNS:localhost', 'IP:127.0.0.1', 'IP:::1', ...(/^[A-Za-z0-9][A-Za-z0-9-]{0,62}$/.test(host) && host !== 'localhost' ? [`DNS:${host}`, `DNS:${host}.local`] : [])];
    issued(openssl, dir, issueArgs(dir, 'ca', 'broker', { cn: 'localhost', days: 825, san: names.join(','), usage: 'serverAuth' }), 'broker');
    created = true;
  }
  return { dir, ca: readPair(dir, 'ca'), broker: readPair(dir, 'broker'), created };
}

/** `<userDir>/pki/devices/<id>.crt` + `.key`: CN and DNS name = the device ID, signed by the demo CA. */
function ensureDeviceCert(openssl, userDir, id) {
  if (!DEVICE_ID.test(id)) throw new Error(`"${id}" is not a device ID: 1 to 64 letters, digits and . _ : @ - (starting with a letter or digit)`);
  const { dir } = ensureDemoPki(openssl, userDir);
  const devices = join(dir, 'devices');
  if (!existsSync(join(devices, `${id}.crt`))) {
    return issued(openssl, devices, issueArgs(devices, 'ca', id, { issuerDir: dir, cn: id, days: 825, san: `DNS:${id}`, usage: 'clientAuth' }), id);
  }
  return readPair(devices, id);
}

module.exports = { findOpenssl, caArgs, issueArgs, runOpenssl, readPair, ensureDemoPki, ensureDeviceCert, DEVICE_ID };
