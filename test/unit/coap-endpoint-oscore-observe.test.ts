/**
 * What CoapEndpoint lets through for an OSCORE observation (RFC 8613 §4.1.3.5, §4.2): an outer
 * FETCH with an OSCORE option and no Content-Format (node-coap alone answers 4.15), and
 * observations on the Proxy-Scheme / Proxy-Uri route, where the proxy relays them. Raw datagrams
 * on loopback, so the test sees exactly what went on the wire. And what OscoreResources makes of
 * an OSCORE registration for a resource that is not observable.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { generate, parse, type ParsedPacket, type Option } from 'coap-packet';
import { CoapEndpoint, type Exchange } from '../../lib/coap/endpoint';
import { eventually } from './proxy-fixture';
import { CoapClient } from '../../lib/coap/client';
import { OscoreResources } from '../../lib/oscore/coap-server';
import { oscoreObserve } from '../../lib/oscore/coap-client';
import { makeClient, makeServer } from '../support/oscore-pair';

/** One client socket: sends requests, ACKs confirmable notifications, keeps every message. */
class RawClient {
  private readonly socket: Socket = createSocket('udp4');
  readonly received: ParsedPacket[] = [];
  private messageId = 100;

  constructor(private readonly port: number) {
    this.socket.on('message', (data) => {
      const packet = parse(data);
      this.received.push(packet);
      if (packet.confirmable) this.socket.send(generate({ messageId: packet.messageId, code: '0.00', ack: true }), this.port, '127.0.0.1');
    });
  }

  start(): Promise<void> {
    return new Promise((resolve) => this.socket.bind(0, '127.0.0.1', () => resolve()));
  }

  send(code: string, token: Buffer, options: Option[], payload = Buffer.alloc(0)): void {
    this.socket.send(generate({ code, messageId: this.messageId++, token, confirmable: true, options, payload }), this.port, '127.0.0.1');
  }

  answers(token: Buffer): ParsedPacket[] {
    return this.received.filter((p) => p.code !== '0.00' && p.token.equals(token));
  }

  close(): void {
    this.socket.close();
  }
}

const OSCORE: Option = { name: 'OSCORE', value: Buffer.of(0x09, 0x01, 0x01) };
const CIPHERTEXT = Buffer.from('00112233445566778899aabbccddeeff', 'hex');
const observeOption = (value: 0 | 1): Option => ({ name: 'Observe', value: value ? Buffer.of(1) : Buffer.alloc(0) });

