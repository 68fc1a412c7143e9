/**
 * coap-request observing a device's resource over OSCORE (RFC 8613 §4.1.3.5, §8.4.2): outer FETCH,
 * one message per verified notification, a replayed notification dropped, a protected
 * deregistration on msg.observe = false and on close. The device is
 * test/support/oscore-observe-server.ts (lib/oscore on raw UDP; see there why).
 */
import { test, describe, afterEach, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FlowNode } from 'node-red-node-test-helper';
import { helper, packageNode, coreNode, endpointPort, collect, waitForStatus } from '../support/flow-runtime';
import { coapCall } from '../support/coap-client';
import { SECRET, SALT, makeServer } from '../support/oscore-pair';
import { OscoreObserveServer } from '../support/oscore-observe-server';
import { CODE, MemorySequenceStorage, OPTION, SecurityContext, decodeOscoreOption, decodeUdpFrame, findOption } from '../../lib/oscore';

const nodes = [packageNode('coap-endpoint'), packageNode('oscore-context'), packageNode('coap-rd'), packageNode('coap-request'), coreNode('common/25-catch')];

let dir = '';
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'oscore-observe-'));
});
after(async () => {
  rmSync(dir, { recursive: true, force: true });
  await helper.stopServer?.();
});

function flow(file: string): FlowNode[] {
  return [
    { id: 'tab', type: 'tab' },
    { id: 'gw', type: 'coap-endpoint', address: '127.0.0.1', port: 0, family: 'udp4' },
    { id: 'rd', type: 'coap-rd', z: 'tab', endpoint: 'gw', persist: false, wires: [[]] },
    { id: 'cli', type: 'oscore-context', name: 'to-sensor', senderId: 'c1', recipientId: '5e', alg: '10', stateFile: join(dir, `${file}.seq`) },
    { id: 'req', type: 'coap-request', z: 'tab', rd: 'rd', method: 'GET', path: '/temp', target: 'sensor', targetType: 'endpoint', timeout: '2', oscore: 'cli', wires: [['out']] },
    { id: 'catcher', type: 'catch', z: 'tab', scope: null, uncaught: false, wires: [['errors']] },
    { id: 'out', type: 'helper', z: 'tab' },
    { id: 'errors', type: 'helper', z: 'tab' },
  ];
}

const secrets = { cli: { masterSecret: SECRET.toString('hex'), masterSalt: SALT.toString('hex') } };

