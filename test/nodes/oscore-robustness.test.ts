/**
 * 10 000 random and bit-flipped OSCORE requests at a coap-in with an oscore-context in a running
 * Node-RED: the runtime stays up, none reaches the flow or gets a protected (verified) answer, and a
 * well-formed protected request still works afterwards. Bit flips change only the protected bits
 * (the OSCORE option value and the ciphertext): header, Token and outer Code are unprotected by
 * design (RFC 8613 §4), so flipping them is not a forgery. A seeded generator keeps failures reproducible.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { helper, packageNode, coreNode, endpointPort, collect, waitForStatus } from '../support/flow-runtime';
import { SECRET, SALT, makeClient, msg, opt } from '../support/oscore-pair';
import { UdpPeer, protectedCall } from '../support/oscore-udp';
import { CODE, OPTION, decodeUdpFrame, encodeUdpFrame, findOption } from '../../lib/oscore';
import { seededRandom } from '../support/seeded-random';

const nodes = [packageNode('coap-endpoint'), packageNode('oscore-context'), packageNode('coap-in'), packageNode('coap-response'), coreNode('function/10-function')];
const TOTAL = 10_000;
const BATCH = 250;

const { int, bytes } = seededRandom(0x0badc0de);

const dir = mkdtempSync(join(tmpdir(), 'oscore-fuzz-'));
after(async () => {
  await helper.unload();
  rmSync(dir, { recursive: true, force: true });
  await helper.stopServer?.();
});

test(`${TOTAL} random and bit-flipped OSCORE requests: no crash, none verified, the resource still works`, async () => {
  await helper.load(
    nodes,
    [
      { id: 'tab', type: 'tab' },
      { id: 'ep', type: 'coap-endpoint', address: '127.0.0.1', port: 0, family: 'udp4' },
      { id: 'ctx', type: 'oscore-context', senderId: '5e', recipientId: 'c1', alg: '10', stateFile: join(dir, 'fuzz.seq') },
      { id: 'in', type: 'coap-in', z: 'tab', endpoint: 'ep', method: 'ANY', url: '/lamp', oscore: 'ctx', requireOscore: true, wires: [['f', 'seen']] },
      { id: 'f', type: 'function', z: 'tab', func: 'msg.payload = "ok"; return msg;', outputs: 1, wires: [['res']] },
      { id: 'res', type: 'coap-response', z: 'tab', code: '2.05', contentFormat: 'text/plain', maxAge: '', wires: [] },
      { id: 'seen', type: 'helper', z: 'tab' },
    ],
    { ctx: { masterSecret: SECRET.toString('hex'), masterSalt: SALT.toString('hex') } },
  );
  const port = await endpointPort('ep');
  await waitForStatus(helper.getNode('in'), (s) => s.fill === 'green');
  const seen = collect('seen');
  const client = makeClient();

  let messageId = 0;
  const datagram = (): Buffer => {
    messageId++;
    const token = bytes(int(9));
    if (messageId % 2 === 0) {
      // A real protected request with one protected bit flipped.
      const { message } = client.protectRequest(msg(int(2) ? CODE.GET : CODE.POST, [opt(OPTION.URI_PATH, 'lamp')], bytes(int(40))));
      const raw = encodeUdpFrame({ type: 0, messageId, token, message });
      const oscore = findOption(message.options, OPTION.OSCORE)!.value;
      const start = oscore.length > 0 ? raw.indexOf(oscore, 4 + token.length) : raw.length - message.payload.length;
      const at = start + int(raw.length - start);
      raw[at]! ^= 1 << int(8);
      return raw;
    }
    // Random: an OSCORE option with random value (kid often the client's), random payload and options.
    const options = [opt(OPTION.OSCORE, int(3) === 0 ? bytes(int(12)) : Buffer.concat([Buffer.of(0x09 | int(8)), bytes(1 + int(4)), Buffer.from('c1', 'hex')]))];
    if (int(4) === 0) options.push(opt(OPTION.URI_PATH, 'lamp'));
    if (int(4) === 0) options.push(opt(int(300), bytes(int(6))));
    options.sort((a, b) => a.number - b.number);
    try {
      return encodeUdpFrame({ type: 0, messageId, token, message: { code: int(2) ? CODE.POST : int(256), options, payload: bytes(int(64)) } });
    } catch {
      return bytes(1 + int(60)); // and now and then plain garbage
    }
  };

  const socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
  const answers = new Map<number, Buffer>();
  socket.on('message', (data) => {
    if (data.length >= 4) answers.set(data.readUInt16BE(2), data);
  });
  let verifiedAnswers = 0;
  try {
    for (let sent = 0; sent < TOTAL; ) {
      const batchEnd = Math.min(TOTAL, sent + BATCH);
      const expected: number[] = [];
      for (; sent < batchEnd; sent++) {
        const d = datagram();
        if (d.length >= 4) expected.push(d.readUInt16BE(2));
        socket.send(d, port, '127.0.0.1');
      }
      // Wait for the batch to be answered (or dropped: garbage may get no answer at all).
      // Not a timing assertion: only how long to wait before the next batch.
      for (let last = -1, idle = 0; idle < 10 && expected.some((id) => !answers.has(id)); ) {
        await new Promise((r) => setTimeout(r, 10));
        idle = answers.size === last ? idle + 1 : 0;
        last = answers.size;
      }
    }
    for (const data of answers.values()) {
      try {
        const frame = decodeUdpFrame(data);
        if (findOption(frame.message.options, OPTION.OSCORE) || frame.message.code >> 5 === 2) verifiedAnswers++;
      } catch {
        // a Reset or an answer this decoder does not take: not a verified answer either
      }
    }
  } finally {
    socket.close();
  }
  assert.ok(answers.size > TOTAL / 2, `most requests were answered (${answers.size})`);
  assert.equal(verifiedAnswers, 0, 'no forged request got a protected answer');
  assert.equal(seen.length, 0, 'the flow saw none of them');

  const peer = new UdpPeer();
  try {
    const { answer, exchange } = await protectedCall(peer, port, client, msg(CODE.GET, [opt(OPTION.URI_PATH, 'lamp')]));
    const inner = client.verifyResponse(answer.message, exchange).message;
    assert.equal(inner.code, CODE.CONTENT);
    assert.equal(inner.payload.toString(), 'ok');
    assert.equal(seen.length, 1);
  } finally {
    peer.close();
  }
});