describe('CoapEndpoint: OSCORE observations', () => {
  const endpoint = new CoapEndpoint({ address: '127.0.0.1', port: 0, maxObservers: 2 });
  const routed: Exchange[] = [];
  const proxied: Exchange[] = [];
  const limited: string[] = [];
  let client: RawClient;

  before(async () => {
    endpoint.route('FETCH', '/', (ex) => {
      routed.push(ex);
      ex.respond({ code: '2.05', payload: Buffer.from('first'), options: { 9: Buffer.alloc(0) } });
    }, { observable: true });
    endpoint.handleProxyRequests((ex) => {
      proxied.push(ex);
      ex.respond({ code: '2.05', payload: Buffer.from('first') });
    });
    endpoint.on('observer-limit', (req) => limited.push(req.token.toString('hex')));
    const { port } = await endpoint.start();
    client = new RawClient(port);
    await client.start();
  });
  after(async () => {
    client.close();
    await endpoint.stop();
  });

  test('an outer FETCH with OSCORE and no Content-Format is served and observed, and the handler sees no Content-Format', async () => {
    const token = Buffer.from('0a0b', 'hex');
    client.send('0.05', token, [observeOption(0), OSCORE], CIPHERTEXT);
    await eventually('registration answered', () => client.answers(token).length === 1);
    const [first] = client.answers(token);
    assert.equal(first?.code, '2.05', 'not 4.15');
    assert.ok(first?.options.some((o) => o.name === 'Observe'), 'the answer opens the observation');
    assert.ok(first?.options.some((o) => o.name === 'OSCORE'), 'the handler’s options go out');
    const ex = routed[0] as Exchange;
    assert.equal(ex.observing, true);
    assert.equal(ex.request.contentFormat, undefined);
    assert.equal(ex.request.options['Content-Format'], undefined, 'no placeholder left for the handler');
    assert.ok(ex.request.payload.equals(CIPHERTEXT));

    assert.equal(ex.notify({ code: '2.05', payload: Buffer.from('second'), options: { 9: Buffer.alloc(0) } }), true);
    await eventually('notification', () => client.answers(token).length === 2);
    assert.equal(client.answers(token)[1]?.payload.toString(), 'second');

    // A deregistration is an outer FETCH with Observe 1 on the same Token, also without Content-Format.
    client.send('0.05', token, [observeOption(1), OSCORE], CIPHERTEXT);
    await eventually('deregistered', () => endpoint.activeObservations === 0);
    assert.equal(ex.notify({ code: '2.05', payload: Buffer.from('late') }), false);
  });

  test('a Proxy-Scheme request with Observe 0 is an observation for the proxy; deregistration ends it; maxObservers bounds it', async () => {
    const tokens = [Buffer.of(1), Buffer.of(2), Buffer.of(3)];
    const target: Option[] = [
      { name: 'Uri-Host', value: Buffer.from('sensor') },
      { name: 'Proxy-Scheme', value: Buffer.from('coap') },
    ];
    for (const token of tokens) client.send('0.05', token, [observeOption(0), OSCORE, ...target], CIPHERTEXT);
    await eventually('all answered', () => tokens.every((t) => client.answers(t).length === 1));
    assert.equal(proxied.length, 3);
    assert.deepEqual(proxied.map((ex) => ex.observing), [true, true, false], 'the third is beyond maxObservers (2)');
    assert.deepEqual(limited, ['03']);
    assert.equal(endpoint.activeObservations, 2);

    const [one, two] = proxied as [Exchange, Exchange];
    let ended = 0;
    one.onObservationEnd(() => ended++);
    client.send('0.05', tokens[0] as Buffer, [observeOption(1), OSCORE, ...target], CIPHERTEXT);
    await eventually('first deregistered', () => ended === 1);
    assert.equal(proxied[3]?.observing, false, 'the deregistration itself is a plain request for the proxy');
    assert.equal(two.notify({ code: '2.05', payload: Buffer.from('still') }), true);
    await eventually('second still notified', () => client.answers(tokens[1] as Buffer).length === 2);
    two.end();
    assert.equal(endpoint.activeObservations, 0);
  });

  test('a Proxy-Uri GET with Observe 0 (no OSCORE) is an observation for the proxy too', async () => {
    const token = Buffer.of(9, 9);
    client.send('0.01', token, [observeOption(0), { name: 'Proxy-Uri', value: Buffer.from('coap://sensor/temp') }]);
    await eventually('answered', () => client.answers(token).length === 1);
    const ex = proxied[proxied.length - 1] as Exchange;
    assert.equal(ex.request.proxyUri, 'coap://sensor/temp');
    assert.equal(ex.observing, true);
    ex.end();
  });
});

describe('OscoreResources: a resource not served observable', () => {
  test('answers an OSCORE registration once; the client sees no inner Observe and the endpoint keeps no observation', async () => {
    const device = new CoapEndpoint({ address: '127.0.0.1', port: 0 });
    const seen: boolean[] = [];
    new OscoreResources(device).serve('GET', '/once', [makeServer()], (ex) => {
      seen.push(ex.observing);
      ex.respond({ code: '2.05', payload: Buffer.from('only this') });
    });
    const { port } = await device.start();
    const client = new CoapClient();
    const got: string[] = [];
    const ended: Array<Error | undefined> = [];
    try {
      oscoreObserve(client, { host: '127.0.0.1', port, family: 'udp4' }, { method: 'GET', path: ['once'], query: [] }, makeClient(), {
        onNotification: (res) => got.push(res.payload.toString()),
        onEnd: (err) => ended.push(err),
      }, 5000);
      await eventually('answered and over', () => ended.length === 1);
      assert.deepEqual(got, ['only this']);
      assert.deepEqual(ended, [undefined]);
      assert.deepEqual(seen, [false], 'the handler was not asked to keep an observation');
      assert.equal(device.activeObservations, 0);
    } finally {
      await client.close();
      await device.stop();
    }
  });
});
