/**
 * OSCORE end to end across the gateway: coap-request (OSCORE client) to a device flow (coap-in
 * with an oscore-context on its own endpoint), and a remote client through coap-proxy, which holds
 * no keys. A UDP relay between proxy and device records, and can change, what travels.
 */
import { test, describe, afterEach, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FlowNode } from 'node-red-node-test-helper';
import { helper, packageNode, coreNode, endpointPort, collect, waitForStatus } from '../support/flow-runtime';
import { coapCall } from '../support/coap-client';
import { SECRET, SALT, makeClient, msg, opt } from '../support/oscore-pair';
import { UdpPeer, protectedCall } from '../support/oscore-udp';
import { CODE, OPTION, decodeUdpFrame, encodeUdpFrame, findOption } from '../../lib/oscore';

const nodes = [
  packageNode('coap-endpoint'),
  packageNode('oscore-context'),
  packageNode('coap-in'),
  packageNode('coap-response'),
  packageNode('coap-rd'),
  packageNode('coap-proxy'),
  packageNode('coap-request'),
  coreNode('function/10-function'),
  coreNode('common/25-catch'),
];

let dir = '';
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'oscore-e2e-'));
});
after(async () => {
  rmSync(dir, { recursive: true, force: true });
  await helper.stopServer?.();
});

/** Forwards datagrams between the proxy and the device, keeping a copy; `tamper` may change requests. */
class Relay {
  readonly socket: Socket = createSocket('udp4');
  readonly seen: Buffer[] = [];
  tamper: ((datagram: Buffer) => Buffer) | undefined;
  private client: RemoteInfo | undefined;
  constructor(private readonly devicePort: () => number) {
    this.socket.on('message', (data, from) => {
      this.seen.push(Buffer.from(data));
      if (from.port === this.devicePort()) {
        if (this.client) this.socket.send(data, this.client.port, this.client.address);
        return;
      }
      this.client = from;
      this.socket.send(this.tamper ? this.tamper(data) : data, this.devicePort(), '127.0.0.1');
    });
  }
  listen(): Promise<number> {
    return new Promise((resolve) => this.socket.bind(0, '127.0.0.1', () => resolve(this.socket.address().port)));
  }
  close(): void {
    this.socket.close();
  }
}

function flow(files: string, extra: { badKey?: boolean } = {}): FlowNode[] {
  return [
    { id: 'tab', type: 'tab' },
    // The gateway: resource directory, proxy (no OSCORE context at all), and a flow's client.
    { id: 'gw', type: 'coap-endpoint', address: '127.0.0.1', port: 0, family: 'udp4' },
    { id: 'rd', type: 'coap-rd', z: 'tab', endpoint: 'gw', persist: false, wires: [[]] },
    { id: 'proxy', type: 'coap-proxy', z: 'tab', endpoint: 'gw', rd: 'rd', groups: [] },
    { id: 'cli', type: 'oscore-context', name: 'to-lamp', senderId: 'c1', recipientId: '5e', alg: '10', stateFile: join(dir, `${files}-client.seq`) },
    { id: 'req', type: 'coap-request', z: 'tab', rd: 'rd', method: 'PUT', path: '/lamp', target: 'lamp', targetType: 'endpoint', timeout: '2', oscore: 'cli', wires: [['out']] },
    { id: 'catcher', type: 'catch', z: 'tab', scope: null, uncaught: false, wires: [['errors']] },
    { id: 'out', type: 'helper', z: 'tab' },
    { id: 'errors', type: 'helper', z: 'tab' },
    // The device: its own endpoint, a protected resource.
    { id: 'dev', type: 'coap-endpoint', address: '127.0.0.1', port: 0, family: 'udp4' },
    { id: 'srv', type: 'oscore-context', name: 'gateway', senderId: '5e', recipientId: 'c1', alg: '10', stateFile: join(dir, `${files}-device.seq`) },
    { id: 'in', type: 'coap-in', z: 'tab', endpoint: 'dev', method: 'ANY', url: '/lamp', oscore: 'srv', requireOscore: true, wires: [['f', 'device']] },
    { id: 'f', type: 'function', z: 'tab', func: 'msg.payload = "lamp is " + (msg.payload && msg.payload.length ? msg.payload : "off"); return msg;', outputs: 1, wires: [['res']] },
    { id: 'res', type: 'coap-response', z: 'tab', code: '2.05', contentFormat: 'text/plain', maxAge: '', wires: [] },
    { id: 'device', type: 'helper', z: 'tab' },
  ].map((n) => (extra.badKey && n.id === 'cli' ? { ...n, name: 'wrong-key' } : n));
}

