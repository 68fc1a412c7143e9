import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { request as coapRequest, Agent } from 'coap';
import type { IncomingMessage } from 'coap';
import type { CoapEndpoint, Exchange } from '../../lib/coap/endpoint';
import { TestDirectory, startDevice, startProxy, eventually, type ProxyUnderTest } from './proxy-fixture';

interface Observer {
  notifications: Array<{ code: string; payload: string }>;
  stop(): void;
}

/** A remote observer with node-coap's client, on a socket of its own so stop() deregisters. */
function observe(port: number, pathname: string, sockets: Socket[]): Observer {
  const socket = createSocket('udp4');
  sockets.push(socket);
  const agent = new Agent({ type: 'udp4', socket });
  const req = coapRequest({ host: '127.0.0.1', port, pathname, observe: true, agent });
  const notifications: Observer['notifications'] = [];
  let stream: (IncomingMessage & { close(eager?: boolean): void }) | undefined;
  req.on('response', (res: IncomingMessage & { close(eager?: boolean): void }) => {
    stream = res;
    let first = true;
    notifications.push({ code: res.code, payload: res.payload.toString() });
    res.on('data', (d: Buffer) => {
      if (first) {
        first = false; // node-coap pushes the first response into the stream too
        return;
      }
      notifications.push({ code: res.code, payload: d.toString() });
    });
  });
  req.end();
  return { notifications, stop: () => stream?.close(true) };
}

describe('Observe relay: many observers, one upstream observation', () => {
  const directory = new TestDirectory();
  const sockets: Socket[] = [];
  let dev: { device: CoapEndpoint; base: string };
  let gw: ProxyUnderTest;
  const upstream: Exchange[] = [];
  let registrations = 0;
  let upstreamEnded = 0;

  before(async () => {
    dev = await startDevice((d) => {
      d.route(
        'GET',
        '/temp',
        (ex) => {
          if (ex.observing) {
            registrations++;
            upstream.push(ex);
            ex.onObservationEnd(() => upstreamEnded++);
          }
          ex.respond({ code: '2.05', payload: Buffer.from('20'), contentFormat: 0 });
        },
        { observable: true },
      );
      d.route('GET', '/plain', (ex) => ex.respond({ code: '2.05', payload: Buffer.from('once') }));
    });
    directory.add('dev', dev.base);
    gw = await startProxy(() => directory, { maxUpstreamObservations: 2 });
  });
  after(async () => {
    await gw.stop();
    await dev.device.stop();
    for (const s of sockets) s.close();
  });

  test('two observers share one upstream registration; notifications reach both; last one out deregisters', async () => {
    const a = observe(gw.port, '/ep/dev/temp', sockets);
    await eventually('first observer answered', () => a.notifications.length === 1);
    const b = observe(gw.port, '/ep/dev/temp', sockets);
    await eventually('second observer answered', () => b.notifications.length === 1);
    assert.equal(registrations, 1, 'one upstream observation');
    assert.equal(b.notifications[0]?.payload, '20', 'a late joiner gets the latest value at once');
    assert.deepEqual(gw.proxy.stats().observers, 2);

    const device = upstream[0] as Exchange;
    device.notify({ code: '2.05', payload: Buffer.from('21') });
    await eventually('both notified', () => a.notifications.length === 2 && b.notifications.length === 2);
    assert.equal(a.notifications[1]?.payload, '21');
    assert.equal(b.notifications[1]?.payload, '21');

    a.stop();
    await eventually('proxy sees one observer left', () => gw.proxy.stats().observers === 1);
    assert.equal(upstreamEnded, 0, 'still one observer: upstream stays');
    device.notify({ code: '2.05', payload: Buffer.from('22') });
    await eventually('b notified', () => b.notifications.length === 3);
    assert.equal(a.notifications.length, 2);

    b.stop();
    await eventually('upstream deregistered', () => upstreamEnded === 1);
    assert.equal(dev.device.activeObservations, 0);
    assert.equal(gw.proxy.stats().upstreamObservations, 0);
    assert.equal(gw.gateway.activeObservations, 0);
  });

  test('a final code from the device ends every observation through the proxy', async () => {
    upstream.length = 0;
    const a = observe(gw.port, '/ep/dev/temp', sockets);
    const b = observe(gw.port, '/ep/dev/temp', sockets);
    await eventually('both answered', () => a.notifications.length === 1 && b.notifications.length === 1);
    (upstream[0] as Exchange).notify({ code: '5.03', payload: Buffer.from('sensor gone') });
    await eventually('both got the final code', () => a.notifications.at(-1)?.code === '5.03' && b.notifications.at(-1)?.code === '5.03');
    await eventually('relay gone', () => gw.proxy.stats().upstreamObservations === 0 && gw.gateway.activeObservations === 0);
  });

  test('the endpoint leaving the directory ends its observations with 4.04 and deregisters upstream', async () => {
    upstream.length = 0;
    const endedBefore = upstreamEnded;
    const a = observe(gw.port, '/ep/dev/temp', sockets);
    await eventually('answered', () => a.notifications.length === 1);
    const e = directory.endpoint('dev');
    assert.ok(e);
    directory.remove(e);
    await eventually('observer got 4.04', () => a.notifications.at(-1)?.code === '4.04');
    await eventually('upstream deregistered', () => upstreamEnded === endedBefore + 1);
    directory.add('dev', dev.base);
  });

  test('a resource the device does not let be observed: the value once, and the relay ends', async () => {
    const a = observe(gw.port, '/ep/dev/plain', sockets);
    await eventually('answered', () => a.notifications.length === 1);
    assert.equal(a.notifications[0]?.payload, 'once');
    await eventually('relay gone', () => gw.proxy.stats().upstreamObservations === 0 && gw.gateway.activeObservations === 0);
  });
});

describe('Observe relay limit', () => {
  test('beyond the upstream limit an Observe request is answered once and holds no observation', async () => {
    const directory = new TestDirectory();
    const sockets: Socket[] = [];
    const dev = await startDevice((d) => {
      d.route('GET', '/a', (ex) => ex.respond({ code: '2.05', payload: Buffer.from('A') }), { observable: true });
      d.route('GET', '/b', (ex) => ex.respond({ code: '2.05', payload: Buffer.from('B') }), { observable: true });
    });
    directory.add('dev', dev.base);
    const gw = await startProxy(() => directory, { maxUpstreamObservations: 1 });
    try {
      const a = observe(gw.port, '/ep/dev/a', sockets);
      await eventually('a relayed', () => a.notifications.length === 1 && gw.proxy.stats().upstreamObservations === 1);
      const b = observe(gw.port, '/ep/dev/b', sockets);
      await eventually('b answered', () => b.notifications.length === 1);
      assert.equal(b.notifications[0]?.payload, 'B');
      assert.equal(gw.proxy.stats().upstreamObservations, 1);
      await eventually('only the relayed observation is open at the gateway', () => gw.gateway.activeObservations === 1);
    } finally {
      await gw.stop();
      await dev.device.stop();
      for (const s of sockets) s.close();
    }
  });
});
