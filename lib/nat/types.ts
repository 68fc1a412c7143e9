/** What every port-mapping backend (UPnP IGD v1/v2, NAT-PMP) offers the mapping manager. */

export type MappingProtocol = 'udp' | 'tcp';

export interface MappingRequest {
  protocol: MappingProtocol;
  /** The gateway's own port. */
  internalPort: number;
  /** The router port wanted outside; NAT-PMP routers may hand out another one. */
  externalPort: number;
  /** Requested lease in seconds; the router may shorten it. */
  lifetimeSeconds: number;
  /** Shown in the router's mapping table (UPnP only). */
  description: string;
  /** LAN host to forward to (UPnP only); default this host. Routers in secure mode refuse others. */
  internalClient?: string;
}

export interface Mapping {
  protocol: MappingProtocol;
  internalPort: number;
  /** The LAN address the router forwards to; undefined where the protocol does not say (NAT-PMP). */
  internalClient?: string;
  externalPort: number;
  /** Lease the router granted, seconds; 0 means permanent. */
  lifetimeSeconds: number;
  description?: string;
}

export interface PortMapper {
  /** Which protocol this backend speaks, e.g. "UPnP IGD v2" or "NAT-PMP". */
  readonly kind: string;
  externalAddress(): Promise<string>;
  /** Creates or renews a mapping; resolves with what the router granted. */
  map(request: MappingRequest): Promise<Mapping>;
  unmap(mapping: Pick<Mapping, 'protocol' | 'externalPort' | 'internalPort'>): Promise<void>;
  /** The router's mappings, as far as the protocol can tell (NAT-PMP: only this client's). */
  list(): Promise<Mapping[]>;
  /** Releases sockets and caches; the mapper is not used afterwards. */
  close(): void;
}
