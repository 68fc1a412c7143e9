/**
 * CloudLink against this package's own Resource Directory (RdService on a CoapEndpoint), over
 * real UDP on loopback. Timers are fired by hand: the test waits for events, never for time.
 */
import { test, describe, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { CoapEndpoint } from '../../lib/coap/endpoint';
import { ResourceDirectory } from '../../lib/coap/rd/registry';
import { RdService } from '../../lib/coap/rd/rd-service';
import { CloudLink, type CloudLinkOptions } from '../../lib/coap/cloud-link/cloud-link';
import { UdpTransport } from '../../lib/coap/cloud-link/udp-transport';
import type { Link } from '../../lib/coap/link-format';
import { nextState } from '../support/cloud-link-events';

interface Timer {
  delay: number;
  fire: () => void;
  cancelled: boolean;
}

function manualTimers() {
  const timers: Timer[] = [];
  return {
    timers,
    setTimer: (fire: () => void, delay: number) => {
      const t: Timer = { delay, fire, cancelled: false };
      timers.push(t);
      return () => {
        t.cancelled = true;
      };
    },
    /** Fires the live timer with this delay. */
    fire(delay: number): void {
      const t = timers.find((x) => x.delay === delay && !x.cancelled);
      assert.ok(t, `a timer of ${delay} ms is pending (have ${JSON.stringify(timers.filter((x) => !x.cancelled).map((x) => x.delay))})`);
      t.cancelled = true;
      t.fire();
    },
  };
}

async function upstreamRd() {
  let now = 1_700_000_000_000;
  const endpoint = new CoapEndpoint({ address: '127.0.0.1', port: 0 });
  const rd = new ResourceDirectory({ clock: () => now });
  // The RD's own expiry sweep never fires here: expiry is simulated by removing the registration.
  const service = new RdService(endpoint, rd, { setTimer: () => () => undefined });
  service.start();
  const { port } = await endpoint.start();
  return { port, rd, endpoint, advance: (ms: number) => (now += ms), close: async () => { service.stop(); await endpoint.stop(); } };
}

async function link(port: number, overrides: Partial<CloudLinkOptions> = {}, links: Link[] = [{ href: '/ep/lamp/light', attributes: { rt: 'light' } }]) {
  const socket = createSocket('udp4');
  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', r));
  const timers = manualTimers();
  let current = links;
  const cl = new CloudLink({
    transport: new UdpTransport(socket, { host: '127.0.0.1', port }, true),
    ep: 'gateway-1',
    lifetime: 60,
    links: () => current,
    keepAliveMs: 25_000,
    requestTimeoutMs: 5_000,
    setTimer: timers.setTimer,
    ...overrides,
  });
  return { cl, timers, socket, setLinks: (l: Link[]) => (current = l) };
}

const REFRESH_MS = 40_000; // 2/3 of 60 s

describe('cloud-link against the package RD', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  /** An upstream RD and a cloud-link registered with it; both cleaned up after the test unless told. */
  async function registeredLink(overrides: Partial<CloudLinkOptions> = {}, stopAfterTest = true) {
    const up = await upstreamRd();
    cleanups.push(up.close);
    const l = await link(up.port, overrides);
    if (stopAfterTest) cleanups.push(() => l.cl.stop());
    const registered = nextState(l.cl, 'change', (st) => st.status === 'registered');
    l.cl.start();
    return { up, ...l, state: await registered };
  }

  test('registers with ep, lt and the links; Location-Path remembered', async () => {
    const { up, state } = await registeredLink();
    const reg = up.rd.endpoint('gateway-1');
    assert.ok(reg);
    assert.equal(reg.lt, 60);
    assert.deepEqual(reg.links, [{ href: '/ep/lamp/light', attributes: { rt: 'light' } }]);
    assert.equal(state.location, `/rd/${reg.id}`);
    assert.equal(state.reason, 'registered');
    assert.match(reg.base, /^coap:\/\/127\.0\.0\.1:\d+$/);
  });

  test('refreshes at 2/3 of the lifetime with a POST to the location; the upstream lifetime restarts', async () => {
    const { up, cl, timers } = await registeredLink();
    const before = up.rd.endpoint('gateway-1')!;
    up.advance(30_000);
    const refreshed = nextState(cl, 'refreshed');
    timers.fire(REFRESH_MS);
    await refreshed;
    const after = up.rd.endpoint('gateway-1')!;
    assert.equal(after.id, before.id, 'same registration resource');
    assert.equal(after.expiresAt - before.expiresAt, 30_000);
  });

  test('re-registers when the upstream forgot the registration (4.04 to the refresh)', async () => {
    const { up, cl, timers } = await registeredLink();
    up.rd.remove(up.rd.endpoint('gateway-1')!.id, 'expired');
    assert.equal(up.rd.endpoint('gateway-1'), undefined);
    const again = nextState(cl, 'change', (s) => s.status === 'registered');
    timers.fire(REFRESH_MS);
    const state = await again;
    assert.deepEqual([state.reason, state.cause], ['re-registered', 'forgotten']);
    const reg = up.rd.endpoint('gateway-1');
    assert.ok(reg);
    assert.equal(state.location, `/rd/${reg.id}`);
  });

  test('changed links go upstream at once, in an update of the same registration', async () => {
    const { up, cl, setLinks } = await registeredLink();
    const id = up.rd.endpoint('gateway-1')!.id;
    setLinks([{ href: '/ep/lamp/light' }, { href: '/ep/door/lock', attributes: { rt: 'lock' } }]);
    const refreshed = nextState(cl, 'refreshed');
    cl.linksChanged();
    await refreshed;
    assert.equal(up.rd.endpoint('gateway-1')!.id, id);
    assert.deepEqual(up.rd.endpoint('gateway-1')!.links.map((l) => l.href), ['/ep/lamp/light', '/ep/door/lock']);
  });

  test('discovers the registration interface from /.well-known/core?rt=core.rd', async () => {
    assert.equal((await registeredLink({ discover: true })).state.rdPath, '/rd');
  });

  test('stop DELETEs the registration and closes the socket', async () => {
    const { up, cl, socket, timers } = await registeredLink({}, false);
    assert.ok(up.rd.endpoint('gateway-1'));
    const closed = once(socket, 'close');
    await cl.stop();
    await closed;
    assert.equal(up.rd.endpoint('gateway-1'), undefined);
    assert.equal(cl.state.status, 'stopped');
    assert.ok(timers.timers.every((t) => t.cancelled), 'no timer left');
  });

  test('keep-alive pings the upstream at the configured interval', async () => {
    const { cl, timers } = await registeredLink();
    const pinged = once(cl, 'ping');
    timers.fire(25_000);
    assert.deepEqual((await pinged)[0], true);
  });
});

