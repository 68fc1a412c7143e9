/** Reads an IGD root description and finds the WAN connection services it offers. */
import { createSocket } from 'node:dgram';
import { httpRequest } from './http-request';
import { NatError } from './errors';
import { elements, text } from './xml';

export const WANIP_V2 = 'urn:schemas-upnp-org:service:WANIPConnection:2';
export const WANIP_V1 = 'urn:schemas-upnp-org:service:WANIPConnection:1';
export const WANPPP_V1 = 'urn:schemas-upnp-org:service:WANPPPConnection:1';
const WAN_SERVICES = [WANIP_V2, WANIP_V1, WANPPP_V1];

export interface IgdService {
  serviceType: string;
  /** Absolute URL. */
  controlUrl: string;
}

export interface IgdRouter {
  location: string;
  /** WAN connection services, best first (WANIPConnection:2, :1, WANPPPConnection:1). */
  services: IgdService[];
  /** This host's address on the router's network: the mapping's internal client. */
  localAddress: string;
}

export function parseDescription(xml: string, location: string): IgdService[] {
  const base = text(xml, 'URLBase') || location;
  const found: IgdService[] = [];
  for (const block of elements(xml, 'service')) {
    const serviceType = text(block, 'serviceType');
    const control = text(block, 'controlURL');
    if (!serviceType || !control || !WAN_SERVICES.includes(serviceType)) continue;
    try {
      found.push({ serviceType, controlUrl: new URL(control, base).toString() });
    } catch {
      // an unusable URL: skip the service
    }
  }
  return found.sort((a, b) => WAN_SERVICES.indexOf(a.serviceType) - WAN_SERVICES.indexOf(b.serviceType));
}

export async function describeRouter(location: string, timeoutMs: number): Promise<IgdRouter> {
  const reply = await httpRequest(location, { timeoutMs });
  if (reply.status !== 200) throw new NatError('protocol', `router description ${location} answered HTTP ${reply.status}`);
  const services = parseDescription(reply.body, location);
  if (services.length === 0) throw new NatError('unsupported', `the UPnP device at ${location} offers no WANIPConnection or WANPPPConnection service`);
  return { location, services, localAddress: await localAddressTowards(new URL(location).hostname) };
}

/** The source address the kernel would use to reach `host` (no packet is sent). */
export function localAddressTowards(host: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = createSocket('udp4');
    s.on('error', (err) => {
      s.close();
      reject(new NatError('unreachable', `no route to the router ${host}: ${err.message}`, { cause: err }));
    });
    s.connect(9, host, () => {
      const { address } = s.address();
      s.close();
      resolve(address);
    });
  });
}
