/**
 * OSCORE observations through the reverse proxy are never merged (RFC 8613 §4.1.3.5, §8.4.2):
 * each client's registration is its own exchange, so each gets its own upstream observation,
 * passed on as it came (outer FETCH and ciphertext), and only its own notifications, which verify
 * with its own registration. The device is test/support/oscore-observe-server.ts.
 *
 * An OSCORE client names the device with outer Proxy-Scheme + Uri-Host (its Uri-Path is
 * encrypted) and sends no Content-Format (RFC 8613 §4.2): that is the route tested here, with
 * both lib/oscore's client (oscoreObserve) and a raw UDP observer that can leave with a Reset.
 * The /ep/<name> route, with an outer Content-Format, relays OSCORE observations the same way.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { TestDirectory, startProxy, eventually, type ProxyUnderTest } from './proxy-fixture';
import { CoapEndpoint, type CoapReply, type Exchange } from '../../lib/coap/endpoint';
import { ReverseProxy } from '../../lib/coap/proxy/reverse-proxy';
import { CoapClient } from '../../lib/coap/client';
import { oscoreObserve } from '../../lib/oscore/coap-client';
import { OscoreResources } from '../../lib/oscore/coap-server';
import { makeClient, makeServer } from '../support/oscore-pair';
import { OscoreObserveServer } from '../support/oscore-observe-server';
import { CODE, OPTION, decodeUdpFrame, encodeUdpFrame, sortOptions, type CoapMessage, type OscoreExchange, type SecurityContext } from '../../lib/oscore';

const CON = 0;
const ACK = 2;
const RST = 3;

/** How an observer names the device: the /ep route (with an outer Content-Format), or Proxy-Scheme + Uri-Host. */
type Route = 'ep' | 'proxy-scheme';

/** A remote OSCORE observer on raw UDP: ACKs confirmable notifications, verifies each with its registration. */
class Observer {
  private readonly socket: Socket = createSocket('udp4');
  private readonly token = randomBytes(4);
  private exchange: OscoreExchange | undefined;
  readonly values: string[] = [];
  readonly rejected: string[] = [];
  /** Set: the next confirmable notification is answered with a Reset (the client went away, RFC 7641 §3.6). */
  leaving = false;

  constructor(
    private readonly context: SecurityContext,
    private readonly port: number,
    private readonly route: Route = 'ep',
  ) {
    this.socket.on('message', (data, from) => {
      const frame = decodeUdpFrame(data);
      if (frame.type === CON) {
        const type = this.leaving && frame.message.code !== 0 ? RST : ACK;
        this.socket.send(encodeUdpFrame({ type, messageId: frame.messageId, token: Buffer.alloc(0), message: { code: 0, options: [], payload: Buffer.alloc(0) } }), from.port, from.address);
        if (type === RST) return;
      }
      if (frame.message.code === 0 || !frame.token.equals(this.token) || !this.exchange) return;
      try {
        this.values.push(this.context.verifyResponse(frame.message, this.exchange).message.payload.toString());
      } catch (err) {
        this.rejected.push((err as Error).message);
      }
    });
  }

  start(): Promise<void> {
    return new Promise((resolve) => this.socket.bind(0, '127.0.0.1', () => resolve()));
  }

  /** Registers (observe 0) or deregisters (observe 1) on this observer's Token. */
  send(observe: 0 | 1): void {
    const original: CoapMessage = { code: CODE.GET, options: [{ number: OPTION.OBSERVE, value: observe ? Buffer.of(1) : Buffer.alloc(0) }, { number: OPTION.URI_PATH, value: Buffer.from('temp') }], payload: Buffer.alloc(0) };
    const { message, exchange } = this.context.protectRequest(original);
    if (observe === 0) this.exchange = exchange;
    const route =
      this.route === 'ep'
        ? [
            { number: OPTION.URI_PATH, value: Buffer.from('ep') },
            { number: OPTION.URI_PATH, value: Buffer.from('sensor') },
            { number: OPTION.CONTENT_FORMAT, value: Buffer.alloc(0) },
          ]
        : [
            { number: OPTION.PROXY_SCHEME, value: Buffer.from('coap') },
            { number: OPTION.URI_HOST, value: Buffer.from('sensor') },
          ];
    const outer = sortOptions([...message.options, ...route]);
    const datagram = encodeUdpFrame({ type: CON, messageId: randomBytes(2).readUInt16BE(0), token: this.token, message: { ...message, options: outer } });
    this.socket.send(datagram, this.port, '127.0.0.1');
  }

