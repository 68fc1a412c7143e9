import { test, describe, afterEach, after } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { generate, parse } from 'coap-packet';
import type { FlowNode } from 'node-red-node-test-helper';
import { helper, packageNode, coreNode, waitForStatus, endpointPort, collect } from '../support/flow-runtime';
import { coapCall } from '../support/coap-client';

const nodes = [packageNode('coap-endpoint'), packageNode('coap-in'), packageNode('coap-response'), coreNode('common/25-catch'), coreNode('function/10-function')];

const endpoint = (extra: Record<string, unknown> = {}): FlowNode => ({
  id: 'ep',
  type: 'coap-endpoint',
  address: '127.0.0.1',
  port: 0,
  family: 'udp4',
  ...extra,
});

function flow(...more: FlowNode[]): FlowNode[] {
  return [{ id: 'tab', type: 'tab' }, endpoint(), ...more].map((n) => (n.type === 'coap-endpoint' || n.type === 'tab' ? n : { z: 'tab', ...n }));
}

const echoFunc = (id: string, body: string, next: string): FlowNode => ({ id, type: 'function', func: body, outputs: 1, wires: [[next]] });

describe('coap-in → coap-response', () => {
  afterEach(() => helper.unload());
  after(() => helper.stopServer?.());

  test('serves a resource from the flow, with the message the flow expects', async () => {
    await helper.load(
      nodes,
      flow(
        { id: 'in', type: 'coap-in', endpoint: 'ep', method: 'POST', url: '/lamp/:room', wires: [['f', 'seen']] },
        echoFunc('f', 'msg.payload = { got: msg.payload, room: msg.coap.params.room, q: msg.coap.query }; msg.statusCode = "2.04"; return msg;', 'out'),
        { id: 'out', type: 'coap-response', code: '', contentFormat: '', maxAge: '10', wires: [] },
        { id: 'seen', type: 'helper' },
      ),
    );
    const seen = collect('seen');
    const port = await endpointPort('ep');
    await waitForStatus(helper.getNode('in'), (s) => s.fill === 'green' && String(s.text).includes('POST /lamp/:room on 127.0.0.1:'));
    const res = await coapCall({
      port,
      method: 'POST',
      pathname: '/lamp/kitchen',
      query: 'dim=30&dim=40',
      payload: '{"on":true}',
      options: { 'Content-Format': 'application/json' },
    });
    assert.equal(res.code, '2.04');
    assert.equal(res.headers['Content-Format'], 'application/json');
    assert.equal(res.options['Max-Age'], 10);
    assert.deepEqual(JSON.parse(res.payload.toString()), { got: { on: true }, room: 'kitchen', q: { dim: ['30', '40'] } });
    const msg = seen[0] as { topic: string; coap: { method: string; remote: { address: string }; contentFormat: string }; _coapExchange: string };
    assert.equal(msg.topic, '/lamp/kitchen');
    assert.equal(msg.coap.method, 'POST');
    assert.equal(msg.coap.contentFormat, 'application/json');
    assert.equal(msg.coap.remote.address, '127.0.0.1');
    assert.equal(typeof msg._coapExchange, 'string');
    await waitForStatus(helper.getNode('out'), (s) => s.text === '2.04 Changed');
  });

  test('a body that is not its Content-Format gets 4.00 and never reaches the flow', async () => {
    await helper.load(nodes, flow({ id: 'in', type: 'coap-in', endpoint: 'ep', method: 'PUT', url: '/cfg', wires: [['seen']] }, { id: 'seen', type: 'helper' }));
    const seen = collect('seen');
    const port = await endpointPort('ep');
    const res = await coapCall({ port, method: 'PUT', pathname: '/cfg', payload: '{oops', options: { 'Content-Format': 'application/json' } });
    assert.equal(res.code, '4.00');
    assert.match(res.payload.toString(), /not valid application\/json/);
    assert.equal(seen.length, 0);
    await waitForStatus(helper.getNode('in'), (s) => String(s.text).includes('4.00'));
  });

  test('an invalid status code from the flow answers 5.00 and raises a catchable error', async () => {
    await helper.load(
      nodes,
      flow(
        { id: 'in', type: 'coap-in', endpoint: 'ep', method: 'GET', url: '/x', wires: [['f']] },
        echoFunc('f', 'msg.statusCode = "9.99"; return msg;', 'out'),
        { id: 'out', type: 'coap-response', wires: [] },
        { id: 'catcher', type: 'catch', scope: null, uncaught: false, wires: [['caught']] },
        { id: 'caught', type: 'helper' },
      ),
    );
    const caught = collect('caught');
    const port = await endpointPort('ep');
    assert.equal((await coapCall({ port, pathname: '/x' })).code, '5.00');
    while (caught.length === 0) await new Promise((r) => setTimeout(r, 10));
    assert.match(String((caught[0] as { error: { message: string } }).error.message), /not a CoAP response code/);
  });

  test('coap-response without a pending request reports an error instead of throwing', async () => {
    await helper.load(
      nodes,
      flow(
        { id: 'out', type: 'coap-response', wires: [] },
        { id: 'catcher', type: 'catch', scope: null, uncaught: false, wires: [['caught']] },
        { id: 'caught', type: 'helper' },
      ),
    );
    const caught = collect('caught');
    helper.getNode('out').receive({ payload: 'late', _coapExchange: 'no-such-exchange' } as never);
    while (caught.length === 0) await new Promise((r) => setTimeout(r, 10));
    assert.match(String((caught[0] as { error: { message: string } }).error.message), /no pending CoAP request/);
  });

  test('two nodes on the same method and path: the second shows red, the first keeps serving', async () => {
    await helper.load(
      nodes,
      flow(
        { id: 'a', type: 'coap-in', endpoint: 'ep', method: 'GET', url: '/dup', wires: [['f']] },
        { id: 'b', type: 'coap-in', endpoint: 'ep', method: 'GET', url: 'dup', wires: [['f']] },
        echoFunc('f', 'msg.payload = "one"; return msg;', 'out'),
        { id: 'out', type: 'coap-response', wires: [] },
      ),
    );
    const port = await endpointPort('ep');
    await waitForStatus(helper.getNode('b'), (s) => s.fill === 'red' && /already served/.test(String(s.text)));
    assert.equal((await coapCall({ port, pathname: '/dup' })).payload.toString(), 'one');
  });

  test('broken config never takes the runtime down: no endpoint, bad port, port in use', async () => {
    const busy = createSocket('udp4');
    await new Promise<void>((r) => busy.bind(0, '127.0.0.1', () => r()));
    const busyPort = busy.address().port;
    try {
      await helper.load(nodes, [
        { id: 'tab', type: 'tab' },
        { id: 'bad', type: 'coap-endpoint', address: '127.0.0.1', port: 'eighty', family: 'udp4' },
        { id: 'inuse', type: 'coap-endpoint', address: '127.0.0.1', port: busyPort, family: 'udp4' },
        { id: 'n1', z: 'tab', type: 'coap-in', endpoint: 'missing', method: 'GET', url: '/a', wires: [] },
        { id: 'n2', z: 'tab', type: 'coap-in', endpoint: 'bad', method: 'GET', url: '/a', wires: [] },
        { id: 'n3', z: 'tab', type: 'coap-in', endpoint: 'inuse', method: 'GET', url: '/a', wires: [] },
        { id: 'n4', z: 'tab', type: 'coap-in', endpoint: 'inuse', method: 'GET', url: '', wires: [] },
      ]);
      await waitForStatus(helper.getNode('n1'), (s) => s.fill === 'red' && s.text === 'no CoAP endpoint configured');
      await waitForStatus(helper.getNode('n2'), (s) => s.fill === 'red' && /port must be an integer/.test(String(s.text)));
      await waitForStatus(helper.getNode('n3'), (s) => s.fill === 'red' && /EADDRINUSE/.test(String(s.text)));
      await waitForStatus(helper.getNode('n4'), (s) => s.fill === 'red' && s.text === 'no resource path');
    } finally {
      busy.close();
    }
  });

  test('the endpoint\'s body limit from the editor reaches the datagram guard', async () => {
    await helper.load(nodes, [
      { id: 'tab', type: 'tab' },
      endpoint({ maxRequestBody: 1 }),
      { id: 'in', z: 'tab', type: 'coap-in', endpoint: 'ep', method: 'PUT', url: '/fw', wires: [] },
    ]);
    const port = await endpointPort('ep');
    // Block1 num 1, szx 6: the second 1024-byte block, past a 1 KiB limit.
    const datagram = generate({ code: '0.03', confirmable: true, messageId: 1, token: Buffer.from([1]), options: [{ name: 'Uri-Path', value: Buffer.from('fw') }, { name: 'Block1', value: Buffer.from([0x1e]) }], payload: Buffer.alloc(1024) });
    const sock = createSocket('udp4');
    const answer = await new Promise<Buffer>((resolve) => {
      sock.on('message', (m) => resolve(m));
      sock.send(datagram, port, '127.0.0.1');
    });
    sock.close();
    const parsed = parse(answer);
    assert.equal(parsed.code, '4.13');
    assert.deepEqual(parsed.options.find((o) => o.name === 'Size1')?.value, Buffer.from([0x04, 0x00]));
  });

  test('an unanswered request times out with 5.03; closing the flow releases the UDP port', async () => {
    await helper.load(nodes, [
      { id: 'tab', type: 'tab' },
      endpoint({ responseTimeout: 1 }),
      { id: 'in', z: 'tab', type: 'coap-in', endpoint: 'ep', method: 'GET', url: '/void', wires: [] },
    ]);
    const port = await endpointPort('ep');
    assert.equal((await coapCall({ port, pathname: '/void' })).code, '5.03');
    await helper.unload();
    const sock = createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      sock.once('error', reject);
      sock.bind(port, '127.0.0.1', () => resolve());
    });
    sock.close();
  });
});
