import { test, describe, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type Socket, type RemoteInfo } from 'node:dgram';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NatPmpMapper } from '../../lib/nat/natpmp-mapper';
import { parseDefaultGateway, defaultGateway } from '../../lib/nat/default-gateway';
import { decodeMapResponse, encodeMapRequest, decodeExternalAddressResponse } from '../../lib/nat/natpmp-codec';
import { NatError } from '../../lib/nat/errors';
import { RFC6886_SCHEDULE, waitAfterSend } from '../../lib/nat/natpmp-transport';

/** A NAT-PMP router on loopback, scripted per test. */
class FakeRouter {
  readonly socket: Socket = createSocket('udp4');
  readonly arrivals: number[] = []; // arrival times, kept for debugging only
  epoch = 1000;
  drop = 0;
  result = 0;
  externalAddress = '203.0.113.7';
  grantPort?: number;
  silent = false;

  async listen(): Promise<number> {
    this.socket.on('message', (msg, rinfo) => this.answer(msg, rinfo));
    await new Promise<void>((r) => this.socket.bind(0, '127.0.0.1', r));
    return this.socket.address().port;
  }

  private answer(msg: Buffer, rinfo: RemoteInfo): void {
    this.arrivals.push(Date.now());
    if (this.silent || this.drop-- > 0) return;
    const op = msg[1]!;
    const out = op === 0 ? Buffer.alloc(12) : Buffer.alloc(16);
    out[0] = 0;
    out[1] = 128 + op;
    out.writeUInt16BE(this.result, 2);
    out.writeUInt32BE(this.epoch, 4);
    if (op === 0) Buffer.from(this.externalAddress.split('.').map(Number)).copy(out, 8);
    else {
      out.writeUInt16BE(msg.readUInt16BE(4), 8);
      const lifetime = msg.readUInt32BE(8);
      out.writeUInt16BE(lifetime === 0 ? 0 : this.grantPort ?? msg.readUInt16BE(6), 10);
      out.writeUInt32BE(Math.min(lifetime, 7200), 12);
    }
    this.socket.send(out, rinfo.port, rinfo.address);
  }

  close(): void {
    this.socket.close();
  }
}

const fast = { initialTimeoutMs: 20, maxTries: 4 };

