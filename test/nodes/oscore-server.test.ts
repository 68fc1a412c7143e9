/**
 * coap-in with an oscore-context (the gateway as OSCORE server, RFC 8613 §8.2-8.3): a raw-UDP
 * client with lib/oscore talks to a real flow; errors, replays and a redeploy with persisted state.
 */
import { test, describe, afterEach, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FlowNode } from 'node-red-node-test-helper';
import { helper, packageNode, coreNode, endpointPort, collect, waitForStatus } from '../support/flow-runtime';
import { SECRET, SALT, makeClient, msg, opt } from '../support/oscore-pair';
import { UdpPeer, protectedCall } from '../support/oscore-udp';
import { CODE, OPTION, MemorySequenceStorage, SecurityContext, decodeOscoreOption, echoChallenge, findOption } from '../../lib/oscore';

const nodes = [packageNode('coap-endpoint'), packageNode('oscore-context'), packageNode('coap-in'), packageNode('coap-response'), coreNode('function/10-function')];
const GET = CODE.GET;
const text = (b: Buffer): string => b.toString('utf8');

let dir = '';
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'oscore-server-'));
});
after(async () => {
  rmSync(dir, { recursive: true, force: true });
  await helper.stopServer?.();
});

function flow(inExtra: Record<string, unknown> = {}, stateFile = join(dir, 'server.seq')): FlowNode[] {
  return [
    { id: 'tab', type: 'tab' },
    { id: 'ep', type: 'coap-endpoint', address: '127.0.0.1', port: 0, family: 'udp4' },
    { id: 'ctx', type: 'oscore-context', name: 'lamp-client', senderId: '5e', recipientId: 'c1', idContext: '', alg: '10', replayWindow: '32', stateFile },
    { id: 'ctx2', type: 'oscore-context', name: 'second-client', senderId: '5e', recipientId: 'c2', alg: '30', stateFile: `${stateFile}.2` },
    { id: 'in', type: 'coap-in', z: 'tab', endpoint: 'ep', method: 'ANY', url: '/lamp', oscore: 'ctx', requireOscore: true, wires: [['f', 'seen']], ...inExtra },
    { id: 'f', type: 'function', z: 'tab', func: 'msg.payload = "lamp is " + (msg.payload && msg.payload.length ? msg.payload : "off"); msg.contentFormat = "text/plain"; return msg;', outputs: 1, wires: [['res']] },
    { id: 'res', type: 'coap-response', z: 'tab', code: '', contentFormat: '', maxAge: '', wires: [] },
    { id: 'seen', type: 'helper', z: 'tab' },
  ];
}

const credentials = {
  ctx: { masterSecret: SECRET.toString('hex'), masterSalt: SALT.toString('hex') },
  ctx2: { masterSecret: '00112233445566778899aabbccddeeff' },
};

async function load(inExtra: Record<string, unknown> = {}, stateFile?: string): Promise<{ port: number; seen: unknown[] }> {
  await helper.load(nodes, flow(inExtra, stateFile), credentials);
  const port = await endpointPort('ep');
  await waitForStatus(helper.getNode('in'), (s) => s.fill === 'green');
  return { port, seen: collect('seen') };
}

