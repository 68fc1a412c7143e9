/** CoRE Link Format (RFC 6690): serialising the links a server advertises in /.well-known/core. */

export interface Link {
  /** URI-reference, e.g. "/sensors/temp" */
  href: string;
  /** Target attributes: rt, if, ct, sz, title, obs (a flag: value true). */
  attributes?: Record<string, string | number | boolean | Array<string | number>>;
}

function quoteIfNeeded(key: string, value: string | number): string {
  // rt and if are relation-type lists and always quoted; numbers stay bare (RFC 6690 §2).
  if (typeof value === 'number') return String(value);
  if (key === 'rt' || key === 'if' || key === 'title' || key === 'anchor' || /[^\w!#$%&'()*+\-./:<=>?@[\]^`{|}~]/.test(value)) {
    return `"${value.replace(/["\\]/g, (c) => `\\${c}`)}"`;
  }
  return value;
}

export function serialiseLink(link: Link): string {
  let text = `<${link.href}>`;
  for (const [key, value] of Object.entries(link.attributes ?? {})) {
    if (value === false || value === '' || (Array.isArray(value) && value.length === 0)) continue;
    if (value === true) text += `;${key}`;
    else if (Array.isArray(value)) text += `;${key}=${quoteIfNeeded(key, value.join(' '))}`;
    else text += `;${key}=${quoteIfNeeded(key, value)}`;
  }
  return text;
}

export function serialiseLinks(links: readonly Link[]): string {
  return links.map(serialiseLink).join(',');
}

/**
 * The query filter of RFC 6690 §4.1: `?attr=value` matches links whose attribute contains that
 * value as one of its space-separated words; a trailing "*" matches a prefix. `href` filters on
 * the target itself.
 */
export function matchesQuery(link: Link, key: string, wanted: string): boolean {
  const prefix = wanted.endsWith('*');
  const needle = prefix ? wanted.slice(0, -1) : wanted;
  const test = (v: string): boolean => (prefix ? v.startsWith(needle) : v === needle);
  if (key === 'href') return test(link.href);
  const value = link.attributes?.[key];
  if (value === undefined || value === false) return false;
  if (value === true) return needle === '' || prefix;
  const words = Array.isArray(value) ? value.map(String) : String(value).split(' ');
  return words.some(test);
}
