import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseDescription, WANIP_V1, WANIP_V2 } from '../../lib/nat/igd-description';
import { parseFault, soapCall, soapEnvelope } from '../../lib/nat/upnp-soap';
import { responseFields } from '../../lib/nat/upnp-v1-control';
import { parseSsdpAnswer } from '../../lib/nat/ssdp';
import { UpnpIgdMapper } from '../../lib/nat/upnp-igd-mapper';
import { pickBackend } from '../../lib/nat/upnp-mapper';
import { DelegatingMapper } from '../../lib/nat/delegating-mapper';
import { NatError } from '../../lib/nat/errors';
import { httpRequest } from '../../lib/nat/http-request';
import type { IgdControl } from '../../lib/nat/upnp-control';
import type { PortMapper } from '../../lib/nat/types';

const fault = (code: number, text: string): string =>
  `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><s:Fault><faultcode>s:Client</faultcode><faultstring>UPnPError</faultstring><detail><UPnPError xmlns="urn:schemas-upnp-org:control-1-0"><errorCode>${code}</errorCode><errorDescription>${text}</errorDescription></UPnPError></detail></s:Fault></s:Body></s:Envelope>`;

describe('UPnP description, SOAP and SSDP parsing', () => {
  test('finds WAN services, best first, with control URLs made absolute', () => {
    const xml = `<root><device><serviceList>
      <service><serviceType>urn:schemas-upnp-org:service:Layer3Forwarding:1</serviceType><controlURL>/ctl/L3F</controlURL></service>
      <service><serviceType>${WANIP_V1}</serviceType><controlURL>/ctl/v1</controlURL></service>
      <service><serviceType>${WANIP_V2}</serviceType><controlURL>http://10.0.0.1:5000/ctl/v2?a=1&amp;b=2</controlURL></service>
    </serviceList></device></root>`;
    assert.deepEqual(parseDescription(xml, 'http://192.168.1.1:5000/rootDesc.xml'), [
      { serviceType: WANIP_V2, controlUrl: 'http://10.0.0.1:5000/ctl/v2?a=1&b=2' },
      { serviceType: WANIP_V1, controlUrl: 'http://192.168.1.1:5000/ctl/v1' },
    ]);
    assert.deepEqual(parseDescription('<not-a-router/>', 'http://x/'), []);
  });

  test('reads the UPnP error code from a fault; escapes arguments in requests', () => {
    assert.deepEqual(parseFault(fault(718, 'ConflictInMappingEntry')), { code: 718, description: 'ConflictInMappingEntry' });
    assert.equal(parseFault('<html>500</html>'), undefined);
    assert.match(soapEnvelope(WANIP_V2, 'AddPortMapping', [['NewPortMappingDescription', 'a<b&"c"']]), /a&lt;b&amp;&quot;c&quot;/);
  });

  test('reads xml2js 0.1 output as nat-upnp hands it over', () => {
    const body = { 'u:GetExternalIPAddressResponse': { '@': { 'xmlns:u': WANIP_V1 }, NewExternalIPAddress: '11.200.0.1', Empty: {} } };
    assert.deepEqual(responseFields(body, 'GetExternalIPAddress'), { NewExternalIPAddress: '11.200.0.1', Empty: '' });
    assert.throws(() => responseFields({}, 'GetExternalIPAddress'), /no GetExternalIPAddressResponse/);
  });

  test('parses SSDP answers and ignores anything else', () => {
    assert.deepEqual(parseSsdpAnswer('HTTP/1.1 200 OK\r\nST: urn:x\r\nLocation: http://r/d.xml\r\n\r\n'), { location: 'http://r/d.xml', st: 'urn:x' });
    assert.deepEqual(parseSsdpAnswer('NOTIFY * HTTP/1.1\r\n'), {});
  });
});

