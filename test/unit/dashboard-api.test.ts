import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { deleteClaim, getState, postClaim, putSharing, type ApiContext } from '../../lib/dashboard/api';
import type { DashboardView } from '../../lib/dashboard/view';
import { lookupVendor, parseVendorCatalogue, VendorCatalogueError } from '../../lib/dashboard/vendor-catalogue';
import { requestAllows, scopeAllows } from '../../lib/dashboard/permissions';
import type { DirectoryEvents, EndpointDirectory, RegisteredEndpoint } from '../../lib/coap/rd/directory';
import { DEFAULT_SHARING } from '../../lib/sharing/choices';
import { MemoryProvisioning } from '../support/memory-provisioning';

const NOW = Date.UTC(2026, 10, 23, 12);

class StaticDirectory extends EventEmitter<DirectoryEvents> implements EndpointDirectory {
  constructor(private readonly list: RegisteredEndpoint[]) {
    super();
  }
  endpoint(ep: string): RegisteredEndpoint | undefined {
    return this.list.find((e) => e.ep === ep);
  }
  endpoints(): RegisteredEndpoint[] {
    return this.list;
  }
}

function context(services: MemoryProvisioning[], directory = new StaticDirectory([])): ApiContext {
  return {
    provisioning: () => services.map((s, i) => ({ nodeId: `prov${i}`, name: `registry ${i}`, value: s })),
    directories: () => [{ nodeId: 'rd1', name: 'rd', value: directory }],
    catalogue: () => [
      { vendor: 'Acme', name: 'Acme Lighting', url: 'https://acme.example/support', support: '+1 555 0100' },
      { vendor: 'Acme', model: 'L2', name: 'Acme Lighting (L2 line)' },
    ],
    thirdParties: () => ['utility'],
    now: () => NOW,
  };
}

const view = (ctx: ApiContext, canWrite = true) => getState(ctx, canWrite).body as DashboardView;

describe('dashboard API', () => {
  test('the state lists MQTT devices with vendor information, CoAP endpoints, claims and notices', async () => {
    const service = new MemoryProvisioning();
    service.provision({ id: 'lamp-1', vendor: 'acme', model: 'L1', firmware: '1.2.0', behaviours: ['dimmer'], lastSeen: '2026-11-23T11:59:00Z' });
    service.provision({ id: 'lamp-2', vendor: 'Acme', model: 'L2', online: false });
    await service.claim('plug-7', 'dashboard', 'kitchen plug');
    await service.claim('lamp-1', 'dashboard');
    service.addNotice({ kind: 'unclaimed', deviceId: 'stranger', at: '2026-11-23T11:00:00Z', reason: 'nobody claimed it' });
    service.addNotice({ kind: 'identity-mismatch', deviceId: 'lamp-3', at: '2026-11-23T11:30:00Z', reason: 'certificate says lamp-9' });
    const directory = new StaticDirectory([
      {
        id: 'r1', ep: 'sensor-1', base: 'coap://127.0.0.1:5690', lt: 90, expiresAt: NOW + 60_000, source: { address: '127.0.0.1', port: 5690 },
        links: [{ href: '/temp', attributes: { rt: 'temperature-c' } }, { href: '/hum', attributes: { rt: 'humidity' } }],
        attributes: { et: ['oic.d.sensor'] }, updatedAt: NOW - 1000,
      } as RegisteredEndpoint,
      { id: 'r2', ep: 'old', d: 'garden', base: 'coap://127.0.0.1:5691', lt: 60, expiresAt: NOW - 1, source: { address: '127.0.0.1', port: 5691 }, links: [] },
    ]);
    const s = view(context([service], directory));
    assert.deepEqual(
      s.devices.map((d) => [d.id, d.kind, d.online, d.model, d.vendorInfo?.name]),
      [
        ['lamp-1', 'mqtt', true, 'L1', 'Acme Lighting'],
        ['lamp-2', 'mqtt', false, 'L2', 'Acme Lighting (L2 line)'],
        ['sensor-1', 'coap', true, 'oic.d.sensor', undefined],
        ['old (garden)', 'coap', false, undefined, undefined],
      ],
    );
    const lamp = s.devices[0];
    assert.equal(lamp?.firmware, '1.2.0');
    assert.deepEqual(lamp?.behaviours, ['dimmer']);
    assert.deepEqual(lamp?.sharing, DEFAULT_SHARING);
    assert.deepEqual(s.devices[2]?.behaviours, ['temperature-c', 'humidity']);
    assert.equal(s.devices[2]?.lastSeen, new Date(NOW - 1000).toISOString());
    assert.equal(s.devices[2]?.sharing, undefined, 'choices are kept for provisioned devices only');
    assert.deepEqual(s.claims.map((c) => [c.id, c.label, c.registry]), [['plug-7', 'kitchen plug', 'prov0']], 'pending claims only: lamp-1 has provisioned');
    assert.deepEqual(s.notices.map((n) => n.kind), ['identity-mismatch', 'unclaimed'], 'newest first');
    assert.deepEqual(s.thirdParties, ['utility']);
    assert.equal(s.canWrite, true);
    assert.equal(view(context([service]), false).canWrite, false);
  });

  test('claim: to the first registry, or the one named; the ID is checked first', async () => {
    const a = new MemoryProvisioning();
    const b = new MemoryProvisioning();
    const ctx = context([a, b]);
    assert.equal((await postClaim(ctx, { id: 'lamp-1', label: 'hall' })).status, 200);
    assert.equal((await postClaim(ctx, { id: 'lamp-2', registry: 'prov1' })).status, 200);
    assert.deepEqual(a.claims().map((c) => [c.id, c.source, c.label]), [['lamp-1', 'dashboard', 'hall']]);
    assert.deepEqual(b.claims().map((c) => c.id), ['lamp-2']);
    for (const bad of [{}, { id: '' }, { id: 'a/b' }, { id: 'devices/+' }, { id: 'x'.repeat(65) }, { id: 'ok', label: 'x'.repeat(65) }, { id: 'ok', label: 'a\u0000b' }, 'lamp']) {
      assert.equal((await postClaim(ctx, bad)).status, 400, JSON.stringify(bad));
    }
    assert.equal((await postClaim(ctx, { id: 'lamp-3', registry: 'nope' })).status, 404);
    assert.equal((await postClaim(context([]), { id: 'lamp-3' })).status, 503);
  });

  test('the service refusing a claim is a 409 with its reason', async () => {
    const service = new MemoryProvisioning();
    service.claim = async () => {
      throw new Error('lamp-1 is already provisioned');
    };
    assert.deepEqual(await postClaim(context([service]), { id: 'lamp-1' }), { status: 409, body: { error: 'lamp-1 is already provisioned' } });
  });

  test('cancel a claim', async () => {
    const service = new MemoryProvisioning();
    await service.claim('lamp-1', 'dashboard');
    const ctx = context([service]);
    assert.equal((await deleteClaim(ctx, 'lamp-1', 'prov0')).status, 200);
    assert.deepEqual(service.claims(), []);
    assert.equal((await deleteClaim(ctx, 'lamp-1', 'prov0')).status, 404);
  });

  test('sharing choices: checked, then stored in the registry that holds the device', async () => {
    const a = new MemoryProvisioning();
    const b = new MemoryProvisioning();
    b.provision({ id: 'lamp-1' });
    const ctx = context([a, b]);
    const choices = { ...DEFAULT_SHARING, vendor: { mode: 'summary', windowMinutes: 60 }, thirdParties: { utility: { mode: 'raw' } } };
    assert.equal((await putSharing(ctx, 'lamp-1', choices)).status, 200);
    assert.deepEqual(b.device('lamp-1')?.sharing, choices);
    const bad = await putSharing(ctx, 'lamp-1', { ...choices, vendor: { mode: 'everything' } });
    assert.equal(bad.status, 400);
    assert.match(JSON.stringify(bad.body), /vendor.mode/);
    assert.deepEqual(b.device('lamp-1')?.sharing, choices, 'a refused change stores nothing');
    assert.equal((await putSharing(ctx, 'lamp-9', choices)).status, 404);
  });
});

