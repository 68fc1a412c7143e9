import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { CODE, decodeUdpFrame, decodeUint, encodeUdpFrame, findOption, OPTION, OscoreError, type AeadAlgorithm } from '../../lib/oscore';
import { makeClient, makeServer, msg, opt, optionPairs } from '../support/oscore-pair';

const SIZES = [0, 16, 64, 512, 1500];

for (const alg of [10, 30] as AeadAlgorithm[]) {
  test(`round trip (alg ${alg}): protect → verify → respond → verify for payloads of ${SIZES.join(', ')} bytes`, () => {
    const client = makeClient({ alg });
    const server = makeServer({ alg });
    const tag = alg === 10 ? 8 : 16;
    for (const size of SIZES) {
      const body = randomBytes(size);
      const request = msg(CODE.POST, [opt(OPTION.URI_HOST, 'gw'), opt(OPTION.URI_PATH, 'data'), opt(OPTION.CONTENT_FORMAT, [42])], body);
      const sent = client.protectRequest(request);
      // Through a real datagram, as a proxy would forward it.
      const wire = decodeUdpFrame(encodeUdpFrame({ type: 0, messageId: 7, token: Buffer.from('tok'), message: sent.message })).message;
      // code + Uri-Path "data" (1 + 4) + Content-Format (1 + 1) + marker and payload + tag
      assert.equal(wire.payload.length, 1 + 5 + 2 + (size > 0 ? 1 + size : 0) + tag, 'ciphertext = plaintext + tag');
      const verified = server.verifyRequest(wire);
      assert.ok(verified.status === 'verified');
      assert.equal(verified.message.code, CODE.POST);
      assert.deepEqual(optionPairs(verified.message), optionPairs(request));
      assert.deepEqual(verified.message.payload, body);

      const answer = randomBytes(size);
      const response = server.protectResponse(msg(CODE.CHANGED, [opt(OPTION.CONTENT_FORMAT, [42])], answer), verified.exchange);
      const received = client.verifyResponse(response, sent.exchange);
      assert.equal(received.message.code, CODE.CHANGED);
      assert.deepEqual(received.message.payload, answer);
      assert.deepEqual(optionPairs(received.message), [[OPTION.CONTENT_FORMAT, '2a']]);
    }
  });
}

test('round trip with Observe: notifications carry their own Partial IV, arrive in order, replays and stale ones are refused', () => {
  const client = makeClient();
  const server = makeServer();
  const registration = client.protectRequest(msg(CODE.GET, [opt(OPTION.OBSERVE, []), opt(OPTION.URI_PATH, 'temp')]));
  const verified = server.verifyRequest(registration.message);
  assert.ok(verified.status === 'verified');
  assert.deepEqual(findOption(verified.message.options, OPTION.OBSERVE)?.value, Buffer.alloc(0));

  const notifications = SIZES.map((size, i) =>
    server.protectResponse(msg(CODE.CONTENT, [opt(OPTION.OBSERVE, [i + 2]), opt(OPTION.CONTENT_FORMAT, [])], Buffer.alloc(size, i)), verified.exchange),
  );
  const observeValues: number[] = [];
  for (const [i, note] of notifications.entries()) {
    if (i === 2) continue; // "lost" for now
    const received = client.verifyResponse(note, registration.exchange);
    assert.equal(received.message.code, CODE.CONTENT);
    assert.deepEqual(received.message.payload, Buffer.alloc(SIZES[i], i));
    observeValues.push(decodeUint(findOption(received.message.options, OPTION.OBSERVE)?.value ?? Buffer.alloc(0)));
    assert.equal(received.sequenceNumber, i);
  }
  assert.deepEqual(observeValues, [0, 1, 3, 4], 'Observe = low bits of the Partial IV, increasing');
  const refused = (fn: () => unknown): string => {
    try {
      fn();
      return 'accepted';
    } catch (e) {
      assert.ok(e instanceof OscoreError);
      return e.kind;
    }
  };
  assert.equal(refused(() => client.verifyResponse(notifications[4], registration.exchange)), 'replay', 'duplicate');
  assert.equal(refused(() => client.verifyResponse(notifications[2], registration.exchange)), 'replay', 'older than the freshest');

  // The final response (no Observe) ends the observation; nothing is accepted afterwards.
  const last = server.protectResponse(msg(0x84 /* 4.04 */, [], 'gone'), verified.exchange);
  const final = client.verifyResponse(last, registration.exchange);
  assert.equal(final.message.payload.toString(), 'gone');
  assert.equal(registration.exchange.closed, true);
  const late = server.protectResponse(msg(CODE.CONTENT, [opt(OPTION.OBSERVE, [99])], 'late'), verified.exchange);
  assert.equal(refused(() => client.verifyResponse(late, registration.exchange)), 'replay');
});

test('many requests: each accepted exactly once, server answers without Partial IV', () => {
  const client = makeClient();
  const server = makeServer();
  const sent = Array.from({ length: 200 }, (_, i) => client.protectRequest(msg(CODE.GET, [opt(OPTION.URI_QUERY, `n=${i}`)])));
  // Delivered out of order within the window, then all again.
  const order = sent.map((_, i) => i).sort((a, b) => (a % 7) - (b % 7) || a - b).filter((i) => Math.abs(i - 100) < 14);
  for (const i of order) {
    const v = server.verifyRequest(sent[i].message);
    assert.ok(v.status === 'verified');
    const r = server.protectResponse(msg(CODE.CONTENT, [], String(i)), v.exchange);
    assert.equal(findOption(r.options, OPTION.OSCORE)?.value.length, 0, 'request nonce reused, empty OSCORE option');
    assert.equal(client.verifyResponse(r, sent[i].exchange).message.payload.toString(), String(i));
  }
  for (const i of order) assert.throws(() => server.verifyRequest(sent[i].message), (e: unknown) => e instanceof OscoreError && e.kind === 'replay');
});
