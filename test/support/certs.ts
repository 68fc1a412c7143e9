/**
 * Test PKI made with openssl at test time, in a temporary directory: a CA, a server certificate
 * for 127.0.0.1/localhost, and device certificates (valid, expired, from another CA). No key is
 * ever committed.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requirePeer } from './peers';
import { caArgs, issueArgs, readPair, runOpenssl, type CertPair } from '../../scripts/demo-pki';

export type { CertPair };

export interface TestPki {
  readonly dir: string;
  readonly ca: CertPair;
  readonly server: CertPair;
  /** A device certificate with CN = id (and DNS SAN = id), valid for a day, or expired. */
  device(id: string, options?: { expired?: boolean; san?: string }): CertPair;
  /** Many device certificates at once (openssl runs in parallel), for benchmarks. */
  devices(ids: readonly string[], parallel?: number): Promise<CertPair[]>;
  /** Revokes certificates and returns the CA's CRL (PEM) listing every one revoked so far. */
  revoke(...pairs: CertPair[]): string;
  /** A certificate from a different, untrusted CA. */
  stranger(id: string): CertPair;
  remove(): void;
}

const runAsync = promisify(execFile);

export function makeTestPki(): TestPki {
  const openssl = requirePeer('openssl', 'openssl');
  const dir = mkdtempSync(join(tmpdir(), 'edge-gateway-pki-'));
  let serial = 1;
  const selfSigned = (name: string, cn: string): CertPair => {
    runOpenssl(openssl, caArgs(dir, name, cn, 2));
    return readPair(dir, name);
  };
  const issueWith = (issuer: string, name: string, cn: string, days: number, san: string): string[][] =>
    issueArgs(dir, issuer, name, { cn, days, san, serial: serial++ });
  const issue = (issuer: string, name: string, cn: string, days: number, san: string): CertPair => {
    runOpenssl(openssl, issueWith(issuer, name, cn, days, san));
    return readPair(dir, name);
  };
  const ca = selfSigned('ca', 'edge-gateway test CA');
  const server = issue('ca', 'server', 'localhost', 2, 'DNS:localhost,IP:127.0.0.1,IP:::1');
  let strangerCa = false;
  let n = 0;
  return {
    dir,
    ca,
    server,
    device(id, options = {}) {
      return issue('ca', `device-${n++}`, id, options.expired ? -1 : 2, `DNS:${options.san ?? id}`);
    },
    async devices(ids, parallel = 8) {
      const out: CertPair[] = new Array(ids.length);
      let next = 0;
      const worker = async (): Promise<void> => {
        while (next < ids.length) {
          const i = next++;
          const name = `device-${n++}`;
          for (const args of issueWith('ca', name, ids[i] as string, 2, `DNS:${ids[i]}`)) await runAsync(openssl, args);
          out[i] = readPair(dir, name);
        }
      };
      await Promise.all(Array.from({ length: parallel }, worker));
      return out;
    },
    revoke(...pairs) {
      const cnf = join(dir, 'ca.cnf');
      if (!existsSync(cnf)) {
        writeFileSync(join(dir, 'index.txt'), '');
        writeFileSync(join(dir, 'crlnumber'), '01\n');
        writeFileSync(cnf, `[ca]\ndefault_ca = d\n[d]\ndatabase = ${join(dir, 'index.txt')}\ncrlnumber = ${join(dir, 'crlnumber')}\ndefault_md = sha256\ndefault_crl_days = 2\n`);
      }
      const ca = ['-config', cnf, '-keyfile', join(dir, 'ca.key'), '-cert', join(dir, 'ca.crt')];
      runOpenssl(openssl, [...pairs.map((p) => ['ca', ...ca, '-revoke', p.certFile]), ['ca', ...ca, '-gencrl', '-out', join(dir, 'ca.crl')]]);
      return readFileSync(join(dir, 'ca.crl'), 'utf8');
    },
    stranger(id) {
      if (!strangerCa) selfSigned('stranger-ca', 'someone else');
      strangerCa = true;
      return issue('stranger-ca', `stranger-${n++}`, id, 2, `DNS:${id}`);
    },
    remove() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