describe('SOAP over HTTP against a local server', () => {
  async function serve(handler: (body: string) => [number, string], hang = false): Promise<{ url: string; server: Server }> {
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        if (hang) return;
        const [status, text] = handler(body);
        res.writeHead(status, { 'Content-Type': 'text/xml' }).end(text);
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/ctl`, server };
  }

  test('a refusal becomes a NatError with the code and its meaning', async () => {
    const { url, server } = await serve(() => [500, fault(606, 'Action not authorized')]);
    try {
      await assert.rejects(soapCall(url, WANIP_V2, 'AddPortMapping', [], 1000), (e: NatError) => {
        assert.equal(e.upnpCode, 606);
        assert.equal(e.kind, 'refused');
        assert.match(e.message, /UPnP error 606 Action not authorized \(action not authorised/);
        return true;
      });
    } finally {
      server.close();
    }
  });

  test('an answer is read by field name', async () => {
    const { url, server } = await serve(() => [200, `<s:Envelope><s:Body><u:GetExternalIPAddressResponse xmlns:u="${WANIP_V2}"><NewExternalIPAddress>203.0.113.7</NewExternalIPAddress></u:GetExternalIPAddressResponse></s:Body></s:Envelope>`]);
    try {
      assert.deepEqual(await soapCall(url, WANIP_V2, 'GetExternalIPAddress', [], 1000), { NewExternalIPAddress: '203.0.113.7' });
    } finally {
      server.close();
    }
  });

  test('a router that accepts and never answers times out', async () => {
    const { url, server } = await serve(() => [200, ''], true);
    try {
      await assert.rejects(httpRequest(url, { timeoutMs: 200 }), (e: NatError) => e.kind === 'unreachable' && /within 200 ms/.test(e.message));
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });
});

/** An IGD that answers from a script. */
function control(answers: Record<string, (args: Map<string, string | number>) => Record<string, string>>): IgdControl & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    async call(action, args) {
      calls.push(action);
      const f = answers[action];
      if (!f) throw new NatError('refused', 'no', { upnpCode: 401 });
      return f(new Map(args));
    },
  };
}
const refuse = (code: number) => (): never => {
  throw new NatError('refused', `UPnP error ${code}`, { upnpCode: code });
};
const req = { protocol: 'udp' as const, internalPort: 5683, externalPort: 5683, lifetimeSeconds: 0, description: 'gw' };

describe('UPnP IGD mapper', () => {
  test('IGD v2 turns a permanent lease into the one-week maximum', async () => {
    let lease: unknown;
    const m = new UpnpIgdMapper('v2', control({ AddPortMapping: (a) => ((lease = a.get('NewLeaseDuration')), {}) }), '192.168.1.5', 2);
    assert.equal((await m.map(req)).lifetimeSeconds, 604800);
    assert.equal(lease, 604800);
  });

  test('IGD v1 retries with a permanent lease when the router allows only those (725)', async () => {
    const leases: unknown[] = [];
    const m = new UpnpIgdMapper('v1', control({
      AddPortMapping: (a) => {
        leases.push(a.get('NewLeaseDuration'));
        if (a.get('NewLeaseDuration') !== 0) refuse(725)();
        return {};
      },
    }), '192.168.1.5', 1);
    assert.equal((await m.map({ ...req, lifetimeSeconds: 3600 })).lifetimeSeconds, 0);
    assert.deepEqual(leases, [3600, 0]);
  });

  test('lists until 713 and treats "no such entry" on delete as done', async () => {
    const entry = { NewProtocol: 'UDP', NewExternalPort: '5683', NewInternalPort: '5683', NewInternalClient: '192.168.1.5', NewLeaseDuration: '100', NewPortMappingDescription: 'gw' };
    const m = new UpnpIgdMapper('v2', control({
      GetGenericPortMappingEntry: (a) => (a.get('NewPortMappingIndex') === 0 ? entry : refuse(713)()),
      DeletePortMapping: refuse(714),
    }), '192.168.1.5', 2);
    assert.deepEqual(await m.list(), [{ protocol: 'udp', externalPort: 5683, internalPort: 5683, internalClient: '192.168.1.5', lifetimeSeconds: 100, description: 'gw' }]);
    await m.unmap({ protocol: 'udp', externalPort: 5683 });
  });

  test('a list that fails for another reason is an error, not an empty list', async () => {
    const m = new UpnpIgdMapper('v2', control({ GetGenericPortMappingEntry: refuse(606) }), '192.168.1.5', 2);
    await assert.rejects(m.list(), (e: NatError) => e.upnpCode === 606);
  });

  test('an empty external address means the WAN is down', async () => {
    const m = new UpnpIgdMapper('v2', control({ GetExternalIPAddress: () => ({ NewExternalIPAddress: '' }) }), '192.168.1.5', 2);
    await assert.rejects(m.externalAddress(), /no external address/);
  });

  test('picks v2 where offered, v1 otherwise, and says which is missing', () => {
    const router = (types: string[]) => ({ location: 'http://r/', localAddress: '192.168.1.5', services: types.map((t) => ({ serviceType: t, controlUrl: 'http://r/c' })) });
    assert.equal(pickBackend(router([WANIP_V2, WANIP_V1]), 'best', 1000).kind, 'UPnP IGD v2');
    assert.equal(pickBackend(router([WANIP_V1]), 'best', 1000).kind, 'UPnP IGD v1');
    assert.throws(() => pickBackend(router([WANIP_V2]), 'v1', 1000), /IGD v2 only/);
    assert.throws(() => pickBackend(router([WANIP_V1]), 'v2', 1000), /no IGD v2/);
  });
});

describe('delegating mapper', () => {
  class Counting extends DelegatingMapper {
    protected readonly label = 'test';
    chooses = 0;
    fail?: NatError;
    protected async choose(): Promise<PortMapper> {
      this.chooses += 1;
      const self = this;
      return {
        kind: 'inner',
        async externalAddress() {
          if (self.fail) throw self.fail;
          return '203.0.113.7';
        },
        map: async () => Promise.reject(new Error('unused')),
        unmap: async () => undefined,
        list: async () => [],
        close: () => undefined,
      };
    }
  }

  test('discovers once, again after the router went away, not after a refusal', async () => {
    const m = new Counting();
    assert.equal(m.kind, 'test');
    await m.externalAddress();
    await m.externalAddress();
    assert.equal(m.chooses, 1);
    assert.equal(m.kind, 'inner');
    m.fail = new NatError('refused', 'no');
    await assert.rejects(m.externalAddress());
    await assert.rejects(m.externalAddress());
    assert.equal(m.chooses, 1);
    m.fail = new NatError('unreachable', 'gone');
    await assert.rejects(m.externalAddress());
    m.fail = undefined;
    await m.externalAddress();
    assert.equal(m.chooses, 2);
    m.close();
    await assert.rejects(m.externalAddress(), /closed/);
  });
});
