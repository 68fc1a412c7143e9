import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { CoapEndpoint } from '../../lib/coap/endpoint';
import { ResponseCache, cacheKey } from '../../lib/coap/proxy/cache';
import type { ClientResponse } from '../../lib/coap/client';
import { coapCall } from '../support/coap-client';
import { TestDirectory, startDevice, startProxy, type ProxyUnderTest } from './proxy-fixture';

const ok = (payload: string, maxAge?: number): ClientResponse => ({
  code: '2.05',
  payload: Buffer.from(payload),
  options: maxAge === undefined ? {} : { 'Max-Age': maxAge },
});

describe('ResponseCache', () => {
  test('fresh for Max-Age seconds, 60 s without one, never for Max-Age 0 or other codes', () => {
    let now = 1_000_000;
    const cache = new ResponseCache({ maxEntries: 10, maxBytes: 10_000 }, () => now);
    assert.equal(cache.put('a', 'g', ok('A', 30)), true);
    assert.equal(cache.put('b', 'g', ok('B')), true);
    assert.equal(cache.put('c', 'g', ok('C', 0)), false);
    assert.equal(cache.put('d', 'g', { code: '2.04', payload: Buffer.alloc(0), options: {} }), false);
    now += 10_500;
    assert.equal(cache.get('a')?.maxAgeS, 19, 'Max-Age counts down with the age (RFC 7252 §5.6.1)');
    assert.equal(cache.get('b')?.maxAgeS, 49);
    now += 20_000;
    assert.equal(cache.get('a'), undefined);
    assert.equal(cache.get('b')?.response.payload.toString(), 'B');
    now += 30_000;
    assert.equal(cache.get('b'), undefined);
    assert.equal(cache.size, 0);
    assert.equal(cache.bytes, 0);
  });

  test('bounded in entries and bytes, least recently used out first', () => {
    const cache = new ResponseCache({ maxEntries: 2, maxBytes: 1000 }, () => 0);
    cache.put('a', 'g', ok('A'));
    cache.put('b', 'g', ok('B'));
    cache.get('a');
    cache.put('c', 'g', ok('C'));
    assert.equal(cache.get('b'), undefined, 'b was the least recently used');
    assert.ok(cache.get('a') && cache.get('c'));
    assert.equal(cache.put('huge', 'g', ok('x'.repeat(2000))), false, 'larger than the whole cache');
    cache.put('big', 'g', ok('y'.repeat(800)));
    assert.equal(cache.size, 1, 'bytes bound evicts the others');
    assert.ok(cache.bytes <= 1000);
  });

  test('invalidation by resource and by endpoint', () => {
    const cache = new ResponseCache({ maxEntries: 10, maxBytes: 10_000 }, () => 0);
    cache.put(cacheKey('g1', ['a'], [], undefined), 'g1', ok('1'));
    cache.put(cacheKey('g1', ['a'], ['q=1'], 50), 'g1', ok('2'));
    cache.put(cacheKey('g1', ['a', 'b'], [], undefined), 'g1', ok('3'));
    cache.put(cacheKey('g2', ['a'], [], undefined), 'g2', ok('4'));
    cache.invalidatePath('g1', ['a']);
    assert.equal(cache.size, 2);
    assert.ok(cache.get(cacheKey('g1', ['a', 'b'], [], undefined)));
    cache.invalidateGroup('g2');
    assert.equal(cache.size, 1);
  });
});

describe('the proxy serves fresh GET answers from its cache', () => {
  const directory = new TestDirectory();
  let now = 5_000_000;
  let hits = 0;
  let dev: { device: CoapEndpoint; base: string };
  let gw: ProxyUnderTest;
  before(async () => {
    dev = await startDevice((d) => {
      d.route('ANY', '/t', (ex) => {
        hits++;
        if (ex.request.method === 'GET') ex.respond({ code: '2.05', payload: Buffer.from(`v${hits}`), contentFormat: 0, options: { 'Max-Age': 30 } });
        else ex.respond({ code: '2.04' });
      });
    });
    directory.add('dev', dev.base);
    gw = await startProxy(() => directory, { now: () => now });
  });
  after(async () => {
    await gw.stop();
    await dev.device.stop();
  });

  test('hit within Max-Age (counting down), miss for another Accept, after a PUT and after expiry', async () => {
    const get = (options = {}): ReturnType<typeof coapCall> => coapCall({ port: gw.port, pathname: '/ep/dev/t', options });
    assert.equal((await get()).payload.toString(), 'v1');
    now += 10_000;
    const cached = await get();
    assert.equal(cached.payload.toString(), 'v1');
    assert.equal(cached.options['Max-Age'], 20);
    assert.equal(hits, 1);
    assert.equal((await get({ Accept: 'text/plain' })).payload.toString(), 'v2', 'Accept is part of the key');
    assert.equal((await coapCall({ port: gw.port, method: 'PUT', pathname: '/ep/dev/t', payload: 'x' })).code, '2.04');
    assert.equal((await get()).payload.toString(), 'v4', 'a successful PUT invalidates the resource');
    now += 31_000;
    assert.equal((await get()).payload.toString(), 'v5', 'expired');
    assert.equal(hits, 5);
  });

  test('the endpoint leaving the directory empties its entries', async () => {
    assert.ok(gw.proxy.stats().cacheEntries > 0);
    const e = directory.endpoint('dev');
    assert.ok(e);
    directory.remove(e);
    assert.equal(gw.proxy.stats().cacheEntries, 0);
    assert.equal((await coapCall({ port: gw.port, pathname: '/ep/dev/t' })).code, '4.04');
  });
});
