import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CODE, echoChallenge, FileSequenceStorage, findOption, MemorySequenceStorage, OPTION, OscoreError, type SecurityContext } from '../../lib/oscore';
import { makeClient, makeServer, msg, opt } from '../support/oscore-pair';

function kindOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof OscoreError);
    return e.kind;
  }
  return 'no error';
}

/** Client asks; returns the server's verification result and what the client makes of the answer. */
function challengeRound(client: SecurityContext, server: SecurityContext, extra: ReturnType<typeof opt>[] = []) {
  const sent = client.protectRequest(msg(CODE.PUT, [opt(OPTION.URI_PATH, 'valve'), ...extra], 'open'));
  const result = server.verifyRequest(sent.message);
  return { sent, result };
}

test('after a restart the first request gets a protected 4.01 with Echo; a request repeating it resynchronises (B.1.2)', () => {
  const client = makeClient();
  const server = makeServer({ serverStorage: new MemorySequenceStorage(2048) }); // ran before: window lost
  assert.equal(server.resync.isSynchronised, false);

  const first = challengeRound(client, server);
  assert.equal(first.result.status, 'echo-required');
  assert.ok(first.result.status === 'echo-required');
  const answer = client.verifyResponse(first.result.response, first.sent.exchange);
  assert.equal(answer.message.code, CODE.UNAUTHORIZED);
  assert.equal(answer.sequenceNumber, 2048, 'the challenge carries the server Partial IV, from past the stored ceiling');
  assert.equal(answer.message.payload.length, 0, 'no diagnostic payload');
  assert.deepEqual(answer.message.options.map((o) => o.number), [OPTION.ECHO], 'only the Echo option');
  const echo = echoChallenge(answer.message);
  assert.equal(echo?.length, 8);

  const second = challengeRound(client, server, [opt(OPTION.ECHO, echo as Buffer)]);
  assert.equal(second.result.status, 'verified');
  assert.ok(second.result.status === 'verified');
  assert.equal(findOption(second.result.message.options, OPTION.ECHO), undefined, 'consumed Echo is not passed on');
  assert.equal(second.result.message.payload.toString(), 'open');
  assert.equal(server.resync.isSynchronised, true);
  assert.equal(kindOf(() => server.verifyRequest(second.sent.message)), 'replay', 'request #2 cannot be replayed');
  assert.equal(kindOf(() => server.verifyRequest(first.sent.message)), 'replay', 'older requests are below the lower limit');
  assert.equal(challengeRound(client, server).result.status, 'verified', 'normal operation resumes');
});

test('before resynchronisation replays, unknown Echo values and expired ones only get new challenges', () => {
  let now = 1_000_000;
  const client = makeClient();
  const server = makeServer({ serverStorage: new MemorySequenceStorage(10), now: () => now });
  const old = client.protectRequest(msg(CODE.POST, [], 'captured before restart'));
  for (let i = 0; i < 3; i++) assert.equal(server.verifyRequest(old.message).status, 'echo-required', 'a replay is never processed');

  const wrong = challengeRound(client, server, [opt(OPTION.ECHO, Buffer.alloc(8, 7))]);
  assert.equal(wrong.result.status, 'echo-required');

  const first = challengeRound(client, server);
  assert.ok(first.result.status === 'echo-required');
  const echo = echoChallenge(client.verifyResponse(first.result.response, first.sent.exchange).message) as Buffer;
  now += 60_001; // past the default lifetime of 60 s
  assert.equal(challengeRound(client, server, [opt(OPTION.ECHO, echo)]).result.status, 'echo-required');
});

test('Echo values are only trusted inside the ciphertext: an outer Echo is discarded', () => {
  const client = makeClient();
  const server = makeServer({ serverStorage: new MemorySequenceStorage(10) });
  const first = challengeRound(client, server);
  assert.ok(first.result.status === 'echo-required');
  const echo = echoChallenge(client.verifyResponse(first.result.response, first.sent.exchange).message) as Buffer;
  const sent = client.protectRequest(msg(CODE.GET));
  const withOuterEcho = { ...sent.message, options: [...sent.message.options, opt(OPTION.ECHO, echo)] };
  assert.equal(server.verifyRequest(withOuterEcho).status, 'echo-required');
});

test('with a file store: first start accepts requests at once; after a restart Echo is needed', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'oscore-echo-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'server.json');
  const client = makeClient();
  const first = makeServer({ serverStorage: new FileSequenceStorage(path) });
  assert.equal(first.resync.isSynchronised, true);
  const req = challengeRound(client, first);
  assert.ok(req.result.status === 'verified');
  first.protectResponse(msg(CODE.CHANGED, [opt(OPTION.OBSERVE, [1])]), req.result.exchange); // uses a server sequence number
  const restarted = makeServer({ serverStorage: new FileSequenceStorage(path) });
  assert.equal(restarted.resync.isSynchronised, false);
  assert.ok(restarted.sequence.peek() >= 1, 'sender sequence skipped ahead');
  assert.equal(restarted.verifyRequest(req.sent.message).status, 'echo-required', 'the pre-restart request is not accepted again');
});
