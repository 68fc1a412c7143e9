/**
 * What OSCORE costs:
 *  1. protect + verify pairs per second (a request protected by the client's context and verified
 *     by the server's: sequence numbers, nonce, AAD, option split, COSE, replay window) for 16, 64
 *     and 512-byte payloads, against bare node:crypto AES-CCM-16-64-128 encrypt + decrypt of the
 *     same payloads in the same run; ratio = OSCORE ÷ bare. Target of the issue: ≥ 0.5.
 *  2. A GET through the reverse proxy, plain and OSCORE-protected, both routed by Proxy-Scheme +
 *     Uri-Host (the route OSCORE clients use), cache off; req/s and OSCORE ÷ plain. The load
 *     generator protects each request itself (a real client's cost); the device verifies and
 *     protects its answer. Device, proxy and load generator share this process.
 * Prints figures; exits non-zero on wrong answers, never on timing.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { availableParallelism } from 'node:os';
import { performance } from 'node:perf_hooks';
import { CoapEndpoint } from '../lib/coap/endpoint';
import { ReverseProxy } from '../lib/coap/proxy/reverse-proxy';
import type { DirectoryEvents, EndpointDirectory, RegisteredEndpoint } from '../lib/coap/rd/directory';
import { oscoreResources } from '../lib/oscore/coap-server';
import { oscoreRequest } from '../lib/oscore/coap-client';
import { CoapClient } from '../lib/coap/client';
import { CODE, MemorySequenceStorage, OPTION, SecurityContext, encodeOscoreOption, type CoapMessage } from '../lib/oscore';
import type { Option } from 'coap-packet';
import { runLoad, percentile, type LoadResult, type Reply, type RequestSpec } from './support/load';

const HOST = '127.0.0.1';
const SIZES = [16, 64, 512];
const PAIRS = 10_000;
/** Many short alternating rounds: on a busy machine the median of many beats a few long ones. */
const PAIR_ROUNDS = 9;
const ROUNDS = 3;
const COUNT = 5000;
const WARMUP = 500;
const CONCURRENCY = 16;
const HELLO = Buffer.from('hello');

const secret = randomBytes(16);
const salt = randomBytes(8);
const context = (sender: string, recipient: string): SecurityContext =>
  new SecurityContext({ masterSecret: secret, masterSalt: salt, senderId: Buffer.from(sender, 'hex'), recipientId: Buffer.from(recipient, 'hex'), storage: new MemorySequenceStorage() });

const median = (values: number[]): number => {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};
const fixed = (n: number, digits: number): string => (Number.isFinite(n) ? n.toFixed(digits) : '-');

function perSecond(n: number, run: () => void): number {
  const start = performance.now();
  for (let i = 0; i < n; i++) run();
  return n / ((performance.now() - start) / 1000);
}

