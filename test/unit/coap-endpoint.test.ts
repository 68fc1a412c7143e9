import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { CoapEndpoint, type Exchange } from '../../lib/coap/endpoint';
import { coapCall } from '../support/coap-client';

function sendRaw(port: number, datagram: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const sock = createSocket('udp4');
    sock.send(datagram, port, '127.0.0.1', (err) => {
      sock.close();
      if (err) reject(err);
      else resolve();
    });
  });
}

describe('CoapEndpoint over loopback', () => {
  const endpoint = new CoapEndpoint({ address: '127.0.0.1', port: 0, maxPendingRequests: 3, responseTimeoutMs: 400 });
  let port = 0;
  const held: Exchange[] = [];

  before(async () => {
    port = (await endpoint.start()).port;
    endpoint.route('GET', '/hello', (ex) => ex.respond({ code: '2.05', payload: Buffer.from('hi'), contentFormat: 0, options: { 'Max-Age': 30 } }), {
      link: { href: '/hello', attributes: { rt: 'greeting', ct: 0 } },
    });
    endpoint.route('POST', '/echo/:name', (ex) =>
      ex.respond({ code: '2.04', payload: Buffer.from(`${ex.request.params.name}:${ex.request.payload.toString()}:${ex.request.query.join('&')}`) }),
    );
    endpoint.route('GET', '/boom', () => {
      throw new Error('flow bug');
    });
    endpoint.route('GET', '/hold', (ex) => held.push(ex));
  });
  after(() => endpoint.stop());

  test('serves a route with code, payload and options', async () => {
    const res = await coapCall({ port, pathname: '/hello' });
    assert.equal(res.code, '2.05');
    assert.equal(res.payload.toString(), 'hi');
    assert.equal(res.options['Max-Age'], 30);
    assert.equal(res.headers['Content-Format'], 'text/plain');
  });

  test('captures path parameters and query', async () => {
    const res = await coapCall({ port, method: 'POST', pathname: '/echo/lamp', query: 'a=1&b=2', payload: 'on' });
    assert.equal(res.code, '2.04');
    assert.equal(res.payload.toString(), 'lamp:on:a=1&b=2');
  });

  test('unknown path is 4.04, known path with another method 4.05', async () => {
    assert.equal((await coapCall({ port, pathname: '/nope' })).code, '4.04');
    assert.equal((await coapCall({ port, method: 'PUT', pathname: '/hello' })).code, '4.05');
  });

  test('/.well-known/core lists served resources and filters them', async () => {
    const all = await coapCall({ port, pathname: '/.well-known/core' });
    assert.equal(all.code, '2.05');
    assert.equal(all.headers['Content-Format'], 'application/link-format');
    assert.equal(all.payload.toString(), '</hello>;rt="greeting";ct=0');
    assert.equal((await coapCall({ port, pathname: '/.well-known/core', query: 'rt=greet*' })).code, '2.05');
    assert.equal((await coapCall({ port, pathname: '/.well-known/core', query: 'rt=other' })).code, '4.04');
  });

  test('a throwing handler gets 5.00 and the endpoint keeps serving', async () => {
    const errors: Error[] = [];
    endpoint.once('handler-error', (err) => errors.push(err));
    assert.equal((await coapCall({ port, pathname: '/boom' })).code, '5.00');
    assert.equal(errors[0]?.message, 'flow bug');
    assert.equal((await coapCall({ port, pathname: '/hello' })).code, '2.05');
  });

  test('malformed datagrams never stop the endpoint', async () => {
    const garbage = [
      Buffer.alloc(0),
      Buffer.from([0xff]),
      Buffer.from([0x40]),
      Buffer.from([0x48, 0x01, 0x00, 0x01]), // token length 8 but no token
      Buffer.from([0x40, 0x01, 0x00, 0x02, 0xbf]), // reserved option delta 15 without payload marker
      Buffer.from([0x4f, 0x01, 0x00, 0x03]), // token length 15 (reserved)
      Buffer.from('GET /hello HTTP/1.1\r\n\r\n'),
    ];
    for (let i = 0; i < 200; i++) garbage.push(Buffer.from(Array.from({ length: 1 + (i % 40) }, (_, j) => (i * 31 + j * 17) & 0xff)));
    for (const g of garbage) await sendRaw(port, g);
    assert.equal((await coapCall({ port, pathname: '/hello' })).code, '2.05');
  });

  test('unanswered requests are bounded: beyond the limit 5.03 with Max-Age, and they time out with 5.03', async () => {
    const overloads: unknown[] = [];
    const onOverload = (r: unknown): void => void overloads.push(r);
    endpoint.on('overload', onOverload);
    const waiting = [1, 2, 3].map(() => coapCall({ port, pathname: '/hold' }));
    while (held.length < 3) await new Promise((r) => setTimeout(r, 10));
    assert.equal(endpoint.pendingRequests, 3);
    const refused = await coapCall({ port, pathname: '/hold' });
    assert.equal(refused.code, '5.03');
    assert.equal(refused.options['Max-Age'], 5);
    assert.equal(overloads.length, 1);
    const timedOut = await Promise.all(waiting);
    assert.deepEqual(timedOut.map((r) => r.code), ['5.03', '5.03', '5.03']);
    assert.equal(endpoint.pendingRequests, 0);
    assert.equal(held[0]?.respond({ code: '2.05' }), false, 'a timed-out exchange cannot be answered twice');
    endpoint.off('overload', onOverload);
  });
});

test('a port in use is a rejected start, not a crash; stop frees the port', async () => {
  const first = new CoapEndpoint({ address: '127.0.0.1', port: 0 });
  const { port } = await first.start();
  const second = new CoapEndpoint({ address: '127.0.0.1', port });
  await assert.rejects(second.start(), /EADDRINUSE/);
  await first.stop();
  const third = new CoapEndpoint({ address: '127.0.0.1', port });
  assert.equal((await third.start()).port, port);
  await third.stop();
});

test('IPv6 endpoint answers on ::1', async () => {
  const ep = new CoapEndpoint({ address: '::1', port: 0, family: 'udp6' });
  ep.route('GET', '/v6', (ex) => ex.respond({ code: '2.05', payload: Buffer.from('six') }));
  const { port, family } = await ep.start();
  assert.equal(family, 'IPv6');
  try {
    const res = await coapCall({ host: '::1', port, pathname: '/v6' });
    assert.equal(res.payload.toString(), 'six');
  } finally {
    await ep.stop();
  }
});

test('stop drops open exchanges: no timer outlives the socket', async () => {
  const ep = new CoapEndpoint({ address: '127.0.0.1', port: 0, responseTimeoutMs: 60_000 });
  const held: Exchange[] = [];
  ep.route('GET', '/hold', (ex) => held.push(ex));
  const { port } = await ep.start();
  const answer = coapCall({ port, pathname: '/hold' }, 300).catch((err: Error) => err);
  while (held.length === 0) await new Promise((r) => setTimeout(r, 5));
  assert.equal(ep.pendingRequests, 1);
  await ep.stop();
  assert.equal(ep.pendingRequests, 0);
  assert.equal(held[0]?.respond({ code: '2.05' }), false);
  assert.match(String(await answer), /no CoAP answer/);
});
