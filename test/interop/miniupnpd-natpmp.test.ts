/**
 * NAT-PMP against a real miniupnpd in network namespaces (see test/support/netns.ts): the gateway
 * code runs in the lan namespace, finds the router from its default route, maps a port, and a
 * datagram from the wan namespace reaches a UDP echo in lan through it.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createLab, flushMiniupnpdChains, startMiniupnpd, WAN_ROUTER_IP, type Lab, type Miniupnpd } from '../support/netns';
import { startNetnsNode, type NetnsNode } from '../support/netns-node';

const natPmp = { schedule: { initialTimeoutMs: 100, maxTries: 4 } };
const manager = { checkIntervalMs: 500, backoff: { initialMs: 200, maxMs: 1000 }, stopTimeoutMs: 3000 };
const request = { protocol: 'udp', internalPort: 5683, externalPort: 15683, lifetimeSeconds: 120, description: 'edge-gateway test' };

describe('NAT-PMP against miniupnpd', () => {
  let lab: Lab | undefined;
  let router: Miniupnpd | undefined;
  let lan: NetnsNode | undefined;
  let wan: NetnsNode | undefined;

  before(async () => {
    lab = await createLab();
    // UPnP off, so that "automatic" has to fall back to NAT-PMP.
    router = await startMiniupnpd(lab, { upnp: false });
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

  const fromWan = (timeoutMs = 2000): Promise<{ ok: boolean; value?: unknown; from?: string }> =>
    wan!.call({ cmd: 'send', host: WAN_ROUTER_IP, port: 15683, payload: 'ping', timeoutMs });

  test('learns the external address from the router on the default route', async () => {
    const r = await lan!.call({ cmd: 'call', backend: 'natpmp', options: { natPmp }, method: 'externalAddress' });
    assert.deepEqual(r.error, undefined);
    assert.equal(r.value, WAN_ROUTER_IP);
    assert.equal(r.kind, 'NAT-PMP');
  });

  test('"automatic" falls back to NAT-PMP when no UPnP device answers', async () => {
    const r = await lan!.call({ cmd: 'call', backend: 'auto', options: { natPmp, upnp: { discoveryTimeoutMs: 1000 } }, method: 'externalAddress' });
    assert.deepEqual([r.kind, r.value, r.error], ['NAT-PMP', WAN_ROUTER_IP, undefined]);
  });

  test('the managed mapping carries a datagram from wan to lan and back, survives a router restart, and is removed on stop', async () => {
    assert.equal((await fromWan(500)).ok, false, 'nothing is mapped yet');
    await lan!.call({ cmd: 'manage', backend: 'natpmp', options: { natPmp }, request, manager });
    const mapped = await lan!.waitEvent((e) => e.state?.status === 'mapped', 10_000);
    assert.equal(mapped.state?.externalAddress, WAN_ROUTER_IP);
    assert.equal(mapped.state?.mapping?.externalPort, 15683);
    const echoed = await fromWan();
    assert.equal(echoed.value, 'echo:ping');
    assert.equal(echoed.from, `${WAN_ROUTER_IP}:15683`, 'the answer comes back from the mapped external port');

    // Let the router's epoch grow so the restart is visible in it (RFC 6886 section 3.6).
    await new Promise((r) => setTimeout(r, 3000));
    await router!.stop();
    await flushMiniupnpdChains(lab!);
    assert.equal((await fromWan(500)).ok, false, 'the rebooted router has forgotten the mapping');
    router = await startMiniupnpd(lab!, { upnp: false });
    await lan!.waitEvent((e) => e.state?.reason === 'recreated', 15_000);
    assert.equal((await fromWan()).value, 'echo:ping');

    await lan!.call({ cmd: 'unmanage' });
    assert.equal((await fromWan(500)).ok, false, 'mapping removed on stop');
  });
});
