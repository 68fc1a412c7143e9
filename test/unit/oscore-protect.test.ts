import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CODE,
  ContextRegistry,
  decodeOscoreOption,
  errorResponse,
  findOption,
  MemorySequenceStorage,
  OPTION,
  OscoreError,
  SecurityContext,
  splitProxyUri,
  type CoapMessage,
} from '../../lib/oscore';
import { CLIENT_ID, SALT, SECRET, makeClient, makeServer, msg, opt, optionPairs } from '../support/oscore-pair';

const hex = (s: string): string => Buffer.from(s).toString('hex');

function kindOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof OscoreError, `not an OscoreError: ${String(e)}`);
    return e.kind;
  }
  return 'no error';
}

test('request: Class E options are encrypted, Class U stay outer, outer code POST', () => {
  const client = makeClient();
  const request = msg(CODE.GET, [
    opt(OPTION.URI_HOST, 'device.local'),
    opt(OPTION.URI_PORT, [0x16, 0x33]),
    opt(OPTION.PROXY_SCHEME, 'coap'),
    opt(OPTION.URI_PATH, 'lamp'),
    opt(OPTION.URI_QUERY, 'on'),
    opt(OPTION.ACCEPT, [50]),
    opt(OPTION.ETAG, [1, 2]),
    opt(OPTION.BLOCK2, [0x02]),
    opt(OPTION.ECHO, [9, 9]),
    opt(OPTION.NO_RESPONSE, [26]),
    opt(2048, 'unknown option'),
  ]);
  const { message } = client.protectRequest(request);
  assert.equal(message.code, CODE.POST);
  assert.deepEqual(message.options.map((o) => o.number), [OPTION.URI_HOST, OPTION.URI_PORT, OPTION.OSCORE, OPTION.PROXY_SCHEME]);
  assert.ok(!message.payload.includes(Buffer.from('lamp')), 'Uri-Path not visible');

  const verified = makeServer().verifyRequest(message);
  assert.equal(verified.status, 'verified');
  assert.equal(verified.message.code, CODE.GET);
  const sorted = [...request.options].sort((a, b) => a.number - b.number);
  assert.deepEqual(optionPairs(verified.message), sorted.map((o) => [o.number, o.value.toString('hex')]));
});

test('request: Proxy-Uri is split into outer scheme://authority and inner Uri-Path / Uri-Query (§4.1.3.3)', () => {
  const split = splitProxyUri('coap://example.com/resource?q=1');
  assert.equal(split.outer.value.toString(), 'coap://example.com');
  assert.deepEqual(split.inner.map((o) => [o.number, o.value.toString()]), [[OPTION.URI_PATH, 'resource'], [OPTION.URI_QUERY, 'q=1']]);
  const deep = splitProxyUri('coap://[::1]:5684/a/b%20c/?x=%C3%A9&y');
  assert.equal(deep.outer.value.toString(), 'coap://[::1]:5684');
  assert.deepEqual(deep.inner.map((o) => o.value.toString()), ['a', 'b c', '', 'x=é', 'y']);
  assert.equal(splitProxyUri('coap://h/').inner.length, 0);
  for (const bad of ['/relative', 'coap://h/#frag', 'coap://h/%zz']) assert.equal(kindOf(() => splitProxyUri(bad)), 'invalid-argument', bad);

  const client = makeClient();
  const { message } = client.protectRequest(msg(CODE.GET, [opt(OPTION.PROXY_URI, 'coap://example.com/resource?q=1')]));
  assert.deepEqual(optionPairs(message).filter(([n]) => n !== OPTION.OSCORE), [[OPTION.PROXY_URI, hex('coap://example.com')]]);
  const verified = makeServer().verifyRequest(message);
  assert.ok(verified.status === 'verified');
  assert.deepEqual(optionPairs(verified.message), [[OPTION.URI_PATH, hex('resource')], [OPTION.URI_QUERY, hex('q=1')], [OPTION.PROXY_URI, hex('coap://example.com')]]);
  assert.equal(kindOf(() => client.protectRequest(msg(CODE.GET, [opt(OPTION.PROXY_URI, 'coap://h/x'), opt(OPTION.URI_PATH, 'y')]))), 'invalid-argument');
});

test('nested OSCORE is refused on protect (§4.1.3.7) and an inner OSCORE option is malformed', () => {
  const client = makeClient();
  assert.equal(kindOf(() => client.protectRequest(msg(CODE.GET, [opt(OPTION.OSCORE, [])]))), 'invalid-argument');
});

