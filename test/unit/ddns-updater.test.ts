import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { DdnsUpdater, type DdnsState, type Fetcher } from '../../lib/nat/ddns/ddns-updater';
import type { GetReply } from '../../lib/nat/ddns/http-get';
import { NetworkError } from '../../lib/nat/ddns/http-get';

/** A provider scripted answer by answer; records every request. */
function scripted(answers: Array<GetReply | Error>) {
  const requests: Array<{ hostname: string | null; myip: string | null; auth: string; ua: string }> = [];
  const waiting: Array<() => void> = [];
  const fetch: Fetcher = async (url, o) => {
    requests.push({ hostname: url.searchParams.get('hostname'), myip: url.searchParams.get('myip'), auth: `${o.username}:${o.password}`, ua: o.userAgent });
    const next = answers.shift();
    if (next === undefined) throw new Error('unexpected request');
    if (next instanceof Error) throw next;
    return next;
  };
  return { fetch, requests, waiting };
}

function manualTimer() {
  const timers: Array<{ fire: () => void; delay: number; cancelled: boolean }> = [];
  return {
    timers,
    setTimer: (cb: () => void, delay: number) => {
      const t = { fire: cb, delay, cancelled: false };
      timers.push(t);
      return () => {
        t.cancelled = true;
      };
    },
    fireLast: () => {
      const t = timers.at(-1);
      assert.ok(t && !t.cancelled, 'a retry is scheduled');
      t.fire();
    },
  };
}

function updater(fetch: Fetcher, setTimer = manualTimer().setTimer, hostnames = ['home.example.net']) {
  const u = new DdnsUpdater({ server: 'https://ddns.example', hostnames, username: 'user', password: 'secret', userAgent: 'test - ddns - 1', fetch, setTimer });
  const states: DdnsState[] = [];
  u.on('change', (s) => states.push(s));
  return { u, states };
}

/** Resolves when the updater reaches a status (events, not time). */
function reach(u: DdnsUpdater, status: DdnsState['status']): Promise<DdnsState> {
  if (u.state.status === status) return Promise.resolve(u.state);
  return new Promise((resolve) => {
    const on = (s: DdnsState): void => {
      if (s.status !== status) return;
      u.off('change', on);
      resolve(s);
    };
    u.on('change', on);
  });
}

