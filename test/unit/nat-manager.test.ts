import { test, describe, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { MappingManager, type MappingState } from '../../lib/nat/mapping-manager';
import { NatError } from '../../lib/nat/errors';
import { backoffDelay } from '../../lib/nat/backoff';
import type { Mapping, MappingRequest, PortMapper } from '../../lib/nat/types';

/** A router in memory whose failures and memory loss the test controls. */
class FakeMapper implements PortMapper {
  readonly kind = 'fake';
  table = new Map<string, Mapping>();
  address = '203.0.113.7';
  failNext = 0;
  down = false;
  lease = 2;
  calls: string[] = [];
  closed = false;

  private check(call: string): void {
    this.calls.push(call);
    if (this.down) throw new NatError('unreachable', 'router gone');
    if (this.failNext > 0) {
      this.failNext -= 1;
      throw new NatError('refused', 'conflict', { upnpCode: 718 });
    }
  }
  async externalAddress(): Promise<string> {
    this.check('address');
    return this.address;
  }
  async map(r: MappingRequest): Promise<Mapping> {
    this.check('map');
    const m: Mapping = { protocol: r.protocol, internalPort: r.internalPort, externalPort: r.externalPort, lifetimeSeconds: this.lease };
    this.table.set(`${r.protocol}:${r.externalPort}`, m);
    return m;
  }
  async unmap(m: Pick<Mapping, 'protocol' | 'externalPort'>): Promise<void> {
    this.check('unmap');
    this.table.delete(`${m.protocol}:${m.externalPort}`);
  }
  async list(): Promise<Mapping[]> {
    this.check('list');
    return [...this.table.values()];
  }
  close(): void {
    this.closed = true;
  }
}

const request: MappingRequest = { protocol: 'udp', internalPort: 5683, externalPort: 5683, lifetimeSeconds: 2, description: 'test' };

function next(manager: MappingManager, event: 'change' | 'renewed', match: (s: MappingState) => boolean, timeoutMs = 3000): Promise<MappingState> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${event} matching within ${timeoutMs} ms; last ${JSON.stringify(manager.state)}`)), timeoutMs);
    const on = (s: MappingState): void => {
      if (!match(s)) return;
      clearTimeout(timer);
      manager.off(event, on);
      resolve(s);
    };
    manager.on(event, on);
  });
}

describe('mapping manager', () => {
  let manager: MappingManager | undefined;
  afterEach(async () => {
    await manager?.stop();
    manager = undefined;
  });

  function make(mapper: FakeMapper, extra: Partial<ConstructorParameters<typeof MappingManager>[0]> = {}): MappingManager {
    manager = new MappingManager({ mapper, request, checkIntervalMs: 50, backoff: { initialMs: 20, maxMs: 100 }, ...extra });
    return manager;
  }

  test('maps, reports the external address, and removes the mapping and closes the backend on stop', async () => {
    const mapper = new FakeMapper();
    const m = make(mapper);
    const mapped = next(m, 'change', (s) => s.status === 'mapped');
    m.start();
    const s = await mapped;
    assert.equal(s.externalAddress, '203.0.113.7');
    assert.equal(s.mapping?.externalPort, 5683);
    assert.equal(s.reason, 'created');
    assert.equal(mapper.table.size, 1);
    await m.stop();
    assert.equal(mapper.table.size, 0);
    assert.ok(mapper.closed);
    assert.equal(m.state.status, 'stopped');
  });

  test('renews at half the lease without a visible change', async () => {
    const mapper = new FakeMapper();
    const m = make(mapper, { checkIntervalMs: 10_000 });
    m.start();
    await next(m, 'change', (s) => s.status === 'mapped');
    const started = Date.now();
    await next(m, 'renewed', (s) => s.reason === 'renewed');
    const took = Date.now() - started;
    assert.ok(took >= 900 && took < 1500, `renewed after ${took} ms, lease 2 s`);
  });

  test('re-creates the mapping when the router forgets it', async () => {
    const mapper = new FakeMapper();
    const m = make(mapper);
    m.start();
    await next(m, 'change', (s) => s.status === 'mapped');
    mapper.table.clear();
    const s = await next(m, 'change', (x) => x.reason === 'recreated');
    assert.equal(s.status, 'mapped');
    assert.equal(mapper.table.size, 1);
  });

  test('follows a new external address', async () => {
    const mapper = new FakeMapper();
    const m = make(mapper);
    m.start();
    await next(m, 'change', (s) => s.status === 'mapped');
    mapper.address = '198.51.100.9';
    const s = await next(m, 'change', (x) => x.reason === 'address-changed');
    assert.equal(s.externalAddress, '198.51.100.9');
    assert.equal(s.mapping?.externalPort, 5683);
  });

  test('backs off on failure with growing delays, keeps the error, then recovers', async () => {
    const mapper = new FakeMapper();
    mapper.failNext = 3;
    const m = make(mapper);
    const retries: MappingState[] = [];
    m.on('change', (s) => s.status === 'retrying' && retries.push(s));
    m.start();
    await next(m, 'change', (s) => s.status === 'mapped');
    assert.deepEqual(retries.map((r) => r.retryInMs), [20, 40, 80]);
    assert.equal(retries[0]?.error?.upnpCode, 718);
  });

  test('an absent router never throws: it retries until stopped, and stop is prompt', async () => {
    const mapper = new FakeMapper();
    mapper.down = true;
    const m = make(mapper);
    m.start();
    await next(m, 'change', (s) => s.status === 'retrying' && s.failures >= 3);
    await m.stop(); // a stop that waited on the retry loop would never return: the test times out
    assert.ok(!mapper.calls.includes('unmap'), 'nothing to remove');
  });

  test('stop during a hanging request still returns within the stop timeout', async () => {
    const mapper = new FakeMapper();
    mapper.externalAddress = () => new Promise<string>(() => undefined);
    const m = make(mapper, { stopTimeoutMs: 200 });
    m.start();
    await new Promise((r) => setTimeout(r, 30));
    await m.stop(); // the request never settles: only the stop timeout lets this return
    assert.ok(mapper.closed);
  });

  test('refuses impossible requests at construction', () => {
    assert.throws(() => new MappingManager({ mapper: new FakeMapper(), request: { ...request, externalPort: 70000 } }), /external port 70000/);
  });

  test('back-off doubles and caps', () => {
    assert.deepEqual([1, 2, 3, 10, 100].map((n) => backoffDelay(n, { initialMs: 1000, maxMs: 5000 })), [1000, 2000, 4000, 5000, 5000]);
  });
});
