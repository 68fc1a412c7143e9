/**
 * A real mosquitto (Debian `mosquitto`) as the external broker: TLS on a loopback port, client
 * certificates required, the certificate CN as the user name, and the per-device ACL patterns
 * from lib/provisioning/topics.ts. The gateway's own user gets every topic.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { userInfo } from 'node:os';
import { connect } from 'node:net';
import { requirePeer } from './peers';
import { freePort } from './free-port';
import { renderMosquittoAcl } from '../../lib/provisioning/mosquitto-acl';
import type { TestPki } from './certs';

export interface Mosquitto {
  readonly url: string;
  readonly port: number;
  /** The ACL file mosquitto reads (the gateway may rewrite it) and mosquitto's pid file. */
  readonly aclFile: string;
  readonly pidFile: string;
  /** What mosquitto logged so far. */
  log(): string;
  stop(): Promise<void>;
}

async function listening(port: number, child: ChildProcess, log: () => string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) throw new Error(`mosquitto exited (${child.exitCode}):\n${log()}`);
    const up = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1', () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (up) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`mosquitto did not listen on ${port}:\n${log()}`);
}

/** `gatewayUser` is the CN of the gateway's own client certificate. */
export async function startMosquitto(pki: TestPki, gatewayUser: string): Promise<Mosquitto> {
  const binary = requirePeer('mosquitto', 'mosquitto');
  const port = await freePort();
  const acl = join(pki.dir, `mosquitto-${port}.acl`);
  writeFileSync(acl, renderMosquittoAcl(gatewayUser, []));
  const pidFile = join(pki.dir, `mosquitto-${port}.pid`);
  const conf = join(pki.dir, `mosquitto-${port}.conf`);
  writeFileSync(
    conf,
    [
      // Started as root, mosquitto would become user "mosquitto" and lose the private test directory.
      `user ${userInfo().username}`,
      'per_listener_settings false',
      'persistence false',
      `pid_file ${pidFile}`,
      'log_dest stderr',
      'log_type error',
      'log_type warning',
      'log_type notice',
      'log_type information', // "Reloading config." on SIGHUP
      `listener ${port} 127.0.0.1`,
      `cafile ${pki.ca.certFile}`,
      `certfile ${pki.server.certFile}`,
      `keyfile ${pki.server.keyFile}`,
      'require_certificate true',
      'use_identity_as_username true',
      `acl_file ${acl}`,
      'max_connections 5000',
      '',
    ].join('\n'),
  );
  const child = spawn(binary, ['-c', conf], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-20_000)));
  child.stderr?.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-20_000)));
  const log = () => output;
  try {
    await listening(port, child, log);
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  return {
    url: `mqtts://127.0.0.1:${port}`,
    port,
    aclFile: acl,
    pidFile,
    log,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