const secrets = (badKey = false): Record<string, Record<string, string>> => ({
  cli: { masterSecret: (badKey ? Buffer.alloc(16, 7) : SECRET).toString('hex'), masterSalt: SALT.toString('hex') },
  srv: { masterSecret: SECRET.toString('hex'), masterSalt: SALT.toString('hex') },
});

interface Loaded {
  gwPort: number;
  devPort: number;
  out: Array<Record<string, unknown>>;
  errors: Array<{ error: { message: string } }>;
  device: Array<Record<string, unknown>>;
}

async function load(files: string, options: { badKey?: boolean; base?: (devPort: number) => Promise<number> } = {}): Promise<Loaded> {
  await helper.load(nodes, flow(files, options), secrets(options.badKey));
  const gwPort = await endpointPort('gw');
  const devPort = await endpointPort('dev');
  await waitForStatus(helper.getNode('in'), (s) => s.fill === 'green');
  const basePort = options.base ? await options.base(devPort) : devPort;
  const reg = await coapCall({ port: gwPort, method: 'POST', pathname: '/rd', query: `ep=lamp&base=coap://127.0.0.1:${basePort}`, payload: '</lamp>', options: { 'Content-Format': 'application/link-format' } });
  assert.equal(reg.code, '2.01');
  return { gwPort, devPort, out: collect('out') as Loaded['out'], errors: collect('errors') as Loaded['errors'], device: collect('device') as Loaded['device'] };
}

