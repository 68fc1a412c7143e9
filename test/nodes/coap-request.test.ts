/**
 * The coap-request node against a real device: libcoap's coap-server-notls, registered in a real
 * coap-rd node over CoAP, reached by its endpoint name from a flow.
 */
import { test, describe, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FlowNode } from 'node-red-node-test-helper';
import { helper, packageNode, coreNode, endpointPort, collect } from '../support/flow-runtime';
import { startCoapServer } from '../support/peers';
import { freePort, freeUdpPort } from '../support/free-port';
import { coapCall } from '../support/coap-client';

const nodes = [packageNode('coap-endpoint'), packageNode('coap-rd'), packageNode('coap-proxy'), packageNode('coap-request'), coreNode('common/25-catch')];
const TIME = /[A-Z][a-z]{2} \d{2} \d{2}:\d{2}:\d{2}/;

interface OutMsg {
  payload: unknown;
  statusCode?: string;
  coap?: Record<string, unknown>;
  error?: { message: string };
}

function flow(request: Record<string, unknown> = {}): FlowNode[] {
  return [
    { id: 'tab', type: 'tab' },
    { id: 'ep', type: 'coap-endpoint', address: '127.0.0.1', port: 0, family: 'udp4' },
    // The request node comes first: it must find the directory even when coap-rd is created after it.
    { id: 'req', type: 'coap-request', z: 'tab', rd: 'rd', method: 'GET', path: '/time', target: 'clock', targetType: 'endpoint', timeout: '1', wires: [['out']], ...request },
    { id: 'rd', type: 'coap-rd', z: 'tab', endpoint: 'ep', persist: false, wires: [[]] },
    { id: 'proxy', type: 'coap-proxy', z: 'tab', endpoint: 'ep', rd: 'rd', groups: [{ name: 'clocks', members: ['clock', 'porch'] }] },
    { id: 'catcher', type: 'catch', z: 'tab', scope: null, uncaught: false, wires: [['errors']] },
    { id: 'out', type: 'helper', z: 'tab' },
    { id: 'errors', type: 'helper', z: 'tab' },
  ];
}

