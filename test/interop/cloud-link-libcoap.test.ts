/**
 * cloud-link against libcoap's coap-rd (4.3.1), an independent RD. It implements an early RD
 * draft (draft-shelby-core-resource-directory), and these are the facts checked here:
 * - POST /rd?ep=..&lt=.. with link-format: 2.01 with Location-Path rd/<mid>-<n>; the links are
 *   served at that location and it is listed in /.well-known/core; /.well-known/core?rt=core.rd
 *   finds </rd>.
 * - An update (RFC 9176 §5.3.1: POST to the location) answers 4.05; PUT answers 5.01. So
 *   cloud-link refreshes it by registering again; this RD then keeps the old location as well
 *   (it neither replaces a registration by ep nor expires lifetimes).
 * - A CoAP ping is answered with a Reset.
 * - DELETE of a registration: version 4.3.1 aborts ("double free") right after receiving it, so
 *   this test checks that the DELETE for the right location arrived, not the RD's state after it.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { requirePeer, runPeer } from '../support/peers';
import { CloudLink } from '../../lib/coap/cloud-link/cloud-link';
import { UdpTransport } from '../../lib/coap/cloud-link/udp-transport';
import { freeUdpPort } from '../support/free-port';
import { nextState } from '../support/cloud-link-events';

const coapRd = requirePeer('coap-rd-notls', 'libcoap3-bin');
const coapClient = requirePeer('coap-client-notls', 'libcoap3-bin');

describe('cloud-link against libcoap coap-rd-notls', () => {
  let rd: ChildProcess;
  let port = 0;
  let log = '';
  const timers: Array<{ delay: number; fire: () => void; cancelled: boolean }> = [];
  let cl: CloudLink;
  let socket: ReturnType<typeof createSocket>;

  before(async () => {
    port = await freeUdpPort();
    // Line-buffered, so its packet log arrives as it happens (stdbuf is in coreutils).
    const stdbuf = requirePeer('stdbuf', 'coreutils');
    rd = spawn(stdbuf, ['-oL', '-eL', coapRd, '-A', '127.0.0.1', '-p', String(port), '-v', '7'], { stdio: ['ignore', 'pipe', 'pipe'] });
    rd.stdout?.on('data', (d: Buffer) => (log += d.toString()));
    rd.stderr?.on('data', (d: Buffer) => (log += d.toString()));
    socket = createSocket('udp4');
    await new Promise<void>((r) => socket.bind(0, '127.0.0.1', r));
    const transport = new UdpTransport(socket, { host: '127.0.0.1', port }, true);
    // The RD needs a moment to bind; waiting for it is not what is under test.
    let up = false;
    for (let i = 0; i < 20 && !up; i++) up = await transport.ping(500).then(() => true, () => false);
    assert.ok(up, 'coap-rd-notls never answered a ping');
    cl = new CloudLink({
      transport,
      ep: 'gw-interop',
      lifetime: 120,
      discover: true,
      links: () => [{ href: '/ep/lamp/light', attributes: { rt: 'light' } }],
      keepAliveMs: 25_000,
      requestTimeoutMs: 5_000,
      setTimer: (fire, delay) => {
        const t = { delay, fire, cancelled: false };
        timers.push(t);
        return () => {
          t.cancelled = true;
        };
      },
    });
  });
  after(async () => {
    await cl.stop();
    rd.kill();
  });

  const fire = (delay: number): void => {
    const t = timers.find((x) => x.delay === delay && !x.cancelled);
    assert.ok(t, `a ${delay} ms timer is pending`);
    t.cancelled = true;
    t.fire();
  };

  let location = '';

  test('discovers /rd and registers; the RD serves the links at the location', async () => {
    const registered = nextState(cl, 'change', (s) => s.status === 'registered');
    cl.start();
    const s = await registered;
    assert.equal(s.rdPath, '/rd');
    assert.match(s.location ?? '', /^\/rd\/[0-9a-f]+-[0-9a-f]+$/);
    location = s.location as string;
    const links = await runPeer(coapClient, ['-B', '5', '-m', 'get', `coap://127.0.0.1:${port}${location}`]);
    assert.equal(links.stdout.trim(), '</ep/lamp/light>;rt="light"');
    const wk = await runPeer(coapClient, ['-B', '5', '-m', 'get', `coap://127.0.0.1:${port}/.well-known/core`]);
    assert.ok(wk.stdout.includes(`<${location}>`), wk.stdout);
  });

  test('keep-alive: the ping is answered', async () => {
    const pinged = once(cl, 'ping');
    fire(25_000);
    assert.equal((await pinged)[0], true);
  });

  test('refresh: the update is refused (4.05), so cloud-link registers again', async () => {
    const again = nextState(cl, 'change', (s) => s.status === 'registered');
    fire(80_000);
    const s = await again;
    assert.deepEqual([s.reason, s.cause], ['re-registered', 'update-unsupported']);
    assert.notEqual(s.location, location, 'this RD hands out a new location');
    location = s.location as string;
    for (let i = 0; i < 100 && !/c:POST .*Uri-Path:rd, Uri-Path:[0-9a-f]+-[0-9a-f]+ \]/.test(log); i++) await new Promise((r) => setTimeout(r, 20));
    assert.match(log, /c:POST .*Uri-Path:rd, Uri-Path:[0-9a-f]+-[0-9a-f]+ \]/, 'the refresh was a POST to the location');
  });

  test('stop sends DELETE to the registration', async () => {
    await cl.stop();
    const segment = location.split('/').pop() as string;
    for (let i = 0; i < 100 && !log.includes(`c:DELETE`); i++) await new Promise((r) => setTimeout(r, 20));
    assert.match(log, new RegExp(`c:DELETE .*Uri-Path:rd, Uri-Path:${segment} \\]`));
  });
});
