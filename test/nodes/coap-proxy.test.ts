import { test, describe, afterEach, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FlowNode } from 'node-red-node-test-helper';
import { helper, packageNode, coreNode, waitForStatus, endpointPort } from '../support/flow-runtime';
import { coapCall } from '../support/coap-client';
import { CoapEndpoint, type Exchange } from '../../lib/coap/endpoint';
import { CoapClient } from '../../lib/coap/client';

const nodes = [packageNode('coap-endpoint'), packageNode('coap-rd'), packageNode('coap-proxy')];

function flow(proxy: Record<string, unknown> = {}): FlowNode[] {
  return [
    { id: 'tab', type: 'tab' },
    { id: 'ep', type: 'coap-endpoint', address: '127.0.0.1', port: 0, family: 'udp4' },
    // The proxy comes first: it must find the directory even when coap-rd is created after it.
    { id: 'proxy', type: 'coap-proxy', z: 'tab', endpoint: 'ep', rd: 'rd', groups: [{ name: 'all', members: ['lamp', 'sector:hall'] }], timeout: '1', ...proxy },
    { id: 'rd', type: 'coap-rd', z: 'tab', endpoint: 'ep', persist: false, wires: [[]] },
  ];
}

async function eventually(what: string, condition: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !condition(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(condition(), what);
}

describe('coap-proxy node', () => {
  const device = new CoapEndpoint({ address: '127.0.0.1', port: 0 });
  const observers: Exchange[] = [];
  let devicePort = 0;
  const started = (async () => {
    device.route('GET', '/state', (ex) => ex.respond({ code: '2.05', payload: Buffer.from('on'), contentFormat: 0 }));
    device.route(
      'GET',
      '/temp',
      (ex) => {
        if (ex.observing) observers.push(ex);
        ex.respond({ code: '2.05', payload: Buffer.from('20') });
      },
      { observable: true },
    );
    devicePort = (await device.start()).port;
  })();
  afterEach(() => helper.unload());
  after(async () => {
    await device.stop();
    await helper.stopServer?.();
  });

  async function register(port: number, ep: string, d?: string): Promise<void> {
    const query = `ep=${ep}&base=coap://127.0.0.1:${devicePort}${d ? `&d=${d}` : ''}`;
    const res = await coapCall({ port, method: 'POST', pathname: '/rd', query, payload: '</state>', options: { 'Content-Format': 'application/link-format' } });
    assert.equal(res.code, '2.01');
  }

  test('proxies to an endpoint registered in the coap-rd node, and to a group; the status counts them', async () => {
    await started;
    await helper.load(nodes, flow());
    const port = await endpointPort('ep');
    await waitForStatus(helper.getNode('proxy'), (s) => s.text === 'proxying 0 endpoints, 0 observers');
    await register(port, 'lamp');
    await register(port, 'fan', 'hall');
    const res = await coapCall({ port, pathname: '/ep/lamp/state' });
    assert.equal(res.code, '2.05');
    assert.equal(res.payload.toString(), 'on');
    const group = await coapCall({ port, pathname: '/grp/all/state' });
    assert.deepEqual(JSON.parse(group.payload.toString()), {
      group: 'all',
      results: [
        { ep: 'lamp', code: '2.05', ct: 0, payload: 'on' },
        { ep: 'fan', d: 'hall', code: '2.05', ct: 0, payload: 'on' },
      ],
    });
    assert.equal((await coapCall({ port, pathname: '/ep/ghost/state' })).code, '4.04');
    await waitForStatus(helper.getNode('proxy'), (s) => s.text === 'proxying 2 endpoints, 0 observers' && s.fill === 'green');
  });

  test('closing the node deregisters its observations from the device', async () => {
    await started;
    await helper.load(nodes, flow());
    const port = await endpointPort('ep');
    await register(port, 'lamp');
    const client = new CoapClient();
    try {
      const got: string[] = [];
      client.observe({ host: '127.0.0.1', port, family: 'udp4' }, { method: 'GET', path: ['ep', 'lamp', 'temp'], query: [] }, { onNotification: (n) => got.push(n.payload.toString()) }, 2000);
      await eventually('observing through the proxy', () => got.length === 1 && device.activeObservations === 1);
      await waitForStatus(helper.getNode('proxy'), (s) => s.text === 'proxying 1 endpoints, 1 observers');
      await helper.unload();
      await eventually('the device saw the deregistration', () => device.activeObservations === 0);
    } finally {
      await client.close();
    }
  });

  test('the example flow: a device registers, the group "lights" reaches it by rt', async () => {
    await started;
    const file = join(__dirname, '..', '..', 'examples', 'reverse proxy and groups.json');
    // Loopback, a free port and no file in the user directory: the test must not meet a running gateway.
    const example = (JSON.parse(readFileSync(file, 'utf8')) as FlowNode[]).map((n) =>
      n.type === 'coap-endpoint' ? { ...n, address: '127.0.0.1', port: 0 } : n.type === 'coap-rd' ? { ...n, persist: false } : n,
    );
    await helper.load([...nodes, coreNode('common/21-debug'), coreNode('common/90-comment'), coreNode('common/20-inject'), packageNode('coap-request')], example);
    const port = await endpointPort('rp.endpoint');
    const res = await coapCall({
      port,
      method: 'POST',
      pathname: '/rd',
      query: `ep=lamp1&base=coap://127.0.0.1:${devicePort}`,
      payload: '</state>;rt="light"',
      options: { 'Content-Format': 'application/link-format' },
    });
    assert.equal(res.code, '2.01');
    const group = await coapCall({ port, pathname: '/grp/lights/state' });
    assert.deepEqual(JSON.parse(group.payload.toString()), {
      group: 'lights',
      results: [
        { ep: 'lamp1', code: '2.05', ct: 0, payload: 'on' },
        { ep: 'porch', code: '4.04' },
      ],
    });
  });

  test('without a resource directory: red status, 5.03, no crash', async () => {
    await helper.load(nodes, flow({ rd: 'missing' }));
    const port = await endpointPort('ep');
    await waitForStatus(helper.getNode('proxy'), (s) => s.text === 'no resource directory' && s.fill === 'red');
    assert.equal((await coapCall({ port, pathname: '/ep/lamp/state' })).code, '5.03');
  });

  test('bad settings: red status and an error, nothing served', async () => {
    await helper.load(nodes, flow({ groups: [{ name: 'a/b', members: [] }] }));
    await waitForStatus(helper.getNode('proxy'), (s) => s.fill === 'red' && String(s.text).includes('name without "/"'));
    await helper.unload();
    await helper.load(nodes, flow({ maxPending: 'lots' }));
    await waitForStatus(helper.getNode('proxy'), (s) => s.fill === 'red' && String(s.text).includes('max pending requests must be an integer'));
    const port = await endpointPort('ep');
    assert.equal((await coapCall({ port, pathname: '/ep/lamp/state' })).code, '4.04');
  });
});
