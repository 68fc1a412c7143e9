/**
 * Which options are Inner (Class E, encrypted) and which Outer (Class U, visible to proxies),
 * RFC 8613 §4.1 Figure 5 and the special rules of §4.1.3. There are no Class I options yet.
 */
import { OscoreError } from './errors';
import type { CoapOption } from './message';
import { OPTION } from './option-numbers';
import { splitProxyUri } from './proxy-uri';

/** Outer only: proxies must read them. OSCORE itself is outer but never in an original message. */
const OUTER_ONLY = new Set<number>([OPTION.URI_HOST, OPTION.URI_PORT, OPTION.OSCORE, OPTION.PROXY_URI, OPTION.PROXY_SCHEME]);

/**
 * Options whose Outer instance is allowed besides the Inner one (E and U in Figure 5). When
 * protecting, the original value goes inner (Block-wise before OSCORE is Inner, §4.1.3.4.1;
 * No-Response MUST be Inner, §4.1.3.6); Observe also gets an outer copy (§4.1.3.5).
 * When verifying, their outer instances are discarded (§8.2, §8.4 step 1).
 * Unknown options (Echo, Request-Tag included, RFC 9175) are Class E.
 */
export function isOuterOnly(number: number): boolean {
  return OUTER_ONLY.has(number);
}

export interface OptionSplit {
  inner: CoapOption[];
  outer: CoapOption[];
}

/**
 * Splits the options of an original message. `notification` selects the response form of
 * Observe: inner value empty, outer value kept for intermediaries (§4.1.3.5.2).
 */
export function splitOptions(options: readonly CoapOption[], notification: boolean): OptionSplit {
  const inner: CoapOption[] = [];
  const outer: CoapOption[] = [];
  const hasProxyUri = options.some((o) => o.number === OPTION.PROXY_URI);
  for (const option of options) {
    switch (option.number) {
      case OPTION.OSCORE:
        // Nested OSCORE is not supported (§4.1.3.7).
        throw new OscoreError('invalid-argument', 'message already carries an OSCORE option');
      case OPTION.PROXY_URI: {
        if (options.some((o) => o.number === OPTION.URI_PATH || o.number === OPTION.URI_QUERY)) {
          throw new OscoreError('invalid-argument', 'Proxy-Uri together with Uri-Path/Uri-Query');
        }
        const split = splitProxyUri(option.value.toString('utf8'));
        outer.push(split.outer);
        inner.push(...split.inner);
        break;
      }
      case OPTION.OBSERVE:
        inner.push(notification ? { number: OPTION.OBSERVE, value: Buffer.alloc(0) } : option);
        outer.push(option);
        break;
      default:
        if (isOuterOnly(option.number)) {
          // Proxy-Uri already carries scheme and authority; RFC 7252 §5.10.2 forbids both.
          if (hasProxyUri && option.number !== OPTION.PROXY_URI) {
            throw new OscoreError('invalid-argument', 'Proxy-Uri together with Uri-Host/Uri-Port/Proxy-Scheme');
          }
          outer.push(option);
        } else {
          inner.push(option);
        }
    }
  }
  return { inner, outer };
}

/** Outer options of a received OSCORE message that survive into the decrypted message. */
export function keptOuterOptions(options: readonly CoapOption[]): CoapOption[] {
  return options.filter((o) => isOuterOnly(o.number) && o.number !== OPTION.OSCORE);
}
