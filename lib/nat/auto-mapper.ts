/** 'automatic': UPnP IGD if a router answers discovery, else NAT-PMP; chosen again after the router goes away. */
import { DelegatingMapper } from './delegating-mapper';
import { NatError } from './errors';
import { NatPmpMapper, type NatPmpOptions } from './natpmp-mapper';
import { UpnpMapper, type UpnpOptions } from './upnp-mapper';
import type { PortMapper } from './types';

export interface AutoOptions {
  upnp?: UpnpOptions;
  natPmp?: NatPmpOptions;
  /** How long the NAT-PMP probe retransmits: shorter than RFC 6886's 128 s so a choice is made soon. */
  natPmpProbe?: { initialTimeoutMs: number; maxTries: number };
}

export class AutoMapper extends DelegatingMapper {
  protected readonly label = 'automatic';

  constructor(private readonly options: AutoOptions = {}) {
    super();
  }

  protected async choose(): Promise<PortMapper> {
    const upnp = new UpnpMapper(this.options.upnp);
    let upnpError: string;
    try {
      await upnp.externalAddress();
      return upnp;
    } catch (err) {
      upnp.close();
      upnpError = (err as Error).message;
    }
    const probe = new NatPmpMapper({ ...this.options.natPmp, schedule: this.options.natPmpProbe ?? { initialTimeoutMs: 250, maxTries: 4 } });
    try {
      await probe.externalAddress();
    } catch (err) {
      throw new NatError('unreachable', `no router found. UPnP: ${upnpError}. NAT-PMP: ${(err as Error).message}`);
    } finally {
      probe.close();
    }
    return new NatPmpMapper(this.options.natPmp);
  }
}
