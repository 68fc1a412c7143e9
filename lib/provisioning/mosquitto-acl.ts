/**
 * Revocation on mosquitto, where the gateway is only a client: the gateway owns mosquitto's ACL
 * file, writes a `topic deny devices/<id>/#` block per revoked device ahead of the per-device
 * patterns, and signals mosquitto (SIGHUP) to reload it. mosquitto checks ACLs on every publish
 * and delivery, so a revoked device that is still connected loses its data path at once; its
 * provisioning topics stay open so that a hello is still answered `rejected` and the owner told. (mosquitto 2.0
 * does not reload a CRL on SIGHUP, and its dynamic-security plugin defers certificate-only clients
 * to the default check, so disabling a client there does not keep it out.)
 */
import { readFileSync } from 'node:fs';
import { writeFileAtomic } from '../util/atomic-file';
import { DEVICES_ROOT, isValidDeviceId, mosquittoAclPatterns } from './topics';

export function renderMosquittoAcl(gatewayUser: string, revoked: readonly string[]): string {
  const lines = ['# Written by the edge gateway (device-provisioning); edits are overwritten.', `user ${gatewayUser}`, 'topic readwrite #', ''];
  // User blocks come before patterns: mosquitto checks a user's own denials first.
  for (const id of [...new Set(revoked)].filter(isValidDeviceId).sort()) lines.push(`user ${id}`, `topic deny ${DEVICES_ROOT}/${id}/#`, '');
  lines.push(...mosquittoAclPatterns(), '');
  return lines.join('\n');
}

export interface MosquittoAclOptions {
  aclFile: string;
  /** mosquitto's pid file; without it the file is written and mosquitto reloads it on its next SIGHUP. */
  pidFile?: string;
  gatewayUser: string;
  /** For tests and unusual setups; process.kill by default. */
  signal?: (pid: number) => void;
}

export class MosquittoAcl {
  private last = '';
  private chain: Promise<void> = Promise.resolve();

  constructor(private readonly options: MosquittoAclOptions) {}

  /** Writes the file when the revoked set changed, then asks mosquitto to reload. */
  update(revoked: readonly string[]): Promise<void> {
    const text = renderMosquittoAcl(this.options.gatewayUser, revoked);
    if (text === this.last) return this.chain;
    this.last = text;
    this.chain = this.chain.catch(() => undefined).then(async () => {
      await writeFileAtomic(this.options.aclFile, text);
      this.reload();
    });
    return this.chain;
  }

  private reload(): void {
    if (!this.options.pidFile) return;
    const pid = Number.parseInt(readFileSync(this.options.pidFile, 'utf8').trim(), 10);
    if (!Number.isInteger(pid) || pid <= 1) throw new Error(`${this.options.pidFile} holds no process id`);
    (this.options.signal ?? ((p: number) => process.kill(p, 'SIGHUP')))(pid);
  }
}