  close(): void {
    this.socket.close();
  }
}

describe('OSCORE observations through the proxy', () => {
  const directory = new TestDirectory();
  let device: OscoreObserveServer;
  let gw: ProxyUnderTest;
  let value = 'a';

  before(async () => {
    device = new OscoreObserveServer(makeServer(), () => value);
    const port = await device.listen();
    directory.add('sensor', `coap://127.0.0.1:${port}`);
    gw = await startProxy(() => directory);
  });
  after(async () => {
    await gw.stop();
    device.close();
  });

  test('two clients observing one resource get two upstream observations, each only its own notifications', async () => {
    // One client context, two registrations from two addresses: two exchanges all the same.
    const context = makeClient();
    const first = new Observer(context, gw.port);
    const second = new Observer(context, gw.port);
    await first.start();
    await second.start();
    try {
      first.send(0);
      await eventually('first registered', () => first.values.length === 1);
      second.send(0);
      await eventually('second registered', () => second.values.length === 1);
      const registered = device.events.filter((e) => e.kind === 'registered');
      assert.equal(registered.length, 2, 'the second registration went upstream, not into the first one’s relay');
      assert.notEqual(registered[0]?.token, registered[1]?.token);
      assert.equal(gw.proxy.stats().upstreamObservations, 2);

      value = 'b';
      device.notify();
      await eventually('both notified', () => first.values.length === 2 && second.values.length === 2);
      assert.deepEqual(first.values, ['a', 'b']);
      assert.deepEqual(second.values, ['a', 'b']);
      assert.deepEqual([...first.rejected, ...second.rejected], [], 'every notification verified with its own client’s registration');

      // The first client leaves: the gateway ends its relay; holding no keys, the proxy lets the
      // device's next notification on that observation be reset.
      first.send(1);
      await eventually('relay closed', () => gw.proxy.stats().upstreamObservations === 1);
      value = 'c';
      device.notify();
      await eventually('reset upstream', () => device.events.some((e) => e.kind === 'reset'));
      await eventually('second notified', () => second.values.length === 3);
      assert.equal(device.observerCount, 1);
      assert.deepEqual(second.values, ['a', 'b', 'c']);
      assert.equal(first.values.filter((v) => v === 'c').length, 0);
    } finally {
      first.close();
      second.close();
    }
  });
});

/** Keeps every byte the proxy handles: the requests it is handed and the replies it sends. */
function spyOnProxy(gateway: CoapEndpoint, seen: Buffer[], exchanges: Exchange[]): void {
  const bytes = (v: unknown): Buffer => (Buffer.isBuffer(v) ? v : Buffer.from(String(v)));
  const keep = (options: Record<string, unknown> = {}, payload: Buffer = Buffer.alloc(0), path: string[] = []): void => {
    seen.push(payload, ...path.map(bytes), ...Object.values(options).flat().map(bytes));
  };
  const serve = gateway.handleProxyRequests.bind(gateway);
  gateway.handleProxyRequests = (handler) =>
    serve(
      handler &&
        ((ex) => {
          exchanges.push(ex);
          keep(ex.request.options, ex.request.payload, ex.request.path);
          const reply = (r: CoapReply): CoapReply => (keep(r.options, r.payload), r);
          handler({
            request: ex.request,
            get observing() {
              return ex.observing;
            },
            respond: (r) => ex.respond(reply(r)),
            notify: (r) => ex.notify(reply(r)),
            end: () => ex.end(),
            onSettled: (l) => ex.onSettled(l),
            onObservationEnd: (l) => ex.onObservationEnd(l),
          });
        }),
    );
}

