/**
 * An OSCORE request through lib/coap's CoapClient (RFC 8613 §8.1, §8.4): protect, send the
 * outer POST/FETCH, verify the answer, and answer an Echo challenge (RFC 9175, Appendix B.1.2)
 * by sending the request once more with the Echo value inside.
 */
import type { ClientRequest, ClientResponse, CoapClient, CoapTarget } from '../coap/client';
import { hasOscoreOption, codeByte, codeMethod, methodCode, optionList, optionRecord, wireRecord } from './coap-adapter';
import { OscoreError } from './errors';
import type { CoapMessage } from './message';
import { OPTION, codeString } from './option-numbers';
import { echoChallenge, type SecurityContext } from './security-context';

/** The server answered without OSCORE: an error of §8.2 (e.g. 4.01 "Security context not found"). */
export class OscoreRefusedError extends Error {
  constructor(
    readonly code: string,
    readonly diagnostic: string,
  ) {
    super(`${code}${diagnostic ? ` ${diagnostic}` : ''} (answer without OSCORE: the server did not accept the protected request)`);
  }
}

function originalOf(req: ClientRequest, echo: Buffer | undefined): CoapMessage {
  const options = optionList(req.options ?? {});
  for (const s of req.path) options.push({ number: OPTION.URI_PATH, value: Buffer.from(s, 'utf8') });
  for (const q of req.query) options.push({ number: OPTION.URI_QUERY, value: Buffer.from(q, 'utf8') });
  if (echo) options.push({ number: OPTION.ECHO, value: echo });
  return { code: methodCode(req.method), options, payload: req.payload ?? Buffer.alloc(0) };
}

/**
 * One protected request and its verified answer, as the flow would have seen it unprotected.
 * Rejects with OscoreRefusedError (unprotected error answer), OscoreError (the answer did not
 * verify) or the client's own errors (timeout, reset).
 */
export async function oscoreRequest(client: CoapClient, target: CoapTarget, req: ClientRequest, context: SecurityContext, timeoutMs: number): Promise<ClientResponse> {
  let echo: Buffer | undefined;
  for (let attempt = 0; ; attempt++) {
    const { message, exchange } = context.protectRequest(originalOf(req, echo));
    const outer: ClientRequest = { method: codeMethod(message.code) ?? 'POST', path: [], query: [], payload: message.payload, options: wireRecord(message.options) };
    const res = await client.request(target, outer, timeoutMs);
    if (!hasOscoreOption(res.options)) {
      const text = res.payload.toString('utf8');
      throw new OscoreRefusedError(res.code, /^[\x20-\x7e]{0,200}$/.test(text) ? text : '');
    }
    const code = codeByte(res.code);
    if (code === undefined) throw new OscoreError('malformed-message', `response code ${res.code}`);
    const verified = context.verifyResponse({ code, options: optionList(res.options), payload: res.payload }, exchange);
    const challenge = echoChallenge(verified.message);
    if (challenge && attempt === 0) {
      echo = challenge;
      continue;
    }
    return { code: codeString(verified.message.code), payload: verified.message.payload, options: optionRecord(verified.message.options) };
  }
}
