import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { CoapEndpoint, type Exchange } from '../../lib/coap/endpoint';
import {
  CoapClient,
  CoapTimeoutError,
  CoapUriError,
  parseBase,
  parseCoapUri,
  wireOptions,
  type ClientResponse,
} from '../../lib/coap/client';

describe('parsing coap:// URIs', () => {
  test('host, port, family and path', () => {
    assert.deepEqual(parseBase('coap://192.0.2.5:5684'), { host: '192.0.2.5', port: 5684, family: 'udp4' });
    assert.deepEqual(parseBase('coap://192.0.2.5'), { host: '192.0.2.5', port: 5683, family: 'udp4' });
    assert.deepEqual(parseBase('coap://[2001:DB8::5]'), { host: '2001:db8::5', port: 5683, family: 'udp6' });
    assert.deepEqual(parseBase('coap://[::1]:7000/'), { host: '::1', port: 7000, family: 'udp6' });
    assert.deepEqual(parseCoapUri('coap://h:1/a/b%2Fc/?x=1&y=%20'), {
      target: { host: 'h', port: 1, family: 'udp4' },
      path: ['a', 'b/c', ''],
      query: ['x=1', 'y= '],
    });
  });

  test('only the coap scheme, and only well-formed URIs', () => {
    for (const bad of ['coaps://h', 'http://h', 'coap://', 'coap://h:99999', 'coap://[zz]', 'coap://h:0', 'coap://h/%zz', '/rd']) {
      assert.throws(() => parseCoapUri(bad), CoapUriError, bad);
    }
  });
});

describe('wire options', () => {
  test('names node-coap would mangle go by number; values become bytes', () => {
    const wire = wireOptions({ OSCORE: Buffer.from([9]), 'Content-Format': 'application/json', 'Max-Age': 30, '2055': 'x', Bogus: 'y' });
    assert.deepEqual(wire, { '9': Buffer.from([9]), 'Content-Format': Buffer.from([50]), 'Max-Age': Buffer.from([30]), '2055': Buffer.from('x') });
  });
});