describe('OSCORE observations on the Proxy-Scheme route, the one an OSCORE client has', () => {
  const directory = new TestDirectory();
  const seen: Buffer[] = [];
  const exchanges: Exchange[] = [];
  let device: OscoreObserveServer;
  let gateway: CoapEndpoint;
  let proxy: ReverseProxy;
  let port = 0;
  let value = 'reading-1';

  before(async () => {
    device = new OscoreObserveServer(makeServer(), () => value);
    directory.add('sensor', `coap://127.0.0.1:${await device.listen()}`);
    gateway = new CoapEndpoint({ address: '127.0.0.1', port: 0 });
    spyOnProxy(gateway, seen, exchanges);
    proxy = new ReverseProxy(gateway, () => directory);
    proxy.start();
    ({ port } = await gateway.start());
  });
  after(async () => {
    await proxy.stop();
    await gateway.stop();
    device.close();
  });

  test('notifications verify at each client; deregistration and Reset end their own upstream observation; no plaintext at the proxy', async () => {
    const context = makeClient();
    const client = new CoapClient();
    const got: string[] = [];
    const dropped: string[] = [];
    const ended: Array<Error | undefined> = [];
    const observation = oscoreObserve(
      client,
      { host: '127.0.0.1', port, family: 'udp4' },
      { method: 'GET', path: ['temp'], query: [], options: { 'Proxy-Scheme': 'coap', 'Uri-Host': 'sensor' } },
      context,
      { onNotification: (res) => got.push(res.payload.toString()), onDropped: (err) => dropped.push(err.message), onEnd: (err) => ended.push(err) },
      5000,
    );
    const raw = new Observer(context, port, 'proxy-scheme');
    await raw.start();
    const resets = (): number => device.events.filter((e) => e.kind === 'reset').length;
    try {
      await eventually('lib/oscore client registered', () => got.length === 1);
      raw.send(0);
      await eventually('raw client registered', () => raw.values.length === 1);
      const registered = device.events.filter((e) => e.kind === 'registered');
      assert.equal(registered.length, 2, 'each OSCORE client got its own upstream observation');
      assert.notEqual(registered[0]?.token, registered[1]?.token);
      assert.equal(proxy.stats().upstreamObservations, 2);
      assert.equal(gateway.activeObservations, 2);
      const registrations = exchanges.filter((ex) => ex.request.observe === 0);
      assert.equal(registrations.length, 2);
      for (const ex of registrations) {
        assert.equal(ex.request.method, 'FETCH');
        assert.equal(ex.request.contentFormat, undefined, 'the outer FETCH came without Content-Format and was not refused');
        assert.equal(ex.observing, true, 'the Proxy-Scheme route observes');
      }

      value = 'reading-2';
      device.notify();
      await eventually('both notified', () => got.length === 2 && raw.values.length === 2);
      assert.deepEqual(got, ['reading-1', 'reading-2']);
      assert.deepEqual(raw.values, ['reading-1', 'reading-2']);

      // The lib/oscore client deregisters: its relay closes; the proxy, holding no keys, resets
      // the device's next notification on that observation.
      observation.cancel();
      await eventually('first relay closed', () => proxy.stats().upstreamObservations === 1 && gateway.activeObservations === 1);
      value = 'reading-3';
      device.notify();
      await eventually('first upstream observation reset', () => resets() === 1);
      await eventually('raw client notified', () => raw.values.length === 3);
      assert.equal(device.observerCount, 1);
      assert.deepEqual(got, ['reading-1', 'reading-2'], 'nothing after the deregistration');

      // The raw client goes away: it resets the next notification, and its relay closes too.
      raw.leaving = true;
      value = 'reading-4';
      device.notify();
      await eventually('second relay closed', () => proxy.stats().upstreamObservations === 0 && gateway.activeObservations === 0);
      value = 'reading-5';
      device.notify();
      await eventually('second upstream observation reset', () => resets() === 2);
      assert.equal(device.observerCount, 0);
      assert.deepEqual(raw.values, ['reading-1', 'reading-2', 'reading-3']);

      assert.deepEqual([...dropped, ...raw.rejected], [], 'every notification verified with its own registration');
      assert.deepEqual(ended, [], 'the client ended its observation itself: no error');
      const handled = Buffer.concat(seen);
      assert.ok(handled.length > 0);
      for (const plaintext of ['temp', 'reading']) assert.equal(handled.includes(plaintext), false, `the proxy never saw "${plaintext}"`);
    } finally {
      raw.close();
      await client.close();
    }
  });
});

