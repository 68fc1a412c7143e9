/**
 * libcoap (an independent CoAP implementation) against the Resource Directory node: its
 * coap-client registers, updates, looks up and removes; its coap-server is what the RD's
 * simple-registration client fetches /.well-known/core from.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import type { FlowNode } from 'node-red-node-test-helper';
import { helper, packageNode, endpointPort } from '../support/flow-runtime';
import { requirePeer, runPeer } from '../support/peers';
import { fetchWellKnownCore } from '../../lib/coap/rd/fetch-core';
import { parseLinks } from '../../lib/coap/link-format';
import { freeUdpPort } from '../support/free-port';

const coapClient = requirePeer('coap-client-notls', 'libcoap3-bin');
const coapServer = requirePeer('coap-server-notls', 'libcoap3-bin');

const flow: FlowNode[] = [
  { id: 'tab', type: 'tab' },
  { id: 'ep', type: 'coap-endpoint', address: '127.0.0.1', port: 0, family: 'udp4' },
  { id: 'rd', type: 'coap-rd', z: 'tab', endpoint: 'ep', persist: false, wires: [] },
];

/** libcoap's debug line for the response, e.g. "v:1 t:ACK c:2.01 i:a524 {01} [ Location-Path:rd, ... ]". */
function responseLine(out: string): string {
  return out.split('\n').find((l) => /t:(ACK|CON|NON) c:[245]\.\d\d/.test(l)) ?? '';
}

describe('libcoap coap-client against coap-rd', () => {
  let base = '';
  let id = '';
  before(async () => {
    await helper.load([packageNode('coap-endpoint'), packageNode('coap-rd')], flow);
    base = `coap://127.0.0.1:${await endpointPort('ep')}`;
  });
  after(() => helper.unload());

  test('registers: 2.01 with Location-Path rd/<id>', async () => {
    const r = await runPeer(coapClient, ['-v', '6', '-m', 'post', '-t', '40', '-e', '</sensors/temp>;rt="temperature"', `${base}/rd?ep=node1&lt=120`]);
    assert.equal(r.code, 0, r.stderr);
    const line = responseLine(r.stdout + r.stderr);
    const m = /c:2\.01 .*Location-Path:rd, Location-Path:([0-9a-f]+) \]/.exec(line);
    assert.ok(m, line);
    id = m[1] as string;
  });

  test('resource lookup finds it, as an absolute link with its anchor', async () => {
    const r = await runPeer(coapClient, ['-m', 'get', `${base}/rd-lookup/res?rt=temperature`]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout.trim(), /^<coap:\/\/127\.0\.0\.1:\d+\/sensors\/temp>;rt="temperature";anchor="coap:\/\/127\.0\.0\.1:\d+"$/);
  });

  test('endpoint lookup lists the registration resource', async () => {
    const r = await runPeer(coapClient, ['-m', 'get', `${base}/rd-lookup/ep?ep=node*`]);
    assert.equal(r.stdout.trim().split(';')[0], `</rd/${id}>`);
    assert.match(r.stdout, /;ep=node1;rt="core\.rd-ep"/);
  });

  test('discovery with ?rt=core.rd* finds the directory', async () => {
    const r = await runPeer(coapClient, ['-m', 'get', `${base}/.well-known/core?rt=core.rd*`]);
    assert.equal(
      r.stdout.trim(),
      '</rd>;rt="core.rd";ct=40,</rd-lookup/ep>;rt="core.rd-lookup-ep";ct=40,</rd-lookup/res>;rt="core.rd-lookup-res";ct=40',
    );
  });

  test('update 2.04, removal 2.02, then 4.04', async () => {
    const upd = await runPeer(coapClient, ['-v', '6', '-m', 'post', `${base}/rd/${id}?lt=300`]);
    assert.match(responseLine(upd.stdout + upd.stderr), /c:2\.04/);
    const del = await runPeer(coapClient, ['-v', '6', '-m', 'delete', `${base}/rd/${id}`]);
    assert.match(responseLine(del.stdout + del.stderr), /c:2\.02/);
    const again = await runPeer(coapClient, ['-v', '6', '-m', 'delete', `${base}/rd/${id}`]);
    assert.match(responseLine(again.stdout + again.stderr), /c:4\.04/);
  });

  test('malformed link-format is 4.00 with a reason; another Content-Format is 4.15', async () => {
    const bad = await runPeer(coapClient, ['-m', 'post', '-t', '40', '-e', '</a>;;x', `${base}/rd?ep=bad`]);
    assert.match(bad.stdout + bad.stderr, /4\.00 malformed link-format/);
    const json = await runPeer(coapClient, ['-m', 'post', '-t', '50', '-e', '{}', `${base}/rd?ep=bad`]);
    assert.match(json.stdout + json.stderr, /4\.15/);
  });
});

describe("the RD's simple-registration client against libcoap coap-server", () => {
  let server: ChildProcess | undefined;
  let port = 0;
  before(async () => {
    port = await freeUdpPort();
    server = spawn(coapServer, ['-A', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' });
  });
  after(() => {
    server?.kill();
  });

  test('fetches and parses /.well-known/core', async () => {
    let body: Buffer | undefined;
    // The server needs a moment to bind; retrying is not what is under test.
    for (let i = 0; i < 20 && !body; i++) {
      body = await fetchWellKnownCore({ address: '127.0.0.1', port, timeoutMs: 500, maxBytes: 16384 }).catch(() => undefined);
    }
    assert.ok(body, 'coap-server-notls never answered');
    const links = parseLinks(body.toString('utf8'));
    const time = links.find((l) => l.href === '/time');
    assert.deepEqual(time?.attributes, { if: 'clock', rt: 'ticks', title: 'Internal Clock', ct: '0', obs: true });
  });

  test('a port where nobody answers is a 5.04 FetchError within the deadline', async () => {
    const silent = createSocket('udp4');
    await new Promise<void>((r) => silent.bind(0, '127.0.0.1', () => r()));
    try {
      await assert.rejects(fetchWellKnownCore({ address: '127.0.0.1', port: silent.address().port, timeoutMs: 300, maxBytes: 100 }), { code: '5.04' });
    } finally {
      silent.close();
    }
  });
});