describe('NAT-PMP client (RFC 6886)', () => {
  let router: FakeRouter | undefined;
  let mapper: NatPmpMapper | undefined;
  afterEach(() => {
    mapper?.close();
    router?.close();
    router = mapper = undefined;
  });

  async function setup(): Promise<{ router: FakeRouter; mapper: NatPmpMapper }> {
    router = new FakeRouter();
    const port = await router.listen();
    mapper = new NatPmpMapper({ gateway: '127.0.0.1', port, schedule: fast });
    return { router, mapper };
  }

  test('learns the external address and maps a port with the granted lease', async () => {
    const { mapper } = await setup();
    assert.equal(await mapper.externalAddress(), '203.0.113.7');
    const m = await mapper.map({ protocol: 'udp', internalPort: 5683, externalPort: 5683, lifetimeSeconds: 9999, description: 'x' });
    assert.deepEqual(m, { protocol: 'udp', internalPort: 5683, externalPort: 5683, lifetimeSeconds: 7200 });
    assert.equal((await mapper.list()).length, 1);
    await mapper.unmap(m);
    assert.equal((await mapper.list()).length, 0);
  });

  test('reports the port the router chose when the wanted one is taken', async () => {
    const { router, mapper } = await setup();
    router.grantPort = 40001;
    const m = await mapper.map({ protocol: 'tcp', internalPort: 80, externalPort: 8080, lifetimeSeconds: 60, description: '' });
    assert.equal(m.externalPort, 40001);
  });

  test('retransmits on the doubling schedule and succeeds on a later try', async () => {
    const { router, mapper } = await setup();
    router.drop = 2;
    assert.equal(await mapper.externalAddress(), '203.0.113.7');
    assert.equal(router.arrivals.length, 3);
    // The waits themselves are checked without a clock: RFC 6886 §3.1 starts at 250 ms and doubles.
    assert.deepEqual([0, 1, 2].map((t) => waitAfterSend(fast, t)), [20, 40, 80]);
    const rfc = Array.from({ length: RFC6886_SCHEDULE.maxTries }, (_, t) => waitAfterSend(RFC6886_SCHEDULE, t));
    assert.deepEqual(rfc.slice(0, 3), [250, 500, 1000]);
    assert.equal(rfc.reduce((a, b) => a + b, 0), 127_750); // "about 128 seconds" in all
  });

  test('gives up after the configured number of tries with a clear error', async () => {
    const { router, mapper } = await setup();
    router.silent = true;
    await assert.rejects(mapper.externalAddress(), (err: NatError) => {
      assert.equal(err.kind, 'unreachable');
      assert.match(err.message, /no NAT-PMP answer from 127\.0\.0\.1:\d+ after 4 tries/);
      return true;
    });
    assert.equal(router.arrivals.length, 4);
  });

  test('a closed port fails fast as unsupported rather than waiting out the schedule', async () => {
    const probe = createSocket('udp4');
    await new Promise<void>((r) => probe.bind(0, '127.0.0.1', r));
    const port = probe.address().port;
    probe.close();
    mapper = new NatPmpMapper({ gateway: '127.0.0.1', port, schedule: { initialTimeoutMs: 200, maxTries: 9 } });
    // 'unsupported' comes only from the ICMP refusal; waiting out the schedule would end 'unreachable'.
    await assert.rejects(mapper.externalAddress(), (err: NatError) => err.kind === 'unsupported');
  });

  test('result codes become refusals that name the reason', async () => {
    const { router, mapper } = await setup();
    router.result = 2;
    await assert.rejects(mapper.map({ protocol: 'udp', internalPort: 5683, externalPort: 5683, lifetimeSeconds: 60, description: '' }), (err: NatError) => {
      assert.equal(err.kind, 'refused');
      assert.equal(err.natPmpResult, 2);
      assert.match(err.message, /not authorised/);
      return true;
    });
  });

  test('an epoch that goes backwards means the router restarted and forgot the mappings', async () => {
    const { router, mapper } = await setup();
    await mapper.map({ protocol: 'udp', internalPort: 5683, externalPort: 5683, lifetimeSeconds: 60, description: '' });
    assert.equal((await mapper.list()).length, 1);
    router.epoch = 3;
    assert.equal((await mapper.list()).length, 0);
    assert.equal(mapper.routerRestarts, 1);
  });

  test('close() aborts a pending request at once', async () => {
    const { router, mapper } = await setup();
    router.silent = true;
    const slow = new NatPmpMapper({ gateway: '127.0.0.1', port: router.socket.address().port, schedule: { initialTimeoutMs: 5000, maxTries: 9 } });
    const pending = slow.externalAddress();
    setTimeout(() => slow.close(), 20);
    await assert.rejects(pending, /cancelled/);
    mapper.close();
  });

  test('rejects bad requests before sending anything', async () => {
    const { router, mapper } = await setup();
    await assert.rejects(mapper.map({ protocol: 'udp', internalPort: 0, externalPort: 5683, lifetimeSeconds: 60, description: '' }), /internal port 0/);
    await assert.rejects(mapper.map({ protocol: 'sctp' as 'udp', internalPort: 1, externalPort: 5683, lifetimeSeconds: 60, description: '' }), /protocol/);
    assert.equal(router.arrivals.length, 0);
  });
});

describe('NAT-PMP codec', () => {
  test('encodes a mapping request as RFC 6886 section 3.3 lays it out', () => {
    assert.deepEqual([...encodeMapRequest('tcp', 0x1234, 0x5678, 7200)], [0, 2, 0, 0, 0x12, 0x34, 0x56, 0x78, 0, 0, 0x1c, 0x20]);
  });
  test('ignores datagrams that are not the expected response', () => {
    assert.equal(decodeMapResponse(Buffer.from([0, 129, 0, 0]), 'udp'), undefined);
    assert.equal(decodeMapResponse(Buffer.alloc(16), 'udp'), undefined);
    assert.equal(decodeExternalAddressResponse(Buffer.from([1, 128, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4])), undefined);
    assert.equal(decodeExternalAddressResponse(Buffer.from([0, 128, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4]))?.address, '1.2.3.4');
  });
});

describe('default gateway from /proc/net/route', () => {
  const table = [
    'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT',
    'eth0\t00000000\t0101A8C0\t0003\t0\t0\t600\t00000000\t0\t0\t0',
    'wlan0\t00000000\t014DA8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0',
    'eth0\t0001A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0',
  ].join('\n');
  test('picks the default route with the lowest metric', () => {
    assert.equal(parseDefaultGateway(table), '192.168.77.1');
  });
  test('ignores routes that are down or not via a gateway', () => {
    assert.equal(parseDefaultGateway(table.replace(/0003/g, '0001')), undefined);
    assert.equal(parseDefaultGateway('garbage'), undefined);
  });
  test('says clearly when there is no default route', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'route-')), 'route');
    writeFileSync(file, table.split('\n')[0]!);
    await assert.rejects(defaultGateway(file), /no IPv4 default route/);
    await assert.rejects(defaultGateway(join(file, 'missing')), /cannot read the routing table/);
  });
});