test('Observe: request keeps the value inner and outer with outer FETCH; notification inner empty, outer 2.05', () => {
  const client = makeClient();
  const server = makeServer();
  const { message, exchange } = client.protectRequest(msg(CODE.GET, [opt(OPTION.OBSERVE, []), opt(OPTION.URI_PATH, 'temp')]));
  assert.equal(message.code, CODE.FETCH);
  assert.deepEqual(findOption(message.options, OPTION.OBSERVE)?.value, Buffer.alloc(0));
  assert.equal(exchange.observe, true);
  const verified = server.verifyRequest(message);
  assert.ok(verified.status === 'verified');
  assert.equal(verified.exchange.observe, true);
  const note = server.protectResponse(msg(CODE.CONTENT, [opt(OPTION.OBSERVE, [0x07]), opt(OPTION.CONTENT_FORMAT, [])], '21.5'), verified.exchange);
  assert.equal(note.code, CODE.CONTENT);
  assert.deepEqual(findOption(note.options, OPTION.OBSERVE)?.value, Buffer.from([0x07]), 'outer Observe for intermediaries');
  assert.ok(decodeOscoreOption(findOption(note.options, OPTION.OSCORE)?.value ?? Buffer.alloc(0)).partialIv, 'own Partial IV');
  const received = client.verifyResponse(note, exchange);
  assert.equal(received.sequenceNumber, 0);
  assert.equal(received.message.payload.toString(), '21.5');
});

test('a response to a non-Observe request must not carry an inner Observe (§4.1.3.5.2)', () => {
  const client = makeClient();
  const server = makeServer();
  const { message, exchange } = client.protectRequest(msg(CODE.GET, [opt(OPTION.URI_PATH, 'x')]));
  const verified = server.verifyRequest(message);
  assert.ok(verified.status === 'verified');
  const note = server.protectResponse(msg(CODE.CONTENT, [opt(OPTION.OBSERVE, [1])], 'x'), verified.exchange);
  assert.equal(kindOf(() => client.verifyResponse(note, exchange)), 'unexpected-response');
});

test('a second response to one request never reuses the request nonce', () => {
  const client = makeClient();
  const server = makeServer();
  const { message } = client.protectRequest(msg(CODE.GET));
  const verified = server.verifyRequest(message);
  assert.ok(verified.status === 'verified');
  const first = server.protectResponse(msg(CODE.CONTENT, [], 'a'), verified.exchange);
  const second = server.protectResponse(msg(CODE.CONTENT, [], 'a'), verified.exchange);
  assert.equal(findOption(first.options, OPTION.OSCORE)?.value.length, 0);
  assert.ok(decodeOscoreOption(findOption(second.options, OPTION.OSCORE)?.value ?? Buffer.alloc(0)).partialIv);
  assert.notDeepEqual(first.payload, second.payload);
});

test('client accepts a single response per non-Observe request; tampering and swaps fail', () => {
  const client = makeClient();
  const server = makeServer();
  const a = client.protectRequest(msg(CODE.GET, [opt(OPTION.URI_PATH, 'a')]));
  const b = client.protectRequest(msg(CODE.GET, [opt(OPTION.URI_PATH, 'b')]));
  const va = server.verifyRequest(a.message);
  const vb = server.verifyRequest(b.message);
  assert.ok(va.status === 'verified' && vb.status === 'verified');
  const ra = server.protectResponse(msg(CODE.CONTENT, [], 'A'), va.exchange);
  const rb = server.protectResponse(msg(CODE.CONTENT, [], 'B'), vb.exchange);
  assert.equal(kindOf(() => client.verifyResponse(rb, a.exchange)), 'decryption-failed', 'response bound to its request');
  assert.equal(client.verifyResponse(ra, a.exchange).message.payload.toString(), 'A');
  assert.equal(kindOf(() => client.verifyResponse(ra, a.exchange)), 'replay');
  assert.equal(client.verifyResponse(rb, b.exchange).message.payload.toString(), 'B');
});

