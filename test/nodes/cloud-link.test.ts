import { test, describe, afterEach, before, after } from 'node:test';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import type { FlowNode } from 'node-red-node-test-helper';
import { helper, packageNode, coreNode, waitForStatus, collect, endpointPort } from '../support/flow-runtime';
import { coapCall } from '../support/coap-client';
import { CoapEndpoint } from '../../lib/coap/endpoint';
import { ResourceDirectory } from '../../lib/coap/rd/registry';
import { RdService } from '../../lib/coap/rd/rd-service';

const nodes = [packageNode('coap-endpoint'), packageNode('coap-rd'), packageNode('cloud-link'), coreNode('common/24-complete')];

function flow(upstreamPort: number, cl: Record<string, unknown> = {}): FlowNode[] {
  return [
    { id: 'tab', type: 'tab' },
    { id: 'gwEp', type: 'coap-endpoint', address: '127.0.0.1', port: 0, family: 'udp4' },
    { id: 'gwRd', type: 'coap-rd', z: 'tab', endpoint: 'gwEp', persist: false, wires: [] },
    { id: 'cl', type: 'cloud-link', z: 'tab', upstream: `coap://127.0.0.1:${upstreamPort}`, discover: true, ep: 'gw-test', lifetime: 600, keepAlive: 0, endpoint: 'gwEp', rd: 'gwRd', wires: [['out']], ...cl },
    { id: 'out', type: 'helper', z: 'tab' },
    { id: 'completed', type: 'complete', z: 'tab', scope: ['cl'], uncaught: false, wires: [['done']] },
    { id: 'done', type: 'helper', z: 'tab' },
  ];
}

type Msg = { topic: string; payload: Record<string, unknown> };

async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(check(), what);
}

describe('cloud-link node', () => {
  let upstream: { port: number; rd: ResourceDirectory; close(): Promise<void> };
  before(async () => {
    const endpoint = new CoapEndpoint({ address: '127.0.0.1', port: 0 });
    const rd = new ResourceDirectory();
    const service = new RdService(endpoint, rd);
    service.start();
    const { port } = await endpoint.start();
    upstream = { port, rd, close: async () => { service.stop(); await endpoint.stop(); } };
  });
  after(() => upstream.close());
  afterEach(() => helper.unload());

  test('registers from the gateway endpoint port, lists local devices under /ep/, and DELETEs on close', async () => {
    await helper.load(nodes, flow(upstream.port));
    const gwPort = await endpointPort('gwEp');
    const cl = helper.getNode('cl');
    const out = collect('out') as Msg[];
    await waitForStatus(cl, (s) => String(s.text).startsWith('registered at'));
    const reg = upstream.rd.endpoint('gw-test');
    assert.ok(reg);
    assert.equal(reg.base, `coap://127.0.0.1:${gwPort}`, 'registered from the endpoint socket');
    assert.equal(reg.lt, 600);
    cl.receive({ payload: 'state?' });
    await until(() => out.some((m) => m.payload.location === `/rd/${reg.id}`), 'a registered message with the location');
    assert.equal(out.at(-1)?.topic, 'cloud-link/registered');

    // A device registers locally: the upstream learns its resources under the proxy's /ep/ prefix.
    const local = await coapCall({ port: gwPort, method: 'POST', pathname: '/rd', query: 'ep=lamp&lt=300', payload: '</light>;rt="light"', options: { 'Content-Format': 'application/link-format' } });
    assert.equal(local.code, '2.01');
    await until(() => upstream.rd.endpoint('gw-test')?.links.length === 1, 'the upstream got the device link');
    assert.deepEqual(upstream.rd.endpoint('gw-test')?.links, [{ href: '/ep/lamp/light', attributes: { rt: 'light' } }]);
    assert.equal(upstream.rd.endpoint('gw-test')?.id, reg.id, 'an update, not a new registration');

    await helper.unload();
    assert.equal(upstream.rd.endpoint('gw-test'), undefined, 'the registration was deleted on close');
  });

  test('input refreshes now; a registration the upstream forgot is made again', async () => {
    await helper.load(nodes, flow(upstream.port));
    const cl = helper.getNode('cl');
    const out = collect('out') as Msg[];
    const completed = collect('done');
    await waitForStatus(cl, (s) => String(s.text).startsWith('registered at'));
    const first = upstream.rd.endpoint('gw-test')!;
    upstream.rd.remove(first.id, 'expired');
    cl.receive({ payload: 'refresh' });
    await until(() => out.some((m) => m.payload.reason === 're-registered'), `a re-registered message in ${JSON.stringify(out)}`);
    const again = out.find((m) => m.payload.reason === 're-registered')!;
    assert.equal(again.payload.cause, 'forgotten');
    assert.ok(upstream.rd.endpoint('gw-test'));
    await until(() => completed.length === 1, 'input done');
  });

  test('an upstream that does not answer: red status with retry, no crash', async () => {
    const silent = new CoapEndpoint({ address: '127.0.0.1', port: 0 });
    silent.route('POST', '/rd', () => undefined); // never answers
    const { port } = await silent.start();
    try {
      await helper.load(nodes, flow(port, { discover: false, endpoint: '', rd: '' }));
      const status = await waitForStatus(helper.getNode('cl'), (s) => /retry in/.test(String(s.text)), 30_000);
      assert.match(String(status.text), /answered 5\.03|no answer/);
    } finally {
      await helper.unload();
      await silent.stop();
    }
  });

  test('bad settings: red status, input still completes', async () => {
    await helper.load(nodes, flow(upstream.port, { upstream: 'http://example.net' }));
    const cl = helper.getNode('cl');
    const status = await waitForStatus(cl, (s) => s.fill === 'red' && /upstream/.test(String(s.text)));
    assert.match(String(status.text), /upstream: not a coap:\/\/ URI/);
    const completed = collect('done');
    cl.receive({ payload: 'x' });
    await until(() => completed.length === 1, 'input done');
  });

  test('the "remote access" example starts: cloud-link registers, the others wait or retry (all on loopback)', async () => {
    const example = JSON.parse(readFileSync(join(__dirname, '..', '..', 'examples', 'remote access.json'), 'utf8')) as FlowNode[];
    assert.equal(example[1]?.type, 'comment', 'the example starts with a comment');
    // Point everything at loopback: the upstream here, no router, no DDNS provider.
    const local = example.map((n) => {
      if (n.type === 'coap-endpoint') return { ...n, address: '127.0.0.1', port: 0 };
      if (n.type === 'coap-rd') return { ...n, persist: false };
      if (n.type === 'cloud-link') return { ...n, upstream: `coap://127.0.0.1:${upstream.port}` };
      if (n.type === 'port-mapping') return { ...n, backend: 'natpmp', router: '127.0.0.1:9' };
      if (n.type === 'ddns-update') return { ...n, server: 'http://127.0.0.1:9' };
      return n;
    });
    await helper.load([...nodes, packageNode('port-mapping'), packageNode('ddns-update'), packageNode('coap-proxy'), coreNode('common/21-debug'), coreNode('common/90-comment')], local, { 'ra.ddns': { username: 'u', password: 'p' } });
    await waitForStatus(helper.getNode('ra.cloud'), (s) => String(s.text).startsWith('registered at'));
    const reg = upstream.rd.endpoint('gateway');
    assert.ok(reg);
    assert.equal(reg.base, `coap://127.0.0.1:${await endpointPort('ra.endpoint')}`);
    await waitForStatus(helper.getNode('ra.portmap'), (s) => /retry in/.test(String(s.text)));
    await helper.unload();
    assert.equal(upstream.rd.endpoint('gateway'), undefined);
  });
});
