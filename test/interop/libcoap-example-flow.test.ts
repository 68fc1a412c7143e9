/**
 * libcoap's coap-client (an independent CoAP implementation) against the shipped example flow,
 * loaded as an integrator would import it, and against coap-in features the example lacks.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FlowNode } from 'node-red-node-test-helper';
import { helper, packageNode, coreNode, endpointPort } from '../support/flow-runtime';
import { spawn } from 'node:child_process';
import { requirePeer, runPeer } from '../support/peers';
import { freeUdpPort } from '../support/free-port';

const coapClient = requirePeer('coap-client-notls', 'libcoap3-bin');
const nodes = [
  packageNode('coap-endpoint'),
  packageNode('coap-in'),
  packageNode('coap-response'),
  packageNode('coap-rd'),
  packageNode('coap-proxy'),
  coreNode('function/15-change'),
  coreNode('function/10-function'),
  coreNode('common/21-debug'),
  coreNode('common/90-comment'),
  coreNode('network/05-tls'),
  packageNode('gateway-broker'),
  packageNode('device-provisioning'),
];

function exampleFlow(): FlowNode[] {
  const flow = JSON.parse(readFileSync(join(__dirname, '..', '..', 'examples', 'edge gateway.json'), 'utf8')) as FlowNode[];
  // Loopback and a free port, so the test never meets a gateway already running on 5683.
  return flow.map((n) =>
    n.type === 'coap-endpoint' ? { ...n, address: '127.0.0.1', port: 0 } : n.type === 'gateway-broker' ? { ...n, host: '127.0.0.1', port: 0 } : n,
  );
}

describe('libcoap coap-client against the example flow', () => {
  let port = 0;
  before(async () => {
    const extra: FlowNode[] = [
      { id: 'big.in', type: 'coap-in', z: 'eg.tab', endpoint: 'eg.endpoint', method: 'GET', url: '/big', wires: [['big.f']] },
      { id: 'big.f', type: 'function', z: 'eg.tab', func: 'msg.payload = "0123456789".repeat(300); return msg;', outputs: 1, wires: [['big.out']] },
      { id: 'big.out', type: 'coap-response', z: 'eg.tab', contentFormat: '0', wires: [] },
      { id: 'echo.in', type: 'coap-in', z: 'eg.tab', endpoint: 'eg.endpoint', method: 'PUT', url: '/echo', wires: [['echo.f']] },
      { id: 'echo.f', type: 'function', z: 'eg.tab', func: 'msg.payload = { youSent: msg.payload }; return msg;', outputs: 1, wires: [['echo.out']] },
      { id: 'echo.out', type: 'coap-response', z: 'eg.tab', code: '2.04', wires: [] },
    ];
    await helper.load(nodes, [...exampleFlow(), ...extra]);
    port = await endpointPort('eg.endpoint');
  });
  after(() => helper.unload());

  test('GET /hello returns the flow\'s greeting', async () => {
    const r = await runPeer(coapClient, ['-m', 'get', `coap://127.0.0.1:${port}/hello`]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'Hello from the edge gateway');
  });

  test('/.well-known/core advertises the resources with their attributes', async () => {
    const r = await runPeer(coapClient, ['-m', 'get', `coap://127.0.0.1:${port}/.well-known/core`]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /<\/hello>;rt="gateway\.hello";ct=0/);
    assert.match(r.stdout, /<\/big>/);
  });

  test('a body larger than one datagram arrives whole through Block2', async () => {
    const r = await runPeer(coapClient, ['-m', 'get', '-b', '64', `coap://127.0.0.1:${port}/big`]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), '0123456789'.repeat(300));
  });

  test('PUT with a JSON body reaches the flow parsed and the answer comes back as JSON', async () => {
    const r = await runPeer(coapClient, ['-m', 'put', '-t', 'json', '-e', '{"level":30}', `coap://127.0.0.1:${port}/echo`]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout.trim()), { youSent: { level: 30 } });
  });

  test('unknown path and wrong method give 4.04 and 4.05', async () => {
    const notFound = await runPeer(coapClient, ['-m', 'get', `coap://127.0.0.1:${port}/nope`]);
    assert.match(notFound.stdout + notFound.stderr, /4\.04/);
    const wrong = await runPeer(coapClient, ['-m', 'delete', `coap://127.0.0.1:${port}/hello`]);
    assert.match(wrong.stdout + wrong.stderr, /4\.05/);
  });

  test('a device registers with the example\'s directory and is reached through its proxy, also observed', async () => {
    const device = requirePeer('coap-server-notls', 'libcoap3-bin');
    const devicePort = await freeUdpPort();
    const server = spawn(device, ['-A', '127.0.0.1', '-p', String(devicePort)], { stdio: 'ignore' });
    try {
      const reg = await runPeer(coapClient, ['-m', 'post', '-t', '40', '-e', '</time>;rt="clock";obs', `coap://127.0.0.1:${port}/rd?ep=clock&base=coap://127.0.0.1:${devicePort}`]);
      assert.equal(reg.code, 0, reg.stderr);
      const direct = await runPeer(coapClient, ['-m', 'get', `coap://127.0.0.1:${devicePort}/`]);
      const proxied = await runPeer(coapClient, ['-m', 'get', `coap://127.0.0.1:${port}/ep/clock/`]);
      assert.equal(proxied.stdout, direct.stdout);
      assert.match(proxied.stdout, /libcoap/);
      const observed = await runPeer(coapClient, ['-s', '3', '-m', 'get', `coap://127.0.0.1:${port}/ep/clock/time`], 10_000);
      // libcoap's /time notifies once a second: the observation relayed through the proxy yields several.
      assert.ok((observed.stdout.match(/\d{2}:\d{2}:\d{2}/g) ?? []).length >= 2, observed.stdout);
    } finally {
      server.kill();
    }
  });

  test('imported without certificates (not through npm start), the broker waits for them and CoAP is unaffected', async () => {
    const broker = helper.getNode('eg.broker') as unknown as { ready: Promise<{ kind: string; text?: string }> };
    const state = await broker.ready;
    assert.equal(state.kind, 'failed');
    assert.match(state.text ?? '', /waiting for the TLS configuration/);
    const r = await runPeer(coapClient, ['-m', 'get', `coap://127.0.0.1:${port}/hello`]);
    assert.equal(r.stdout.trim(), 'Hello from the edge gateway');
  });

  test('a non-confirmable request is answered too', async () => {
    const r = await runPeer(coapClient, ['-N', '-m', 'get', `coap://127.0.0.1:${port}/hello`]);
    assert.equal(r.stdout.trim(), 'Hello from the edge gateway');
  });
});