async function eventually(what: string, condition: () => boolean, ms = 5000): Promise<void> {
  for (let i = 0; i < ms / 10 && !condition(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(condition(), what);
}

describe('OSCORE between flows and through the proxy', () => {
  const closers: Array<() => void> = [];
  afterEach(async () => {
    for (const c of closers.splice(0)) c();
    await helper.unload();
  });

  test('coap-request protects, the device flow sees the plain request, the answer comes back verified', async () => {
    const { out, device } = await load('a');
    helper.getNode('req').receive({ payload: 'on' });
    await eventually('an answer', () => out.length === 1);
    assert.equal(out[0]?.statusCode, '2.05');
    assert.equal(out[0]?.payload, 'lamp is on');
    assert.deepEqual(out[0]?.oscore, { context: 'to-lamp' });
    assert.equal((device[0]?.coap as { method: string }).method, 'PUT');
    assert.deepEqual(device[0]?.oscore, { context: 'gateway', kid: 'c1' });
    await waitForStatus(helper.getNode('req'), (s) => s.text === '2.05 from lamp (OSCORE)');
  });

  test('after the device restarts, coap-request answers its Echo challenge and is served (RFC 8613 B.1.2)', async () => {
    let loaded = await load('b');
    helper.getNode('req').receive({ payload: 'on' });
    await eventually('first answer', () => loaded.out.length === 1);
    await helper.unload();
    loaded = await load('b'); // the same state files: both contexts restart
    helper.getNode('req').receive({ payload: 'off' });
    await eventually('answer after restart', () => loaded.out.length === 1 || loaded.errors.length > 0);
    assert.deepEqual(loaded.errors, []);
    assert.equal(loaded.out[0]?.payload, 'lamp is off');
    assert.equal(loaded.device.length, 1, 'the challenged first attempt never reached the device flow');
    await waitForStatus(helper.getNode('in'), (s) => String(s.text).includes('Echo'));
  });

  test('a wrong key is a catchable error with the device refusal, never a crash', async () => {
    const { out, errors, device } = await load('c', { badKey: true });
    helper.getNode('req').receive({ payload: 'on' });
    await eventually('an error', () => errors.length === 1);
    assert.match(errors[0]!.error.message, /4\.00: endpoint "lamp" refused the OSCORE request: Decryption failed/);
    assert.equal(out.length, 0);
    assert.equal(device.length, 0);
    await waitForStatus(helper.getNode('req'), (s) => s.fill === 'red' && String(s.text).startsWith('4.00'));
  });

  test('a remote client reaches the device through the proxy; the gateway never sees the plaintext; a changed bit is refused', async () => {
    let devicePort = 0;
    const relay = new Relay(() => devicePort);
    closers.push(() => relay.close());
    const { gwPort, device } = await load('d', {
      base: async (port) => {
        devicePort = port;
        return relay.listen();
      },
    });
    const peer = new UdpPeer();
    closers.push(() => peer.close());
    const client = makeClient();
    // Outer: Proxy-Scheme + Uri-Host name the registered endpoint; the path is encrypted.
    const request = msg(CODE.PUT, [opt(OPTION.PROXY_SCHEME, 'coap'), opt(OPTION.URI_HOST, 'lamp'), opt(OPTION.URI_PATH, 'lamp')], 'secret-on');
    const { answer, exchange, datagram } = await protectedCall(peer, gwPort, client, request);
    assert.ok(findOption(answer.message.options, OPTION.OSCORE), `protected answer, got ${answer.message.code.toString(16)} ${answer.message.payload.toString()}`);
    const inner = client.verifyResponse(answer.message, exchange).message;
    assert.equal(inner.code, CODE.CONTENT);
    assert.equal(inner.payload.toString(), 'lamp is secret-on');
    assert.equal(device.length, 1);
    // What the proxy forwarded and got back: ciphertext only, and the OSCORE option and
    // ciphertext byte for byte as the client sent them.
    // Request and answer; a slow device may add an empty ACK and the proxy's ACK of a separate answer.
    const carried = relay.seen.filter((d) => decodeUdpFrame(d).message.code !== 0);
    assert.equal(carried.length, 2);
    const proxySaw = [datagram, ...relay.seen];
    for (const d of proxySaw) {
      assert.equal(d.includes(Buffer.from('secret-on')), false);
      assert.equal(d.includes(Buffer.from('lamp is')), false);
    }
    const sent = decodeUdpFrame(datagram).message;
    const forwarded = decodeUdpFrame(carried[0]!).message;
    assert.deepEqual(forwarded.payload, sent.payload);
    assert.deepEqual(findOption(forwarded.options, OPTION.OSCORE)?.value, findOption(sent.options, OPTION.OSCORE)?.value);
    assert.equal(forwarded.code, sent.code);
    assert.deepEqual(decodeUdpFrame(carried[1]!).message.payload, answer.message.payload);

    // Proxy-Uri naming the endpoint works too: the client's OSCORE keeps "coap://lamp" outer (§4.1.3.3).
    const viaUri = await protectedCall(peer, gwPort, client, msg(CODE.PUT, [opt(OPTION.PROXY_URI, 'coap://lamp/lamp')], 'uri-on'));
    assert.equal(client.verifyResponse(viaUri.answer.message, viaUri.exchange).message.payload.toString(), 'lamp is uri-on');
    assert.equal(device.length, 2);
    assert.equal(viaUri.datagram.includes(Buffer.from('coap://lamp/lamp')), false, 'the path left the client encrypted');

    // A bit flipped in the ciphertext on the way: the device refuses it (4.00), the flow never sees it,
    // and the refusal reaches the client through the proxy.
    relay.tamper = (d) => {
      const frame = decodeUdpFrame(d);
      const payload = Buffer.from(frame.message.payload);
      payload[0]! ^= 0x01;
      return encodeUdpFrame({ ...frame, message: { ...frame.message, payload } });
    };
    const tampered = await protectedCall(peer, gwPort, client, request);
    assert.equal(tampered.answer.message.code, 0x80);
    assert.equal(tampered.answer.message.payload.toString(), 'Decryption failed');
    assert.equal(device.length, 2);

    // Never an open proxy: a name nobody registered is refused.
    const stranger = msg(CODE.GET, [opt(OPTION.PROXY_SCHEME, 'coap'), opt(OPTION.URI_HOST, 'not-registered'), opt(OPTION.URI_PATH, 'x')]);
    const refused = await protectedCall(peer, gwPort, client, stranger);
    assert.equal(refused.answer.message.code, 0xa5); // 5.05
  });
});
