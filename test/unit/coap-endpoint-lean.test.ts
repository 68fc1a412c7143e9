/**
 * The endpoint's lean path (lib/coap/lean-server.ts) on the wire, with raw datagrams: what a
 * client sees of piggybacked, separate and NON answers, of duplicates, and of large answers.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import { generate, parse, type ParsedPacket } from 'coap-packet';
import { parameters } from 'coap';
import { CoapEndpoint, type Exchange } from '../../lib/coap/endpoint';

/** A raw client socket that collects every datagram it receives. */
class Wire {
  readonly got: ParsedPacket[] = [];
  private waiters: Array<() => void> = [];
  constructor(private readonly sock: Socket, private readonly port: number) {
    sock.on('message', (msg) => {
      this.got.push(parse(msg));
      for (const w of this.waiters.splice(0)) w();
    });
  }
  /** Every socket opened, closed after the suite whatever happened. */
  static readonly opened: Wire[] = [];
  static async open(port: number): Promise<Wire> {
    const sock = createSocket('udp4');
    sock.bind(0, '127.0.0.1');
    await once(sock, 'listening');
    const wire = new Wire(sock, port);
    Wire.opened.push(wire);
    return wire;
  }
  send(packet: Parameters<typeof generate>[0]): void {
    this.sock.send(generate(packet), this.port, '127.0.0.1');
  }
  /** Waits until `count` datagrams have arrived in all, or fails after timeoutMs. */
  async until(count: number, timeoutMs = 2000): Promise<ParsedPacket[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.got.length < count) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`expected ${count} datagrams, got ${this.got.length}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return this.got;
  }
  close(): void {
    try {
      this.sock.close();
    } catch {
      // already closed
    }
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const path = (...segments: string[]) => segments.map((s) => ({ name: 'Uri-Path', value: Buffer.from(s) }));

describe('CoapEndpoint lean path', () => {
  const endpoint = new CoapEndpoint({ address: '127.0.0.1', port: 0, maxRememberedExchanges: 4 });
  let port = 0;
  let posts = 0;
  const held: Exchange[] = [];
  const savedAckTimeout = parameters.ackTimeout;

  before(async () => {
    port = (await endpoint.start()).port;
    endpoint.route('GET', '/hello', (ex) => ex.respond({ code: '2.05', payload: Buffer.from('hi'), contentFormat: 0 }));
    endpoint.route('POST', '/count', (ex) => ex.respond({ code: '2.04', payload: Buffer.from(String(++posts)) }));
    endpoint.route('GET', '/hold', (ex) => held.push(ex));
    endpoint.route('GET', '/big', (ex) => ex.respond({ code: '2.05', payload: Buffer.alloc(2000, 0x61) }));
    endpoint.route('GET', '/slow-big', (ex) => held.push(ex));
  });
  after(async () => {
    parameters.ackTimeout = savedAckTimeout;
    for (const wire of Wire.opened) wire.close();
    await endpoint.stop();
  });

  test('a CON request is answered piggybacked: ACK, same message ID and token', async () => {
    const wire = await Wire.open(port);
    wire.send({ code: 'GET', confirmable: true, messageId: 100, token: Buffer.from([1, 2, 3]), options: path('hello') });
    const [r] = await wire.until(1);
    assert.ok(r?.ack);
    assert.equal(r?.messageId, 100);
    assert.deepEqual(r?.token, Buffer.from([1, 2, 3]));
    assert.equal(r?.code, '2.05');
    assert.equal(r?.payload.toString(), 'hi');
    const format = r?.options.find((o) => o.name === 'Content-Format')?.value;
    assert.equal(format?.reduce((n, b) => n * 256 + b, 0), 0, 'Content-Format text/plain');
    wire.close();
  });

  test('a retransmitted CON gets the same answer and never reaches the handler twice', async () => {
    const wire = await Wire.open(port);
    const before = posts;
    const req = { code: 'POST', confirmable: true, messageId: 200, token: Buffer.from([7]), options: path('count'), payload: Buffer.from('x') } as const;
    wire.send(req);
    await wire.until(1);
    wire.send(req);
    const [first, second] = await wire.until(2);
    assert.equal(posts, before + 1);
    assert.equal(second?.payload.toString(), first?.payload.toString());
    assert.equal(second?.messageId, 200);
    // The same message ID with another token is another request (RFC 7252 §5.3.1: tokens tell).
    wire.send({ ...req, token: Buffer.from([8]) });
    await wire.until(3);
    assert.equal(posts, before + 2);
    wire.close();
  });

  test('a NON request gets a NON answer with its token', async () => {
    const wire = await Wire.open(port);
    wire.send({ code: 'GET', confirmable: false, messageId: 300, token: Buffer.from([9, 9]), options: path('hello') });
    const [r] = await wire.until(1);
    assert.equal(r?.confirmable, false);
    assert.equal(r?.ack, false);
    assert.deepEqual(r?.token, Buffer.from([9, 9]));
    assert.equal(r?.payload.toString(), 'hi');
    wire.close();
  });

  test('a slow handler: empty ACK first, then the answer as a CON, retransmitted until ACKed', async () => {
    parameters.ackTimeout = 0.1;
    const wire = await Wire.open(port);
    const req = { code: 'GET', confirmable: true, messageId: 400, token: Buffer.from([4, 0]), options: path('hold') } as const;
    wire.send(req);
    const [ack] = await wire.until(1);
    assert.ok(ack?.ack);
    assert.equal(ack?.code, '0.00');
    assert.equal(ack?.messageId, 400);
    // A retransmission of the request meanwhile gets the empty ACK again.
    wire.send(req);
    const [, again] = await wire.until(2);
    assert.equal(again?.code, '0.00');
    assert.equal(held.length, 1, 'the duplicate did not reach the handler');
    held.pop()?.respond({ code: '2.05', payload: Buffer.from('late') });
    const [, , answer] = await wire.until(3);
    assert.ok(answer?.confirmable);
    assert.notEqual(answer?.messageId, 400);
    assert.deepEqual(answer?.token, Buffer.from([4, 0]));
    assert.equal(answer?.payload.toString(), 'late');
    // Not acknowledged: it comes again (ACK_TIMEOUT shortened to 100 ms for the test).
    const [, , , copy] = await wire.until(4);
    assert.equal(copy?.messageId, answer?.messageId);
    wire.send({ code: '0.00', ack: true, messageId: answer?.messageId as number });
    const seen = wire.got.length;
    await sleep(600);
    assert.equal(wire.got.length, seen, 'no retransmission after the ACK');
    parameters.ackTimeout = savedAckTimeout;
    wire.close();
  });

  test('an answer of 1024 bytes or more goes block-wise, and the later blocks are served', async () => {
    const wire = await Wire.open(port);
    wire.send({ code: 'GET', confirmable: true, messageId: 500, token: Buffer.from([5]), options: path('big') });
    const [first] = await wire.until(1);
    assert.ok(first?.ack);
    assert.equal(first?.messageId, 500);
    const block2 = first?.options.find((o) => o.name === 'Block2')?.value;
    assert.ok(block2, 'Block2 option');
    assert.equal(first?.payload.length, 1024);
    wire.send({ code: 'GET', confirmable: true, messageId: 501, token: Buffer.from([5]), options: [...path('big'), { name: 'Block2', value: Buffer.from([0x16]) }] });
    const [, second] = await wire.until(2);
    assert.equal(second?.payload.length, 2000 - 1024);
    assert.ok(second?.payload.equals(Buffer.alloc(976, 0x61)));
    wire.close();
  });

  test('a slow answer of 1024 bytes or more: empty ACK, then the first block as a CON, which stops when ACKed', async () => {
    parameters.ackTimeout = 0.1;
    const wire = await Wire.open(port);
    wire.send({ code: 'GET', confirmable: true, messageId: 550, token: Buffer.from([5, 5]), options: path('slow-big') });
    const [ack] = await wire.until(1);
    assert.equal(ack?.code, '0.00');
    assert.ok(ack?.ack);
    held.pop()?.respond({ code: '2.05', payload: Buffer.alloc(1500, 0x62) });
    const [, block] = await wire.until(2);
    assert.ok(block?.confirmable);
    assert.notEqual(block?.messageId, 550);
    assert.deepEqual(block?.token, Buffer.from([5, 5]));
    assert.ok(block?.options.some((o) => o.name === 'Block2'));
    assert.equal(block?.payload.length, 1024);
    wire.send({ code: '0.00', ack: true, messageId: block?.messageId as number });
    await sleep(600);
    assert.equal(wire.got.length, 2, 'no retransmission after the ACK');
    parameters.ackTimeout = savedAckTimeout;
    wire.close();
  });

  test('the memory of past exchanges is bounded: the oldest is forgotten first', async () => {
    const wire = await Wire.open(port);
    const before = posts;
    for (let i = 0; i < 6; i++) wire.send({ code: 'POST', confirmable: true, messageId: 600 + i, token: Buffer.from([6, i]), options: path('count') });
    await wire.until(6);
    assert.equal(endpoint.rememberedExchanges, 4);
    // 600 was forgotten: its retransmission is handled again; 605 is remembered and is not.
    wire.send({ code: 'POST', confirmable: true, messageId: 605, token: Buffer.from([6, 5]), options: path('count') });
    await wire.until(7);
    assert.equal(posts, before + 6);
    wire.send({ code: 'POST', confirmable: true, messageId: 600, token: Buffer.from([6, 0]), options: path('count') });
    await wire.until(8);
    assert.equal(posts, before + 7);
    wire.close();
  });
});

test('by default an endpoint remembers the last 8192 exchanges, no more', async () => {
  const endpoint = new CoapEndpoint({ address: '127.0.0.1', port: 0 });
  assert.equal(endpoint.options.maxRememberedExchanges, 8192);
  const port = (await endpoint.start()).port;
  endpoint.route('GET', '/hello', (ex) => ex.respond({ code: '2.05' }));
  const wire = await Wire.open(port);
  try {
    // NON requests: nothing to retransmit, and every one is remembered all the same.
    for (let i = 0; i < 8300; i++) {
      wire.send({ code: 'GET', confirmable: false, messageId: i, token: Buffer.from([i >> 8, i & 0xff]), options: path('hello') });
      if (i % 50 === 49) await wire.until(i + 1, 5000);
    }
    await wire.until(8300, 5000);
    assert.equal(endpoint.rememberedExchanges, 8192);
  } finally {
    wire.close();
    await endpoint.stop();
  }
});
