/**
 * What serving a CoAP resource costs at each layer: `GET /hello` answered by a bare node-coap
 * server (the baseline), by CoapEndpoint with a route, and by a Node-RED flow
 * coap-in → change → coap-response. Prints req/s, p50/p99 latency and req/s ÷ baseline.
 * Exits non-zero on wrong answers or errors, never on timing.
 */
import { createSocket } from 'node:dgram';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createServer } from 'coap';
import type { NodeAPI, Node } from 'node-red';
import { CoapEndpoint } from '../lib/coap/endpoint';
import type { CoapEndpointNode, EndpointState } from '../nodes/endpoint-node';
import { percentile, runLoad, type LoadResult, type Reply } from './support/load';

const HOST = '127.0.0.1';
const WARMUP = 500;
const COUNT = 5000;
const CONCURRENCY = 16;
/** Measured rounds per scenario, after one discarded round. */
const ROUNDS = 5;
/** Per scenario, all rounds together: a bound on the run, never a verdict. */
const TIME_LIMIT_MS = 30_000;
const HELLO = Buffer.from('hello');
const TEXT_PLAIN = 0;
const ROOT = join(__dirname, '..');

interface Server {
  port: number;
  stop(): Promise<void>;
}

interface Scenario {
  name: string;
  start(): Promise<Server>;
}

/** (a) node-coap answering in its request handler: the floor every layer above adds to. */
async function bareNodeCoap(): Promise<Server> {
  // Our own socket, because node-coap does not expose the port it bound when asked for port 0.
  const socket = createSocket('udp4');
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, HOST, () => {
      socket.off('error', reject);
      resolve();
    });
  });
  const server = createServer((_req, res) => {
    res.code = '2.05';
    res.setOption('Content-Format', TEXT_PLAIN);
    res.end(HELLO);
  });
  server.listen(socket);
  return {
    port: socket.address().port,
    stop: () =>
      new Promise((resolve) => {
        // close() leaves a socket it was handed open.
        server.close(() => socket.close(() => resolve()));
      }),
  };
}

/** (b) lib/coap/endpoint.ts: routing, pending-request bookkeeping and reply encoding. */
async function coapEndpoint(): Promise<Server> {
  const endpoint = new CoapEndpoint({ address: HOST, port: 0 });
  endpoint.route('GET', '/hello', (exchange) => exchange.respond({ code: '2.05', payload: HELLO, contentFormat: TEXT_PLAIN }));
  const address = await endpoint.start();
  return { port: address.port, stop: () => endpoint.stop() };
}

// node-red-node-test-helper ships no typings; this is the part of it used here.
type NodeModule = (RED: NodeAPI) => void | Promise<void>;
interface FlowNode {
  id: string;
  type: string;
  wires?: string[][];
  [property: string]: unknown;
}
interface TestHelper {
  init(runtimePath: string): void;
  startServer(): Promise<void>;
  stopServer(): Promise<void>;
  load(nodes: NodeModule[], flow: FlowNode[]): Promise<void>;
  unload(): Promise<void>;
  getNode(id: string): Node | undefined;
}

