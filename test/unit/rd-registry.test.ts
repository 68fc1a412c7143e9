import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { ResourceDirectory, type Registration } from '../../lib/coap/rd/registry';
import { RdError } from '../../lib/coap/rd/rd-error';
import { parseLinks } from '../../lib/coap/link-format';
import type { RegisteredEndpoint, RemovalReason } from '../../lib/coap/rd/directory';

function fixture(limits: ConstructorParameters<typeof ResourceDirectory>[0] extends infer O ? (O extends { limits?: infer L } ? L : never) : never = {}) {
  let now = 1_700_000_000_000;
  let n = 0;
  const rd = new ResourceDirectory({ clock: () => now, newId: () => `id${++n}`, limits });
  const events: Array<[string, string, RemovalReason?]> = [];
  rd.on('registered', (r) => events.push(['registered', r.ep]));
  rd.on('updated', (r) => events.push(['updated', r.ep]));
  rd.on('removed', (r, why) => events.push(['removed', r.ep, why]));
  return { rd, events, advance: (ms: number) => (now += ms), now: () => now };
}

const src = { address: '192.0.2.5', port: 5683 };
const links = parseLinks('</sensors/temp>;rt="temperature-c";if="sensor",</sensors/light>;rt="light-lux"');

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof RdError) return err.code;
    throw err;
  }
  return 'no error';
}

describe('registration (RFC 9176 §5.3)', () => {
  test('registers with defaults: base from the source, lt 90000', () => {
    const { rd, events, now } = fixture();
    const { registration, created } = rd.register({ query: ['ep=node1'], links, source: src });
    assert.equal(created, true);
    assert.equal(registration.id, 'id1');
    assert.equal(registration.ep, 'node1');
    assert.equal(registration.d, undefined);
    assert.equal(registration.base, 'coap://192.0.2.5');
    assert.equal(registration.lt, 90000);
    assert.equal(registration.expiresAt, now() + 90_000_000);
    assert.deepEqual(registration.links, links);
    assert.deepEqual(events, [['registered', 'node1']]);
    assert.equal(rd.endpoint('node1'), registration);
    assert.ok(Object.isFrozen(registration) && Object.isFrozen(registration.links[0]));
  });

  test('base keeps a non-default port and brackets IPv6, without a zone', () => {
    const { rd } = fixture();
    assert.equal(rd.register({ query: ['ep=a'], links: [], source: { address: '192.0.2.5', port: 61616 } }).registration.base, 'coap://192.0.2.5:61616');
    assert.equal(rd.register({ query: ['ep=b'], links: [], source: { address: 'fe80::1%eth0', port: 5683 } }).registration.base, 'coap://[fe80::1]');
    assert.equal(rd.register({ query: ['ep=c', 'base=coap://[2001:db8::1]:5683'], links: [], source: src }).registration.base, 'coap://[2001:db8::1]:5683');
  });

  test('the same ep and d replace the earlier registration and keep its location', () => {
    const { rd, events } = fixture();
    const first = rd.register({ query: ['ep=node1', 'et=oic.d.sensor'], links, source: src }).registration;
    const again = rd.register({ query: ['ep=node1', 'lt=120'], links: parseLinks('</x>'), source: { address: '192.0.2.6', port: 5683 } });
    assert.equal(again.created, false);
    assert.equal(again.registration.id, first.id);
    assert.equal(again.registration.lt, 120);
    assert.equal(again.registration.base, 'coap://192.0.2.6');
    assert.deepEqual(again.registration.links, [{ href: '/x' }]);
    assert.deepEqual(again.registration.attributes, {});
    assert.equal(rd.endpoints().length, 1);
    // Another sector is another endpoint.
    const other = rd.register({ query: ['ep=node1', 'd=floor-3'], links, source: src }).registration;
    assert.notEqual(other.id, first.id);
    assert.equal(rd.endpoint('node1', 'floor-3'), other);
    assert.equal(rd.endpoint('node1')?.id, first.id);
    assert.deepEqual(events.map((e) => e[0]), ['registered', 'updated', 'registered']);
  });

  test('bad parameters are 4.00', () => {
    const { rd } = fixture();
    const reg = (...query: string[]) => code(() => rd.register({ query, links: [], source: src }));
    assert.equal(reg(), '4.00');
    assert.equal(reg('ep='), '4.00');
    assert.equal(reg('ep=a', 'ep=b'), '4.00');
    assert.equal(reg(`ep=${'x'.repeat(64)}`), '4.00');
    assert.equal(reg(`ep=${'x'.repeat(63)}`), 'no error');
    assert.equal(reg('ep=a\u0007'), '4.00');
    assert.equal(reg('ep=a\u0085'), '4.00');
    assert.equal(reg('ep=a', 'd='), '4.00');
    for (const lt of ['0', '-1', '1.5', 'abc', '4294967296', '']) assert.equal(reg('ep=a', `lt=${lt}`), '4.00', `lt=${lt}`);
    assert.equal(reg('ep=lt1', 'lt=1'), 'no error');
    assert.equal(reg('ep=ltmax', 'lt=4294967295'), 'no error');
    for (const base of ['nope', 'coap:x', 'coap://h/?q', 'coap://h#f']) assert.equal(reg('ep=a', `base=${base}`), '4.00', base);
    for (const attr of ['rt=x', 'href=/x', 'page=1', 'a(b=1']) assert.equal(reg('ep=a', attr), '4.00', attr);
    assert.equal(rd.endpoint('a'), undefined);
  });

  test('endpoint attributes are kept and bounded', () => {
    const { rd } = fixture({ maxAttributes: 2, maxAttributeBytes: 8 });
    const r = rd.register({ query: ['ep=a', 'et=x', 'et=y', 'color=red'], links: [], source: src }).registration;
    assert.deepEqual(r.attributes, { et: ['x', 'y'], color: ['red'] });
    assert.equal(code(() => rd.register({ query: ['ep=b', 'et=1', 'f=2', 'g=3'], links: [], source: src })), '4.00');
    assert.equal(code(() => rd.register({ query: ['ep=b', 'et=123456789'], links: [], source: src })), '4.00');
  });

  test('more links than allowed is 4.13', () => {
    const { rd } = fixture({ maxLinks: 1 });
    assert.equal(code(() => rd.register({ query: ['ep=a'], links, source: src })), '4.13');
  });
});

