/**
 * An OSCORE request through lib/coap's CoapClient (RFC 8613 §8.1, §8.4): protect, send the
 * outer POST/FETCH, verify the answer, and answer an Echo challenge (RFC 9175, Appendix B.1.2)
 * by sending the request once more with the Echo value inside.
 */
import type { ClientRequest, ClientResponse, CoapClient, CoapTarget, ObserveHandlers, Observation } from '../coap/client';
import { hasOscoreOption, codeByte, codeMethod, methodCode, optionList, optionRecord, wireRecord } from './coap-adapter';
import { OscoreError } from './errors';
import { findOption, type CoapMessage } from './message';
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

function originalOf(req: ClientRequest, echo: Buffer | undefined, observe?: 0 | 1): CoapMessage {
  const options = optionList(req.options ?? {}).filter((o) => observe === undefined || o.number !== OPTION.OBSERVE);
  if (observe !== undefined) options.push({ number: OPTION.OBSERVE, value: observe === 0 ? Buffer.alloc(0) : Buffer.of(1) });
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
    const res = await client.request(target, outerOf(message), timeoutMs);
    const verified = context.verifyResponse(receivedOf(res), exchange);
    const challenge = echoChallenge(verified.message);
    if (challenge && attempt === 0) {
      echo = challenge;
      continue;
    }
    return responseOf(verified.message);
  }
}

/** The outer request as CoapClient sends it; Observe is left to CoapClient.observe, which sets it itself. */
function outerOf(message: CoapMessage): ClientRequest {
  const options = wireRecord(message.options.filter((o) => o.number !== OPTION.OBSERVE));
  return { method: codeMethod(message.code) ?? 'POST', path: [], query: [], payload: message.payload, options };
}

/** A received answer as a CoapMessage; an answer without OSCORE is the server's refusal (§8.2). */
function receivedOf(res: ClientResponse): CoapMessage {
  if (!hasOscoreOption(res.options)) {
    const text = res.payload.toString('utf8');
    throw new OscoreRefusedError(res.code, /^[\x20-\x7e]{0,200}$/.test(text) ? text : '');
  }
  const code = codeByte(res.code);
  if (code === undefined) throw new OscoreError('malformed-message', `response code ${res.code}`);
  return { code, options: optionList(res.options), payload: res.payload };
}

function responseOf(message: CoapMessage): ClientResponse {
  return { code: codeString(message.code), payload: message.payload, options: optionRecord(message.options) };
}

export interface OscoreObserveHandlers extends ObserveHandlers {
  /**
   * A notification dropped: it did not verify, or its Partial IV was not newer than the last
   * one's (§7.4.1, §8.4.2): a replay, or an old one whose unprotected outer Observe was raised.
   */
  onDropped?(error: OscoreError): void;
}

/**
 * An observation over OSCORE (RFC 8613 §4.1.3.5, §8.4.2): the registration is an inner GET with
 * Observe 0 sent as outer FETCH; every notification is verified with the registration's exchange
 * and must carry a newer Partial IV than the one before; the application sees the inner message,
 * its Observe option the low bytes of the Partial IV. cancel() sends a freshly protected
 * deregistration (inner Observe 1) on the same Token. The first answer's Echo challenge
 * (Appendix B.1.2) is answered once by registering again with the Echo value inside.
 */
export function oscoreObserve(
  client: CoapClient,
  target: CoapTarget,
  req: ClientRequest,
  context: SecurityContext,
  handlers: OscoreObserveHandlers,
  timeoutMs: number,
): Observation {
  let current: Observation | undefined;
  let over = false;
  const finish = (error?: Error): void => {
    if (over) return;
    over = true;
    handlers.onEnd?.(error);
  };
  const open = (echo: Buffer | undefined): void => {
    const { message, exchange } = context.protectRequest(originalOf(req, echo, 0));
    let verifiedOnce = false;
    /** Set when the observation ended on our side: nothing to deregister. */
    let quiet = false;
    const stop = (error?: Error): void => {
      quiet = true;
      observation.cancel();
      finish(error);
    };
    const observation: Observation = client.observe(
      target,
      outerOf(message),
      {
        onNotification: (res) => {
          if (over || current !== observation) return;
          let verified: CoapMessage;
          try {
            verified = context.verifyResponse(receivedOf(res), exchange).message;
          } catch (err) {
            // A notification that fails is dropped; a first answer that fails ends the observation.
            const dropped = verifiedOnce ? droppable(err) : undefined;
            return dropped ? handlers.onDropped?.(dropped) : stop(err as Error);
          }
          const first = !verifiedOnce;
          verifiedOnce = true;
          const challenge = first && echo === undefined ? echoChallenge(verified) : undefined;
          if (challenge) {
            quiet = true;
            observation.cancel();
            try {
              return open(challenge);
            } catch (err) {
              return finish(err as Error); // no sequence number could be stored
            }
          }
          handlers.onNotification(responseOf(verified));
          // No inner Observe (declined, or a final answer) or an error code: the observation is over.
          if (!findOption(verified.options, OPTION.OBSERVE) || verified.code >= 0x60) stop();
        },
        onEnd: (error) => {
          if (current === observation) finish(error);
        },
      },
      timeoutMs,
      { deregistration: () => (quiet ? undefined : deregistrationOf(req, context)), unordered: true },
    );
    current = observation;
  };
  open(undefined);
  return {
    cancel: () => {
      if (over) return;
      over = true;
      current?.cancel();
    },
  };
}

/**
 * Why a notification after the first is dropped, or undefined when it ends the observation: an
 * unprotected error answer does (the server lost the context, §8.2), anything else is not the
 * server's word (§8.4).
 */
function droppable(err: unknown): OscoreError | undefined {
  if (err instanceof OscoreError) return err;
  if (err instanceof OscoreRefusedError && err.code.startsWith('2.')) return new OscoreError('not-protected', 'a notification without OSCORE');
  return undefined;
}

/** A protected deregistration; none (the device's next notification is reset) when none can be protected. */
function deregistrationOf(req: ClientRequest, context: SecurityContext): ClientRequest | undefined {
  try {
    return outerOf(context.protectRequest(originalOf(req, undefined, 1)).message);
  } catch {
    return undefined;
  }
}
