/** IGD actions sent directly (SOAP over node:http): any WAN service, including WANIPConnection:2. */
import { soapCall } from './upnp-soap';
import type { IgdControl } from './upnp-control';
import type { IgdService } from './igd-description';

export class DirectSoapControl implements IgdControl {
  constructor(
    private readonly service: IgdService,
    private readonly timeoutMs: number,
  ) {}

  call(action: string, args: Array<[string, string | number]>): Promise<Record<string, string>> {
    return soapCall(this.service.controlUrl, this.service.serviceType, action, args, this.timeoutMs);
  }
}
