/**
 * Just enough XML for UPnP: device descriptions and SOAP envelopes are flat, namespaced,
 * machine-written documents, so element lookup by local name is reliable without a parser.
 */

const ENTITIES: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

export function decodeXml(s: string): string {
  return s.replace(/&(#x[0-9a-fA-F]+|#\d+|\w+);/g, (whole, e: string) => {
    if (e.startsWith('#x')) return String.fromCodePoint(Number.parseInt(e.slice(2), 16));
    if (e.startsWith('#')) return String.fromCodePoint(Number.parseInt(e.slice(1), 10));
    return ENTITIES[e] ?? whole;
  });
}

export function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => `&${Object.keys(ENTITIES).find((k) => ENTITIES[k] === c)};`);
}

/** Raw inner XML of every element with this local name (any namespace prefix). Not for nested same-name elements. */
export function elements(xml: string, localName: string): string[] {
  const re = new RegExp(`<(?:[\\w.-]+:)?${localName}(?:\\s[^>]*)?(?:/>|>([\\s\\S]*?)</(?:[\\w.-]+:)?${localName}\\s*>)`, 'g');
  return [...xml.matchAll(re)].map((m) => m[1] ?? '');
}

/** Decoded, trimmed text of the first element with this local name. */
export function text(xml: string, localName: string): string | undefined {
  const inner = elements(xml, localName)[0];
  return inner === undefined ? undefined : decodeXml(inner.trim());
}

/** The simple child elements of a fragment as name -> decoded text. */
export function childTexts(xml: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of xml.matchAll(/<(?:[\w.-]+:)?([\w.-]+)(?:\s[^>]*)?(?:\/>|>([^<]*)<\/(?:[\w.-]+:)?\1\s*>)/g)) {
    out[m[1]!] = decodeXml((m[2] ?? '').trim());
  }
  return out;
}
