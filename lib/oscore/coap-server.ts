/**
 * OSCORE resources on a CoapEndpoint (RFC 8613 §8.2, §8.3). A protected request's Uri-Path is
 * encrypted, so the endpoint sees a POST (or FETCH) to "/" with an OSCORE option; this takes
 * that one route, verifies and decrypts, then routes the inner request to the resource that
 * serves it, whose answer is protected on the way out. Failures before decryption succeeds get
 * the unprotected error responses of §8.2; failures after it are protected answers. A resource
 * served observable can be observed over OSCORE (§4.1.3.5, §8.3.1): every notification is
 * protected with its own Partial IV under the registration's exchange.
 */
import { EventEmitter } from 'node:events';
import type { CoapEndpoint, CoapReply, CoapRequest, Exchange } from '../coap/endpoint';
import { Router, type MethodFilter } from '../coap/router';
import { contentFormatNumber } from '../coap/content-format';
import { codeMethod, hasOscoreOption, optionRecord, replyMessage, requestMessage, uriOf, wireReply } from './coap-adapter';
import { ContextRegistry } from './context-registry';
import { OscoreError, errorResponse } from './errors';
import type { CoapMessage } from './message';
import { OPTION } from './option-numbers';
import type { OscoreExchange, SecurityContext } from './security-context';

/** Who sent a verified request. */
export interface OscoreSender {
  context: SecurityContext;
  /** The client's Sender ID ('kid'). */
  kid: Buffer;
}

export type OscoreHandler = (exchange: Exchange, sender: OscoreSender) => void;

interface OscoreRoute {
  contexts: readonly SecurityContext[];
  handler: OscoreHandler;
  /** Whether an inner GET/FETCH with Observe 0 opens an observation. */
  observable: boolean;
}

export interface OscoreServerEvents {
  /** A request refused before it reached a resource: bad option, unknown context, decryption failed, replay. */
  refused: [OscoreError, { address: string; port: number }];
  /** A verified request answered with an Echo challenge: the replay window is being resynchronised (Appendix B.1.2). */
  challenged: [SecurityContext];
  /** Protecting an answer failed (sequence numbers exhausted or not persisted): 5.00 unprotected instead. */
  'protect-error': [Error];
}

/** The unprotected error answer of §8.2 / §7.4 for a failure before decryption succeeded. */
export function oscoreErrorReply(error: OscoreError): CoapReply {
  const message = errorResponse(error);
  return message ? wireReply(message) : { code: '5.00', payload: Buffer.from(error.message) };
}

export class OscoreResources extends EventEmitter<OscoreServerEvents> {
  private readonly router = new Router<OscoreRoute>();
  private routes = 0;
  private registry: ContextRegistry | undefined;
  private readonly contextUsers = new Map<SecurityContext, number>();
  private unroute: (() => void) | undefined;

  constructor(private readonly endpoint: CoapEndpoint) {
    super();
  }

  /**
   * Serves `pattern` to requests protected with one of `contexts`. Throws when the route is taken
   * or a context clashes with another one on this endpoint (same Recipient ID and ID Context).
   */
  serve(
    method: MethodFilter,
    pattern: string,
    contexts: readonly SecurityContext[],
    handler: OscoreHandler,
    options: { observable?: boolean } = {},
  ): () => void {
    const next = new Map(this.contextUsers);
    for (const c of contexts) next.set(c, (next.get(c) ?? 0) + 1);
    const registry = buildRegistry(next);
    const remove = this.router.add(method, pattern, { contexts, handler, observable: options.observable === true });
    if (this.routes === 0) {
      try {
        // Observable outside: whether the inner request may observe is known only once decrypted.
        this.unroute = this.endpoint.route('ANY', '/', (ex) => this.handle(ex), { observable: true });
      } catch (err) {
        remove();
        throw err;
      }
    }
    this.routes++;
    this.contextUsers.clear();
    for (const [c, n] of next) this.contextUsers.set(c, n);
    this.registry = registry;
    let removed = false;
    return () => {
      if (removed) return;
      removed = true;
      remove();
      for (const c of contexts) {
        const n = (this.contextUsers.get(c) ?? 1) - 1;
        if (n > 0) this.contextUsers.set(c, n);
        else this.contextUsers.delete(c);
      }
      this.registry = buildRegistry(this.contextUsers);
      if (--this.routes === 0) {
        this.unroute?.();
        this.unroute = undefined;
      }
    };
  }

