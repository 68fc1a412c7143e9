import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { generate, parse, type ParsedPacket } from 'coap-packet';
import { inspectDatagram } from '../../lib/coap/datagram-guard';
import { CoapEndpoint } from '../../lib/coap/endpoint';

const limits = { maxRequestBodyBytes: 64 * 1024 };

function request(options: Array<{ name: string; value: Buffer }>, confirmable = true): Buffer {
  return generate({ code: '0.02', messageId: 0x1234, token: Buffer.from([1, 2, 3, 4]), confirmable, options: [{ name: 'Uri-Path', value: Buffer.from('x') }, ...options] });
}

function reply(verdict: ReturnType<typeof inspectDatagram>): ParsedPacket {
  assert.equal(verdict.pass, false);
  if (verdict.pass || !verdict.reply) throw new Error('expected a reply');
  return parse(verdict.reply);
}

test('an ordinary request passes, and so does OSCORE (a critical option the proxy forwards)', () => {
  assert.equal(inspectDatagram(request([]), limits).pass, true);
  assert.equal(inspectDatagram(request([{ name: 'OSCORE', value: Buffer.from([0x09, 0x14]) }]), limits).pass, true);
  assert.equal(inspectDatagram(request([{ name: 'Block1', value: Buffer.from([0x0e]) }]), limits).pass, true);
});

test('an unrecognised critical option in a CON request is 4.02 (RFC 7252 §5.4.1); in NON it is dropped', () => {
  const r = reply(inspectDatagram(request([{ name: '25', value: Buffer.from('?') }]), limits));
  assert.equal(r.code, '4.02');
  assert.equal(r.ack, true);
  assert.equal(r.messageId, 0x1234);
  assert.deepEqual(r.token, Buffer.from([1, 2, 3, 4]));
  const non = inspectDatagram(request([{ name: '25', value: Buffer.from('?') }], false), limits);
  assert.equal(non.pass, false);
  assert.equal(non.pass === false && non.reply, undefined);
  // An unknown elective (even) option is ignored, as the RFC says.
  assert.equal(inspectDatagram(request([{ name: '26', value: Buffer.from('?') }]), limits).pass, true);
});

test('a Block1 number that claims more than the body limit is 4.13 with Size1, before any allocation', () => {
  // num 2^20-1, szx 6 (1024 bytes): a 1 GiB body claimed by one datagram.
  const huge = Buffer.from([0xff, 0xff, 0xf6]);
  const r = reply(inspectDatagram(request([{ name: 'Block1', value: huge }]), limits));
  assert.equal(r.code, '4.13');
  const size1 = r.options.find((o) => o.name === 'Size1');
  assert.equal(size1?.value.readUIntBE(0, size1.value.length), 64 * 1024);
  // The last block that still fits is fine: num 63 × 1024 = 64 KiB.
  assert.equal(inspectDatagram(request([{ name: 'Block1', value: Buffer.from([0x03, 0xfe]) }]), limits).pass, true);
  assert.equal(reply(inspectDatagram(request([{ name: 'Block1', value: Buffer.from([0x04, 0x0e]) }]), limits)).code, '4.13');
  assert.equal(reply(inspectDatagram(request([{ name: 'Block1', value: Buffer.from([0x07]) }]), limits)).code, '4.00');
});

test('a CON that does not parse gets a Reset with its message id; other garbage gets nothing', () => {
  const broken = Buffer.from([0x40, 0x01, 0xab, 0xcd, 0xff]); // payload marker with no payload
  const r = reply(inspectDatagram(broken, limits));
  assert.equal(r.reset, true);
  assert.equal(r.messageId, 0xabcd);
  const tooShort = inspectDatagram(Buffer.from([0x40]), limits);
  assert.equal(tooShort.pass === false && tooShort.reply, undefined);
});

test('a CoAP ping (empty CON) is answered with a Reset (RFC 7252 §4.3)', () => {
  const r = reply(inspectDatagram(generate({ code: '0.00', messageId: 0x4242, confirmable: true }), limits));
  assert.equal(r.reset, true);
  assert.equal(r.code, '0.00');
  assert.equal(r.messageId, 0x4242);
});

test('responses and empty messages pass untouched', () => {
  const ack = generate({ code: '0.00', messageId: 7, ack: true });
  assert.equal(inspectDatagram(ack, limits).pass, true);
  const response = generate({ code: '2.05', messageId: 8, token: Buffer.from([9]), payload: Buffer.from('x'), options: [{ name: '25', value: Buffer.from('?') }] });
  assert.equal(inspectDatagram(response, limits).pass, true);
});

describe('the endpoint applies the guard', () => {
  const endpoint = new CoapEndpoint({ address: '127.0.0.1', port: 0, maxRequestBodyBytes: 4096 });
  const rejected: string[] = [];
  let port = 0;
  before(async () => {
    endpoint.route('POST', '/x', (ex) => ex.respond({ code: '2.04', payload: Buffer.from(String(ex.request.payload.length)) }));
    endpoint.on('rejected-datagram', (reason) => rejected.push(reason));
    port = (await endpoint.start()).port;
  });
  after(() => endpoint.stop());

  function exchange(datagram: Buffer): Promise<ParsedPacket> {
    return new Promise((resolve, reject) => {
      const sock = createSocket('udp4');
      const timer = setTimeout(() => {
        sock.close();
        reject(new Error('no answer'));
      }, 3000);
      sock.on('message', (msg) => {
        clearTimeout(timer);
        sock.close();
        resolve(parse(msg));
      });
      sock.send(datagram, port, '127.0.0.1');
    });
  }

  test('oversized Block1 and unknown critical options are refused; the endpoint keeps serving', async () => {
    const big = await exchange(request([{ name: 'Block1', value: Buffer.from([0xff, 0xff, 0xf6]) }]));
    assert.equal(big.code, '4.13');
    const bad = await exchange(request([{ name: '25', value: Buffer.from('?') }]));
    assert.equal(bad.code, '4.02');
    assert.equal(rejected.length, 2);
    const ok = await exchange(generate({ code: '0.02', messageId: 99, token: Buffer.from([7]), options: [{ name: 'Uri-Path', value: Buffer.from('x') }], payload: Buffer.from('hello') }));
    assert.equal(ok.code, '2.04');
    assert.equal(ok.payload.toString(), '5');
  });
});

test('inspectDatagram never throws, whatever arrives (20 000 random and mutated datagrams)', () => {
  let seed = 12345;
  const rand = (): number => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
  const valid = request([{ name: 'Block1', value: Buffer.from([0x0e]) }]);
  for (let i = 0; i < 20_000; i++) {
    const datagram =
      i % 2 === 0
        ? Buffer.from(Array.from({ length: Math.floor(rand() * 64) }, () => Math.floor(rand() * 256)))
        : Buffer.from(valid.map((b) => (rand() < 0.1 ? Math.floor(rand() * 256) : b)));
    const verdict = inspectDatagram(datagram, limits);
    assert.equal(typeof verdict.pass, 'boolean');
  }
});
