/** Real protocol peers from Debian packages. A missing one fails the test and says what to install. */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

export function requirePeer(binary: string, debianPackage: string): string {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const candidate = join(dir, binary);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this directory
    }
  }
  throw new Error(`${binary} not found: install the Debian package ${debianPackage} (apt-get install ${debianPackage}); .ci/run does`);
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a peer with a hard time limit; never rejects, so the test can assert on everything it printed. */
export function runPeer(file: string, args: string[], timeoutMs = 15_000): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(file, args, { timeout: timeoutMs, maxBuffer: 4 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : null) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/**
 * libcoap's example server (`coap-server-notls`) on 127.0.0.1:port, returned once it answers a
 * GET (its root resource names libcoap), so the first request of a test never races its bind.
 */
export async function startCoapServer(port: number): Promise<ChildProcess> {
  const coapServer = requirePeer('coap-server-notls', 'libcoap3-bin');
  const coapClient = requirePeer('coap-client-notls', 'libcoap3-bin');
  const server = spawn(coapServer, ['-A', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' });
  for (let i = 0; i < 50; i++) {
    const r = await runPeer(coapClient, ['-B', '1', '-m', 'get', `coap://127.0.0.1:${port}/`], 3000);
    if (r.stdout.includes('libcoap')) return server;
    await new Promise((res) => setTimeout(res, 100));
  }
  server.kill();
  throw new Error(`coap-server-notls on 127.0.0.1:${port} never answered`);
}
