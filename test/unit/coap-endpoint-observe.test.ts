import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request as coapRequest, Agent } from 'coap';
import type { IncomingMessage } from 'coap';
import { CoapEndpoint, type Exchange } from '../../lib/coap/endpoint';
import { coapCall } from '../support/coap-client';
import { createSocket, type Socket } from 'node:dgram';

const sockets: Socket[] = [];

interface Observation {
  notifications: Array<{ payload: string; observe: unknown }>;
  stop(): void;
  next(count: number): Promise<void>;
}

/** Observes a resource with node-coap's client; stop() deregisters it. */
function observe(port: number, pathname: string): Observation {
  // An agent on a socket of our own: node-coap closes its own socket before sending the
  // deregistration, so with one of its own close(true) would never reach the server.
  const socket = createSocket('udp4');
  const agent = new Agent({ type: 'udp4', socket });
  sockets.push(socket);
  const req = coapRequest({ host: '127.0.0.1', port, pathname, observe: true, agent });
  const notifications: Observation['notifications'] = [];
  const waiters: Array<() => void> = [];
  let stream: (IncomingMessage & { close(eagerDeregister?: boolean): void }) | undefined;
  req.on('response', (res: IncomingMessage & { close(eagerDeregister?: boolean): void }) => {
    stream = res;
    const record = (payload: Buffer): void => {
      notifications.push({ payload: payload.toString(), observe: res.headers['Observe'] });
      for (const w of waiters.splice(0)) w();
    };
    if (res.payload.length) record(res.payload);
    res.on('data', (d: Buffer) => {
      // node-coap re-emits the first response as data too; record each notification once.
      if (notifications.length === 1 && notifications[0]?.payload === d.toString() && res.headers['Observe'] === notifications[0]?.observe) return;
      record(d);
    });
  });
  req.end();
  return {
    notifications,
    // Eager deregistration: a GET with Observe: 1 and the same token (RFC 7641 §3.6).
    stop: () => stream?.close(true),
    next: async (count) => {
      const deadline = Date.now() + 5000;
      while (notifications.length < count) {
        if (Date.now() > deadline) throw new Error(`only ${notifications.length} of ${count} notifications arrived`);
        await new Promise<void>((r) => {
          waiters.push(r);
          setTimeout(r, 100);
        });
      }
    },
  };
}

describe('Observe (RFC 7641) on the endpoint', () => {
  const endpoint = new CoapEndpoint({ address: '127.0.0.1', port: 0, maxObservers: 1 });
  let port = 0;
  const observers: Exchange[] = [];
  before(async () => {
    port = (await endpoint.start()).port;
    endpoint.route(
      'GET',
      '/temp',
      (ex) => {
        if (ex.observing) observers.push(ex);
        ex.respond({ code: '2.05', payload: Buffer.from('20'), contentFormat: 0 });
      },
      { observable: true },
    );
    endpoint.route('GET', '/plain', (ex) => ex.respond({ code: '2.05', payload: Buffer.from('once') }));
  });
  after(async () => {
    for (const s of sockets) s.close();
    await endpoint.stop();
  });

  test('an observable route notifies until the observer leaves', async () => {
    const ended: string[] = [];
    const obs = observe(port, '/temp');
    await obs.next(1);
    assert.equal(observers.length, 1);
    const ex = observers[0] as Exchange;
    ex.onObservationEnd(() => ended.push('ended'));
    assert.equal(endpoint.activeObservations, 1);
    assert.equal(ex.notify({ code: '2.05', payload: Buffer.from('21') }), true);
    assert.equal(ex.notify({ code: '2.05', payload: Buffer.from('22') }), true);
    await obs.next(3);
    assert.deepEqual(obs.notifications.map((n) => n.payload), ['20', '21', '22']);
    assert.equal(typeof obs.notifications[0]?.observe, 'number');
    obs.stop();
    const deadline = Date.now() + 5000;
    while (ended.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(ended, ['ended']);
    assert.equal(endpoint.activeObservations, 0);
    assert.equal(ex.notify({ code: '2.05', payload: Buffer.from('24') }), false);
  });

  test('beyond maxObservers the request is answered once, without Observe', async () => {
    observers.length = 0;
    const first = observe(port, '/temp');
    await first.next(1);
    const second = await coapCall({ port, pathname: '/temp', options: { Observe: 0 } });
    assert.equal(second.code, '2.05');
    assert.equal(second.payload.toString(), '20');
    assert.equal(second.options['Observe'], undefined);
    assert.equal(endpoint.activeObservations, 1);
    (observers[0] as Exchange).end();
    assert.equal(endpoint.activeObservations, 0);
    first.stop();
  });

  test('a route that is not observable answers an Observe request once, without Observe', async () => {
    const res = await coapCall({ port, pathname: '/plain', options: { Observe: 0 } });
    assert.equal(res.payload.toString(), 'once');
    assert.equal(res.options['Observe'], undefined);
  });

  test('Proxy-Uri without a proxy is 5.05: never an open proxy', async () => {
    const res = await coapCall({ port, pathname: '/', options: { 'Proxy-Uri': 'coap://192.0.2.1/secret' } });
    assert.equal(res.code, '5.05');
  });
});