  private handle(ex: Exchange): void {
    const { request } = ex;
    if (!hasOscoreOption(request.options)) {
      answerOnce(ex, { code: '4.04' }); // what the endpoint answers for "/" when nothing serves it
      return;
    }
    let verified: ReturnType<ContextRegistry['verifyRequest']>;
    try {
      verified = (this.registry ?? new ContextRegistry()).verifyRequest(requestMessage(request));
    } catch (err) {
      const error = err instanceof OscoreError ? err : new OscoreError('malformed-message', (err as Error).message);
      this.emit('refused', error, request.remote);
      answerOnce(ex, oscoreErrorReply(error));
      return;
    }
    const { context } = verified;
    if (verified.status === 'echo-required') {
      this.emit('challenged', context);
      answerOnce(ex, wireReply(verified.response));
      return;
    }
    const answer = (reply: CoapReply): boolean => answerOnce(ex, this.protect(context, verified.exchange, reply));
    const inner = verified.message;
    const method = codeMethod(inner.code);
    const { path, query } = uriOf(inner);
    const match = method ? this.router.match(method, path) : ({ kind: 'method-not-allowed' } as const);
    if (match.kind === 'not-found') return void answer({ code: '4.04' });
    if (match.kind === 'method-not-allowed' || !method) return void answer({ code: '4.05' });
    if (!match.value.contexts.includes(context)) {
      return void answer({ code: '4.01', payload: Buffer.from('this security context may not use this resource') });
    }
    const innerRequest = innerRequestOf(request, inner, method, path, query, match.params);
    // The outer observation stands for the inner one: the client's deregistration, its Reset
    // and the endpoint's maxObservers all act on it.
    const observing = ex.observing && innerRequest.observe === 0 && match.value.observable;
    let answered = false;
    const exchange: Exchange = {
      request: innerRequest,
      observing,
      respond: (reply) => {
        if (answered) return false;
        answered = true;
        // Only a success opens the observation (RFC 7641 §4.2).
        if (!observing || !reply.code.startsWith('2.')) return answer(reply);
        return ex.respond(this.protect(context, verified.exchange, reply, true));
      },
      notify: (reply) => {
        if (!observing || !answered) return false;
        const success = reply.code.startsWith('2.');
        const sent = ex.notify(this.protect(context, verified.exchange, reply, success));
        // The outer code of a protected answer is always 2.05: an inner error must end it here.
        if (!success) ex.end();
        return sent && success;
      },
      end: () => ex.end(),
      onSettled: (listener) => ex.onSettled(listener),
      onObservationEnd: (listener) => (observing ? ex.onObservationEnd(listener) : listener()),
    };
    match.value.handler(exchange, { context, kid: verified.exchange.requestKid });
  }

  /** A notification carries an (empty) inner Observe; the outer one is the endpoint's own counter. */
  private protect(context: SecurityContext, exchange: OscoreExchange, reply: CoapReply, notification = false): CoapReply {
    try {
      const message = replyMessage(reply);
      if (!notification) return wireReply(context.protectResponse(message, exchange));
      const options = [...message.options.filter((o) => o.number !== OPTION.OBSERVE), { number: OPTION.OBSERVE, value: Buffer.alloc(0) }];
      const protectedMessage = context.protectResponse({ ...message, options }, exchange);
      return wireReply({ ...protectedMessage, options: protectedMessage.options.filter((o) => o.number !== OPTION.OBSERVE) });
    } catch (err) {
      this.emit('protect-error', err as Error);
      return { code: '5.00' };
    }
  }
}

/**
 * Answers without keeping the outer observation open: the outer code of a protected answer is
 * always 2.xx, so the endpoint would otherwise take any answer to an outer Observe 0 for the
 * start of one. The client learns from the inner message (no Observe) that there is none.
 */
function answerOnce(ex: Exchange, reply: CoapReply): boolean {
  const sent = ex.respond(reply);
  if (ex.observing) ex.end();
  return sent;
}

function buildRegistry(contexts: ReadonlyMap<SecurityContext, number>): ContextRegistry {
  const registry = new ContextRegistry();
  for (const c of contexts.keys()) registry.add(c);
  return registry;
}

function innerRequestOf(
  outer: CoapRequest,
  inner: CoapMessage,
  method: NonNullable<ReturnType<typeof codeMethod>>,
  path: string[],
  query: string[],
  params: Record<string, string>,
): CoapRequest {
  const options = optionRecord(inner.options);
  const observe = options.Observe;
  return {
    method,
    path,
    query,
    payload: inner.payload,
    contentFormat: contentFormatNumber(options['Content-Format']),
    accept: contentFormatNumber(options.Accept),
    options,
    remote: outer.remote,
    params,
    token: outer.token,
    observe: typeof observe === 'number' ? observe : undefined,
  };
}

const perEndpoint = new WeakMap<CoapEndpoint, OscoreResources>();

/** The one OscoreResources of an endpoint: every coap-in on it shares the "/" route. */
export function oscoreResources(endpoint: CoapEndpoint): OscoreResources {
  let resources = perEndpoint.get(endpoint);
  if (!resources) {
    resources = new OscoreResources(endpoint);
    perEndpoint.set(endpoint, resources);
  }
  return resources;
}
