/**
 * Proxy-Uri handling for OSCORE (RFC 8613 §4.1.3.3): the client splits Proxy-Uri into an outer
 * Proxy-Uri "scheme://authority" (for the proxy) and inner Uri-Path / Uri-Query (encrypted),
 * following the decomposition of RFC 7252 §6.4.
 */
import { OscoreError } from './errors';
import type { CoapOption } from './message';
import { OPTION } from './option-numbers';

const ABSOLUTE_URI = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)([^?#]*)(?:\?([^#]*))?$/;

function percentDecode(text: string): Buffer {
  try {
    return Buffer.from(decodeURIComponent(text), 'utf8');
  } catch {
    throw new OscoreError('invalid-argument', `bad percent-encoding in Proxy-Uri: ${text}`);
  }
}

export interface SplitProxyUri {
  outer: CoapOption;
  inner: CoapOption[];
}

export function splitProxyUri(proxyUri: string): SplitProxyUri {
  const match = ABSOLUTE_URI.exec(proxyUri);
  if (!match) throw new OscoreError('invalid-argument', `Proxy-Uri is not an absolute URI without fragment: ${proxyUri}`);
  const [, scheme, authority, path, query] = match;
  const inner: CoapOption[] = [];
  if (path !== '' && path !== '/') {
    for (const segment of path.slice(1).split('/')) inner.push({ number: OPTION.URI_PATH, value: percentDecode(segment) });
  }
  if (query !== undefined && query !== '') {
    for (const argument of query.split('&')) inner.push({ number: OPTION.URI_QUERY, value: percentDecode(argument) });
  }
  return { outer: { number: OPTION.PROXY_URI, value: Buffer.from(`${scheme}://${authority}`, 'utf8') }, inner };
}
