/**
 * What the reverse proxy costs, and how together a group acts:
 *  1. GET /hello straight to a device, through /ep/<ep>/hello (cache off), and through it with the
 *     cache on; req/s, p50/p99 and req/s ÷ direct. Target of the issue: proxied ≥ 70 % of direct.
 *     Two setups: the old one, device in the bench process (load generator, proxy and device
 *     share one event loop, so the proxied path pays for three parties on one core), and the fair
 *     one, device in a child process (bench/support/device.ts) for direct and proxied alike, as
 *     on a real gateway where the device is another machine.
 *  2. A PUT to a 50-member group: time from the first to the last member receiving it (hrtime at
 *     each device), median and max over the rounds. Target: < 20 ms.
 * Prints figures; exits non-zero on wrong answers or errors, never on timing.
 */
import { EventEmitter } from 'node:events';
import { availableParallelism } from 'node:os';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { CoapEndpoint } from '../lib/coap/endpoint';
import { CoapClient } from '../lib/coap/client';
import { ReverseProxy } from '../lib/coap/proxy/reverse-proxy';
import type { DirectoryEvents, EndpointDirectory, RegisteredEndpoint } from '../lib/coap/rd/directory';
import { runLoad, percentile, type LoadResult, type Reply } from './support/load';

const HOST = '127.0.0.1';
const WARMUP = 500;
const COUNT = 5000;
const CONCURRENCY = 16;
const ROUNDS = 3;
const TIME_LIMIT_MS = 30_000;
const GROUP_SIZE = 50;
const GROUP_ROUNDS = 20;
const HELLO = Buffer.from('hello');

/** The smallest EndpointDirectory: the bench registers its devices by hand. */
class BenchDirectory extends EventEmitter<DirectoryEvents> implements EndpointDirectory {
  private readonly list: RegisteredEndpoint[] = [];
  add(ep: string, port: number, d?: string): void {
    this.list.push({ id: String(this.list.length + 1), ep, d, base: `coap://${HOST}:${port}`, lt: 3600, expiresAt: Date.now() + 3_600_000, links: [], source: { address: HOST, port } });
  }
  endpoint(ep: string, d?: string): RegisteredEndpoint | undefined {
    return this.list.find((e) => e.ep === ep && (d === undefined || e.d === d));
  }
  endpoints(): RegisteredEndpoint[] {
    return [...this.list];
  }
}

async function endpoint(setup: (e: CoapEndpoint) => void): Promise<{ e: CoapEndpoint; port: number }> {
  const e = new CoapEndpoint({ address: HOST, port: 0, maxPendingRequests: 10_000 });
  setup(e);
  return { e, port: (await e.start()).port };
}

function check(reply: Reply): string | undefined {
  if (reply.code !== '2.05') return `expected 2.05, got ${reply.code} ${reply.payload.toString()}`;
  return reply.payload.equals(HELLO) ? undefined : `expected "hello", got ${JSON.stringify(reply.payload.toString())}`;
}

interface Scenario {
  name: string;
  port: number;
  path: string;
  results: LoadResult[];
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length === 0 ? Number.NaN : sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

const fixed = (n: number, digits: number): string => (Number.isFinite(n) ? n.toFixed(digits) : '-');

interface Device {
  port: number;
  stop(): Promise<void>;
}

async function inProcessDevice(): Promise<Device> {
  const { e, port } = await endpoint((d) => d.route('GET', '/hello', (ex) => ex.respond({ code: '2.05', payload: HELLO, contentFormat: 0 })));
  return { port, stop: () => e.stop() };
}

/** The same device in its own process: it prints its port, and leaves when its stdin closes. */
function childDevice(): Promise<Device> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(__dirname, 'support', 'device.ts')], { stdio: ['pipe', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the child device did not report its port within 20 s')), 20_000);
    child.once('exit', (code) => reject(new Error(`the child device exited (${String(code)}) before listening`)));
    createInterface({ input: child.stdout }).once('line', (line) => {
      clearTimeout(timer);
      const port = Number(/^PORT (\d+)$/.exec(line)?.[1]);
      if (!port) return reject(new Error(`the child device said ${JSON.stringify(line)}`));
      resolve({
        port,
        stop: () =>
          new Promise<void>((done) => {
            child.once('exit', () => done());
            child.stdin.end();
          }),
      });
    });
  });
}

