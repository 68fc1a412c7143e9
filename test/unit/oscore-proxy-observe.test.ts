/**
 * OSCORE observations through the reverse proxy are never merged (RFC 8613 §4.1.3.5, §8.4.2):
 * each client's registration is its own exchange, so each gets its own upstream observation,
 * passed on as it came (outer FETCH and ciphertext), and only its own notifications, which verify
 * with its own registration. The device is test/support/oscore-observe-server.ts.
 *
 * The clients reach the relay on the /ep/<name> route with an outer Content-Format: the
 * gateway's node-coap server refuses a FETCH without one (4.15), and Proxy-Scheme requests are
 * never observations on CoapEndpoint, so this is the one way in today (see the README).
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { TestDirectory, startProxy, eventually, type ProxyUnderTest } from './proxy-fixture';
import { makeClient, makeServer } from '../support/oscore-pair';
import { OscoreObserveServer } from '../support/oscore-observe-server';
import { CODE, OPTION, decodeUdpFrame, encodeUdpFrame, sortOptions, type CoapMessage, type OscoreExchange, type SecurityContext } from '../../lib/oscore';

const CON = 0;
const ACK = 2;

/** A remote OSCORE observer on raw UDP: ACKs confirmable notifications, verifies each with its registration. */
class Observer {
  private readonly socket: Socket = createSocket('udp4');
  private readonly token = randomBytes(4);
  private exchange: OscoreExchange | undefined;
  readonly values: string[] = [];
  readonly rejected: string[] = [];

  constructor(
    private readonly context: SecurityContext,
    private readonly port: number,
  ) {
    this.socket.on('message', (data, from) => {
      const frame = decodeUdpFrame(data);
      if (frame.type === CON) this.socket.send(encodeUdpFrame({ type: ACK, messageId: frame.messageId, token: Buffer.alloc(0), message: { code: 0, options: [], payload: Buffer.alloc(0) } }), from.port, from.address);
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
    const outer = sortOptions([
      ...message.options,
      { number: OPTION.URI_PATH, value: Buffer.from('ep') },
      { number: OPTION.URI_PATH, value: Buffer.from('sensor') },
      { number: OPTION.CONTENT_FORMAT, value: Buffer.alloc(0) },
    ]);
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