describe('coap-in with an oscore-context', () => {
  const peers: UdpPeer[] = [];
  const newPeer = (): UdpPeer => {
    const p = new UdpPeer();
    peers.push(p);
    return p;
  };
  afterEach(async () => {
    for (const p of peers.splice(0)) p.close();
    await helper.unload();
  });

  test('a protected request reaches the flow decrypted; the answer is protected with the same context', async () => {
    const peer = newPeer();
    const { port, seen } = await load({}, join(dir, 'a.seq'));
    const client = makeClient();
    const { answer, exchange, datagram } = await protectedCall(peer, port, client, msg(CODE.POST, [opt(OPTION.URI_PATH, 'lamp'), opt(OPTION.CONTENT_FORMAT, [])], 'on'));
    // The gateway's socket saw neither the path nor the payload in clear.
    assert.equal(datagram.includes(Buffer.from('lamp')), false);
    assert.equal(answer.message.code, CODE.CHANGED, 'outer code of a protected response');
    assert.ok(findOption(answer.message.options, OPTION.OSCORE));
    assert.equal(answer.message.payload.includes(Buffer.from('lamp is on')), false);
    const inner = client.verifyResponse(answer.message, exchange).message;
    assert.equal(inner.code, CODE.CONTENT);
    assert.equal(text(inner.payload), 'lamp is on');
    assert.equal([...(findOption(inner.options, OPTION.CONTENT_FORMAT)?.value ?? [9])].reduce((n, b) => n * 256 + b, 0), 0); // text/plain
    const m = seen[0] as { payload: string; topic: string; oscore: { context: string; kid: string }; coap: { method: string } };
    assert.equal(m.payload, 'on');
    assert.equal(m.topic, '/lamp');
    assert.equal(m.coap.method, 'POST');
    assert.deepEqual(m.oscore, { context: 'lamp-client', kid: 'c1' });
  });

  test('unprotected, unknown context, wrong key, bad option: unprotected §8.2 errors; the flow sees none', async () => {
    const peer = newPeer();
    const { port, seen } = await load({}, join(dir, 'b.seq'));
    const plain = await peer.exchange(port, peer.frame(msg(GET, [opt(OPTION.URI_PATH, 'lamp')])));
    assert.equal(plain.message.code, 0x81);
    assert.equal(text(plain.message.payload), 'OSCORE required');

    const stranger = new SecurityContext({ masterSecret: SECRET, masterSalt: SALT, senderId: Buffer.from('77', 'hex'), recipientId: Buffer.from('5e', 'hex'), storage: new MemorySequenceStorage() });
    const unknown = await protectedCall(peer, port, stranger, msg(GET, [opt(OPTION.URI_PATH, 'lamp')]));
    assert.equal(unknown.answer.message.code, 0x81);
    assert.equal(text(unknown.answer.message.payload), 'Security context not found');

    const wrongKey = new SecurityContext({ masterSecret: Buffer.alloc(16, 9), masterSalt: SALT, senderId: Buffer.from('c1', 'hex'), recipientId: Buffer.from('5e', 'hex'), storage: new MemorySequenceStorage() });
    const forged = await protectedCall(peer, port, wrongKey, msg(GET, [opt(OPTION.URI_PATH, 'lamp')]));
    assert.equal(forged.answer.message.code, 0x80);
    assert.equal(text(forged.answer.message.payload), 'Decryption failed');
    assert.equal(findOption(forged.answer.message.options, OPTION.OSCORE), undefined, 'error answers are not protected');

    // Flag bits 5-7 are reserved (§6.1): a value with them set cannot be decoded.
    const bad = await peer.exchange(port, peer.frame(msg(CODE.POST, [opt(OPTION.OSCORE, [0xe9, 0x01, 0xc1])], Buffer.alloc(12, 1))));
    assert.equal(bad.message.code, 0x82);
    assert.equal(text(bad.message.payload), 'Failed to decode COSE');
    assert.equal(seen.length, 0);
    await waitForStatus(helper.getNode('in'), (s) => String(s.text).startsWith('4.02'));
  });

  test('a replayed request datagram gets 4.01 Replay detected and reaches the flow once', async () => {
    const peer = newPeer();
    const { port, seen } = await load({}, join(dir, 'c.seq'));
    const client = makeClient();
    const first = await protectedCall(peer, port, client, msg(CODE.POST, [opt(OPTION.URI_PATH, 'lamp')], 'on'));
    assert.equal(first.answer.message.code, CODE.CHANGED);
    // The attacker resends the captured datagram from another address/port (same port would hit
    // node-coap's retransmission cache, which answers with the cached response, not a new one).
    const replay = await newPeer().exchange(port, first.datagram);
    assert.equal(replay.message.code, 0x81);
    assert.equal(text(replay.message.payload), 'Replay detected');
    assert.equal(seen.length, 1);
  });

  test('more clients: each with its own context (and algorithm), told apart by msg.oscore', async () => {
    const peer = newPeer();
    const { port, seen } = await load({ oscoreMore: ['ctx2'] }, join(dir, 'g.seq'));
    const second = new SecurityContext({ masterSecret: Buffer.from('00112233445566778899aabbccddeeff', 'hex'), senderId: Buffer.from('c2', 'hex'), recipientId: Buffer.from('5e', 'hex'), alg: 30, storage: new MemorySequenceStorage() });
    for (const client of [makeClient(), second]) {
      const { answer, exchange } = await protectedCall(peer, port, client, msg(CODE.POST, [opt(OPTION.URI_PATH, 'lamp')], 'on'));
      assert.equal(client.verifyResponse(answer.message, exchange).message.payload.toString(), 'lamp is on');
    }
    assert.deepEqual(seen.map((m) => (m as { oscore: unknown }).oscore), [
      { context: 'lamp-client', kid: 'c1' },
      { context: 'second-client', kid: 'c2' },
    ]);
  });

  test('a resource without "require OSCORE" serves both; msg.oscore tells them apart', async () => {
    const peer = newPeer();
    const { port, seen } = await load({ requireOscore: false }, join(dir, 'd.seq'));
    const plain = await peer.exchange(port, peer.frame(msg(GET, [opt(OPTION.URI_PATH, 'lamp')])));
    assert.equal(plain.message.code, CODE.CONTENT);
    assert.equal(text(plain.message.payload), 'lamp is off');
    const client = makeClient();
    const { answer, exchange } = await protectedCall(peer, port, client, msg(GET, [opt(OPTION.URI_PATH, 'lamp')]));
    assert.equal(text(client.verifyResponse(answer.message, exchange).message.payload), 'lamp is off');
    assert.equal((seen[0] as { oscore?: unknown }).oscore, undefined);
    assert.deepEqual((seen[1] as { oscore?: unknown }).oscore, { context: 'lamp-client', kid: 'c1' });
    // An unknown inner path is a protected 4.04.
    const missing = await protectedCall(peer, port, client, msg(GET, [opt(OPTION.URI_PATH, 'nothing')]));
    assert.equal(client.verifyResponse(missing.answer.message, missing.exchange).message.code, 0x84);
  });

  test('after a redeploy: the server resumes above its reserved sequence numbers and resyncs its replay window with Echo', async () => {
    const peer = newPeer();
    const stateFile = join(dir, 'restart.seq');
    const client = makeClient();
    let { port, seen } = await load({}, stateFile);
    const before = await protectedCall(peer, port, client, msg(CODE.POST, [opt(OPTION.URI_PATH, 'lamp')], 'on'));
    assert.equal(client.verifyResponse(before.answer.message, before.exchange).message.code, CODE.CONTENT);
    assert.equal(seen.length, 1);
    await helper.unload();

    ({ port, seen } = await load({}, stateFile));
    // The request captured before the restart, replayed: the new replay window cannot know it, so
    // the server does not serve it but challenges (Appendix B.1.2).
    const replay = await peer.exchange(port, before.datagram);
    assert.equal(replay.message.code, CODE.CHANGED, 'a protected challenge');
    assert.equal(seen.length, 0);

    const first = await protectedCall(peer, port, client, msg(CODE.POST, [opt(OPTION.URI_PATH, 'lamp')], 'on'));
    const challenge = client.verifyResponse(first.answer.message, first.exchange);
    const echo = echoChallenge(challenge.message);
    assert.ok(echo, 'the first request after the restart is answered 4.01 with Echo');
    // The challenge carries the server's own Partial IV (B.1.2): a number from its persisted sequence.
    const pivOf = (m: { options: { number: number; value: Buffer }[] }): number => {
      const piv = decodeOscoreOption(findOption(m.options, OPTION.OSCORE)!.value).partialIv ?? Buffer.alloc(0);
      return [...piv].reduce((n, b) => n * 256 + b, 0);
    };
    const firstPiv = pivOf(first.answer.message);
    await waitForStatus(helper.getNode('in'), (s) => String(s.text).includes('Echo'));

    const retry = await protectedCall(peer, port, client, msg(CODE.POST, [opt(OPTION.URI_PATH, 'lamp'), opt(OPTION.ECHO, echo)], 'on'));
    const served = client.verifyResponse(retry.answer.message, retry.exchange).message;
    assert.equal(served.code, CODE.CONTENT);
    assert.equal(text(served.payload), 'lamp is on');
    assert.equal(seen.length, 1, 'only the request with the Echo value reached the flow');
    // And the old datagram is now outside or inside a synchronised window: never served.
    const again = await newPeer().exchange(port, before.datagram);
    assert.equal(again.message.code, 0x81);
    assert.equal(text(again.message.payload), 'Replay detected');
    assert.equal(seen.length, 1);

    // One more redeploy: the next challenge's Partial IV is above everything reserved before, so no
    // nonce of the server is ever used twice (Appendix B.1.1).
    await helper.unload();
    ({ port, seen } = await load({}, stateFile));
    const third = await protectedCall(peer, port, client, msg(CODE.POST, [opt(OPTION.URI_PATH, 'lamp')], 'on'));
    assert.ok(echoChallenge(client.verifyResponse(third.answer.message, third.exchange).message));
    // Before: numbers 0 and 1 used, 0..1023 reserved on disk; now it resumes at the reservation.
    assert.ok(firstPiv < 1024 && pivOf(third.answer.message) >= 1024, `${pivOf(third.answer.message)} after ${firstPiv}`);
    assert.equal(seen.length, 0);
  });

  test('bad hex or a missing Master Secret keeps coap-in from serving, with a clear status', async () => {
    await helper.load(nodes, flow({}, join(dir, 'e.seq')).map((n) => (n.id === 'ctx' ? { ...n, senderId: 'zz' } : n)), credentials);
    await waitForStatus(helper.getNode('in'), (s) => s.fill === 'red' && String(s.text).includes('Sender ID is not hex'));
    await helper.unload();
    await helper.load(nodes, flow({}, join(dir, 'f.seq')), {});
    await waitForStatus(helper.getNode('in'), (s) => s.fill === 'yellow' && String(s.text).includes('waits for its Master Secret'));
  });
});
