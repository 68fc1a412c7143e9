/** UPnP IGD: discovers the router (SSDP), reads its description, and talks v2 or v1 as it offers. */
import { DelegatingMapper } from './delegating-mapper';
import { defaultGateway } from './default-gateway';
import { describeRouter, WANIP_V1, WANIP_V2, WANPPP_V1, type IgdRouter } from './igd-description';
import { NatError } from './errors';
import { searchIgd } from './ssdp';
import { NatUpnpV1Control } from './upnp-v1-control';
import { DirectSoapControl } from './upnp-v2-control';
import { UpnpIgdMapper } from './upnp-igd-mapper';
import type { PortMapper } from './types';

export interface UpnpOptions {
  /** 'v1' only through nat-upnp, 'v2' only, or 'best' (v2 where offered, else v1). Default 'best'. */
  igd?: 'v1' | 'v2' | 'best';
  /** Skip SSDP and read this root description URL. */
  descriptionUrl?: string;
  discoveryTimeoutMs?: number;
  requestTimeoutMs?: number;
  /** Where the default route is read from (the router is also asked unicast). */
  routeFile?: string;
}

export class UpnpMapper extends DelegatingMapper {
  protected readonly label = 'UPnP IGD';

  constructor(private readonly options: UpnpOptions = {}) {
    super();
  }

  protected async choose(): Promise<PortMapper> {
    const timeoutMs = this.options.requestTimeoutMs ?? 5_000;
    let location = this.options.descriptionUrl;
    if (!location) {
      const unicastTo = await defaultGateway(this.options.routeFile).catch(() => undefined);
      location = (await searchIgd({ timeoutMs: this.options.discoveryTimeoutMs ?? 3_000, unicastTo })).location;
    }
    return pickBackend(await describeRouter(location, timeoutMs), this.options.igd ?? 'best', timeoutMs);
  }
}

export function pickBackend(router: IgdRouter, igd: 'v1' | 'v2' | 'best', timeoutMs: number): PortMapper {
  const v2 = router.services.find((s) => s.serviceType === WANIP_V2);
  const v1 = router.services.find((s) => s.serviceType === WANIP_V1 || s.serviceType === WANPPP_V1);
  if (igd !== 'v1' && v2) return new UpnpIgdMapper('UPnP IGD v2', new DirectSoapControl(v2, timeoutMs), router.localAddress, 2);
  if (igd !== 'v2' && v1) return new UpnpIgdMapper('UPnP IGD v1', new NatUpnpV1Control(router.location, v1, timeoutMs), router.localAddress, 1);
  if (igd === 'v1') {
    throw new NatError('unsupported', 'the router offers no IGD v1 WANIPConnection:1 / WANPPPConnection:1 service (it may speak IGD v2 only: choose UPnP or automatic)');
  }
  throw new NatError('unsupported', 'the router offers no IGD v2 WANIPConnection:2 service (choose UPnP or automatic to use IGD v1)');
}
