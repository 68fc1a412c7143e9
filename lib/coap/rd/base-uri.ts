/** Base URIs of registrations (RFC 9176 §5.3) and resolving registered links against them. */
import { isIPv6 } from 'node:net';
import { badRequest } from './rd-error';

const COAP_DEFAULT_PORT = 5683;

/** "coap://<addr>[:port]" for a request's source, the port left out when it is CoAP's default. */
export function baseFromSource(address: string, port: number): string {
  // A zone identifier is only meaningful on this host (RFC 9176 §5.3: MUST NOT be included).
  const host = isIPv6(address) ? `[${address.replace(/%.*$/, '')}]` : address;
  return port === COAP_DEFAULT_PORT ? `coap://${host}` : `coap://${host}:${port}`;
}

/**
 * Checks a "base" parameter: an absolute URI with a host and no query or fragment, which would
 * otherwise leak into every resolved link (RFC 9176 §5.3).
 */
export function checkBase(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw badRequest(`base "${value}" is not an absolute URI`);
  }
  if (url.host === '') throw badRequest(`base "${value}" has no host`);
  if (url.search !== '' || url.hash !== '' || value.includes('?') || value.includes('#')) {
    throw badRequest(`base "${value}" must not have a query or fragment`);
  }
  return value;
}

/** Resolves a registered reference against the registration's base (Limited Link Format, RFC 9176 Appendix C). */
export function resolveAgainst(reference: string, base: string): string {
  try {
    return new URL(reference, base).href;
  } catch {
    // Only reachable for references the parser let through that WHATWG URL rejects.
    return reference;
  }
}
