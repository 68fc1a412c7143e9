/**
 * Robustness: random and mutated OSCORE messages never throw anything but OscoreError and never
 * pass verification. The "never verifies" mutations change the OSCORE option value or the
 * ciphertext. Header, Token and outer options are unprotected by design (RFC 8613 §4, e.g. an
 * inserted outer Class E option is discarded by §8.2 step 1), so for raw datagram corruption the
 * check is: only OscoreError, and anything that verifies carries exactly the original content.
 * A seeded generator keeps any failure reproducible.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CODE,
  ContextRegistry,
  decodeUdpFrame,
  encodeUdpFrame,
  OPTION,
  OscoreError,
  type CoapMessage,
  type OscoreExchange,
  type SecurityContext,
} from '../../lib/oscore';
import { makeClient, makeServer, msg, opt } from '../support/oscore-pair';
import { seededRandom } from '../support/seeded-random';

const { int, bytes } = seededRandom(0x05c0e);

interface Sample {
  message: CoapMessage;
}

function sample(message: CoapMessage): Sample {
  return { message };
}

/** Changes bytes of `b`: never returns an equal buffer. */
function mutateBytes(b: Buffer): Buffer {
  const d = Buffer.from(b);
  const at = int(Math.max(d.length, 1));
  switch (d.length === 0 ? 3 : int(6)) {
    case 0: {
      const flips = 1 + int(3);
      for (let i = 0; i < flips; i++) d[int(d.length)] ^= 1 << int(8);
      if (d.equals(b)) d[at] ^= 0x01; // flips cancelled out
      return d;
    }
    case 1:
      d[at] = (d[at] + 1 + int(255)) & 0xff;
      return d;
    case 2:
      return d.subarray(0, int(d.length));
    case 3:
      return Buffer.concat([d, bytes(1 + int(8))]);
    case 4:
      return Buffer.concat([d.subarray(0, at), bytes(1), d.subarray(at)]);
    default:
      return Buffer.concat([d.subarray(0, at), d.subarray(at + 1)]);
  }
}

/** The same message with its OSCORE option value or its ciphertext changed, framed and parsed again. */
function mutate(s: Sample): Buffer {
  const { message } = s;
  const inOption = int(3) === 0;
  const mutated: CoapMessage = inOption
    ? { ...message, options: message.options.map((o) => (o.number === OPTION.OSCORE ? { number: o.number, value: mutateBytes(o.value) } : o)) }
    : { ...message, payload: mutateBytes(message.payload) };
  return encodeUdpFrame({ type: 0, messageId: 0x1234, token: Buffer.from([1, 2, 3, 4]), message: mutated });
}

function datagramOf(s: Sample): Buffer {
  return encodeUdpFrame({ type: 0, messageId: 0x1234, token: Buffer.from([1, 2, 3, 4]), message: s.message });
}

/** Runs one verification; returns 'accepted' when it passed (a failure of this test). */
function attempt(fn: () => unknown): 'accepted' | 'rejected' {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof OscoreError)) throw new Error(`non-OscoreError thrown: ${String(e)}`, { cause: e });
    return 'rejected';
  }
  return 'accepted';
}

function verifyDatagramAsRequest(server: SecurityContext | ContextRegistry, datagram: Buffer): 'accepted' | 'rejected' {
  return attempt(() => {
    const result = server.verifyRequest(decodeUdpFrame(datagram).message);
    // echo-required would also mean "not accepted", but these servers are synchronised.
    assert.equal(result.status, 'verified');
  });
}

