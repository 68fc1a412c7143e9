/**
 * The reverse proxy between real libcoap peers: coap-server-notls is the device (registered in
 * the coap-rd node), coap-client-notls the remote client. A CoapEndpoint device stands in where
 * the test must count what the device sees (upstream observations).
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { FlowNode } from 'node-red-node-test-helper';
import { helper, packageNode, endpointPort } from '../support/flow-runtime';
import { requirePeer, runPeer, startCoapServer } from '../support/peers';
import { freePort, freeUdpPort } from '../support/free-port';
import { CoapEndpoint, type Exchange } from '../../lib/coap/endpoint';

const coapClient = requirePeer('coap-client-notls', 'libcoap3-bin');
const nodes = [packageNode('coap-endpoint'), packageNode('coap-rd'), packageNode('coap-proxy')];
const TIME = /[A-Z][a-z]{2} \d{2} \d{2}:\d{2}:\d{2}/g;

describe('reverse proxy with libcoap peers', () => {
  let server: ChildProcess | undefined;
  let serverPort = 0;
  let gw = 0;
  const control = new CoapEndpoint({ address: '127.0.0.1', port: 0 });
  const upstreamObservers = new Set<Exchange>();
  let registrations = 0;
  let ticker: NodeJS.Timeout | undefined;
  const dir = mkdtempSync(join(tmpdir(), 'proxy-interop-'));

  before(async () => {
    serverPort = await freeUdpPort();
    server = await startCoapServer(serverPort);

    control.route(
      'GET',
      '/temp',
      (ex) => {
        if (ex.observing) {
          registrations++;
          upstreamObservers.add(ex);
          ex.onObservationEnd(() => upstreamObservers.delete(ex));
        }
        ex.respond({ code: '2.05', payload: Buffer.from('t0'), contentFormat: 0 });
      },
      { observable: true },
    );
    const controlPort = (await control.start()).port;
    let n = 0;
    ticker = setInterval(() => {
      n++;
      for (const ex of upstreamObservers) ex.notify({ code: '2.05', payload: Buffer.from(`t${n}`), contentFormat: 0 });
    }, 300);

    const flow: FlowNode[] = [
      { id: 'tab', type: 'tab' },
      { id: 'ep', type: 'coap-endpoint', address: '127.0.0.1', port: 0, family: 'udp4' },
      { id: 'rd', type: 'coap-rd', z: 'tab', endpoint: 'ep', persist: false, wires: [[]] },
      { id: 'proxy', type: 'coap-proxy', z: 'tab', endpoint: 'ep', rd: 'rd', timeout: '1', groups: [] },
    ];
    await helper.load(nodes, flow);
    gw = await endpointPort('ep');
    const gone = await freePort();
    for (const [ep, base] of [
      ['dev', `coap://127.0.0.1:${serverPort}`],
      ['ctl', `coap://127.0.0.1:${controlPort}`],
      ['gone', `coap://127.0.0.1:${gone}`],
    ]) {
      // libcoap's client registers on the device's behalf, like a commissioning tool would.
      const r = await runPeer(coapClient, ['-m', 'post', '-t', '40', '-e', '</time>;obs', `coap://127.0.0.1:${gw}/rd?ep=${ep}&base=${base}`]);
      assert.equal(r.code, 0, r.stderr);
    }
  });
  after(async () => {
    clearInterval(ticker);
    await helper.unload();
    await control.stop();
    server?.kill('SIGTERM');
  });

  test('GET through the proxy equals GET directly', async () => {
    const direct = await runPeer(coapClient, ['-m', 'get', `coap://127.0.0.1:${serverPort}/`]);
    const proxied = await runPeer(coapClient, ['-m', 'get', `coap://127.0.0.1:${gw}/ep/dev/`]);
    assert.equal(proxied.code, 0, proxied.stderr);
    assert.match(direct.stdout, /libcoap/);
    assert.equal(proxied.stdout, direct.stdout);
  });

  test('observe /time through the proxy: notifications keep coming', async () => {
    const r = await runPeer(coapClient, ['-s', '4', '-m', 'get', `coap://127.0.0.1:${gw}/ep/dev/time`], 15_000);
    assert.equal(r.code, 0, r.stderr);
    const ticks = r.stdout.match(TIME) ?? [];
    assert.ok(ticks.length >= 2, `expected several notifications, got ${JSON.stringify(r.stdout)}`);
  });

  test('two libcoap observers share one upstream observation', async () => {
    registrations = 0;
    const observe = (): ReturnType<typeof runPeer> => runPeer(coapClient, ['-s', '3', '-m', 'get', `coap://127.0.0.1:${gw}/ep/ctl/temp`], 15_000);
    const [a, b] = await Promise.all([observe(), observe()]);
    assert.equal(registrations, 1, 'one upstream registration for two observers');
    for (const r of [a, b]) {
      assert.equal(r.code, 0, r.stderr);
      assert.ok((r.stdout.match(/t\d+/g) ?? []).length >= 3, `too few notifications: ${r.stdout}`);
    }
  });

  test('a registered device that does not answer: 5.04', async () => {
    const r = await runPeer(coapClient, ['-B', '5', '-m', 'get', `coap://127.0.0.1:${gw}/ep/gone/x`]);
    assert.match(r.stdout + r.stderr, /5\.04/);
  });

  test('Proxy-Uri: the device is forwarded, a foreign URI is 5.05', async () => {
    const ok = await runPeer(coapClient, ['-P', `coap://127.0.0.1:${gw}`, `coap://127.0.0.1:${serverPort}/`]);
    assert.match(ok.stdout, /libcoap/);
    const foreign = await runPeer(coapClient, ['-B', '5', '-P', `coap://127.0.0.1:${gw}`, 'coap://192.0.2.1/secret']);
    assert.match(foreign.stdout + foreign.stderr, /5\.05/);
  });

  test('a large body through the proxy with Block2 on both sides', async () => {
    const body = randomBytes(4000).toString('base64');
    const file = join(dir, 'big.txt');
    writeFileSync(file, body);
    const put = await runPeer(coapClient, ['-m', 'put', '-b', '64', '-t', '0', '-f', file, `coap://127.0.0.1:${serverPort}/example_data`]);
    assert.equal(put.code, 0, put.stderr);
    const r = await runPeer(coapClient, ['-m', 'get', '-b', '64', `coap://127.0.0.1:${gw}/ep/dev/example_data`]);
    const direct = await runPeer(coapClient, ['-m', 'get', '-b', '64', `coap://127.0.0.1:${serverPort}/example_data`]);
    assert.equal(r.code, 0, r.stderr);
    // libcoap's client ends its output with a newline; the body itself has none.
    assert.ok(r.stdout.trimEnd() === body, `proxied body differs: ${r.stdout.length} characters for ${body.length}`);
    assert.ok(r.stdout === direct.stdout, 'proxied output differs from the direct one');
  });
});