/** (c) the built nodes in a Node-RED runtime (through the test helper, see the report notes). */
async function nodeRedFlow(): Promise<Server> {
  const built = (name: string): string => join(ROOT, 'dist', 'nodes', `${name}.js`);
  for (const name of ['coap-endpoint', 'coap-in', 'coap-response']) {
    if (!existsSync(built(name))) throw new Error(`${built(name)} missing: run "npm run bench", which builds first`);
  }
  // require() because these are CommonJS modules without typings (helper) or built output (nodes);
  // each result is given its documented shape right here.
  const helper = require('node-red-node-test-helper') as TestHelper;
  const nodeRedPath = require.resolve('node-red');
  // The change node lives in @node-red/nodes, a dependency of node-red: resolve it from there.
  const changeNode = createRequire(nodeRedPath)('@node-red/nodes/core/function/15-change.js') as NodeModule;
  const modules = ['coap-endpoint', 'coap-in', 'coap-response'].map((name) => require(built(name)) as NodeModule);

  helper.init(nodeRedPath);
  await helper.startServer();
  try {
    await helper.load(
      [...modules, changeNode],
      [
        { id: 'ep', type: 'coap-endpoint', address: HOST, port: 0, family: 'udp4', maxPendingRequests: '', responseTimeout: '' },
        { id: 'tab', type: 'tab', label: 'bench' },
        { id: 'in', z: 'tab', type: 'coap-in', endpoint: 'ep', method: 'GET', url: '/hello', rt: '', iface: '', ct: '', wires: [['set']] },
        {
          id: 'set',
          z: 'tab',
          type: 'change',
          rules: [{ t: 'set', p: 'payload', pt: 'msg', to: HELLO.toString(), tot: 'str' }],
          wires: [['out']],
        },
        { id: 'out', z: 'tab', type: 'coap-response', code: '', contentFormat: '', maxAge: '', wires: [] },
      ],
    );
    const endpointNode = helper.getNode('ep') as CoapEndpointNode | undefined;
    if (!endpointNode) throw new Error('coap-endpoint config node not created');
    const port = await whenListening(endpointNode, 10_000);
    return {
      port,
      stop: async () => {
        await helper.unload();
        await helper.stopServer();
      },
    };
  } catch (err) {
    await helper.unload().catch(() => undefined);
    await helper.stopServer();
    throw err;
  }
}

function whenListening(node: CoapEndpointNode, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const onState = (state: EndpointState): void => {
      if (settled || state.kind === 'starting') return;
      settled = true;
      clearTimeout(timer);
      // watchState calls back before it returns the unsubscribe function.
      queueMicrotask(() => unwatch());
      const port = node.endpoint.address?.port;
      if (state.kind === 'failed') reject(new Error(`coap-endpoint failed: ${state.text}`));
      else if (port === undefined) reject(new Error('coap-endpoint listening without an address'));
      else resolve(port);
    };
    const timer = setTimeout(() => {
      settled = true;
      unwatch();
      reject(new Error(`coap-endpoint not listening after ${timeoutMs} ms`));
    }, timeoutMs);
    const unwatch = node.watchState(onState);
  });
}

function check(reply: Reply): string | undefined {
  if (reply.code !== '2.05') return `expected 2.05, got ${reply.code} ${JSON.stringify(reply.payload.toString())}`;
  if (!reply.payload.equals(HELLO)) return `expected "hello", got ${JSON.stringify(reply.payload.toString())}`;
  return undefined;
}

const scenarios: Scenario[] = [
  { name: 'node-coap server (baseline)', start: bareNodeCoap },
  { name: 'CoapEndpoint route', start: coapEndpoint },
  { name: 'Node-RED coap-in → change → coap-response', start: nodeRedFlow },
];

interface Run {
  scenario: Scenario;
  server?: Server;
  error?: Error;
  /** One per round; the first is the discarded warm-up round. */
  results: LoadResult[];
  usedMs: number;
}