/** Part 1. Returns false on a wrong answer. */
function pairs(): boolean {
  console.log(`\n1. protect + verify pairs/s vs bare AES-CCM-16-64-128 encrypt + decrypt (${PAIRS} per round, median of ${PAIR_ROUNDS} alternating rounds after a warm-up round)`);
  console.log(['payload'.padEnd(8), 'OSCORE/s'.padStart(10), 'bare/s'.padStart(10), 'ratio'.padStart(6)].join(' '));
  let ok = true;
  const key = randomBytes(16);
  const nonce = randomBytes(13);
  const aad = randomBytes(9); // about the size of OSCORE's external AAD for a 1-byte kid
  for (const size of SIZES) {
    const payload = randomBytes(size);
    const client = context('c1', '5e');
    const server = context('5e', 'c1');
    const request: CoapMessage = { code: CODE.POST, options: [{ number: OPTION.URI_PATH, value: Buffer.from('lamp') }], payload };
    const oscore = (): void => {
      const { message } = client.protectRequest(request);
      const v = server.verifyRequest(message);
      if (v.status !== 'verified' || !v.message.payload.equals(payload)) throw new Error('OSCORE round trip changed the message');
    };
    const bare = (): void => {
      const c = createCipheriv('aes-128-ccm', key, nonce, { authTagLength: 8 });
      c.setAAD(aad, { plaintextLength: payload.length });
      const sealed = Buffer.concat([c.update(payload), c.final()]);
      const tag = c.getAuthTag();
      const d = createDecipheriv('aes-128-ccm', key, nonce, { authTagLength: 8 });
      d.setAuthTag(tag);
      d.setAAD(aad, { plaintextLength: sealed.length });
      const opened = d.update(sealed);
      d.final();
      if (!opened.equals(payload)) throw new Error('AES-CCM round trip changed the payload');
    };
    const o: number[] = [];
    const b: number[] = [];
    try {
      for (let round = 0; round <= PAIR_ROUNDS; round++) {
        // Alternating order; round 0 warms up and is discarded.
        const first = round % 2 ? perSecond(PAIRS, bare) : perSecond(PAIRS, oscore);
        const second = round % 2 ? perSecond(PAIRS, oscore) : perSecond(PAIRS, bare);
        if (round === 0) continue;
        o.push(round % 2 ? second : first);
        b.push(round % 2 ? first : second);
      }
    } catch (err) {
      ok = false;
      console.error(`FAIL ${size} bytes: ${(err as Error).message}`);
      continue;
    }
    const ratio = median(o) / median(b);
    console.log([`${size} B`.padEnd(8), fixed(median(o), 0).padStart(10), fixed(median(b), 0).padStart(10), fixed(ratio, 2).padStart(6)].join(' '));
  }
  console.log('(target: ratio ≥ 0.50; informative, never a failure)');
  return ok;
}

class BenchDirectory extends EventEmitter<DirectoryEvents> implements EndpointDirectory {
  constructor(private readonly list: RegisteredEndpoint[]) {
    super();
  }
  endpoint(ep: string): RegisteredEndpoint | undefined {
    return this.list.find((e) => e.ep === ep);
  }
  endpoints(): RegisteredEndpoint[] {
    return [...this.list];
  }
}

