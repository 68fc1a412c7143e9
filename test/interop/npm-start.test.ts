/**
 * `npm start` as a new user meets it: the real scripts/start.mjs in a fresh user dir, then the
 * README's tour: CoAP /hello (libcoap), the dashboard, a claim, `npm run device` for the claimed
 * device (provisioned over mqtts with a certificate from the demo PKI) and for an unclaimed one
 * (a notice). Ports are free ones and every listener is on 127.0.0.1 (start.mjs's EDGE_GATEWAY_*
 * variables); users get the defaults 1880, 5683 and 8883.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, freeUdpPort } from '../support/free-port';
import { requirePeer, runPeer } from '../support/peers';

const root = join(__dirname, '..', '..');
const coapClient = requirePeer('coap-client-notls', 'libcoap3-bin');
requirePeer('openssl', 'openssl');

interface Script {
  child: ChildProcess;
  output: () => string;
  /** Resolves with the output once it matches; rejects (with the output) when the script exits first or after the time limit. */
  waitFor: (pattern: RegExp, timeoutMs?: number) => Promise<string>;
  exited: Promise<number | null>;
}

function runScript(script: string, args: string[], env: NodeJS.ProcessEnv): Script {
  // Its own process group, so the test can make sure that nothing it started is left running.
  const child = spawn(process.execPath, [join(root, 'scripts', script), ...args], { cwd: root, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  const listeners = new Set<() => void>();
  const add = (chunk: Buffer): void => {
    text += chunk.toString();
    for (const l of listeners) l();
  };
  child.stdout?.on('data', add);
  child.stderr?.on('data', add);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const waitFor = (pattern: RegExp, timeoutMs = 30_000): Promise<string> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        if (!pattern.test(text)) return;
        done();
        resolve(text);
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`${script}: no ${pattern} within ${timeoutMs} ms; output:\n${text}`));
      }, timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        listeners.delete(check);
      };
      listeners.add(check);
      void exited.then((code) => {
        if (!listeners.has(check)) return;
        done();
        if (pattern.test(text)) resolve(text);
        else reject(new Error(`${script} exited (${code}) before ${pattern}; output:\n${text}`));
      });
      check();
    });
  return { child, output: () => text, waitFor, exited };
}

