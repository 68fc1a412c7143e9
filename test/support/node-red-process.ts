/**
 * A real Node-RED (the repo's devDependency) in a child process, for tests that need the whole
 * runtime: the editor's admin API, adminAuth, installed packages, a browser.
 *
 *   const red = await startNodeRed({ userDir });
 *   const res = await fetch(`${red.url}/nodes`, { headers: { Accept: 'application/json' } });
 *   await red.stop();
 */
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { freePort } from './free-port';

export interface StartNodeRedOptions {
  /** Node-RED's user dir; created if missing. settings.js in it is (re)written. */
  userDir: string;
  /** JSON-serialisable settings, merged over the defaults below (top-level keys replace). */
  settings?: Record<string, unknown>;
  /** Defaults to a free port on 127.0.0.1. */
  port?: number;
  /** How long the runtime may take to load nodes and answer HTTP. */
  startTimeoutMs?: number;
}

export interface NodeRedProcess {
  /** http://127.0.0.1:<port>, no trailing slash. */
  url: string;
  port: number;
  userDir: string;
  /** Everything the process wrote to stdout and stderr so far, interleaved. */
  output(): string;
  /** SIGTERM, then SIGKILL after 10 s; resolves once the process is gone. Safe to call twice. */
  stop(): Promise<void>;
}

/** Fixed so that credentials written by one run can be read by the next one on the same user dir. */
export const TEST_CREDENTIAL_SECRET = 'edge-gateway-test-only-secret';

export const DEFAULT_SETTINGS: Readonly<Record<string, unknown>> = {
  uiHost: '127.0.0.1',
  flowFile: 'flows.json',
  credentialSecret: TEST_CREDENTIAL_SECRET,
  logging: { console: { level: 'info', metrics: false, audit: false } },
  editorTheme: { projects: { enabled: false }, tours: false },
  // Tests must not phone home or wait on a consent prompt.
  telemetry: { enabled: false, updateNotification: false },
};

export function nodeRedScript(): string {
  return join(dirname(require.resolve('node-red/package.json')), 'red.js');
}

export async function startNodeRed(options: StartNodeRedOptions): Promise<NodeRedProcess> {
  const { userDir } = options;
  const port = options.port ?? (await freePort());
  const url = `http://127.0.0.1:${port}`;
  mkdirSync(userDir, { recursive: true });
  const settingsFile = join(userDir, 'settings.js');
  const settings = { ...DEFAULT_SETTINGS, ...options.settings };
  writeFileSync(settingsFile, `module.exports = ${JSON.stringify(settings, null, 2)};\n`, { mode: 0o600 });

  // Run Node-RED as a user would, not inside this test's loader or test-runner context.
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  delete env.NODE_TEST_CONTEXT;
  const child = spawn(process.execPath, [nodeRedScript(), '--userDir', userDir, '--settings', settingsFile, '--port', String(port)], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  const append = (chunk: Buffer): void => {
    log += chunk.toString('utf8');
  };
  child.stdout.on('data', append);
  child.stderr.on('data', append);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let exitNote: string | undefined;
  child.once('exit', (code, signal) => {
    exitNote = `Node-RED exited (code ${code}, signal ${signal})`;
  });
  child.once('error', (err) => {
    exitNote = `Node-RED did not start: ${err.message}`;
  });

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
      child.kill('SIGTERM');
      if (await settles(exited, 10_000)) return;
      child.kill('SIGKILL');
      await settles(exited, 5_000);
    })();
    return stopping;
  };

  try {
    // red.js only listens once the runtime has loaded every node, so any HTTP answer
    // (401 included, under adminAuth) means the node sets are in GET /nodes.
    await waitForHttp(`${url}/settings`, {
      timeoutMs: options.startTimeoutMs ?? 30_000,
      accept: () => true,
      abortIf: () => exitNote,
    });
  } catch (err) {
    await stop();
    throw new Error(`${(err as Error).message}\n--- Node-RED output ---\n${tail(log)}`);
  }
  return { url, port, userDir, output: () => log, stop };
}

export interface WaitForHttpOptions {
  timeoutMs: number;
  /** Which status counts as ready; default 2xx. */
  accept?: (status: number) => boolean;
  /** Polled between attempts: a reason to give up early (e.g. the server process died). */
  abortIf?: () => string | undefined;
  intervalMs?: number;
}

/** Polls `url` with GET until it answers with an accepted status; returns that response. */
export async function waitForHttp(url: string, options: WaitForHttpOptions): Promise<Response> {
  const accept = options.accept ?? ((status: number) => status >= 200 && status < 300);
  const deadline = Date.now() + options.timeoutMs;
  let last = 'no attempt';
  for (;;) {
    const reason = options.abortIf?.();
    if (reason !== undefined) throw new Error(`gave up waiting for ${url}: ${reason}`);
    try {
      // Bound each attempt too: a socket that accepts but never answers must not eat the budget.
      const res = await fetch(url, { signal: AbortSignal.timeout(Math.max(1, Math.min(2_000, deadline - Date.now()))) });
      if (accept(res.status)) return res;
      last = `HTTP ${res.status}`;
      await res.body?.cancel();
    } catch (err) {
      last = (err as Error).message;
    }
    if (Date.now() >= deadline) throw new Error(`no answer from ${url} within ${options.timeoutMs} ms (last: ${last})`);
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 200));
  }
}

function settles(p: Promise<void>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  return Promise.race([p.then(() => true), timeout]).finally(() => clearTimeout(timer));
}

function tail(text: string, lines = 40): string {
  return text.split('\n').slice(-lines).join('\n');
}