async function eventually(what: string, condition: () => boolean, ms = 5000): Promise<void> {
  for (let i = 0; i < ms / 10 && !condition(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(condition(), what);
}

describe('coap-request node', () => {
  let server: ChildProcess | undefined;
  let serverPort = 0;

  before(async () => {
    serverPort = await freeUdpPort();
    server = await startCoapServer(serverPort);
  });
  afterEach(() => helper.unload());
  after(async () => {
    server?.kill();
    await helper.stopServer?.();
  });

  async function load(request: Record<string, unknown> = {}): Promise<{ out: OutMsg[]; errors: OutMsg[] }> {
    await helper.load(nodes, flow(request));
    const port = await endpointPort('ep');
    // The device registers over CoAP, as a real one does (RFC 9176).
    const res = await coapCall({
      port,
      method: 'POST',
      pathname: '/rd',
      query: `ep=clock&base=coap://127.0.0.1:${serverPort}`,
      payload: '</time>;rt="clock";obs',
      options: { 'Content-Format': 'application/link-format' },
    });
    assert.equal(res.code, '2.01');
    return { out: collect('out') as OutMsg[], errors: collect('errors') as OutMsg[] };
  }

  test('GET /time and / from the registered endpoint; msg overrides the path', async () => {
    const { out } = await load();
    helper.getNode('req').receive({ payload: 1 });
    await eventually('an answer', () => out.length === 1);
    assert.equal(out[0]?.statusCode, '2.05');
    assert.match(String(out[0]?.payload), TIME);
    assert.equal(out[0]?.coap?.endpoint, 'clock');
    assert.equal(out[0]?.coap?.code, '2.05');
    helper.getNode('req').receive({ path: '/' });
    await eventually('a second answer', () => out.length === 2);
    assert.match(String(out[1]?.payload), /libcoap/);
    helper.getNode('req').receive({ path: '/nothing-here' });
    await eventually('a 4.04 is an answer, not an error', () => out.length === 3);
    assert.equal(out[2]?.statusCode, '4.04');
  });

  test('a group: all members at once, one message with a result per member', async () => {
    const { out } = await load();
    helper.getNode('req').receive({ group: 'clocks' });
    await eventually('the summary', () => out.length === 1);
    const results = out[0]?.payload as Array<Record<string, unknown>>;
    assert.equal(results.length, 2);
    assert.equal(results[0]?.endpoint, 'clock');
    assert.equal(results[0]?.statusCode, '2.05');
    assert.match(String(results[0]?.payload), TIME);
    assert.deepEqual(results[1], { endpoint: 'porch', statusCode: '4.04', error: 'not registered' });
    assert.equal(out[0]?.coap?.group, 'clocks');
    helper.getNode('req').receive({ group: ['clock'], path: '/' });
    await eventually('an ad hoc group', () => out.length === 2);
    assert.match(String((out[1]?.payload as Array<Record<string, unknown>>)[0]?.payload), /libcoap/);
  });

  test('observe: several notifications, then msg.observe=false stops them', async () => {
    const { out, errors } = await load();
    helper.getNode('req').receive({ observe: true });
    await eventually('three notifications', () => out.length >= 3, 8000);
    assert.ok(out.every((m) => m.statusCode === '2.05' && TIME.test(String(m.payload))));
    assert.equal(typeof out[1]?.coap?.observe, 'number');
    helper.getNode('req').receive({ observe: false });
    await new Promise((r) => setTimeout(r, 300));
    const stopped = out.length;
    await new Promise((r) => setTimeout(r, 2500));
    assert.equal(out.length, stopped, 'no notification after msg.observe=false');
    assert.equal(errors.length, 0);
  });

  test('closing the node during an observation is clean', async () => {
    const { out } = await load();
    helper.getNode('req').receive({ observe: true });
    await eventually('a notification', () => out.length >= 1);
    await helper.unload();
  });

  test('unknown endpoint, unknown group, no answer: catchable errors, no crash', async () => {
    const { out, errors } = await load();
    helper.getNode('req').receive({ endpoint: 'ghost' });
    await eventually('an error', () => errors.length === 1);
    assert.match(String(errors[0]?.error?.message), /unknown endpoint "ghost"/);
    helper.getNode('req').receive({ group: 'nobody' });
    await eventually('a second error', () => errors.length === 2);
    assert.match(String(errors[1]?.error?.message), /no group "nobody"/);
    helper.getNode('req').receive({ method: 'BREW' });
    await eventually('a third error', () => errors.length === 3);
    assert.match(String(errors[2]?.error?.message), /unknown method "BREW"/);

    // A registered endpoint whose base nobody answers at: 5.04 after the node's 1 s timeout.
    const silent = await freePort();
    const port = await endpointPort('ep');
    const res = await coapCall({ port, method: 'POST', pathname: '/rd', query: `ep=mute&base=coap://127.0.0.1:${silent}`, payload: '' });
    assert.equal(res.code, '2.01');
    helper.getNode('req').receive({ endpoint: 'mute' });
    await eventually('a timeout error', () => errors.length === 4, 6000);
    assert.match(String(errors[3]?.error?.message), /5\.0[24]/);
    assert.equal(out.length, 0);
  });

  test('the example flow: inject → coap-request → debug is wired to the directory', () => {
    const file = join(__dirname, '..', '..', 'examples', 'reverse proxy and groups.json');
    const example = JSON.parse(readFileSync(file, 'utf8')) as Array<Record<string, unknown>>;
    assert.equal(example[1]?.type, 'comment');
    const req = example.find((n) => n.type === 'coap-request');
    assert.ok(req, 'the example has a coap-request node');
    assert.equal(req.rd, example.find((n) => n.type === 'coap-rd')?.id);
    const inject = example.find((n) => n.type === 'inject');
    assert.deepEqual(inject?.wires, [[req.id]]);
  });
});
