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

/** A link-format document that does not follow RFC 6690 §2; `offset` is where reading stopped. */
export class LinkFormatError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(`${message} at character ${offset}`);
  }
}

/** A well-formed document that holds more than the caller allows (answered 4.13, not 4.00). */
export class LinkFormatLimitError extends LinkFormatError {}

export interface ParseLinksOptions {
  /** More links than this throws: the caller's bound on what an outsider can make it hold. */
  maxLinks?: number;
  /** More parameters on one link than this throws. */
  maxParamsPerLink?: number;
}

// RFC 5987 attr-char (parameter names); RFC 6690 ptokenchar (bare values).
const ATTR_CHAR = /[A-Za-z0-9!#$&+\-.^_`|~]/;
const PTOKEN_CHAR = /[A-Za-z0-9!#$%&'()*+\-./:<=>?@[\]^_`{|}~]/;
// RFC 3986 URI-reference characters; "%" must start a pct-encoding.
const URI_REFERENCE = /^(?:[A-Za-z0-9\-._~:/?#[\]@!$&'()*+,;=]|%[0-9A-Fa-f]{2})*$/;
const RELATION_TYPES = new Set(['rel', 'rev', 'rt', 'if']);

/**
 * Parses application/link-format (RFC 6690 §2) into links, attribute names lower-cased (RFC 8288
 * §3: they are case-insensitive). A parameter without a value becomes `true`; a repeated one an
 * array. Whitespace around "," and ";" is tolerated because RFC examples and real stacks wrap
 * long documents; anything else outside the grammar throws LinkFormatError.
 */
export function parseLinks(text: string, options: ParseLinksOptions = {}): Link[] {
  const maxLinks = options.maxLinks ?? Infinity;
  const maxParams = options.maxParamsPerLink ?? Infinity;
  const links: Link[] = [];
  let pos = 0;
  const fail = (message: string): never => {
    throw new LinkFormatError(message, pos);
  };
  const skipSpace = (): void => {
    while (pos < text.length && ' \t\r\n'.includes(text[pos] as string)) pos++;
  };

  const readQuoted = (): string => {
    pos++; // opening DQUOTE
    let value = '';
    for (;;) {
      if (pos >= text.length) fail('unterminated quoted string');
      const c = text[pos] as string;
      const code = c.charCodeAt(0);
      if (c === '"') {
        pos++;
        return value;
      }
      if (c === '\\') {
        pos++;
        if (pos >= text.length) fail('unterminated quoted string');
        value += text[pos];
        pos++;
        continue;
      }
      if ((code < 0x20 && c !== '\t') || code === 0x7f) fail('control character in quoted string');
      value += c;
      pos++;
    }
  };

  const readValue = (name: string): string => {
    if (text[pos] === '"') {
      const value = readQuoted();
      if (name === 'anchor' && !URI_REFERENCE.test(value)) fail('anchor is not a URI-reference');
      if (RELATION_TYPES.has(name) && !/^[^ ]+( +[^ ]+)*$/.test(value)) fail(`${name} is not a list of relation types`);
      return value;
    }
    if (name === 'anchor') fail('anchor must be a quoted URI-reference');
    const start = pos;
    while (pos < text.length && PTOKEN_CHAR.test(text[pos] as string)) pos++;
    if (pos === start) fail(`no value for "${name}"`);
    const value = text.slice(start, pos);
    if (name === 'sz' && !/^(0|[1-9][0-9]*)$/.test(value)) fail('sz is not a cardinal');
    return value;
  };

  skipSpace();
  if (pos === text.length) return links;
  for (;;) {
    if (text[pos] !== '<') fail('expected "<" to open a link');
    const close = text.indexOf('>', pos + 1);
    if (close < 0) fail('unterminated link target');
    const href = text.slice(pos + 1, close);
    if (!URI_REFERENCE.test(href)) fail('link target is not a URI-reference');
    pos = close + 1;
    if (links.length >= maxLinks) throw new LinkFormatLimitError(`more than ${maxLinks} links`, pos);
    const attributes: Record<string, string | true | string[]> = {};
    let params = 0;
    skipSpace();
    while (text[pos] === ';') {
      pos++;
      skipSpace();
      const start = pos;
      while (pos < text.length && ATTR_CHAR.test(text[pos] as string)) pos++;
      if (text[pos] === '*') pos++; // ext-name-star, e.g. title*
      if (pos === start) fail('expected a parameter name');
      const name = text.slice(start, pos).toLowerCase();
      if (++params > maxParams) throw new LinkFormatLimitError(`more than ${maxParams} parameters on one link`, pos);
      let value: string | true = true;
      if (text[pos] === '=') {
        pos++;
        value = readValue(name);
      }
      const prev = attributes[name];
      if (prev === undefined) attributes[name] = value;
      else if (name === 'anchor') fail('more than one anchor');
      else if (value !== true) attributes[name] = prev === true ? value : ([] as string[]).concat(prev, value);
      skipSpace();
    }
    links.push(params === 0 ? { href } : { href, attributes });
    if (pos === text.length) return links;
    if (text[pos] !== ',') fail('expected "," or ";"');
    pos++;
    skipSpace();
    if (pos === text.length) fail('trailing ","');
  }
}
