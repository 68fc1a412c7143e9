/**
 * The ddns-update node against a local dyndns2 provider. No real provider can be reached from a
 * test, so this fake implements the protocol as Dyn documents it
 * (https://help.dyn.com/remote-access-api/perform-update/ and .../return-codes/):
 * GET /nic/update?hostname=<comma list>&myip=<address>, basic auth, a User-Agent required
 * (badagent otherwise, and for other methods), badauth for a wrong user/password, notfqdn for a
 * missing or non-FQDN name, numhost beyond 20 names, nohost for a name not in the account, abuse
 * for a blocked name, "good <ip>" when the address changed and "nochg <ip>" when not, one line
 * per name in request order; account and service failures (badauth, 911, dnserr) once.
 */
import { test, describe, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { FlowNode } from 'node-red-node-test-helper';
import { helper, packageNode, coreNode, waitForStatus, collect } from '../support/flow-runtime';
import { fakeNatPmp } from '../support/fake-natpmp';

interface ProviderRequest {
  method: string;
  path: string;
  hostname: string | null;
  myip: string | null;
  authorization?: string;
  userAgent?: string;
}

interface FakeProvider {
  url: string;
  requests: ProviderRequest[];
  records: Map<string, string>;
  /** Names this account holds; others are nohost. */
  hosts: Set<string>;
  blocked: Set<string>;
  /** Answered once to every request while set. */
  outage?: '911' | 'dnserr';
  close(): Promise<void>;
}

async function fakeProvider(user = 'gw', password = 's3cret'): Promise<FakeProvider> {
  const p: Omit<FakeProvider, 'url' | 'close'> = { requests: [], records: new Map(), hosts: new Set(['home.example.net', 'alt.example.net']), blocked: new Set() };
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://fake');
    p.requests.push({
      method: req.method ?? '',
      path: url.pathname,
      hostname: url.searchParams.get('hostname'),
      myip: url.searchParams.get('myip'),
      authorization: req.headers.authorization,
      userAgent: req.headers['user-agent'],
    });
    const answer = (body: string, status = 200): void => {
      res.writeHead(status, { 'Content-Type': 'text/plain' });
      res.end(body);
    };
    if (url.pathname !== '/nic/update') return answer('not found', 404);
    if (req.method !== 'GET' || !req.headers['user-agent']) return answer('badagent');
    const expected = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
    if (req.headers.authorization !== expected) return answer('badauth');
    if (p.outage) return answer(p.outage);
    const names = (url.searchParams.get('hostname') ?? '').split(',').filter((h) => h !== '');
    if (names.length === 0) return answer('notfqdn');
    if (names.length > 20) return answer('numhost');
    const ip = url.searchParams.get('myip') ?? req.socket.remoteAddress ?? '';
    const lines = names.map((name) => {
      if (!/^[^.]+(\.[^.]+)+$/.test(name)) return 'notfqdn';
      if (!p.hosts.has(name)) return 'nohost';
      if (p.blocked.has(name)) return 'abuse';
      if (p.records.get(name) === ip) return `nochg ${ip}`;
      p.records.set(name, ip);
      return `good ${ip}`;
    });
    answer(lines.join('\n'));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  return Object.assign(p, {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((r) => server.close(() => r())),
  });
}

const nodes = [packageNode('ddns-update'), packageNode('port-mapping'), coreNode('common/24-complete'), coreNode('common/25-catch')];

function flow(ddns: Record<string, unknown>): FlowNode[] {
  return [
    { id: 'tab', type: 'tab' },
    { id: 'ddns', type: 'ddns-update', z: 'tab', hostnames: 'home.example.net', wires: [['out']], ...ddns },
    { id: 'out', type: 'helper', z: 'tab' },
    { id: 'completed', type: 'complete', z: 'tab', scope: ['ddns'], uncaught: false, wires: [['done']] },
    { id: 'done', type: 'helper', z: 'tab' },
    { id: 'caught', type: 'catch', z: 'tab', scope: ['ddns'], uncaught: false, wires: [['errors']] },
    { id: 'errors', type: 'helper', z: 'tab' },
  ];
}

type Msg = { topic: string; payload: Record<string, unknown> };

async function waitFor<T>(list: T[], n: number): Promise<void> {
  for (let i = 0; i < 500 && list.length < n; i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(list.length >= n, `expected ${n} items, got ${list.length}`);
}

const mapped = (address: string): { topic: string; payload: Record<string, unknown> } => ({
  topic: 'port-mapping/mapped',
  payload: { status: 'mapped', protocol: 'udp', externalAddress: address, externalPort: 5683, backend: 'NAT-PMP', reason: 'created' },
});

describe('ddns-update node', () => {
  let provider: FakeProvider | undefined;
  afterEach(async () => {
    await helper.unload();
    await provider?.close();
    provider = undefined;
  });

  test('updates from a port-mapping message, with basic auth and a User-Agent; the same address is not sent again', async () => {
    provider = await fakeProvider();
    await helper.load(nodes, flow({ server: provider.url }), { ddns: { username: 'gw', password: 's3cret' } });
    const ddns = helper.getNode('ddns');
    const out = collect('out') as Msg[];
    const completed = collect('done');
    ddns.receive(mapped('203.0.113.7'));
    await waitForStatus(ddns, (s) => s.fill === 'green' && s.text === 'home.example.net → 203.0.113.7');
    await waitFor(out, 1);
    assert.equal(out[0]?.topic, 'ddns/updated');
    assert.deepEqual(out[0]?.payload.answers, [{ hostname: 'home.example.net', answer: 'good 203.0.113.7' }]);
    const [first] = provider.requests;
    assert.equal(first?.path, '/nic/update');
    assert.equal(first?.hostname, 'home.example.net');
    assert.equal(first?.myip, '203.0.113.7');
    assert.equal(first?.authorization, `Basic ${Buffer.from('gw:s3cret').toString('base64')}`);
    assert.match(first?.userAgent ?? '', /^node-red-contrib-edge-gateway - ddns-update - \d+\.\d+\.\d+$/);

    // Repeats (a renewal, both transports of port-mapping, a plain string) send nothing.
    ddns.receive(mapped('203.0.113.7'));
    ddns.receive({ payload: '203.0.113.7' });
    ddns.receive({ payload: { status: 'retrying', error: 'router gone' } });
    await waitFor(completed, 4);
    assert.equal(provider.requests.length, 1);
    assert.equal(out.length, 1);

    ddns.receive({ payload: '198.51.100.20' });
    await waitFor(out, 2);
    assert.equal(provider.requests.length, 2);
    assert.equal(provider.records.get('home.example.net'), '198.51.100.20');
  });

  for (const [what, setup, code] of [
    ['a wrong password', { password: 'wrong' }, 'badauth'],
    ['a name not in the account', { hostnames: 'nothere.example.net' }, 'nohost'],
    ['a blocked name', { blocked: true }, 'abuse'],
  ] as const) {
    test(`${what} (${code}) stops updating: red status, logged once, later addresses not sent`, async () => {
      provider = await fakeProvider();
      if ('blocked' in setup) provider.blocked.add('home.example.net');
      const hostnames = 'hostnames' in setup ? setup.hostnames : 'home.example.net';
      const password = 'password' in setup ? setup.password : 's3cret';
      await helper.load(nodes, flow({ server: provider.url, hostnames }), { ddns: { username: 'gw', password } });
      const ddns = helper.getNode('ddns');
      const out = collect('out') as Msg[];
      ddns.receive({ payload: '203.0.113.7' });
      const status = await waitForStatus(ddns, (s) => s.fill === 'red');
      assert.match(String(status.text), new RegExp(`^${code}: .*stopped until redeployed`));
      await waitFor(out, 1);
      assert.equal(out[0]?.topic, 'ddns/disabled');
      assert.equal(out[0]?.payload.code, code);
      ddns.receive({ payload: '203.0.113.8' });
      ddns.receive({ payload: '203.0.113.9' });
      await new Promise((r) => setImmediate(r));
      assert.equal(provider.requests.length, 1);
      assert.equal(ddns.error.getCalls().length, 1);
    });
  }

  test('911 is retried later: red ring with the delay, a retrying message', async () => {
    provider = await fakeProvider();
    provider.outage = '911';
    await helper.load(nodes, flow({ server: provider.url }), { ddns: { username: 'gw', password: 's3cret' } });
    const ddns = helper.getNode('ddns');
    const out = collect('out') as Msg[];
    ddns.receive({ payload: '203.0.113.7' });
    const status = await waitForStatus(ddns, (s) => s.fill === 'red');
    assert.equal(status.text, '911: provider problem or maintenance (retry in 60 s)');
    await waitFor(out, 1);
    assert.deepEqual([out[0]?.topic, out[0]?.payload.retryIn], ['ddns/retrying', 60]);
    assert.equal(ddns.warn.getCalls().length, 1);
  });

  test('an unreachable server is a network error, retried', async () => {
    const closed = await fakeProvider();
    await closed.close();
    await helper.load(nodes, flow({ server: closed.url }), { ddns: { username: 'gw', password: 's3cret' } });
    const ddns = helper.getNode('ddns');
    ddns.receive({ payload: '203.0.113.7' });
    const status = await waitForStatus(ddns, (s) => s.fill === 'red');
    assert.match(String(status.text), /^network: .*ECONNREFUSED.*\(retry in 60 s\)$/);
  });

  test('bad input goes to a catch node; bad settings show red and input still completes', async () => {
    provider = await fakeProvider();
    await helper.load(nodes, flow({ server: provider.url }), { ddns: { username: 'gw', password: 's3cret' } });
    const errors = collect('errors') as Array<{ error: { message: string } }>;
    helper.getNode('ddns').receive({ payload: 42 });
    helper.getNode('ddns').receive({ payload: 'not-an-address' });
    await waitFor(errors, 2);
    assert.match(errors[0]?.error.message ?? '', /must be an IP address/);
    assert.equal(provider.requests.length, 0);
    await helper.unload();

    await helper.load(nodes, flow({ server: provider.url, hostnames: 'localhost' }), { ddns: { username: 'gw', password: 's3cret' } });
    const ddns = helper.getNode('ddns');
    const status = await waitForStatus(ddns, (s) => s.fill === 'red');
    assert.match(String(status.text), /not a fully qualified host name/);
    const completed = collect('done');
    ddns.receive({ payload: '203.0.113.7' });
    await waitFor(completed, 1);
  });

  test('without credentials (a freshly imported flow): a yellow hint, a warning, no update', async () => {
    provider = await fakeProvider();
    await helper.load(nodes, flow({ server: provider.url }));
    const ddns = helper.getNode('ddns');
    await waitForStatus(ddns, (s) => s.text === 'set the user name and password');
    assert.equal(ddns.error.getCalls().length, 0);
    const completed = collect('done');
    ddns.receive({ payload: '203.0.113.7' });
    await waitFor(completed, 1);
    assert.equal(provider.requests.length, 0);
  });

  test('credentials are not part of the node configuration', async () => {
    provider = await fakeProvider();
    await helper.load(nodes, flow({ server: provider.url }), { ddns: { username: 'gw', password: 's3cret' } });
    const ddns = helper.getNode('ddns') as unknown as Record<string, unknown> & { credentials: Record<string, string> };
    assert.equal(ddns.credentials.password, 's3cret');
    const config = flow({ server: provider.url })[1] as Record<string, unknown>;
    assert.equal('password' in config || 'username' in config, false);
  });

  test('port-mapping → ddns-update: the mapped address reaches the provider', async () => {
    provider = await fakeProvider();
    const router = await fakeNatPmp();
    try {
      const f = flow({ server: provider.url });
      f.push({ id: 'pm', type: 'port-mapping', z: 'tab', backend: 'natpmp', protocol: 'both', internalPort: 5690, router: `127.0.0.1:${router.port}`, lifetime: 3600, checkInterval: 60, wires: [['ddns']] });
      await helper.load(nodes, f, { ddns: { username: 'gw', password: 's3cret' } });
      await waitForStatus(helper.getNode('ddns'), (s) => s.fill === 'green' && s.text === 'home.example.net → 203.0.113.7');
      // Two mapped messages (udp and tcp) with the same address: one update.
      await waitForStatus(helper.getNode('pm'), (s) => s.fill === 'green');
      await new Promise((r) => setImmediate(r));
      assert.equal(provider.requests.length, 1);
    } finally {
      await helper.unload();
      router.close();
    }
  });
});