describe('update and removal (RFC 9176 §5.3.1, §5.3.2)', () => {
  test('an update resets the lifetime, keeps links unless new ones come', () => {
    const { rd, advance, now, events } = fixture();
    const r = rd.register({ query: ['ep=a', 'lt=100'], links, source: src }).registration;
    advance(60_000);
    const u = rd.update(r.id, { query: [], source: src });
    assert.equal(u.expiresAt, now() + 100_000);
    assert.deepEqual(u.links, links);
    const v = rd.update(r.id, { query: ['lt=500', 'et=new'], links: parseLinks('</only>'), source: src });
    assert.equal(v.lt, 500);
    assert.deepEqual(v.links, [{ href: '/only' }]);
    assert.deepEqual(v.attributes, { et: ['new'] });
    assert.deepEqual(events.map((e) => e[0]), ['registered', 'updated', 'updated']);
  });

  test('base follows the source unless it was ever given explicitly', () => {
    const { rd } = fixture();
    const r = rd.register({ query: ['ep=a'], links: [], source: src }).registration;
    assert.equal(rd.update(r.id, { query: [], source: { address: '192.0.2.9', port: 7000 } }).base, 'coap://192.0.2.9:7000');
    assert.equal(rd.update(r.id, { query: ['base=coaps://new.example.com:5684'], source: src }).base, 'coaps://new.example.com:5684');
    assert.equal(rd.update(r.id, { query: [], source: { address: '192.0.2.10', port: 5683 } }).base, 'coaps://new.example.com:5684');
  });

  test('unknown id is 4.04; ep or d in an update is 4.00', () => {
    const { rd } = fixture();
    const r = rd.register({ query: ['ep=a'], links: [], source: src }).registration;
    assert.equal(code(() => rd.update('nope', { query: [], source: src })), '4.04');
    assert.equal(code(() => rd.update(r.id, { query: ['ep=b'], source: src })), '4.00');
    assert.equal(code(() => rd.update(r.id, { query: ['lt=0'], source: src })), '4.00');
  });

  test('removal emits removed/deleted once', () => {
    const { rd, events } = fixture();
    const r = rd.register({ query: ['ep=a'], links: [], source: src }).registration;
    assert.equal(rd.remove(r.id), true);
    assert.equal(rd.remove(r.id), false);
    assert.deepEqual(events.at(-1), ['removed', 'a', 'deleted']);
    assert.equal(rd.endpoints().length, 0);
  });
});

describe('lifetimes on an injected clock', () => {
  test('a registration is gone the moment its lifetime runs out; sweep emits expired', () => {
    const { rd, advance, events } = fixture();
    rd.register({ query: ['ep=short', 'lt=60'], links: [], source: src });
    rd.register({ query: ['ep=long', 'lt=120'], links: [], source: src });
    assert.equal(rd.nextExpiry(), rd.endpoint('short')?.expiresAt);
    advance(59_999);
    assert.equal(rd.endpoints().length, 2);
    advance(1);
    assert.deepEqual(rd.endpoints().map((r) => r.ep), ['long']);
    assert.equal(rd.get(rd.snapshot()[0]!.id), undefined, 'expired but not swept is already invisible');
    assert.equal(rd.sweep(), 1);
    assert.deepEqual(events.at(-1), ['removed', 'short', 'expired']);
    assert.equal(rd.sweep(), 0);
    advance(60_000);
    assert.equal(rd.sweep(), 1);
    assert.equal(rd.nextExpiry(), undefined);
  });

  test('an update of an expired registration is 4.04', () => {
    const { rd, advance } = fixture();
    const r = rd.register({ query: ['ep=a', 'lt=60'], links: [], source: src }).registration;
    advance(60_000);
    assert.equal(code(() => rd.update(r.id, { query: [], source: src })), '4.04');
  });
});