async function eventually(what: string, condition: () => boolean, ms = 5000): Promise<void> {
  for (let i = 0; i < ms / 10 && !condition(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(condition(), what);
}

describe('coap-request observes over OSCORE', () => {
  let device: OscoreObserveServer | undefined;
  afterEach(async () => {
    await helper.unload();
    device?.close();
    device = undefined;
  });

  async function start(file: string, value: () => string, context: SecurityContext = makeServer()): Promise<{ server: OscoreObserveServer; out: Array<Record<string, unknown>>; errors: unknown[] }> {
    const server = new OscoreObserveServer(context, value);
    device = server;
    const devicePort = await server.listen();
    await helper.load(nodes, flow(file), secrets);
    const gwPort = await endpointPort('gw');
    const reg = await coapCall({ port: gwPort, method: 'POST', pathname: '/rd', query: `ep=sensor&base=coap://127.0.0.1:${devicePort}`, payload: '</temp>;obs', options: { 'Content-Format': 'application/link-format' } });
    assert.equal(reg.code, '2.01');
    return { server, out: collect('out') as Array<Record<string, unknown>>, errors: collect('errors') };
  }

  test('one message per verified notification; a replay with a raised outer Observe is dropped; msg.observe = false deregisters', async () => {
    let temperature = 20;
    const { server, out, errors } = await start('a', () => String(temperature));
    helper.getNode('req').receive({ observe: true });
    await eventually('registered and first value', () => out.length === 1);
    const registration = server.events.find((e) => e.kind === 'registered');
    assert.ok(registration, 'the device verified an inner registration');
    // The registration travelled as RFC 8613 §4.1.3.5 says: outer FETCH with Observe 0.
    const first = decodeUdpFrame(server.notifications[0] as Buffer);
    assert.equal(first.message.code, CODE.CONTENT, 'a notification is an outer 2.05');
    assert.ok(decodeOscoreOption(findOption(first.message.options, OPTION.OSCORE)!.value).partialIv, 'each notification carries its own Partial IV');

    for (const t of [21, 22]) {
      temperature = t;
      server.notify();
    }
    await eventually('two more notifications', () => out.length === 3);
    assert.deepEqual(out.map((m) => m.payload), ['20', '21', '22']);
    assert.ok(out.every((m) => m.statusCode === '2.05'));
    assert.deepEqual(out[0]?.oscore, { context: 'to-sensor' });
    const observes = out.map((m) => (m.coap as { observe?: number }).observe);
    assert.ok(observes.every((o) => typeof o === 'number'), 'msg.coap.observe on every notification');
    assert.ok((observes[0] as number) < (observes[1] as number) && (observes[1] as number) < (observes[2] as number), 'newer notifications, larger Observe');

    // An old notification again, with an outer Observe far above the last one: node-coap's
    // RFC 7641 ordering lets it through, the Partial IV check (§7.4.1) drops it.
    server.replay(server.notifications[1] as Buffer, 5000, server.remoteOf(registration.token)!);
    await waitForStatus(helper.getNode('req'), (s) => String(s.text).includes('dropped 1 (replay)'));
    temperature = 23;
    server.notify();
    await eventually('the next real notification', () => out.length === 4);
    assert.deepEqual(out.map((m) => m.payload), ['20', '21', '22', '23'], 'the replay never became a message');

    helper.getNode('req').receive({ observe: false });
    await eventually('deregistered', () => server.events.some((e) => e.kind === 'deregistered'));
    const deregistered = server.events.find((e) => e.kind === 'deregistered');
    assert.equal(deregistered?.token, registration.token, 'same Token as the registration (RFC 7641 §3.6)');
    assert.equal(server.observerCount, 0);
    assert.deepEqual(server.events.filter((e) => e.kind === 'refused'), [], 'the deregistration verified: a fresh Partial IV');
    assert.deepEqual(errors, []);
  });

  test('closing the node deregisters its OSCORE observation', async () => {
    const { server, out } = await start('b', () => 'on');
    helper.getNode('req').receive({ observe: true });
    await eventually('first value', () => out.length === 1);
    assert.equal(server.observerCount, 1);
    await helper.unload();
    await eventually('deregistered on close', () => server.events.some((e) => e.kind === 'deregistered'));
    assert.equal(server.observerCount, 0);
  });

  test('a notification that does not verify, or is not protected at all, is dropped; the observation goes on', async () => {
    let n = 0;
    const { server, out } = await start('c', () => `v${n++}`);
    helper.getNode('req').receive({ observe: true });
    await eventually('first value', () => out.length === 1);
    server.notify();
    await eventually('second value', () => out.length === 2);
    server.notify(true); // a newer Partial IV, but one bit of the tag changed
    await waitForStatus(helper.getNode('req'), (s) => String(s.text).includes('dropped 1 (decryption-failed)'));
    server.notifyUnprotected('forged');
    await waitForStatus(helper.getNode('req'), (s) => String(s.text).includes('dropped 2 (not-protected)'));
    server.notify();
    await eventually('third value', () => out.length === 3);
    assert.deepEqual(out.map((m) => m.payload), ['v0', 'v1', 'v3'], 'v2 was the forged one');
  });

  test('a device that restarted challenges the registration with Echo; coap-request registers again with it (RFC 8613 B.1.2)', async () => {
    // A stored sequence ceiling: this server context ran before and lost its replay window.
    const restarted = new SecurityContext({ masterSecret: SECRET, masterSalt: SALT, senderId: Buffer.from('5e', 'hex'), recipientId: Buffer.from('c1', 'hex'), storage: new MemorySequenceStorage(4096) });
    assert.equal(restarted.resync.isSynchronised, false);
    const { server, out, errors } = await start('d', () => 'fresh', restarted);
    helper.getNode('req').receive({ observe: true });
    await eventually('first value after the challenge', () => out.length === 1);
    assert.equal(out[0]?.payload, 'fresh');
    assert.equal(server.events.filter((e) => e.kind === 'registered').length, 1, 'the challenged registration was not one');
    server.notify();
    await eventually('a notification', () => out.length === 2);
    assert.equal(restarted.resync.isSynchronised, true, 'the Echo round trip resynchronised the replay window');
    assert.deepEqual(errors, []);
  });
});
