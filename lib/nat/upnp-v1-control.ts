/**
 * IGD v1 actions through nat-upnp (the package the design chose), with its quirks contained:
 * - its Device repeats nothing but the description fetch; discovery is ours (ssdp.ts) and cached;
 * - "Service not found" (a router that offers IGD v2 only) becomes an 'unsupported' error that says so;
 * - "Request failed: 500" loses the UPnP error code: the same action is asked once more
 *   directly, only to read the code from the fault (a refused action changes nothing on the router);
 * - its HTTP requests have no timeout: ours bounds every call.
 */
import { device as natUpnpDevice } from 'nat-upnp';
import { NatError } from './errors';
import { soapCall } from './upnp-soap';
import type { IgdControl } from './upnp-control';
import type { IgdService } from './igd-description';

type Xml2jsNode = { [name: string]: string | Xml2jsNode };

export class NatUpnpV1Control implements IgdControl {
  private readonly device: ReturnType<typeof natUpnpDevice.create>;

  /** `service` is the router's v1 service, used only to recover error codes. */
  constructor(
    location: string,
    private readonly service: IgdService,
    private readonly timeoutMs: number,
  ) {
    this.device = natUpnpDevice.create(location);
  }

  call(action: string, args: Array<[string, string | number]>): Promise<Record<string, string>> {
    return new Promise<Xml2jsNode | undefined>((resolve, reject) => {
      const timer = setTimeout(() => reject(new NatError('unreachable', `${action}: no answer from the router within ${this.timeoutMs} ms`)), this.timeoutMs);
      try {
        this.device.run(action, args, (err, body) => {
          clearTimeout(timer);
          if (err) reject(err);
          else resolve(body);
        });
      } catch (err) {
        // nat-upnp throws synchronously on some malformed URLs.
        clearTimeout(timer);
        reject(err as Error);
      }
    }).then(
      (body) => responseFields(body, action),
      (err: unknown) => this.explain(action, args, err),
    );
  }

  private async explain(action: string, args: Array<[string, string | number]>, err: unknown): Promise<Record<string, string>> {
    if (err instanceof NatError) throw err;
    const message = err instanceof Error ? err.message : String(err);
    if (message === 'Service not found') {
      throw new NatError('unsupported', 'the router offers no IGD v1 WANIPConnection:1 / WANPPPConnection:1 service (it may speak IGD v2 only: choose UPnP or automatic)');
    }
    if (/^Request failed: \d+$/.test(message)) {
      // Throws the fault with its UPnP code; resolves only if the router changed its mind.
      return soapCall(this.service.controlUrl, this.service.serviceType, action, args, this.timeoutMs);
    }
    throw new NatError('unreachable', `${action}: ${message}`, { cause: err });
  }
}

/** Picks the `<u:ActionResponse>` element out of xml2js 0.1 output as name -> text. */
export function responseFields(body: Xml2jsNode | undefined, action: string): Record<string, string> {
  const key = Object.keys(body ?? {}).find((k) => k === `${action}Response` || k.endsWith(`:${action}Response`));
  const node = key ? body![key] : undefined;
  if (node === undefined || typeof node === 'string') throw new NatError('protocol', `${action}: the router's answer has no ${action}Response`);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(node)) {
    if (k === '@') continue;
    // xml2js 0.1 gives an empty element as {} and text with attributes as {'#': text}.
    out[k] = typeof v === 'string' ? v : typeof v['#'] === 'string' ? v['#'] : '';
  }
  return out;
}