describe('limits', () => {
  test('a full directory answers 5.03 with Max-Age until the next expiry; re-registration still works', () => {
    const { rd, advance } = fixture({ maxRegistrations: 2 });
    rd.register({ query: ['ep=a', 'lt=300'], links: [], source: src });
    rd.register({ query: ['ep=b', 'lt=600'], links: [], source: src });
    advance(100_000);
    try {
      rd.register({ query: ['ep=c'], links: [], source: src });
      assert.fail('should be full');
    } catch (err) {
      assert.ok(err instanceof RdError);
      assert.equal(err.code, '5.03');
      assert.equal(err.options['Max-Age'], 200);
    }
    assert.equal(code(() => rd.register({ query: ['ep=a'], links: [], source: src })), 'no error');
    assert.equal(code(() => rd.preflight(['ep=c'], true)), '5.03');
    assert.equal(code(() => rd.preflight(['ep=a'], true)), 'no error');
  });

  test('registrations per source per minute: 4.29 with Max-Age, per address, window resets', () => {
    const { rd, advance } = fixture({ maxRegistrationsPerSourcePerMinute: 3 });
    for (let i = 0; i < 3; i++) rd.admit('192.0.2.5');
    advance(15_000);
    try {
      rd.admit('192.0.2.5');
      assert.fail('should be limited');
    } catch (err) {
      assert.ok(err instanceof RdError);
      assert.equal(err.code, '4.29');
      assert.equal(err.options['Max-Age'], 45);
    }
    assert.doesNotThrow(() => rd.admit('192.0.2.6'));
    advance(45_000);
    assert.doesNotThrow(() => rd.admit('192.0.2.5'));
  });

  test('simple registration takes no base', () => {
    const { rd } = fixture();
    assert.equal(code(() => rd.preflight(['ep=a', 'base=coap://x'], true)), '4.00');
    assert.equal(code(() => rd.register({ query: ['ep=a', 'base=coap://x'], links: [], source: src, simple: true })), '4.00');
  });
});

describe('snapshot and restore', () => {
  test('restores live registrations without events, drops expired ones and clashes', () => {
    const a = fixture();
    a.rd.register({ query: ['ep=keep', 'lt=1000'], links, source: src });
    a.rd.register({ query: ['ep=gone', 'lt=10'], links: [], source: src });
    const saved = JSON.parse(JSON.stringify(a.rd.snapshot())) as Registration[];
    const b = fixture();
    b.advance(20_000);
    assert.deepEqual(b.rd.restore(saved), { restored: 1, dropped: 1 });
    assert.equal(b.events.length, 0);
    const kept = b.rd.endpoint('keep') as RegisteredEndpoint;
    assert.deepEqual(kept.links, links);
    assert.equal(kept.id, 'id1');
    assert.ok(Object.isFrozen(kept));
    // A later new registration does not reuse a restored id; a clashing saved entry is left out.
    assert.equal(b.rd.register({ query: ['ep=new'], links: [], source: src }).registration.id, 'id2');
    assert.deepEqual(b.rd.restore(saved), { restored: 0, dropped: 2 });
  });
});

describe('look-up by name (what the proxy uses per request)', () => {
  test('named() follows registration, update, removal and expiry, one entry per sector', () => {
    const { rd, advance } = fixture();
    const a = rd.register({ query: ['ep=lamp', 'lt=60'], links, source: src }).registration;
    rd.register({ query: ['ep=lamp', 'd=garden', 'lt=120'], links, source: src });
    rd.register({ query: ['ep=other'], links, source: src });
    assert.deepEqual(rd.named('lamp').map((r) => r.d ?? ''), ['', 'garden']);
    rd.update(a.id, { query: ['lt=300'], source: src });
    assert.equal(rd.named('lamp').length, 2, 'an update replaces, never duplicates');
    advance(130_000); // the garden registration (lt 120) has run out, the updated one (lt 300) has not
    assert.deepEqual(rd.named('lamp').map((r) => r.d ?? ''), ['']);
    assert.equal(rd.endpoint('lamp', 'garden'), undefined);
    rd.remove(a.id);
    assert.deepEqual(rd.named('lamp'), []);
    assert.equal(rd.named('other').length, 1);
    assert.deepEqual(rd.named('nobody'), []);
  });
});