test('server: replayed request, unknown kid, missing OSCORE option, no payload, wrong kid context', () => {
  const client = makeClient();
  const server = makeServer();
  const { message } = client.protectRequest(msg(CODE.POST, [], 'open'));
  assert.equal(server.verifyRequest(message).status, 'verified');
  assert.equal(kindOf(() => server.verifyRequest(message)), 'replay');
  assert.equal(kindOf(() => server.verifyRequest(msg(CODE.GET))), 'not-protected');
  assert.equal(kindOf(() => server.verifyRequest({ ...message, payload: Buffer.alloc(0) })), 'bad-option');
  const other = new SecurityContext({ masterSecret: SECRET, masterSalt: SALT, senderId: Buffer.from('77', 'hex'), recipientId: Buffer.from('5e', 'hex'), storage: new MemorySequenceStorage() });
  assert.equal(kindOf(() => server.verifyRequest(other.protectRequest(msg(CODE.GET)).message)), 'context-not-found');
  const withContext = makeClient({ idContext: Buffer.from('abcd', 'hex') });
  assert.equal(kindOf(() => server.verifyRequest(withContext.protectRequest(msg(CODE.GET)).message)), 'context-not-found');
  const noPiv: CoapMessage = { ...message, options: message.options.map((o) => (o.number === OPTION.OSCORE ? opt(OPTION.OSCORE, Buffer.concat([Buffer.of(0x08), CLIENT_ID])) : o)) };
  assert.equal(kindOf(() => server.verifyRequest(noPiv)), 'bad-option');
});

test('registry: picks the context by kid and kid context, 4.01 when none', () => {
  const registry = new ContextRegistry();
  const ctxA = Buffer.from('aa', 'hex');
  const ctxB = Buffer.from('bb', 'hex');
  registry.add(makeServer({ idContext: ctxA }));
  registry.add(makeServer({ idContext: ctxB }));
  assert.throws(() => registry.add(makeServer({ idContext: ctxA })), OscoreError);
  const fromB = makeClient({ idContext: ctxB }).protectRequest(msg(CODE.GET, [], 'b'));
  const result = registry.verifyRequest(fromB.message);
  assert.ok(result.status === 'verified');
  assert.deepEqual(result.context.idContext, ctxB);
  const stranger = makeClient({ idContext: Buffer.from('cc', 'hex') }).protectRequest(msg(CODE.GET));
  assert.equal(kindOf(() => registry.verifyRequest(stranger.message)), 'context-not-found');
  // Without 'kid context' on the wire, each candidate with that kid is tried (§3.3).
  const quiet = new SecurityContext({ masterSecret: SECRET, masterSalt: SALT, senderId: CLIENT_ID, recipientId: Buffer.from('5e', 'hex'), idContext: ctxB, sendKidContext: false, storage: new MemorySequenceStorage(100) });
  const found = registry.verifyRequest(quiet.protectRequest(msg(CODE.GET)).message);
  assert.deepEqual(found.context.idContext, ctxB);
});

test('errors map to the RFC 8613 §8.2 / §7.4 codes and diagnostics, sent with Outer Max-Age 0', () => {
  const cases: [OscoreError['kind'], string | undefined, string | undefined][] = [
    ['bad-option', '4.02', 'Failed to decode COSE'],
    ['context-not-found', '4.01', 'Security context not found'],
    ['decryption-failed', '4.00', 'Decryption failed'],
    ['replay', '4.01', 'Replay detected'],
    ['sequence-exhausted', undefined, undefined],
  ];
  for (const [kind, code, diagnostic] of cases) {
    const error = new OscoreError(kind, 'x');
    assert.equal(error.responseCode, code);
    assert.equal(error.diagnostic, diagnostic);
    const response = errorResponse(error);
    if (!code) {
      assert.equal(response, undefined);
      continue;
    }
    assert.ok(response);
    assert.equal(`${response.code >> 5}.${String(response.code & 31).padStart(2, '0')}`, code);
    assert.deepEqual(optionPairs(response), [[OPTION.MAX_AGE, '']]);
    assert.equal(response.payload.toString(), diagnostic);
  }
});

test('configuration errors: IDs too long, equal IDs, unknown algorithm, empty secret', () => {
  const base = { masterSecret: SECRET, senderId: Buffer.from('01', 'hex'), recipientId: Buffer.from('02', 'hex'), storage: new MemorySequenceStorage() };
  assert.equal(kindOf(() => new SecurityContext({ ...base, senderId: Buffer.alloc(8) })), 'invalid-argument');
  assert.equal(kindOf(() => new SecurityContext({ ...base, recipientId: base.senderId })), 'invalid-argument');
  assert.equal(kindOf(() => new SecurityContext({ ...base, alg: 11 as 10 })), 'invalid-argument');
  assert.equal(kindOf(() => new SecurityContext({ ...base, masterSecret: Buffer.alloc(0) })), 'invalid-argument');
  assert.ok(new SecurityContext({ ...base, senderId: Buffer.alloc(7, 1) }));
});
