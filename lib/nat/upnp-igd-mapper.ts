/** PortMapper over one UPnP IGD WAN connection service (v1 or v2 lease rules). */
import { NatError, validateRequest } from './errors';
import type { IgdControl } from './upnp-control';
import type { Mapping, MappingProtocol, MappingRequest, PortMapper } from './types';

/** IGD v2 forbids lease 0 (permanent) and caps leases at one week. */
const V2_MAX_LEASE = 604_800;
/** More entries than any home router holds: stops a router that never says "end of list". */
const MAX_LIST = 1024;

export class UpnpIgdMapper implements PortMapper {
  constructor(
    readonly kind: string,
    private readonly control: IgdControl,
    private readonly localAddress: string,
    private readonly igdVersion: 1 | 2,
  ) {}

  async externalAddress(): Promise<string> {
    const r = await this.control.call('GetExternalIPAddress', []);
    const address = r.NewExternalIPAddress?.trim();
    if (!address || address === '0.0.0.0') throw new NatError('unreachable', 'the router has no external address (WAN down?)');
    return address;
  }

  async map(request: MappingRequest): Promise<Mapping> {
    validateRequest(request);
    let lease = request.lifetimeSeconds;
    if (this.igdVersion === 2 && (lease === 0 || lease > V2_MAX_LEASE)) lease = V2_MAX_LEASE;
    try {
      await this.add(request, lease);
    } catch (err) {
      // IGD v1 routers may accept only permanent mappings (725); the manager still removes it on stop.
      if (!(err instanceof NatError) || err.upnpCode !== 725) throw err;
      lease = 0;
      await this.add(request, lease);
    }
    return {
      protocol: request.protocol,
      internalPort: request.internalPort,
      internalClient: request.internalClient ?? this.localAddress,
      externalPort: request.externalPort,
      lifetimeSeconds: lease,
      description: request.description,
    };
  }

  private async add(r: MappingRequest, lease: number): Promise<void> {
    await this.control.call('AddPortMapping', [
      ['NewRemoteHost', ''],
      ['NewExternalPort', r.externalPort],
      ['NewProtocol', r.protocol.toUpperCase()],
      ['NewInternalPort', r.internalPort],
      ['NewInternalClient', r.internalClient ?? this.localAddress],
      ['NewEnabled', 1],
      ['NewPortMappingDescription', r.description],
      ['NewLeaseDuration', lease],
    ]);
  }

  async unmap(mapping: Pick<Mapping, 'protocol' | 'externalPort'>): Promise<void> {
    try {
      await this.control.call('DeletePortMapping', [
        ['NewRemoteHost', ''],
        ['NewExternalPort', mapping.externalPort],
        ['NewProtocol', mapping.protocol.toUpperCase()],
      ]);
    } catch (err) {
      // Already gone (lease ran out, router restarted): that is what was wanted.
      if (!(err instanceof NatError) || err.upnpCode !== 714) throw err;
    }
  }

  async list(): Promise<Mapping[]> {
    const out: Mapping[] = [];
    for (let i = 0; i < MAX_LIST; i++) {
      let e: Record<string, string>;
      try {
        e = await this.control.call('GetGenericPortMappingEntry', [['NewPortMappingIndex', i]]);
      } catch (err) {
        // 713 (index out of range) ends the list; some v1 routers say 714 or 402 instead.
        if (err instanceof NatError && (err.upnpCode === 713 || (i > 0 && err.kind === 'refused'))) return out;
        if (err instanceof NatError && i === 0 && (err.upnpCode === 714 || err.upnpCode === 402)) return out;
        throw err;
      }
      const protocol = e.NewProtocol?.toLowerCase();
      if (protocol !== 'udp' && protocol !== 'tcp') continue;
      out.push({
        protocol: protocol as MappingProtocol,
        externalPort: Number(e.NewExternalPort),
        internalPort: Number(e.NewInternalPort),
        internalClient: e.NewInternalClient,
        lifetimeSeconds: Number(e.NewLeaseDuration) || 0,
        description: e.NewPortMappingDescription,
      });
    }
    return out;
  }

  close(): void {
    // Stateless HTTP: nothing to release.
  }
}
