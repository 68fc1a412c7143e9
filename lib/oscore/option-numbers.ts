/** CoAP option numbers that OSCORE treats specially (RFC 8613 Figure 5, RFC 9175). */
export const OPTION = {
  IF_MATCH: 1,
  URI_HOST: 3,
  ETAG: 4,
  IF_NONE_MATCH: 5,
  OBSERVE: 6,
  URI_PORT: 7,
  LOCATION_PATH: 8,
  OSCORE: 9,
  URI_PATH: 11,
  CONTENT_FORMAT: 12,
  MAX_AGE: 14,
  URI_QUERY: 15,
  ACCEPT: 17,
  LOCATION_QUERY: 20,
  BLOCK2: 23,
  BLOCK1: 27,
  SIZE2: 28,
  PROXY_URI: 35,
  PROXY_SCHEME: 39,
  SIZE1: 60,
  ECHO: 252,
  NO_RESPONSE: 258,
  REQUEST_TAG: 292,
} as const;

/** CoAP codes as the raw byte (class << 5 | detail). */
export const CODE = {
  GET: 0x01,
  POST: 0x02,
  PUT: 0x03,
  DELETE: 0x04,
  FETCH: 0x05,
  CHANGED: 0x44,
  CONTENT: 0x45,
  UNAUTHORIZED: 0x81,
} as const;

export function codeClass(code: number): number {
  return code >> 5;
}

/** "2.05" for 0x45: the notation lib/coap/codes uses. */
export function codeString(code: number): string {
  return `${code >> 5}.${String(code & 0x1f).padStart(2, '0')}`;
}