describe('vendor catalogue', () => {
  test('model entry first, then the vendor, case-insensitively', () => {
    const c = parseVendorCatalogue([
      { vendor: 'Acme', name: 'Acme' },
      { vendor: 'Acme', model: 'L2', name: 'Acme L2', url: 'https://acme.example/l2' },
    ]);
    assert.equal(lookupVendor(c, 'acme', 'l2')?.name, 'Acme L2');
    assert.equal(lookupVendor(c, 'ACME', 'L1')?.name, 'Acme');
    assert.equal(lookupVendor(c, 'Other', 'L2'), undefined);
    assert.equal(lookupVendor(c, undefined, 'L2'), undefined);
  });
  test('refused: not an array, no name, a non-web URL', () => {
    assert.throws(() => parseVendorCatalogue({}), VendorCatalogueError);
    assert.throws(() => parseVendorCatalogue([{ vendor: 'Acme' }]), VendorCatalogueError);
    assert.throws(() => parseVendorCatalogue([{ vendor: 'Acme', name: 'A', url: 'javascript:alert(1)' }]), VendorCatalogueError);
  });
});

describe('permissions, by Node-RED rules', () => {
  test('scopes', () => {
    assert.equal(scopeAllows('*', 'edge-gateway.write'), true);
    assert.equal(scopeAllows(['read', 'edge-gateway.read'], 'edge-gateway.write'), false);
    assert.equal(scopeAllows(['read'], 'edge-gateway.read'), true);
    assert.equal(scopeAllows('write', 'edge-gateway.write'), true);
    assert.equal(scopeAllows(['flows.read', 'edge-gateway.write'], 'edge-gateway.write'), true);
    assert.equal(scopeAllows([], 'edge-gateway.read'), false);
  });
  test('without adminAuth (no user) everything is allowed', () => {
    assert.equal(requestAllows({}, 'edge-gateway.write'), true);
    assert.equal(requestAllows({ user: { username: 'v' }, authInfo: { scope: ['read'] } }, 'edge-gateway.write'), false);
  });
});