describe('an OSCORE observation through the proxy to a device on CoapEndpoint + OscoreResources', () => {
  const directory = new TestDirectory();
  const observers: Exchange[] = [];
  let device: CoapEndpoint;
  let gw: ProxyUnderTest;
  let value = 'reading-1';

  before(async () => {
    device = new CoapEndpoint({ address: '127.0.0.1', port: 0 });
    const resources = new OscoreResources(device);
    resources.serve('GET', '/temp', [makeServer()], (ex) => {
      if (ex.observing) observers.push(ex);
      ex.respond({ code: '2.05', payload: Buffer.from(value), contentFormat: 0 });
    }, { observable: true });
    const { port } = await device.start();
    directory.add('sensor', `coap://127.0.0.1:${port}`);
    gw = await startProxy(() => directory);
  });
  after(async () => {
    await gw.stop();
    await device.stop();
  });

  const notifyAll = (next: string): void => {
    value = next;
    for (const ex of observers) ex.notify({ code: '2.05', payload: Buffer.from(next), contentFormat: 0 });
  };

  test('protected notifications reach each client; a deregistration or a Reset ends its observation at the device', async () => {
    const context = makeClient();
    const client = new CoapClient();
    const got: string[] = [];
    const dropped: string[] = [];
    const observation = oscoreObserve(
      client,
      { host: '127.0.0.1', port: gw.port, family: 'udp4' },
      { method: 'GET', path: ['temp'], query: [], options: { 'Proxy-Scheme': 'coap', 'Uri-Host': 'sensor' } },
      context,
      { onNotification: (res) => got.push(res.payload.toString()), onDropped: (err) => dropped.push(err.message) },
      5000,
    );
    const raw = new Observer(context, gw.port, 'proxy-scheme');
    await raw.start();
    try {
      await eventually('lib/oscore client registered', () => got.length === 1);
      raw.send(0);
      await eventually('raw client registered', () => raw.values.length === 1);
      assert.equal(observers.length, 2, 'the device saw two observations');
      assert.equal(device.activeObservations, 2);
      assert.equal(gw.proxy.stats().upstreamObservations, 2);

      notifyAll('reading-2');
      await eventually('both notified', () => got.length === 2 && raw.values.length === 2);
      assert.deepEqual(got, ['reading-1', 'reading-2']);
      assert.deepEqual(raw.values, ['reading-1', 'reading-2']);

      observation.cancel();
      await eventually('relay closed', () => gw.proxy.stats().upstreamObservations === 1);
      // The proxy holds no keys: the device's next notification on that observation is reset.
      notifyAll('reading-3');
      await eventually('device-side observation ended', () => device.activeObservations === 1);
      await eventually('raw client notified', () => raw.values.length === 3);

      raw.leaving = true;
      notifyAll('reading-4');
      await eventually('second relay closed', () => gw.proxy.stats().upstreamObservations === 0);
      notifyAll('reading-5');
      await eventually('no observation left at the device', () => device.activeObservations === 0);
      assert.deepEqual(got, ['reading-1', 'reading-2']);
      assert.deepEqual(raw.values, ['reading-1', 'reading-2', 'reading-3']);
      assert.deepEqual([...dropped, ...raw.rejected], []);
    } finally {
      raw.close();
      await client.close();
    }
  });
});
