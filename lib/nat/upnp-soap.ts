/** UPnP control: SOAP over HTTP, with the UPnP error code kept (nat-upnp drops it). */
import { httpRequest } from './http-request';
import { NatError } from './errors';
import { childTexts, elements, escapeXml, text } from './xml';

/** UPnP IGD error codes a user is likely to meet, with what they mean here. */
const UPNP_ERRORS: Record<number, string> = {
  402: 'invalid arguments',
  501: 'the router failed to do it',
  606: 'action not authorised (the router allows mapping only to the asking host, or not at all)',
  713: 'no mapping at that index',
  714: 'no such mapping',
  715: 'the router does not allow a wildcard remote host',
  716: 'the router does not allow a wildcard external port',
  718: 'conflict: the external port is already mapped, or the router refused the internal client',
  724: 'the router needs external and internal port to be equal',
  725: 'the router supports only permanent leases',
  726: 'the remote host must be a wildcard',
  727: 'the external port must be a wildcard',
  728: 'no free ports left on the router',
  729: 'the port conflicts with another mechanism on the router',
};

export function describeUpnpError(code: number, routerText?: string): string {
  const meaning = UPNP_ERRORS[code];
  return [`UPnP error ${code}`, routerText, meaning && `(${meaning})`].filter(Boolean).join(' ');
}

/** The UPnPError in a SOAP fault body, if there is one. */
export function parseFault(body: string): { code: number; description?: string } | undefined {
  const detail = elements(body, 'UPnPError')[0];
  if (detail === undefined) return undefined;
  const code = Number(text(detail, 'errorCode'));
  if (!Number.isInteger(code)) return undefined;
  return { code, description: text(detail, 'errorDescription') };
}

export function soapEnvelope(serviceType: string, action: string, args: Array<[string, string | number]>): string {
  const params = args.map(([k, v]) => `<${k}>${escapeXml(String(v))}</${k}>`).join('');
  return (
    '<?xml version="1.0"?>' +
    '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" s:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/">' +
    `<s:Body><u:${action} xmlns:u="${serviceType}">${params}</u:${action}></s:Body></s:Envelope>`
  );
}

export async function soapCall(
  controlUrl: string,
  serviceType: string,
  action: string,
  args: Array<[string, string | number]>,
  timeoutMs: number,
): Promise<Record<string, string>> {
  const body = soapEnvelope(serviceType, action, args);
  const reply = await httpRequest(controlUrl, {
    method: 'POST',
    timeoutMs,
    body,
    headers: {
      'Content-Type': 'text/xml; charset="utf-8"',
      'Content-Length': String(Buffer.byteLength(body)),
      SOAPAction: `"${serviceType}#${action}"`,
    },
  });
  if (reply.status !== 200) {
    const fault = parseFault(reply.body);
    if (fault) throw new NatError('refused', `${action}: ${describeUpnpError(fault.code, fault.description)}`, { upnpCode: fault.code });
    throw new NatError('protocol', `${action}: HTTP ${reply.status} without a UPnP error`);
  }
  const response = elements(reply.body, `${action}Response`)[0];
  if (response === undefined) throw new NatError('protocol', `${action}: the router's answer has no ${action}Response`);
  return childTexts(response);
}