describe('cloud-link failures', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function scriptedUpstream(answer: () => { code: string; options?: Record<string, number> }) {
    const endpoint = new CoapEndpoint({ address: '127.0.0.1', port: 0 });
    const posts: string[][] = [];
    endpoint.route('POST', '/rd', (x) => {
      posts.push(x.request.query);
      const a = answer();
      x.respond({ code: a.code, options: a.options });
    });
    const { port } = await endpoint.start();
    cleanups.push(() => endpoint.stop());
    return { port, posts };
  }

  test('a refusal backs off with growing delays; Max-Age of a 5.03 is honoured', async () => {
    const codes = [{ code: '4.00' }, { code: '5.03', options: { 'Max-Age': 30 } }];
    const up = await scriptedUpstream(() => codes.shift() ?? { code: '5.00' });
    const { cl, timers } = await link(up.port);
    cleanups.push(() => cl.stop());
    const first = nextState(cl, 'change', (s) => s.status === 'retrying');
    cl.start();
    const s1 = await first;
    assert.match(s1.error ?? '', /registration answered 4\.00/);
    assert.equal(s1.retryInMs, 5_000);
    const second = nextState(cl, 'change', (s) => s.status === 'retrying');
    timers.fire(5_000);
    const s2 = await second;
    assert.equal(s2.retryInMs, 30_000, 'Max-Age 30 beats the 10 s back-off');
    assert.equal(s2.failures, 2);
  });

  test('2.01 without Location-Path is a protocol error, not a registration', async () => {
    const up = await scriptedUpstream(() => ({ code: '2.01' }));
    const { cl } = await link(up.port);
    cleanups.push(() => cl.stop());
    const retrying = nextState(cl, 'change', (s) => s.status === 'retrying');
    cl.start();
    assert.match((await retrying).error ?? '', /without a Location-Path/);
  });

  test('links too large for one datagram: an error saying so', async () => {
    const up = await scriptedUpstream(() => ({ code: '2.01' }));
    const many = Array.from({ length: 100 }, (_, i) => ({ href: `/ep/device-${i}/some/long/resource/path` }));
    const { cl } = await link(up.port, {}, many);
    cleanups.push(() => cl.stop());
    const retrying = nextState(cl, 'change', (s) => s.status === 'retrying');
    cl.start();
    assert.match((await retrying).error ?? '', /at most 1024 fit/);
    assert.equal(up.posts.length, 0);
  });
});