describe('CoapClient against a CoapEndpoint device', () => {
  const device = new CoapEndpoint({ address: '127.0.0.1', port: 0 });
  const client = new CoapClient();
  let port = 0;
  const target = (): { host: string; port: number; family: 'udp4' } => ({ host: '127.0.0.1', port, family: 'udp4' });
  const observers: Exchange[] = [];
  const observationsEnded: string[] = [];
  const big = Buffer.alloc(5000, 'x');

  before(async () => {
    port = (await device.start()).port;
    device.route('ANY', '/echo/*', (ex) => {
      const r = ex.request;
      ex.respond({
        code: r.method === 'GET' ? '2.05' : '2.04',
        payload: Buffer.from(JSON.stringify({ m: r.method, path: r.path, q: r.query, body: r.payload.toString(), etag: r.options['ETag'], ifm: r.options['If-Match'] })),
        contentFormat: 50,
        options: { ETag: Buffer.from([0xff, 0x00, 0xfe]), 'Max-Age': 7 },
      });
    });
    device.route('GET', '/big', (ex) => ex.respond({ code: '2.05', payload: big, contentFormat: 42 }));
    device.route('PUT', '/size', (ex) => ex.respond({ code: '2.04', payload: Buffer.from(String(ex.request.payload.length)) }));
    device.route('GET', '/silent', () => undefined);
    device.route(
      'GET',
      '/temp',
      (ex) => {
        if (ex.observing) {
          observers.push(ex);
          ex.onObservationEnd(() => observationsEnded.push('ended'));
        }
        ex.respond({ code: '2.05', payload: Buffer.from('20'), contentFormat: 0 });
      },
      { observable: true },
    );
  });
  after(async () => {
    await client.close();
    await device.stop();
  });

  test('request: method, segments, query, payload and options go through; binary ETag survives', async () => {
    const res = await client.request(
      target(),
      { method: 'POST', path: ['echo', 'a/b', 'c'], query: ['x=1', 'y'], payload: Buffer.from('hi'), options: { 'If-Match': Buffer.from([1, 2]), ETag: Buffer.from([0x80, 0x81]) } },
      2000,
    );
    assert.equal(res.code, '2.04');
    const body = JSON.parse(res.payload.toString()) as { m: string; path: string[]; q: string[]; body: string; ifm: { data: number[] }; etag: { data: number[] } };
    assert.equal(body.m, 'POST');
    assert.deepEqual(body.path, ['echo', 'a/b', 'c']);
    assert.deepEqual(body.q, ['x=1', 'y']);
    assert.equal(body.body, 'hi');
    assert.deepEqual(body.ifm.data, [1, 2]);
    assert.deepEqual(body.etag.data, [0x80, 0x81]);
    assert.deepEqual(res.options['ETag'], Buffer.from([0xff, 0x00, 0xfe]));
    assert.equal(res.options['Max-Age'], 7);
    assert.equal(res.options['Content-Format'], 'application/json');
  });

  test('a large body arrives whole through Block2, and goes out whole through Block1', async () => {
    const res = await client.request(target(), { method: 'GET', path: ['big'], query: [] }, 5000);
    assert.equal(res.code, '2.05');
    assert.ok(res.payload.equals(big));
    const put = await client.request(target(), { method: 'PUT', path: ['size'], query: [], payload: Buffer.alloc(3000, 'y') }, 5000);
    assert.equal(put.code, '2.04');
    assert.equal(put.payload.toString(), '3000');
  });

  test('no answer: a CoapTimeoutError, and the client keeps working', async () => {
    await assert.rejects(client.request(target(), { method: 'GET', path: ['silent'], query: [] }, 200), CoapTimeoutError);
    const quiet = createSocket('udp4');
    await new Promise<void>((r) => quiet.bind(0, '127.0.0.1', () => r()));
    const deadPort = quiet.address().port;
    await assert.rejects(client.request({ host: '127.0.0.1', port: deadPort, family: 'udp4' }, { method: 'GET', path: [], query: [] }, 200), CoapTimeoutError);
    quiet.close();
    assert.equal((await client.request(target(), { method: 'GET', path: ['echo'], query: [] }, 2000)).code, '2.05');
  });

  test('observe: notifications arrive until cancel(), which deregisters upstream', async () => {
    const got: ClientResponse[] = [];
    let wake: () => void = () => undefined;
    const obs = client.observe(target(), { method: 'GET', path: ['temp'], query: [] }, { onNotification: (n) => { got.push(n); wake(); } }, 2000);
    const waitFor = async (n: number): Promise<void> => {
      while (got.length < n) await new Promise<void>((r) => (wake = r));
    };
    await waitFor(1);
    assert.equal(observers.length, 1);
    (observers[0] as Exchange).notify({ code: '2.05', payload: Buffer.from('21') });
    await waitFor(2);
    assert.deepEqual(got.map((n) => n.payload.toString()), ['20', '21']);
    obs.cancel();
    while (observationsEnded.length === 0) await new Promise((r) => setTimeout(r, 10));
    assert.equal(device.activeObservations, 0);
  });

  test('observe: a final non-2.xx notification ends the observation', async () => {
    observers.length = 0;
    const got: string[] = [];
    let ended: (e?: Error) => void = () => undefined;
    const endedP = new Promise<Error | undefined>((r) => (ended = r));
    let wake: () => void = () => undefined;
    client.observe(target(), { method: 'GET', path: ['temp'], query: [] }, { onNotification: (n) => { got.push(n.code); wake(); }, onEnd: (e) => ended(e) }, 2000);
    while (got.length < 1) await new Promise<void>((r) => (wake = r));
    (observers[0] as Exchange).notify({ code: '4.04' });
    assert.equal(await endedP, undefined);
    assert.deepEqual(got, ['2.05', '4.04']);
  });
});
