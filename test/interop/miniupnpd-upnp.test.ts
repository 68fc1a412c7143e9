/**
 * UPnP IGD against a real miniupnpd in network namespaces (see test/support/netns.ts): its default
 * IGD v2 description (spoken directly) and force_igd_desc_v1=yes (spoken through nat-upnp), with
 * secure_mode refusals, a wan -> lan datagram through the mapping, and a router restart.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createLab, flushMiniupnpdChains, startMiniupnpd, WAN_ROUTER_IP, LAN_GATEWAY_IP, type Lab, type Miniupnpd } from '../support/netns';
import { startNetnsNode, type NetnsNode } from '../support/netns-node';

const upnp = { discoveryTimeoutMs: 1500, requestTimeoutMs: 3000 };
const options = { upnp, natPmp: { schedule: { initialTimeoutMs: 100, maxTries: 3 } } };
const manager = { checkIntervalMs: 500, backoff: { initialMs: 200, maxMs: 1000 }, stopTimeoutMs: 3000 };
const request = { protocol: 'udp', internalPort: 5683, externalPort: 25683, lifetimeSeconds: 120, description: 'edge-gateway test' };

interface Rig {
  lab: Lab;
  router: Miniupnpd;
  lan: NetnsNode;
  wan: NetnsNode;
}

function rig(forceIgdV1: boolean): { get: () => Rig; restartRouter: () => Promise<void> } {
  let lab: Lab | undefined;
  let router: Miniupnpd | undefined;
  let lan: NetnsNode | undefined;
  let wan: NetnsNode | undefined;
  before(async () => {
    lab = await createLab();
    router = await startMiniupnpd(lab, { forceIgdV1 });
    lan = await startNetnsNode(lab.lan);
    wan = await startNetnsNode(lab.wan);
    await lan.call({ cmd: 'echo', port: 5683 });
  });
  after(async () => {
    await lan?.stop();
    await wan?.stop();
    await router?.stop();
    await lab?.destroy();
  });
  return {
    get: () => ({ lab: lab!, router: router!, lan: lan!, wan: wan! }),
    // A reboot: the daemon goes and its rules with it.
    restartRouter: async () => {
      await router!.stop();
      await flushMiniupnpdChains(lab!);
      router = await startMiniupnpd(lab!, { forceIgdV1 });
    },
  };
}

const call = (r: Rig, backend: string, method: string, arg?: unknown) => r.lan.call({ cmd: 'call', backend, options, method, arg });
const fromWan = (r: Rig, port: number, timeoutMs = 2000) => r.wan.call({ cmd: 'send', host: WAN_ROUTER_IP, port, payload: 'ping', timeoutMs });

async function managedRoundTrip(setup: ReturnType<typeof rig>, backend: string, kind: string): Promise<void> {
  const r = setup.get();
  assert.equal((await fromWan(r, 25683, 500)).ok, false, 'nothing mapped yet');
  await r.lan.call({ cmd: 'manage', backend, options, request, manager });
  const mapped = await r.lan.waitEvent((e) => e.state?.status === 'mapped', 10_000);
  assert.equal(mapped.state?.backend, kind);
  assert.equal(mapped.state?.externalAddress, WAN_ROUTER_IP);
  const echoed = await fromWan(r, 25683);
  assert.equal(echoed.value, 'echo:ping', JSON.stringify(echoed));
  assert.equal(echoed.from, `${WAN_ROUTER_IP}:25683`);

  const listed = (await call(r, backend, 'list')).value as Array<{ externalPort: number; internalClient: string; description: string }>;
  assert.ok(listed.some((m) => m.externalPort === 25683 && m.internalClient === LAN_GATEWAY_IP && m.description === 'edge-gateway test'), JSON.stringify(listed));

  await setup.restartRouter();
  assert.equal((await fromWan(setup.get(), 25683, 500)).ok, false, 'the restarted router has forgotten the mapping');
  await r.lan.waitEvent((e) => e.state?.reason === 'recreated', 15_000);
  assert.equal((await fromWan(setup.get(), 25683)).value, 'echo:ping');

  await r.lan.call({ cmd: 'unmanage' });
  assert.deepEqual((await call(setup.get(), backend, 'list')).value, [], 'mapping removed on stop');
  assert.equal((await fromWan(setup.get(), 25683, 500)).ok, false);
}

describe('UPnP IGD v2 (miniupnpd default description)', () => {
  const setup = rig(false);

  test('"upnp" discovers the router and speaks IGD v2', async () => {
    const r = await call(setup.get(), 'upnp', 'externalAddress');
    assert.deepEqual([r.kind, r.value, r.error], ['UPnP IGD v2', WAN_ROUTER_IP, undefined]);
  });

  test('nat-upnp (IGD v1 only) says the router is v2-only instead of returning an empty list', async () => {
    for (const method of ['list', 'externalAddress']) {
      const r = await call(setup.get(), 'upnp-v1', method);
      assert.equal(r.ok, false);
      assert.equal(r.error?.kind, 'unsupported');
      assert.match(r.error!.message, /IGD v2 only/);
    }
  });

  test('secure_mode: a mapping for another LAN host is refused with its UPnP error code', async () => {
    const r = await call(setup.get(), 'upnp', 'map', { ...request, internalClient: '192.168.77.9' });
    assert.equal(r.ok, false);
    assert.equal(r.error?.kind, 'refused');
    assert.ok([606, 718].includes(r.error!.upnpCode!), JSON.stringify(r.error));
  });

  test('managed mapping: wan -> lan datagram and back, survives a router restart, removed on stop', () => managedRoundTrip(setup, 'upnp', 'UPnP IGD v2'));
});

describe('UPnP IGD v1 (force_igd_desc_v1=yes) through nat-upnp', () => {
  const setup = rig(true);

  test('"upnp" falls back to IGD v1 through nat-upnp; "upnp-v2" says the router lacks v2', async () => {
    const r = await call(setup.get(), 'upnp', 'externalAddress');
    assert.deepEqual([r.kind, r.value, r.error], ['UPnP IGD v1', WAN_ROUTER_IP, undefined]);
    const v2 = await call(setup.get(), 'upnp-v2', 'externalAddress');
    assert.equal(v2.error?.kind, 'unsupported');
  });

  test('secure_mode refusal keeps the UPnP error code that nat-upnp drops', async () => {
    const r = await call(setup.get(), 'upnp-v1', 'map', { ...request, internalClient: '192.168.77.9' });
    assert.equal(r.ok, false);
    assert.equal(r.error?.kind, 'refused');
    assert.ok([606, 718].includes(r.error!.upnpCode!), JSON.stringify(r.error));
  });

  test('map, list and unmap through nat-upnp', async () => {
    const s = setup.get();
    const m = await call(s, 'upnp-v1', 'map', { ...request, protocol: 'tcp', externalPort: 28080, internalPort: 8080 });
    assert.equal(m.ok, true, JSON.stringify(m));
    const listed = (await call(s, 'upnp-v1', 'list')).value as Array<{ protocol: string; externalPort: number }>;
    assert.ok(listed.some((x) => x.protocol === 'tcp' && x.externalPort === 28080), JSON.stringify(listed));
    assert.equal((await call(s, 'upnp-v1', 'unmap', { protocol: 'tcp', externalPort: 28080, internalPort: 8080 })).ok, true);
    assert.deepEqual((await call(s, 'upnp-v1', 'list')).value, []);
    // Removing what is gone is not an error (UPnP 714).
    assert.equal((await call(s, 'upnp-v1', 'unmap', { protocol: 'tcp', externalPort: 28080, internalPort: 8080 })).ok, true);
  });

  test('managed mapping: wan -> lan datagram and back, survives a router restart, removed on stop', () => managedRoundTrip(setup, 'auto', 'UPnP IGD v1'));
});