/** Part 2. Returns false on a wrong answer. */
async function proxied(): Promise<boolean> {
  const deviceContext = context('5e', 'c1');
  const device = new CoapEndpoint({ address: HOST, port: 0, maxPendingRequests: 10_000 });
  device.route('GET', '/hello', (ex) => ex.respond({ code: '2.05', payload: HELLO, contentFormat: 0 }));
  oscoreResources(device).serve('GET', '/hello', [deviceContext], (ex) => ex.respond({ code: '2.05', payload: HELLO, contentFormat: 0 }));
  const devicePort = (await device.start()).port;
  const directory = new BenchDirectory([
    { id: '1', ep: 'dev', base: `coap://${HOST}:${devicePort}`, lt: 3600, expiresAt: Date.now() + 3_600_000, links: [], source: { address: HOST, port: devicePort } },
  ]);
  const gateway = new CoapEndpoint({ address: HOST, port: 0, maxPendingRequests: 10_000 });
  const proxy = new ReverseProxy(gateway, () => directory, { cacheMaxEntries: 0, maxPendingRequests: 1000 });
  proxy.start();
  const gatewayPort = (await gateway.start()).port;
  const client = context('c1', '5e');
  const outer: Option[] = [
    { name: 'Proxy-Scheme', value: Buffer.from('coap') },
    { name: 'Uri-Host', value: Buffer.from('dev') },
  ];
  // One answer verified end to end first; during the load the generator cannot tell which
  // exchange an answer belongs to, so it checks the form: a 2.04 with the OSCORE option and a
  // ciphertext of the inner 2.05 "hello" (code, Content-Format, marker, payload, 8-byte tag).
  const sample = await oscoreRequest(new CoapClient({ unref: true }), { host: HOST, port: gatewayPort, family: 'udp4' }, { method: 'GET', path: ['hello'], query: [], options: { 'Proxy-Scheme': 'coap', 'Uri-Host': 'dev' } }, client, 5000);
  if (sample.code !== '2.05' || !sample.payload.equals(HELLO)) throw new Error(`OSCORE through the proxy answered ${sample.code} ${sample.payload.toString()}`);
  const minLength = 1 + 1 + HELLO.length + 8;
  const checkPlain = (r: Reply): string | undefined => (r.code === '2.05' && r.payload.equals(HELLO) ? undefined : `plain: ${r.code} ${r.payload.toString()}`);
  const checkOscore = (r: Reply): string | undefined =>
    r.code === '2.04' && r.options.some((o) => o.name === 'OSCORE') && r.payload.length >= minLength && r.payload.length <= minLength + 3 ? undefined : `OSCORE: ${r.code} ${r.payload.length} bytes`;
  const plainSpec: RequestSpec = { method: 'GET', path: '/hello', options: outer };
  const oscoreSpec = (): RequestSpec => {
    const { message } = client.protectRequest({ code: CODE.GET, options: [{ number: OPTION.URI_PATH, value: Buffer.from('hello') }], payload: Buffer.alloc(0) });
    const value = message.options.find((o) => o.number === OPTION.OSCORE)?.value ?? encodeOscoreOption({});
    return { method: 'POST', path: '', options: [...outer, { name: 'OSCORE' as Option['name'], value: Buffer.from(value) }], payload: message.payload };
  };
  const scenarios: Array<{ name: string; results: LoadResult[]; run: () => Promise<LoadResult> }> = [
    { name: 'plain GET via proxy (baseline)', results: [], run: () => runLoad({ host: HOST, port: gatewayPort, request: plainSpec, count: COUNT, warmup: WARMUP, concurrency: CONCURRENCY, timeLimitMs: 30_000, check: checkPlain }) },
    { name: 'OSCORE GET via proxy', results: [], run: () => runLoad({ host: HOST, port: gatewayPort, request: oscoreSpec, count: COUNT, warmup: WARMUP, concurrency: CONCURRENCY, timeLimitMs: 30_000, check: checkOscore }) },
  ];
  try {
    for (let round = 0; round <= ROUNDS; round++) {
      for (let i = 0; i < scenarios.length; i++) {
        const s = scenarios[(round + i) % scenarios.length]!;
        s.results.push(await s.run());
      }
    }
  } finally {
    await proxy.stop();
    await gateway.stop();
    await device.stop();
  }
  console.log(`\n2. GET through the reverse proxy (Proxy-Scheme + Uri-Host, cache off), ${CONCURRENCY} in flight, ${WARMUP} + ${COUNT} per round, median of ${ROUNDS} after one discarded round`);
  console.log(['scenario'.padEnd(32), 'req/s'.padStart(8), 'p50 ms'.padStart(8), 'p99 ms'.padStart(8), 'ratio'.padStart(6), 'failures'.padStart(9)].join(' '));
  const base = median(scenarios[0]!.results.slice(1).map((r) => r.requestsPerSecond));
  let ok = true;
  for (const s of scenarios) {
    const measured = s.results.slice(1);
    const rps = median(measured.map((r) => r.requestsPerSecond));
    const pooled = measured.flatMap((r) => r.latenciesMs).sort((a, b) => a - b);
    const failures = s.results.reduce((n, r) => n + r.failures, 0);
    console.log([s.name.padEnd(32), fixed(rps, 0).padStart(8), fixed(percentile(pooled, 50), 3).padStart(8), fixed(percentile(pooled, 99), 3).padStart(8), fixed(rps / base, 2).padStart(6), String(failures).padStart(9)].join(' '));
    if (failures > 0) {
      ok = false;
      console.error(`FAIL ${s.name}: ${failures} wrong answers, e.g. ${s.results.flatMap((r) => r.failureSamples).slice(0, 3).join('; ')}`);
    }
  }
  return ok;
}

async function main(): Promise<boolean> {
  console.log(`oscore: node ${process.version}, ${availableParallelism()} CPUs`);
  const a = pairs();
  const b = await proxied();
  return a && b;
}

main().then(
  (ok) => process.exit(ok ? 0 : 1),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
