/**
 * 10 000 malformed or random datagrams at the proxy: truncated headers, bad option deltas and
 * lengths, reserved token lengths, unknown critical options, random Proxy-Uri and Block options.
 * Afterwards the proxy still forwards, and nothing it holds is left behind.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { generate, type Option } from 'coap-packet';
import { coapCall } from '../support/coap-client';
import { TestDirectory, startDevice, startProxy, eventually } from './proxy-fixture';
import { seededRandom, type SeededRandom } from '../support/seeded-random';

const DATAGRAMS = 10_000;


function fuzzDatagram(random: SeededRandom, i: number): Buffer {
  const { next: rand, int, bytes } = random;
  const path: Option[] = ['ep', rand() < 0.7 ? 'dev' : bytes(int(8)).toString('latin1'), 'echo'].map((s) => ({ name: 'Uri-Path', value: Buffer.from(s) }));
  const valid = (options: Option[], payload: Buffer = Buffer.alloc(0)): Buffer =>
    generate({ code: ['0.01', '0.02', '0.03', '0.04', '0.05', `0.${String(int(32)).padStart(2, '0')}`][int(6)] as string, confirmable: rand() < 0.5, messageId: int(0x10000), token: bytes(int(9)), options, payload });
  switch (i % 8) {
    case 0: // random bytes
      return bytes(int(64));
    case 1: {
      // a valid request cut short
      const whole = valid([...path, { name: 'Uri-Query', value: bytes(int(20)) }], bytes(int(40)));
      return whole.subarray(0, int(whole.length));
    }
    case 2: // reserved token length 9..15 and whatever follows
      return Buffer.concat([Buffer.from([0x40 | (9 + int(7)), 0x01, int(256), int(256)]), bytes(int(30))]);
    case 3: // option delta or length 15 (reserved), or an extended delta past the end
    {
      const first = [0xf0, 0x0f, 0xd0, 0xe0, 0x1d, 0x1e][int(6)] as number;
      return Buffer.concat([Buffer.from([0x40, 0x01, int(256), int(256), first | int(16)]), bytes(int(4))]);
    }
    case 4: // unknown options, critical or elective, safe or unsafe
      return valid([...path, { name: String(2048 + int(2000)), value: bytes(int(12)) }]);
    case 5: // Proxy-Uri with random content
      return valid([{ name: 'Proxy-Uri', value: rand() < 0.5 ? bytes(int(40)) : Buffer.from(`coap://127.0.0.1:${int(65536)}/${bytes(4).toString('hex')}`) }]);
    case 6: // random Block1/Block2/Observe on a proxied path
      return valid([...path, { name: ['Block1', 'Block2', 'Observe', 'Size1'][int(4)] as string, value: bytes(int(5)) }], bytes(int(100)));
    default: // random Uri-Host/Uri-Port/Accept/Content-Format values
      return valid([...path, { name: ['Uri-Host', 'Uri-Port', 'Accept', 'Content-Format', 'Hop-Limit'][int(5)] as string, value: bytes(int(6)) }]);
  }
}

test(`${DATAGRAMS} malformed or random datagrams never stop the proxy`, async () => {
  const directory = new TestDirectory();
  let forwarded = 0;
  const { device, base } = await startDevice((d) =>
    d.route('ANY', '/echo', (ex) => {
      forwarded++;
      ex.respond({ code: '2.05', payload: Buffer.from('fine') });
    }),
  );
  directory.add('dev', base);
  const gw = await startProxy(() => directory, { upstreamTimeoutMs: 500 });
  const errors: Error[] = [];
  gw.gateway.on('error', (err) => errors.push(err));
  const sock = createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
  sock.on('message', () => undefined);
  try {
    const random = seededRandom(20240611); // deterministic, so a failure can be replayed
    for (let sent = 0; sent < DATAGRAMS; ) {
      const batch: Array<Promise<void>> = [];
      for (let j = 0; j < 100 && sent < DATAGRAMS; j++, sent++) {
        const datagram = fuzzDatagram(random, sent);
        batch.push(new Promise((resolve) => sock.send(datagram, gw.port, '127.0.0.1', () => resolve())));
      }
      await Promise.all(batch);
      // Let the gateway drain its socket, so the kernel buffer never silently drops the fuzz.
      await new Promise((r) => setTimeout(r, 1));
    }
    // The well-formed part of the fuzz did reach the device through the proxy.
    assert.ok(forwarded > 200, `only ${forwarded} fuzz requests were forwarded`);
    const res = await coapCall({ port: gw.port, pathname: '/ep/dev/echo' });
    assert.equal(res.code, '2.05');
    assert.equal(res.payload.toString(), 'fine');
    await eventually('proxied exchanges drained', () => gw.proxy.stats().pending === 0, 10_000);
    assert.deepEqual(errors, []);
  } finally {
    sock.close();
    await gw.stop();
    await device.stop();
  }
});

test('stopping just after a request node-coap rejected mid-way (Block1 out of order) does not crash', async () => {
  const { device } = await startDevice((d) => d.route('PUT', '/x', (ex) => ex.respond({ code: '2.04' })));
  const port = device.address?.port ?? 0;
  const sock = createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
  const answered = new Promise<Buffer>((resolve) => sock.once('message', resolve));
  const block1OutOfOrder = generate({
    code: '0.03',
    confirmable: true,
    messageId: 7,
    token: Buffer.from([1]),
    options: [{ name: 'Uri-Path', value: Buffer.from('x') }, { name: 'Block1', value: Buffer.from([0x10]) }],
    payload: Buffer.from('abc'),
  });
  sock.send(block1OutOfOrder, port, '127.0.0.1');
  assert.equal((await answered)[1], 0xa0, 'node-coap answers 5.00 and leaves its empty-ACK timer running');
  await device.stop();
  // That timer fires 50 ms after the request (piggybackReplyMs); before the fix its send threw.
  await new Promise((r) => setTimeout(r, 150));
  sock.close();
});