async function measure(run: Run): Promise<void> {
  const server = run.server;
  const remainingMs = TIME_LIMIT_MS - run.usedMs;
  // Once a round was cut short the scenario is over, even if the timer left a millisecond unused.
  if (!server || run.error || remainingMs <= 0 || run.results.some((r) => r.aborted)) return;
  const startedAt = performance.now();
  try {
    run.results.push(
      await runLoad({
        host: HOST,
        port: server.port,
        request: { method: 'GET', path: '/hello' },
        count: COUNT,
        warmup: WARMUP,
        concurrency: CONCURRENCY,
        timeLimitMs: remainingMs,
        check,
      }),
    );
  } catch (err) {
    run.error = err as Error;
  }
  run.usedMs += performance.now() - startedAt;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function sum(values: number[]): number {
  return values.reduce((a, b) => a + b, 0);
}

function fixed(n: number, digits: number): string {
  return Number.isFinite(n) ? n.toFixed(digits) : '-';
}

interface Summary {
  name: string;
  error?: Error;
  requestsPerSecond: number;
  minRps: number;
  maxRps: number;
  p50: number;
  p99: number;
  completed: number;
  requested: number;
  answeredAtAll: number;
  failures: number;
  failureSamples: string[];
  notes: string[];
}

function summarise(run: Run): Summary {
  const measured = run.results.slice(1);
  const rps = measured.map((r) => r.requestsPerSecond);
  const pooled = measured.flatMap((r) => r.latenciesMs).sort((a, b) => a - b);
  const retransmissions = sum(run.results.map((r) => r.retransmissions));
  const strays = sum(run.results.map((r) => r.strayAnswers));
  const aborted = run.results.filter((r) => r.aborted);
  const notes: string[] = [];
  if (retransmissions > 0) notes.push(`${retransmissions} retransmissions`);
  if (strays > 0) notes.push(`${strays} duplicate answers`);
  if (aborted.length > 0 || run.usedMs >= TIME_LIMIT_MS) {
    notes.push(`stopped at the ${TIME_LIMIT_MS / 1000} s limit with ${sum(aborted.map((r) => r.abandoned))} in flight`);
  }
  return {
    name: run.scenario.name,
    error: run.error,
    requestsPerSecond: median(rps),
    minRps: Math.min(...rps),
    maxRps: Math.max(...rps),
    p50: percentile(pooled, 50),
    p99: percentile(pooled, 99),
    completed: sum(measured.map((r) => r.completed)),
    requested: COUNT * ROUNDS,
    answeredAtAll: sum(run.results.map((r) => r.answered)),
    failures: sum(run.results.map((r) => r.failures)),
    failureSamples: run.results.flatMap((r) => r.failureSamples).slice(0, 5),
    notes,
  };
}

/** Prints the table and the notes; false when a scenario erred or got a wrong answer. */
function report(summaries: Summary[]): boolean {
  const baseline = summaries[0];
  const header = ['scenario', 'req/s', 'min–max', 'p50 ms', 'p99 ms', 'ratio', 'completed'];
  const rows = summaries.map((s) => [
    s.name,
    fixed(s.requestsPerSecond, 0),
    `${fixed(s.minRps, 0)}–${fixed(s.maxRps, 0)}`,
    fixed(s.p50, 3),
    fixed(s.p99, 3),
    fixed(s.requestsPerSecond / baseline.requestsPerSecond, 2),
    `${s.completed}/${s.requested}`,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  console.log(line(header));
  for (const row of rows) console.log(line(row));

  let ok = true;
  for (const s of summaries) {
    if (s.notes.length > 0) console.log(`note ${s.name}: ${s.notes.join(', ')}`);
    if (s.error) {
      ok = false;
      console.error(`FAIL ${s.name}: ${s.error.stack ?? s.error.message}`);
    } else if (s.failures > 0) {
      ok = false;
      console.error(`FAIL ${s.name}: ${s.failures} wrong answers or errors, e.g. ${s.failureSamples.join('; ')}`);
    } else if (s.answeredAtAll === 0) {
      ok = false;
      console.error(`FAIL ${s.name}: no request answered`);
    }
  }
  return ok;
}

async function main(): Promise<boolean> {
  console.log(
    `coap-in: GET /hello on ${HOST}, ${CONCURRENCY} confirmable requests in flight; per scenario and round ` +
      `${WARMUP} warm-up + ${COUNT} measured requests; 1 discarded + ${ROUNDS} measured rounds, order rotating; ` +
      `req/s is the median round, latencies pooled; node ${process.version}, ${availableParallelism()} CPUs`,
  );
  const runs: Run[] = scenarios.map((scenario) => ({ scenario, results: [], usedMs: 0 }));
  try {
    for (const run of runs) {
      try {
        run.server = await run.scenario.start();
      } catch (err) {
        run.error = err as Error;
      }
    }
    // One scenario at a time (they would compete for the cores), in a different order each round:
    // whatever runs first in a process runs on colder code and would look slower.
    for (let round = 0; round <= ROUNDS; round++) {
      for (let i = 0; i < runs.length; i++) await measure(runs[(round + i) % runs.length]);
    }
  } finally {
    for (const run of runs) {
      await run.server?.stop().catch((err: Error) => {
        run.error ??= err;
      });
    }
  }
  return report(runs.map(summarise));
}

main().then(
  // Explicit exit: the Node-RED runtime can leave timers behind that would keep the process alive.
  (ok) => process.exit(ok ? 0 : 1),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