/** Runs the three scenarios against this device; prints the table; returns proxied ÷ direct (cache off). */
async function throughput(setup: string, device: Device): Promise<{ ok: boolean; ratio: number }> {
  console.log(`\nsetup: ${setup}`);
  const directory = new BenchDirectory();
  directory.add('dev', device.port);
  const plain = await endpoint(() => undefined);
  const plainProxy = new ReverseProxy(plain.e, () => directory, { cacheMaxEntries: 0, maxPendingRequests: 1000 });
  plainProxy.start();
  const cached = await endpoint(() => undefined);
  const cachedProxy = new ReverseProxy(cached.e, () => directory, { maxPendingRequests: 1000 });
  cachedProxy.start();
  const scenarios: Scenario[] = [
    { name: 'direct to the device (baseline)', port: device.port, path: '/hello', results: [] },
    { name: 'through /ep/dev/hello, cache off', port: plain.port, path: '/ep/dev/hello', results: [] },
    { name: 'through /ep/dev/hello, cache on', port: cached.port, path: '/ep/dev/hello', results: [] },
  ];
  try {
    // Rotating order: whatever runs first runs on colder code.
    for (let round = 0; round <= ROUNDS; round++) {
      for (let i = 0; i < scenarios.length; i++) {
        const s = scenarios[(round + i) % scenarios.length] as Scenario;
        s.results.push(
          await runLoad({ host: HOST, port: s.port, request: { method: 'GET', path: s.path }, count: COUNT, warmup: WARMUP, concurrency: CONCURRENCY, timeLimitMs: TIME_LIMIT_MS, check }),
        );
      }
    }
  } finally {
    await plainProxy.stop();
    await cachedProxy.stop();
    for (const e of [plain.e, cached.e]) await e.stop();
    await device.stop();
  }
  const base = median(scenarios[0]?.results.slice(1).map((r) => r.requestsPerSecond) ?? []);
  console.log(['scenario'.padEnd(36), 'req/s'.padStart(8), 'p50 ms'.padStart(8), 'p99 ms'.padStart(8), 'ratio'.padStart(6), 'failures'.padStart(9)].join(' '));
  let ok = true;
  let ratio = Number.NaN;
  for (const s of scenarios) {
    const measured = s.results.slice(1);
    const rps = median(measured.map((r) => r.requestsPerSecond));
    const pooled = measured.flatMap((r) => r.latenciesMs).sort((a, b) => a - b);
    const failures = s.results.reduce((n, r) => n + r.failures, 0);
    if (s === scenarios[1]) ratio = rps / base;
    console.log([s.name.padEnd(36), fixed(rps, 0).padStart(8), fixed(percentile(pooled, 50), 3).padStart(8), fixed(percentile(pooled, 99), 3).padStart(8), fixed(rps / base, 2).padStart(6), String(failures).padStart(9)].join(' '));
    if (failures > 0) {
      ok = false;
      console.error(`FAIL ${s.name}: ${failures} wrong answers, e.g. ${s.results.flatMap((r) => r.failureSamples).slice(0, 3).join('; ')}`);
    }
  }
  return { ok, ratio };
}

async function groupSpread(): Promise<boolean> {
  const directory = new BenchDirectory();
  const devices: CoapEndpoint[] = [];
  let arrivals: bigint[] = [];
  for (let i = 0; i < GROUP_SIZE; i++) {
    const d = await endpoint((e) =>
      e.route('PUT', '/lamp', (ex) => {
        arrivals.push(process.hrtime.bigint());
        ex.respond({ code: '2.04' });
      }),
    );
    devices.push(d.e);
    directory.add(`lamp${i}`, d.port, 'bench');
  }
  const gw = await endpoint(() => undefined);
  const proxy = new ReverseProxy(gw.e, () => directory, { groups: [{ name: 'all', members: ['sector:bench'] }] });
  proxy.start();
  const client = new CoapClient();
  const spreads: number[] = [];
  let ok = true;
  try {
    for (let round = 0; round <= GROUP_ROUNDS; round++) {
      arrivals = [];
      const res = await client.request({ host: HOST, port: gw.port, family: 'udp4' }, { method: 'PUT', path: ['grp', 'all', 'lamp'], query: [], payload: Buffer.from('on') }, 10_000);
      const summary = JSON.parse(res.payload.toString()) as { results: Array<{ code: string }> };
      const good = summary.results.filter((r) => r.code === '2.04').length;
      if (res.code !== '2.05' || good !== GROUP_SIZE || arrivals.length !== GROUP_SIZE) {
        ok = false;
        console.error(`FAIL group round ${round}: ${res.code}, ${good} of ${GROUP_SIZE} members answered 2.04, ${arrivals.length} arrived`);
        continue;
      }
      const sorted = [...arrivals].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      // Round 0 warms up the sockets and the JIT.
      if (round > 0) spreads.push(Number((sorted[sorted.length - 1] as bigint) - (sorted[0] as bigint)) / 1e6);
    }
  } finally {
    await client.close();
    await proxy.stop();
    await gw.e.stop();
    for (const d of devices) await d.stop();
  }
  console.log(`group of ${GROUP_SIZE}: first-to-last member spread over ${spreads.length} rounds: median ${fixed(median(spreads), 2)} ms, max ${fixed(Math.max(...spreads), 2)} ms (target < 20 ms)`);
  return ok;
}

async function main(): Promise<boolean> {
  console.log(`proxy: GET /hello on ${HOST}, ${CONCURRENCY} in flight, ${WARMUP} warm-up + ${COUNT} measured per round, 1 discarded + ${ROUNDS} measured rounds; node ${process.version}, ${availableParallelism()} CPUs`);
  const old = await throughput('in-process: load generator, proxy and device in this one process (the old setup)', await inProcessDevice());
  const fair = await throughput('child device: load generator and proxy in this process, the device in a child process, for direct and proxied alike', await childDevice());
  console.log(`\nproxied (cache off) ÷ direct: in-process ${fixed(old.ratio, 2)}, device in a child process ${fixed(fair.ratio, 2)} (target ≥ 0.70; informative, never a failure)`);
  const b = await groupSpread();
  return old.ok && fair.ok && b;
}

main().then(
  (ok) => process.exit(ok ? 0 : 1),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