function groupAlive(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** SIGTERM to start.mjs alone: it must pass it on, and Node-RED must stop. Then nothing of the group may remain. */
async function stopGateway(gw: Script): Promise<void> {
  const pid = gw.child.pid as number;
  gw.child.kill('SIGTERM');
  const deadline = Date.now() + 20_000;
  while (groupAlive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  const left = groupAlive(pid);
  if (left) process.kill(-pid, 'SIGKILL');
  assert.equal(left, false, `start.mjs and its node-red child still running 20 s after SIGTERM:\n${gw.output()}`);
}

interface DashboardState {
  devices: Array<{ id: string; kind: string; state?: string; online: boolean; model?: string }>;
  claims: Array<{ id: string }>;
  notices: Array<{ kind: string; deviceId: string }>;
}

describe('npm start: a new user\'s gateway from a clone', () => {
  let userDir = '';
  let gw: Script | undefined;
  let url = '';
  let coapPort = 0;
  let env: NodeJS.ProcessEnv = {};
  const state = async (): Promise<DashboardState> => (await (await fetch(`${url}/edge-gateway/api/state`)).json()) as DashboardState;

  before(async () => {
    userDir = mkdtempSync(join(tmpdir(), 'edge-gateway-start-'));
    coapPort = await freeUdpPort();
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    env = {
      ...process.env,
      EDGE_GATEWAY_USERDIR: userDir,
      PORT: String(port),
      HOST: '127.0.0.1',
      EDGE_GATEWAY_COAP_PORT: String(coapPort),
      EDGE_GATEWAY_MQTTS_PORT: String(await freePort()),
      EDGE_GATEWAY_BIND: '127.0.0.1',
    };
    gw = runScript('start.mjs', [], env);
    await gw.waitFor(/MQTT broker listening: TLS 127\.0\.0\.1:\d+/);
  });
  after(async () => {
    if (gw) await stopGateway(gw);
    rmSync(userDir, { recursive: true, force: true });
  });

  test('the first start makes a demo PKI with private keys for the owner only, and the broker uses it', () => {
    assert.match(gw?.output() ?? '', /Made a demo PKI in /);
    for (const key of ['ca.key', 'broker.key']) assert.equal(statSync(join(userDir, 'pki', key)).mode & 0o777, 0o600, key);
    const flows = JSON.parse(readFileSync(join(userDir, 'flows.json'), 'utf8')) as Array<Record<string, unknown>>;
    const tls = flows.find((n) => n.type === 'tls-config');
    assert.deepEqual([tls?.cert, tls?.key, tls?.ca], ['broker.crt', 'broker.key', 'ca.crt'].map((f) => join(userDir, 'pki', f)));
    assert.doesNotMatch(gw?.output() ?? '', /\[error\]/);
  });

  test('CoAP GET /hello answers, as the README says', async () => {
    const r = await runPeer(coapClient, ['-m', 'get', `coap://127.0.0.1:${coapPort}/hello`]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'Hello from the edge gateway');
  });

  test('the dashboard page is served', async () => {
    const res = await fetch(`${url}/edge-gateway/`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /text\/html/);
  });

  test('claim lamp-1 on the dashboard, `npm run device -- lamp-1` is provisioned and listed', async () => {
    const claim = await fetch(`${url}/edge-gateway/api/claims`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ id: 'lamp-1', label: 'hall light' }) });
    assert.equal(claim.status, 200, await claim.text());
    assert.deepEqual((await state()).claims.map((c) => c.id), ['lamp-1']);

    const device = runScript('device.mjs', ['lamp-1'], env);
    try {
      await device.waitFor(/lamp-1: online/);
      assert.equal(statSync(join(userDir, 'pki', 'devices', 'lamp-1.key')).mode & 0o777, 0o600);
      const s = await state();
      const lamp = s.devices.find((d) => d.id === 'lamp-1');
      assert.equal(lamp?.kind, 'mqtt');
      assert.equal(lamp?.state, 'provisioned');
      assert.equal(lamp?.model, 'demo lamp');
      assert.deepEqual(s.claims, [], 'a provisioned device is no longer a pending claim');
      // The example's debug node also writes to the log, which is the terminal of `npm start`.
      await gw?.waitFor(/\[debug:provisioned\][^]*id: 'lamp-1'/, 5000);
    } finally {
      device.child.kill('SIGINT');
      assert.equal(await device.exited, 0, device.output());
    }
    const after = (await state()).devices.find((d) => d.id === 'lamp-1');
    assert.equal(after?.online, false, 'a device that said goodbye is shown offline');
  });

  test('`npm run device` for an unclaimed ID is refused and the owner gets a notice', async () => {
    const device = runScript('device.mjs', ['lamp-2'], env);
    const code = await device.exited;
    assert.equal(code, 1, device.output());
    assert.match(device.output(), /lamp-2: refused by the gateway \(unclaimed\)/);
    const s = await state();
    assert.ok(s.notices.some((n) => n.kind === 'unclaimed' && n.deviceId === 'lamp-2'), JSON.stringify(s.notices));
    assert.equal(s.devices.some((d) => d.id === 'lamp-2'), false);
    await gw?.waitFor(/\[debug:owner notices\][^]*kind: 'unclaimed',\s*deviceId: 'lamp-2'/, 5000);
  });
});

describe('npm start without openssl', () => {
  test('says which package to install; Node-RED and CoAP start, the broker waits with a warning', async () => {
    const userDir = mkdtempSync(join(tmpdir(), 'edge-gateway-start-'));
    const coapPort = await freeUdpPort();
    const gw = runScript('start.mjs', [], {
      ...process.env,
      PATH: join(userDir, 'no-tools-here'),
      EDGE_GATEWAY_USERDIR: userDir,
      PORT: String(await freePort()),
      HOST: '127.0.0.1',
      EDGE_GATEWAY_COAP_PORT: String(coapPort),
      EDGE_GATEWAY_MQTTS_PORT: String(await freePort()),
      EDGE_GATEWAY_BIND: '127.0.0.1',
    });
    try {
      const out = await gw.waitFor(/gateway-broker waiting for the TLS configuration/);
      await gw.waitFor(/CoAP endpoint listening/);
      assert.match(out, /openssl not found: install the Debian package openssl .*the MQTT broker stays off/);
      const r = await runPeer(coapClient, ['-m', 'get', `coap://127.0.0.1:${coapPort}/hello`]);
      assert.equal(r.stdout.trim(), 'Hello from the edge gateway');
      assert.doesNotMatch(gw.output(), /\[error\]/);
    } finally {
      await stopGateway(gw);
      rmSync(userDir, { recursive: true, force: true });
    }
  });
});