test('10 000+ protected messages with a changed OSCORE option or ciphertext are all rejected, with OscoreError only', () => {
  const client = makeClient();
  const server = makeServer();
  const registry = new ContextRegistry();
  registry.add(server);

  const requests: Sample[] = [];
  const responses: { sample: Sample; exchange: OscoreExchange }[] = [];
  for (const size of [0, 1, 16, 64, 200]) {
    for (const observe of [false, true]) {
      const options = [opt(OPTION.URI_HOST, 'dev'), opt(OPTION.URI_PATH, 'r'), ...(observe ? [opt(OPTION.OBSERVE, [])] : [])];
      requests.push(sample(client.protectRequest(msg(CODE.PUT, options, bytes(size))).message));
      // A separate request per response, verified by a second server so `server`'s window stays clean.
      const responder = makeServer();
      const sent = client.protectRequest(msg(CODE.GET, observe ? [opt(OPTION.OBSERVE, [])] : []));
      const v = responder.verifyRequest(sent.message);
      assert.ok(v.status === 'verified');
      const response = responder.protectResponse(msg(CODE.CONTENT, observe ? [opt(OPTION.OBSERVE, [5])] : [], bytes(size)), v.exchange, { partialIv: size % 2 === 0 });
      responses.push({ sample: sample(response), exchange: sent.exchange });
    }
  }

  let attempts = 0;
  for (let i = 0; i < 6000; i++) {
    const s = requests[i % requests.length];
    const target = i % 2 === 0 ? server : registry;
    assert.equal(verifyDatagramAsRequest(target, mutate(s)), 'rejected', `mutated request ${i} verified`);
    attempts++;
  }
  for (let i = 0; i < 5000; i++) {
    const { sample: s, exchange } = responses[i % responses.length];
    const verdict = attempt(() => client.verifyResponse(decodeUdpFrame(mutate(s)).message, exchange));
    assert.equal(verdict, 'rejected', `mutated response ${i} verified`);
    attempts++;
  }
  assert.ok(attempts >= 10_000);

  // The untouched originals still verify once: rejections came from the mutations, not from state.
  for (const s of requests) assert.equal(verifyDatagramAsRequest(server, datagramOf(s)), 'accepted');
  for (const { sample: s, exchange } of responses) assert.equal(attempt(() => client.verifyResponse(decodeUdpFrame(datagramOf(s)).message, exchange)), 'accepted');
});

test('corrupted datagrams (any byte after the header): OscoreError only; whatever verifies is the original content', () => {
  const client = makeClient();
  let accepted = 0;
  for (let round = 0; round < 40; round++) {
    const server = makeServer(); // fresh: each original may be accepted once
    const original = msg(CODE.POST, [opt(OPTION.URI_HOST, 'dev'), opt(OPTION.URI_PATH, 'r'), opt(OPTION.OBSERVE, [])], bytes(int(64)));
    const datagram = datagramOf(sample(client.protectRequest(original).message));
    for (let i = 0; i < 100; i++) {
      const corrupted = Buffer.from(datagram);
      const at = 8 + int(corrupted.length - 8);
      corrupted[at] ^= 1 << int(8);
      const kept = Buffer.concat([corrupted.subarray(0, at), int(4) === 0 ? bytes(1) : Buffer.alloc(0), corrupted.subarray(at)]);
      try {
        const result = server.verifyRequest(decodeUdpFrame(kept).message);
        assert.ok(result.status === 'verified');
        accepted++;
        assert.equal(result.message.code, original.code);
        assert.deepEqual(result.message.payload, original.payload);
        const innerOf = (m: CoapMessage): string[] => m.options.filter((o) => o.number !== OPTION.URI_HOST).map((o) => `${o.number}:${o.value.toString('hex')}`).sort();
        assert.deepEqual(innerOf(result.message), innerOf(original), 'only unprotected outer fields may differ');
      } catch (e) {
        if (e instanceof assert.AssertionError) throw e;
        assert.ok(e instanceof OscoreError, `non-OscoreError thrown: ${String(e)}`);
      }
    }
  }
  assert.ok(accepted <= 40, 'each original verifies at most once');
});

test('random datagrams and random OSCORE messages never verify and throw only OscoreError', () => {
  const server = makeServer();
  const client = makeClient();
  const exchange = client.protectRequest(msg(CODE.GET)).exchange;
  let attempts = 0;
  for (let i = 0; i < 3000; i++) {
    const datagram = bytes(int(80));
    if (i % 3 === 0 && datagram.length > 0) datagram[0] = 0x40 | (datagram[0] & 0x3f); // valid version more often
    assert.equal(verifyDatagramAsRequest(server, datagram), 'rejected');
    assert.equal(attempt(() => client.verifyResponse(decodeUdpFrame(datagram).message, exchange)), 'rejected');
    attempts += 2;
  }
  for (let i = 0; i < 2000; i++) {
    // Well-formed framing, plausible header (sometimes the right kid), random ciphertext.
    const value = i % 2 === 0 ? Buffer.concat([Buffer.of(0x09), bytes(1), Buffer.from('c1', 'hex')]) : bytes(int(12));
    const message = msg(CODE.POST, [opt(OPTION.OSCORE, value)], bytes(int(40)));
    assert.equal(attempt(() => server.verifyRequest(message)), 'rejected');
    assert.equal(attempt(() => client.verifyResponse(message, exchange)), 'rejected');
    attempts += 2;
  }
  assert.ok(attempts >= 10_000);
});
