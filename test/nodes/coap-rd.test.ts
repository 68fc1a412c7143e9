import { test, describe, afterEach, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, writeFileSync, mkdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FlowNode } from 'node-red-node-test-helper';
import { helper, packageNode, coreNode, waitForStatus, endpointPort, collect } from '../support/flow-runtime';
import { coapCall } from '../support/coap-client';
import type { CoapRdNode } from '../../nodes/coap-rd-node';

const nodes = [
  packageNode('coap-endpoint'),
  packageNode('coap-rd'),
  coreNode('common/25-catch'),
  coreNode('common/20-inject'),
  coreNode('common/21-debug'),
  coreNode('common/90-comment'),
];
// The helper merges these into RED.settings; its typings leave settings() out.
const settings = (s: Record<string, unknown>): void => (helper as unknown as { settings(s: Record<string, unknown>): void }).settings(s);

function flow(rd: Record<string, unknown> = {}): FlowNode[] {
  return [
    { id: 'tab', type: 'tab' },
    { id: 'ep', type: 'coap-endpoint', address: '127.0.0.1', port: 0, family: 'udp4' },
    { id: 'rd', type: 'coap-rd', z: 'tab', endpoint: 'ep', persist: true, wires: [['out']], ...rd },
    { id: 'out', type: 'helper', z: 'tab' },
    { id: 'catcher', type: 'catch', z: 'tab', scope: null, uncaught: false, wires: [['caught']] },
    { id: 'caught', type: 'helper', z: 'tab' },
  ];
}

