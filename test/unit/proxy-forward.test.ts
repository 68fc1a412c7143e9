import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import type { CoapEndpoint, Exchange } from '../../lib/coap/endpoint';
import { coapCall } from '../support/coap-client';
import { TestDirectory, startDevice, startProxy, eventually, type ProxyUnderTest } from './proxy-fixture';

describe('reverse proxy: forwarding to registered endpoints', () => {
  const directory = new TestDirectory();
  let dev: { device: CoapEndpoint; base: string; port: number };
  let gw: ProxyUnderTest;
  let silent: Socket;
  const held: Exchange[] = [];
  const seen: Array<{ path: string[]; query: string[]; options: Record<string, unknown> }> = [];
  const big = Buffer.from('0123456789abcdef'.repeat(400));

  before(async () => {
    dev = await startDevice((d) => {
      d.route('ANY', '/echo/*', (ex) => {
        const r = ex.request;
        seen.push({ path: r.path, query: r.query, options: r.options });
        ex.respond({
          code: r.method === 'GET' ? '2.05' : '2.04',
          payload: Buffer.from(`${r.method} /${r.path.join('/')} ${r.query.join('&')} ${r.payload.toString()}`),
          contentFormat: 0,
          options: { ETag: Buffer.from([0xde, 0xad]), 'Max-Age': 0, 'Location-Path': 'made' },
        });
      });
      d.route('GET', '/', (ex) => ex.respond({ code: '2.05', payload: Buffer.from('root') }));
      d.route('GET', '/big', (ex) => ex.respond({ code: '2.05', payload: big, contentFormat: 0 }));
      d.route('PUT', '/hold', (ex) => held.push(ex));
    });
    silent = createSocket('udp4');
    await new Promise<void>((r) => silent.bind(0, '127.0.0.1', () => r()));
    directory.add('dev', dev.base);
    directory.add('mute', `coap://127.0.0.1:${silent.address().port}`);
    directory.add('twin', dev.base, { d: 'north' });
    directory.add('twin', dev.base, { d: 'south' });
    gw = await startProxy(() => directory, { upstreamTimeoutMs: 300, maxPendingRequests: 2, cacheMaxEntries: 0 });
  });
  after(async () => {
    await gw.stop();
    await dev.device.stop();
    silent.close();
  });

  test('GET through /ep/<ep>/... answers what the device answers, with its end-to-end options', async () => {
    const res = await coapCall({ port: gw.port, pathname: '/ep/dev/echo/a', query: 'x=1&y=2', options: { Accept: 'text/plain' } });
    assert.equal(res.code, '2.05');
    assert.equal(res.payload.toString(), 'GET /echo/a x=1&y=2 ');
    assert.equal(res.headers['Content-Format'], 'text/plain');
    assert.deepEqual(res.options['ETag'], Buffer.from([0xde, 0xad]));
    assert.equal(res.options['Location-Path'], 'made');
    const upstream = seen.at(-1);
    assert.deepEqual(upstream?.path, ['echo', 'a']);
    assert.equal(upstream?.options['Accept'], 'text/plain');
    assert.equal(upstream?.options['Uri-Host'], undefined);
    assert.deepEqual(upstream?.options['Hop-Limit'], Buffer.of(16), 'a proxy inserts Hop-Limit (RFC 8768)');
  });

  test('POST with a payload and If-Match; /ep/<ep> alone reaches the device root', async () => {
    const res = await coapCall({ port: gw.port, method: 'POST', pathname: '/ep/dev/echo', payload: 'on', options: { 'If-Match': Buffer.from([7]) } });
    assert.equal(res.code, '2.04');
    assert.equal(res.payload.toString(), 'POST /echo  on');
    assert.deepEqual(seen.at(-1)?.options['If-Match'], Buffer.from([7]));
    assert.equal((await coapCall({ port: gw.port, pathname: '/ep/dev' })).payload.toString(), 'root');
  });

  test('a body larger than a block arrives whole (Block2 upstream and downstream)', async () => {
    const res = await coapCall({ port: gw.port, pathname: '/ep/dev/big' });
    assert.equal(res.code, '2.05');
    assert.ok(res.payload.equals(big), `got ${res.payload.length} bytes`);
  });

  test('unknown endpoint is 4.04; a device that does not answer is 5.04', async () => {
    assert.equal((await coapCall({ port: gw.port, pathname: '/ep/nobody/x' })).code, '4.04');
    const timeouts: unknown[] = [];
    gw.proxy.once('upstream-timeout', (e) => timeouts.push(e));
    const res = await coapCall({ port: gw.port, pathname: '/ep/mute/x' });
    assert.equal(res.code, '5.04');
    assert.equal(timeouts.length, 1);
  });

  test('sectors: a name in two sectors is ambiguous under /ep, exact under /d/<d>/<ep>', async () => {
    const ambiguous = await coapCall({ port: gw.port, pathname: '/ep/twin/echo' });
    assert.equal(ambiguous.code, '4.00');
    assert.match(ambiguous.payload.toString(), /north, south/);
    assert.equal((await coapCall({ port: gw.port, pathname: '/d/south/twin/echo/s' })).payload.toString(), 'GET /echo/s  ');
    assert.equal((await coapCall({ port: gw.port, pathname: '/d/east/twin/echo' })).code, '4.04');
  });

  test('Proxy-Uri: a registered endpoint is forwarded, anything else is 5.05', async () => {
    const ok = await coapCall({ port: gw.port, pathname: '/', options: { 'Proxy-Uri': `${dev.base}/echo/p?q=1` } });
    assert.equal(ok.code, '2.05');
    assert.equal(ok.payload.toString(), 'GET /echo/p q=1 ');
    for (const uri of ['coap://192.0.2.1/secret', `coap://127.0.0.1:${dev.port + 1}/echo`, 'http://127.0.0.1/', 'coaps://127.0.0.1/', 'coap://[::1]/']) {
      assert.equal((await coapCall({ port: gw.port, pathname: '/', options: { 'Proxy-Uri': uri } })).code, '5.05', uri);
    }
    const viaScheme = await coapCall({ port: gw.port, pathname: '/echo/s', options: { 'Proxy-Scheme': Buffer.from('coap'), 'Uri-Host': Buffer.from('127.0.0.1'), 'Uri-Port': Buffer.of(dev.port >> 8, dev.port & 0xff) } });
    assert.equal(viaScheme.payload.toString(), 'GET /echo/s  ');
  });

  test('an unknown unsafe option is 5.02; an unknown safe one is forwarded; Hop-Limit 1 is 5.08', async () => {
    // 2050: elective but unsafe to forward (bit 1 set); 2052: elective, safe-to-forward;
    // 2051: critical, refused 4.02 by the endpoint before the proxy sees it (RFC 7252 §5.4.1).
    assert.equal((await coapCall({ port: gw.port, pathname: '/ep/dev/echo', options: { '2050': Buffer.from('x') } })).code, '5.02');
    assert.equal((await coapCall({ port: gw.port, pathname: '/ep/dev/echo', options: { '2051': Buffer.from('x') } })).code, '4.02');
    assert.equal((await coapCall({ port: gw.port, pathname: '/ep/dev/echo', options: { '2052': Buffer.from('y') } })).code, '2.05');
    assert.deepEqual(seen.at(-1)?.options['2052'], Buffer.from('y'));
    assert.equal((await coapCall({ port: gw.port, pathname: '/ep/dev/echo', options: { 'Hop-Limit': Buffer.of(1) } })).code, '5.08');
    await coapCall({ port: gw.port, pathname: '/ep/dev/echo', options: { 'Hop-Limit': Buffer.of(5) } });
    assert.deepEqual(seen.at(-1)?.options['Hop-Limit'], Buffer.of(4));
  });

  test('pending proxied requests are bounded: beyond the limit 5.03 with Max-Age', async () => {
    const waiting = [1, 2].map(() => coapCall({ port: gw.port, method: 'PUT', pathname: '/ep/dev/hold' }));
    await eventually('two requests held by the device', () => held.length === 2);
    const refused = await coapCall({ port: gw.port, pathname: '/ep/dev/echo' });
    assert.equal(refused.code, '5.03');
    assert.equal(refused.options['Max-Age'], 5);
    for (const ex of held) ex.respond({ code: '2.04' });
    assert.deepEqual((await Promise.all(waiting)).map((r) => r.code), ['2.04', '2.04']);
    assert.equal(gw.proxy.stats().pending, 0);
  });
});

describe('reverse proxy without a resource directory', () => {
  test('every proxied request is 5.03, Proxy-Uri is 5.05, nothing crashes', async () => {
    const gw = await startProxy(() => undefined);
    try {
      const res = await coapCall({ port: gw.port, pathname: '/ep/dev/x' });
      assert.equal(res.code, '5.03');
      assert.equal(res.payload.toString(), 'no resource directory');
      assert.equal((await coapCall({ port: gw.port, pathname: '/grp/g' })).code, '4.04');
      assert.equal((await coapCall({ port: gw.port, pathname: '/', options: { 'Proxy-Uri': 'coap://127.0.0.1/x' } })).code, '5.03');
      assert.equal((await coapCall({ port: gw.port, pathname: '/', options: { 'Proxy-Uri': 'http://127.0.0.1/x' } })).code, '5.05');
    } finally {
      await gw.stop();
    }
  });
});
