/**
 * One request CoapEndpoint handed to a handler, from then until it is answered, timed out or
 * dropped, and (for an observation) until the observation ends. One object per request rather
 * than a dozen closures: at proxy rates the closures and their garbage were a measurable share
 * of the endpoint's time.
 */
import type { CoapReply, CoapRequest, Exchange } from './endpoint';
import type { ReplyChannel } from './lean-server';

/** What the exchanges of one endpoint share with it. */
export interface ExchangeBook {
  /** Requests handed to handlers and not yet answered. */
  pending: number;
  /** Observations open. */
  observations: number;
  /** Open observations by client and token, so a GET with Observe: 1 can end its own. */
  readonly byClient: Map<string, () => void>;
  /** Every exchange not yet over: dropped without an answer when the socket goes away. */
  readonly open: Set<ServerExchange>;
  readonly responseTimeoutMs: number;
  readonly maxAgeWhenBusy: number;
  handlerError(err: Error, request: CoapRequest): void;
  timedOut(request: CoapRequest): void;
}

export function observationKey(request: CoapRequest): string {
  return `${request.remote.address}|${request.remote.port}|${request.token.toString('hex')}`;
}

export class ServerExchange implements Exchange {
  private answered = false;
  private observationOver: boolean;
  private settledListeners: Array<() => void> | undefined;
  private endListeners: Array<() => void> | undefined;
  private readonly timer: NodeJS.Timeout;
  /** Set while observing: the key and the function byClient holds for this observation. */
  private readonly key: string | undefined;
  private readonly endThis: (() => void) | undefined;

  constructor(
    private readonly book: ExchangeBook,
    readonly request: CoapRequest,
    private readonly channel: ReplyChannel,
    readonly observing: boolean,
  ) {
    book.pending++;
    this.observationOver = !observing;
    book.open.add(this);
    this.timer = setTimeout(timeOut, book.responseTimeoutMs, this);
    if (observing) {
      const key = observationKey(request);
      const endThis = (): void => this.end();
      this.key = key;
      this.endThis = endThis;
      book.observations++;
      // A re-registration with the same token replaces the earlier observation (RFC 7641 §4.1).
      book.byClient.get(key)?.();
      book.byClient.set(key, endThis);
      // node-coap ends the stream when the client resets a notification or delivery fails.
      channel.onClosed(() => this.finishObservation());
    }
  }

  /** Runs the handler; one that throws gets 5.00 sent on its behalf. */
  run(handler: (exchange: Exchange) => void): void {
    try {
      handler(this);
    } catch (err) {
      this.book.handlerError(err as Error, this.request);
      this.respond({ code: '5.00' });
    }
  }

  respond(reply: CoapReply): boolean {
    if (this.answered) return false;
    this.settle();
    // Only a success opens the observation (RFC 7641 §4.2); anything else ends it.
    if (this.observing && reply.code.startsWith('2.')) this.deliver(reply, true);
    else {
      this.finishObservation();
      this.deliver(reply, false);
    }
    return true;
  }

  notify(reply: CoapReply): boolean {
    if (!this.answered || this.observationOver) return false;
    if (!reply.code.startsWith('2.')) {
      this.deliver(reply, true);
      this.end();
      return true;
    }
    this.deliver(reply, true);
    return !this.observationOver;
  }

  end(): void {
    if (this.observationOver) return;
    this.finishObservation();
    this.channel.end();
  }

  onSettled(listener: () => void): void {
    if (this.answered) listener();
    else (this.settledListeners ??= []).push(listener);
  }

  onObservationEnd(listener: () => void): void {
    if (this.observationOver) listener();
    else (this.endListeners ??= []).push(listener);
  }

  /** The socket is going away: forget the exchange without answering. */
  drop(): void {
    this.channel.abandon();
    if (!this.answered) this.settle();
    this.finishObservation();
    this.book.open.delete(this);
  }

  /** @internal The handler did not answer in time: 5.03 on its behalf. */
  timeOut(): void {
    if (this.answered) return;
    this.settle();
    this.book.timedOut(this.request);
    this.finishObservation();
    this.channel.send({ code: '5.03', options: { 'Max-Age': this.book.maxAgeWhenBusy } });
  }

  private settle(): void {
    this.answered = true;
    this.book.pending--;
    clearTimeout(this.timer);
    if (this.observationOver) this.book.open.delete(this);
    const listeners = this.settledListeners;
    this.settledListeners = undefined;
    if (listeners) for (const l of listeners) l();
  }

  private finishObservation(): void {
    if (this.observationOver) return;
    this.observationOver = true;
    this.book.observations--;
    const key = this.key as string;
    if (this.book.byClient.get(key) === this.endThis) this.book.byClient.delete(key);
    if (this.answered) this.book.open.delete(this);
    const listeners = this.endListeners;
    this.endListeners = undefined;
    if (listeners) for (const l of listeners) l();
  }

  /** Sends; a reply that cannot be sent (a bad option, too large) becomes 5.00 and is reported. */
  private deliver(reply: CoapReply, asNotification: boolean): void {
    try {
      if (asNotification) this.channel.notify(reply);
      else this.channel.send(reply);
    } catch (err) {
      this.book.handlerError(err as Error, this.request);
      this.finishObservation();
      try {
        this.channel.send({ code: '5.00' });
      } catch {
        // the response stream is already spent; the client will retransmit or time out
      }
    }
  }
}

function timeOut(exchange: ServerExchange): void {
  exchange.timeOut();
}