describe('DdnsUpdater', () => {
  test('updates once per address: the same address again sends nothing', async () => {
    const p = scripted([{ status: 200, body: 'good 203.0.113.7' }, { status: 200, body: 'good 203.0.113.8' }]);
    const { u } = updater(p.fetch);
    assert.equal(u.submit('203.0.113.7'), 'sent');
    await reach(u, 'updated');
    assert.equal(u.submit('203.0.113.7'), 'unchanged');
    assert.equal(u.submit('203.0.113.7'), 'unchanged');
    assert.equal(p.requests.length, 1);
    assert.deepEqual(p.requests[0], { hostname: 'home.example.net', myip: '203.0.113.7', auth: 'user:secret', ua: 'test - ddns - 1' });
    assert.equal(u.submit('203.0.113.8'), 'sent');
    const s = await reach(u, 'updated');
    assert.equal(s.confirmed['home.example.net'], '203.0.113.8');
    assert.equal(p.requests.length, 2);
  });

  test('nochg confirms the address too, so it is not sent again', async () => {
    const p = scripted([{ status: 200, body: 'nochg 203.0.113.7' }]);
    const { u } = updater(p.fetch);
    u.submit('203.0.113.7');
    await reach(u, 'updated');
    assert.equal(u.submit('203.0.113.7'), 'unchanged');
    assert.equal(p.requests.length, 1);
  });

  test('an address arriving during an update is sent right after it; duplicates while busy are dropped', async () => {
    let release!: (r: GetReply) => void;
    const requests: string[] = [];
    const fetch: Fetcher = (url) => {
      requests.push(url.searchParams.get('myip') as string);
      return requests.length === 1 ? new Promise((r) => (release = r)) : Promise.resolve({ status: 200, body: 'good' });
    };
    const { u } = updater(fetch);
    u.submit('203.0.113.7');
    assert.equal(u.submit('203.0.113.9'), 'queued');
    assert.equal(u.submit('203.0.113.9'), 'queued');
    const second = new Promise<void>((resolve) => u.on('change', (s) => s.status === 'updated' && s.confirmed['home.example.net'] === '203.0.113.9' && resolve()));
    release({ status: 200, body: 'good 203.0.113.7' });
    await second;
    assert.deepEqual(requests, ['203.0.113.7', '203.0.113.9']);
  });

  for (const code of ['badauth', 'nohost', 'notfqdn', 'abuse', 'badagent', '!donator', 'numhost']) {
    test(`"${code}" is fatal: disabled, no retry scheduled, later addresses refused`, async () => {
      const p = scripted([{ status: 200, body: code }]);
      const timer = manualTimer();
      const { u } = updater(p.fetch, timer.setTimer);
      u.submit('203.0.113.7');
      const s = await reach(u, 'disabled');
      assert.equal(s.code, code);
      assert.equal(timer.timers.length, 0);
      assert.equal(u.submit('203.0.113.8'), 'disabled');
      assert.equal(p.requests.length, 1);
    });
  }

  test('911, dnserr and network errors retry with growing delays, then succeed', async () => {
    const p = scripted([{ status: 200, body: '911' }, { status: 200, body: 'dnserr' }, new NetworkError('connect ECONNREFUSED'), { status: 200, body: 'good 203.0.113.7' }]);
    const timer = manualTimer();
    const { u } = updater(p.fetch, timer.setTimer);
    u.submit('203.0.113.7');
    const first = await reach(u, 'retrying');
    assert.equal(first.code, '911');
    assert.equal(first.retryInMs, 60_000);
    assert.equal(u.submit('203.0.113.7'), 'queued', 'waits for the retry, no extra request');
    timer.fireLast();
    await new Promise<void>((r) => u.once('change', () => r())); // updating
    const second = await reach(u, 'retrying');
    assert.equal(second.code, 'dnserr');
    assert.equal(second.retryInMs, 120_000);
    timer.fireLast();
    await new Promise<void>((r) => u.once('change', () => r()));
    const third = await reach(u, 'retrying');
    assert.equal(third.code, 'network');
    assert.equal(third.retryInMs, 240_000);
    timer.fireLast();
    const done = await reach(u, 'updated');
    assert.equal(done.failures, 0);
    assert.equal(p.requests.length, 4);
  });

  test('several hosts: only the ones not yet confirmed are retried', async () => {
    const p = scripted([{ status: 200, body: 'good 203.0.113.7\n911' }, { status: 200, body: 'good 203.0.113.7' }]);
    const timer = manualTimer();
    const { u } = updater(p.fetch, timer.setTimer, ['a.example.net', 'b.example.net']);
    u.submit('203.0.113.7');
    await reach(u, 'retrying');
    timer.fireLast();
    await new Promise<void>((r) => u.once('change', () => r()));
    await reach(u, 'updated');
    assert.deepEqual(p.requests.map((r) => r.hostname), ['a.example.net,b.example.net', 'b.example.net']);
  });

  test('stop cancels a pending retry and refuses further addresses', async () => {
    const p = scripted([{ status: 200, body: '911' }]);
    const timer = manualTimer();
    const { u } = updater(p.fetch, timer.setTimer);
    u.submit('203.0.113.7');
    await reach(u, 'retrying');
    u.stop();
    assert.equal(timer.timers[0]?.cancelled, true);
    assert.equal(u.submit('203.0.113.8'), 'stopped');
  });

  test('not an address: nothing sent', () => {
    const p = scripted([]);
    const { u } = updater(p.fetch);
    assert.equal(u.submit('example.net'), 'invalid');
    assert.equal(u.submit(''), 'invalid');
    assert.equal(p.requests.length, 0);
  });
});
