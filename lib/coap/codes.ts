/** CoAP response codes (RFC 7252 §5.9, §12.1.2) as the "c.dd" strings node-coap uses. */

const NAMES: Record<string, string> = {
  '2.01': 'Created',
  '2.02': 'Deleted',
  '2.03': 'Valid',
  '2.04': 'Changed',
  '2.05': 'Content',
  '2.31': 'Continue',
  '4.00': 'Bad Request',
  '4.01': 'Unauthorized',
  '4.02': 'Bad Option',
  '4.03': 'Forbidden',
  '4.04': 'Not Found',
  '4.05': 'Method Not Allowed',
  '4.06': 'Not Acceptable',
  '4.08': 'Request Entity Incomplete',
  '4.09': 'Conflict',
  '4.12': 'Precondition Failed',
  '4.13': 'Request Entity Too Large',
  '4.15': 'Unsupported Content-Format',
  '4.29': 'Too Many Requests',
  '5.00': 'Internal Server Error',
  '5.01': 'Not Implemented',
  '5.02': 'Bad Gateway',
  '5.03': 'Service Unavailable',
  '5.04': 'Gateway Timeout',
  '5.05': 'Proxying Not Supported',
};

const CODE_PATTERN = /^([245])\.(\d{2})$/;

/**
 * Accepts "2.05", 2.05 (a number typed in a flow), 69 (the raw byte 2<<5|5) or "Content"
 * and returns the canonical "2.05" string, or undefined when it is not a response code.
 */
export function normaliseResponseCode(input: unknown): string | undefined {
  if (typeof input === 'number' && Number.isFinite(input)) {
    if (Number.isInteger(input) && input >= 64 && input < 192) {
      return `${input >> 5}.${String(input & 0x1f).padStart(2, '0')}`;
    }
    input = input.toFixed(2);
  }
  if (typeof input !== 'string') return undefined;
  const text = input.trim();
  const match = CODE_PATTERN.exec(text);
  if (match) return Number(match[2]) < 32 ? text : undefined;
  const byName = Object.entries(NAMES).find(([, name]) => name.toLowerCase() === text.toLowerCase());
  return byName?.[0];
}

export function codeName(code: string): string {
  return NAMES[code] ?? 'Unknown';
}

export function isSuccess(code: string): boolean {
  return code.startsWith('2.');
}
