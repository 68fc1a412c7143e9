/**
 * The RD lookup interface (RFC 9176 §6): endpoint and resource links built from registrations,
 * filtered by query (every criterion must match, trailing "*" matches a prefix) and paged.
 */
import { matchesQuery, type Link } from '../link-format';
import type { RegisteredEndpoint } from './directory';
import { resolveAgainst } from './base-uri';
import { badRequest } from './rd-error';

/** What lookup needs of a registration beyond the shared contract. */
export interface LookupEntry extends RegisteredEndpoint {
  readonly attributes: Readonly<Record<string, readonly string[]>>;
}

export interface LookupQuery {
  filters: Array<[key: string, value: string]>;
  page: number;
  count?: number;
}

function nonNegativeInteger(name: string, value: string): number {
  if (!/^(0|[1-9][0-9]{0,8})$/.test(value)) throw badRequest(`${name} must be a non-negative integer, not "${value}"`);
  return Number(value);
}

/** Splits Uri-Query options into search criteria and paging; page without count is 4.00 (RFC 9176 §6.2). */
export function parseLookupQuery(query: readonly string[]): LookupQuery {
  const out: LookupQuery = { filters: [], page: 0 };
  let page: number | undefined;
  for (const q of query) {
    const eq = q.indexOf('=');
    const key = eq < 0 ? q : q.slice(0, eq);
    const value = eq < 0 ? '' : q.slice(eq + 1);
    if (key === 'page' || key === 'count') {
      if ((key === 'page' ? page : out.count) !== undefined) throw badRequest(`${key} given twice`);
      if (key === 'page') page = nonNegativeInteger(key, value);
      else out.count = nonNegativeInteger(key, value);
    } else if (key !== '') {
      out.filters.push([key, value]);
    }
  }
  if (page !== undefined && out.count === undefined) throw badRequest('page cannot be used without count');
  out.page = page ?? 0;
  return out;
}

/** The endpoint link of RFC 9176 §6.3: `</rd/id>;base=..;ep=..;d=..;<attributes>;rt="core.rd-ep"`. */
export function endpointLink(reg: LookupEntry): Link {
  const attributes: Record<string, string | string[]> = { base: reg.base, ep: reg.ep };
  if (reg.d !== undefined) attributes.d = reg.d;
  for (const [key, values] of Object.entries(reg.attributes)) attributes[key] = values.length === 1 ? (values[0] as string) : [...values];
  attributes.rt = 'core.rd-ep';
  return { href: `/rd/${reg.id}`, attributes };
}

/**
 * The registration's links with target and anchor resolved against its base; a link without
 * an anchor gets the base as its anchor (RFC 9176 §6.1).
 */
export function resolvedLinks(reg: RegisteredEndpoint): Link[] {
  return reg.links.map((link) => {
    const { anchor, ...rest } = link.attributes ?? {};
    const resolvedAnchor = typeof anchor === 'string' ? resolveAgainst(anchor, reg.base) : reg.base;
    return { href: resolveAgainst(link.href, reg.base), attributes: { ...rest, anchor: resolvedAnchor } };
  });
}

function page<T>(items: T[], q: LookupQuery): T[] {
  if (q.count === undefined) return items;
  return items.slice(q.page * q.count, q.page * q.count + q.count);
}

const matchesAll = (link: Link, filters: LookupQuery['filters'], orElse: (key: string, value: string) => boolean): boolean =>
  filters.every(([key, value]) => matchesQuery(link, key, value) || orElse(key, value));

export function lookupEndpoints(regs: readonly LookupEntry[], q: LookupQuery): Link[] {
  const hits: Link[] = [];
  for (const reg of regs) {
    const link = endpointLink(reg);
    // An endpoint also matches a criterion when any of its resources does (RFC 9176 §6.2).
    let resources: Link[] | undefined;
    const viaResource = (key: string, value: string): boolean => (resources ??= resolvedLinks(reg)).some((r) => matchesQuery(r, key, value));
    if (matchesAll(link, q.filters, viaResource)) hits.push(link);
  }
  return page(hits, q);
}

export function lookupResources(regs: readonly LookupEntry[], q: LookupQuery): Link[] {
  const hits: Link[] = [];
  for (const reg of regs) {
    // A resource also matches a criterion when its endpoint does (RFC 9176 §6.2).
    const ep = endpointLink(reg);
    const viaEndpoint = (key: string, value: string): boolean => matchesQuery(ep, key, value);
    for (const link of resolvedLinks(reg)) if (matchesAll(link, q.filters, viaEndpoint)) hits.push(link);
  }
  return page(hits, q);
}