async function waitFor<T>(list: T[], n: number): Promise<void> {
  for (let i = 0; i < 500 && list.length < n; i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(list.length >= n, `expected ${n} messages, got ${list.length}`);
}

type Msg = { topic: string; payload: { id: string; ep: string; links: unknown[] } & Record<string, unknown> };
const LF = { 'Content-Format': 'application/link-format' };

describe('coap-rd node', () => {
  let userDir = '';
  before(() => {
    userDir = mkdtempSync(join(tmpdir(), 'rd-node-'));
    settings({ userDir });
  });
  afterEach(() => helper.unload());

  test('a registration becomes a message, the status counts endpoints, the directory is on the node', async () => {
    await helper.load(nodes, flow());
    const out = collect('out') as Msg[];
    const port = await endpointPort('ep');
    await waitForStatus(helper.getNode('rd'), (s) => s.text === '0 endpoints');
    const res = await coapCall({ port, method: 'POST', pathname: '/rd', query: 'ep=node1&lt=120', payload: '</sensors/temp>;rt="temperature"', options: LF });
    assert.equal(res.code, '2.01');
    await waitFor(out, 1);
    assert.equal(out[0]?.topic, 'registered');
    assert.equal(out[0]?.payload.ep, 'node1');
    assert.deepEqual(out[0]?.payload.links, [{ href: '/sensors/temp', attributes: { rt: 'temperature' } }]);
    await waitForStatus(helper.getNode('rd'), (s) => s.text === '1 endpoint' && s.fill === 'green');
    const directory = (helper.getNode('rd') as unknown as CoapRdNode).directory;
    assert.equal(directory.endpoint('node1')?.id, out[0]?.payload.id);
    // A flow that edits the message cannot edit the directory.
    out[0]!.payload.ep = 'tampered';
    assert.equal(directory.endpoints()[0]?.ep, 'node1');

    await coapCall({ port, method: 'POST', pathname: `/rd/${out[0]!.payload.id}`, query: 'lt=300' });
    await waitFor(out, 2);
    assert.equal(out[1]?.topic, 'updated');
    await coapCall({ port, method: 'DELETE', pathname: `/rd/${out[0]!.payload.id}` });
    await waitFor(out, 3);
    assert.equal(out[2]?.topic, 'removed');
    await waitForStatus(helper.getNode('rd'), (s) => s.text === '0 endpoints');
  });

  test('commands: list, remove by ep; an unknown command is a catchable error', async () => {
    await helper.load(nodes, flow());
    const out = collect('out') as Array<{ topic: string; payload: unknown }>;
    const caught = collect('caught') as Array<{ error: { message: string } }>;
    const port = await endpointPort('ep');
    await coapCall({ port, method: 'POST', pathname: '/rd', query: 'ep=lamp' });
    await waitFor(out, 1);
    const rd = helper.getNode('rd');
    rd.receive({ topic: 'list' } as never);
    await waitFor(out, 2);
    assert.equal(out[1]?.topic, 'list');
    assert.deepEqual((out[1]?.payload as Array<{ ep: string }>).map((r) => r.ep), ['lamp']);
    rd.receive({ topic: 'remove', payload: 'lamp' } as never);
    await waitFor(out, 3);
    assert.equal(out[2]?.topic, 'removed');
    rd.receive({ topic: 'explode' } as never);
    rd.receive({ topic: 'remove', payload: 'nobody' } as never);
    await waitFor(caught, 2);
    assert.match(caught[0]!.error.message, /unknown command "explode"/);
    assert.match(caught[1]!.error.message, /no registration "nobody"/);
  });

  test('registrations survive an unload and load with the same user dir', async () => {
    await helper.load(nodes, flow({ id: 'rd' }));
    const port = await endpointPort('ep');
    assert.equal((await coapCall({ port, method: 'POST', pathname: '/rd', query: 'ep=keeper&lt=3600', payload: '</k>', options: LF })).code, '2.01');
    await helper.unload(); // close flushes the debounced save
    assert.ok(readdirSync(join(userDir, 'edge-gateway')).includes('rd-rd.json'));
    await helper.load(nodes, flow({ id: 'rd' }));
    await waitForStatus(helper.getNode('rd'), (s) => s.text === '1 endpoint');
    const port2 = await endpointPort('ep');
    const res = await coapCall({ port: port2, pathname: '/rd-lookup/res', query: 'ep=keeper' });
    assert.match(res.payload.toString(), /^<coap:\/\/127\.0\.0\.1:\d+\/k>;anchor=/);
  });

  test('a corrupt registration file is moved aside with a warning, and the node starts empty', async () => {
    const dir = join(userDir, 'edge-gateway');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'rd-bad.json'), '{"version":1,"registrations":[{');
    await helper.load(nodes, flow({ id: 'bad' }));
    await waitForStatus(helper.getNode('bad'), (s) => s.text === '0 endpoints');
    const warned = helper.getNode('bad').warn.getCalls().map((c) => String(c.args[0]));
    assert.ok(warned.some((w) => /unreadable.*moved to/.test(w)), warned.join('\n'));
    const aside = readdirSync(dir).filter((f) => f.startsWith('rd-bad.json.corrupt-'));
    assert.equal(aside.length, 1);
    assert.equal(readFileSync(join(dir, aside[0]!), 'utf8'), '{"version":1,"registrations":[{');
  });

  test('bad input is answered and logged once per kind; a nonsense setting is a red status, not a crash', async () => {
    await helper.load(nodes, [...flow(), { id: 'rd2', type: 'coap-rd', z: 'tab', endpoint: 'ep', maxLinks: 'lots', wires: [] }]);
    const port = await endpointPort('ep');
    for (let i = 0; i < 3; i++) assert.equal((await coapCall({ port, method: 'POST', pathname: '/rd', query: 'lt=5' })).code, '4.00');
    const warned = helper.getNode('rd').warn.getCalls().filter((c) => String(c.args[0]).includes('4.00'));
    assert.equal(warned.length, 1);
    await waitForStatus(helper.getNode('rd2'), (s) => s.fill === 'red' && String(s.text).includes('max links'));
  });

  test('the example flow registers and reports through its debug node', async () => {
    const example = JSON.parse(readFileSync(join(__dirname, '..', '..', 'examples', 'resource directory.json'), 'utf8')) as FlowNode[];
    assert.equal(example.find((n) => n.type !== 'tab')?.type, 'comment');
    // Loopback and a free port, so the test never meets a gateway already on 5683.
    await helper.load(nodes, example.map((n) => (n.type === 'coap-endpoint' ? { ...n, address: '127.0.0.1', port: 0 } : n)));
    const port = await endpointPort('rdx.endpoint');
    assert.equal((await coapCall({ port, method: 'POST', pathname: '/rd', query: 'ep=node1&lt=120', payload: '</sensors/temp>;rt="temperature"', options: LF })).code, '2.01');
    await waitForStatus(helper.getNode('rdx.debug'), (s) => s.text === 'registered');
    await waitForStatus(helper.getNode('rdx.rd'), (s) => s.text === '1 endpoint');
  });
});
