/**
 * The links the gateway registers upstream for the endpoints registered with it locally: each
 * endpoint's resources under the proxy's /ep/<name>/ prefix, so the upstream (and its lookups)
 * route to a device through the gateway. Bounded by what fits in one registration datagram.
 */
import { serialiseLinks, type Link } from '../link-format';
import type { RegisteredEndpoint } from '../rd/directory';

export interface GatewayLinks {
  links: Link[];
  /** Endpoints left out, or listed without their resources, for want of room. */
  shortened: number;
}

function encodeSegment(s: string): string {
  return encodeURIComponent(s);
}

/** "/sensors/temp" → "/ep/<ep>/sensors/temp"; absolute or odd hrefs are not routable through /ep. */
function underProxy(ep: string, link: Link): Link | undefined {
  if (!link.href.startsWith('/') || link.href.startsWith('//')) return undefined;
  const attributes = { ...(link.attributes ?? {}) };
  delete attributes.anchor;
  return { href: `/ep/${encodeSegment(ep)}${link.href}`, ...(Object.keys(attributes).length ? { attributes } : {}) };
}

export function gatewayLinks(endpoints: readonly RegisteredEndpoint[], own: readonly Link[], maxBytes: number): GatewayLinks {
  const resources: Link[][] = endpoints.map((e) => e.links.map((l) => underProxy(e.ep, l)).filter((l): l is Link => l !== undefined));
  const full = resources.map((r, i) => (r.length > 0 ? r : [{ href: `/ep/${encodeSegment(endpoints[i]!.ep)}` }]));
  const fits = (links: Link[]): boolean => Buffer.byteLength(serialiseLinks(links), 'utf8') <= maxBytes;
  const all = [...own, ...full.flat()];
  if (fits(all)) return { links: all, shortened: 0 };
  // Too much: one link per endpoint, as many endpoints as fit.
  const links = [...own];
  let listed = 0;
  for (const e of endpoints) {
    const candidate = [...links, { href: `/ep/${encodeSegment(e.ep)}` }];
    if (!fits(candidate)) break;
    links.push({ href: `/ep/${encodeSegment(e.ep)}` });
    listed++;
  }
  return { links, shortened: endpoints.length - listed + resources.slice(0, listed).filter((r) => r.length > 0).length };
}
