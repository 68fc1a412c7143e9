/**
 * The Observe relay (RFC 7641 §5 for intermediaries): every client observing the same resource
 * of the same device shares one upstream observation; its notifications fan out to all of them;
 * it is deregistered upstream when the last client leaves; when it ends upstream, every client
 * gets the final code and its observation ends.
 */
import type { CoapReply, Exchange } from '../endpoint';
import type { ClientResponse, ObserveHandlers, Observation } from '../client';

export interface RelayStart {
  /** Opens the upstream observation; called once per relay. */
  (handlers: ObserveHandlers): Observation;
}

interface Relay {
  group: string;
  observers: Set<Exchange>;
  last?: CoapReply;
  upstream?: Observation;
  over: boolean;
}

export class ObserveRelays {
  private readonly relays = new Map<string, Relay>();

  /**
   * @param toReply turns a device's notification into what the clients get
   * @param failure the final code for an upstream that failed without one (timeout: 5.04)
   */
  constructor(
    private readonly maxUpstream: number,
    private readonly toReply: (response: ClientResponse) => CoapReply,
    private readonly failure: (error: Error) => CoapReply,
  ) {}

  /** Upstream observations open now. */
  get upstreamCount(): number {
    return this.relays.size;
  }

  /** Clients observing through the relay now. */
  get observerCount(): number {
    let n = 0;
    for (const r of this.relays.values()) n += r.observers.size;
    return n;
  }

  /** Whether a new upstream observation for `key` could be opened (or one exists to join). */
  canJoin(key: string): boolean {
    return this.relays.has(key) || this.relays.size < this.maxUpstream;
  }

  /** Adds an observing exchange to the relay for `key`, opening the upstream one if needed. */
  join(key: string, group: string, exchange: Exchange, start: RelayStart): void {
    let relay = this.relays.get(key);
    if (!relay) {
      const fresh: Relay = { group, observers: new Set(), over: false };
      relay = fresh;
      this.relays.set(key, fresh);
      fresh.observers.add(exchange);
      exchange.onObservationEnd(() => this.leave(key, fresh, exchange));
      fresh.upstream = start({
        onNotification: (n) => this.deliver(key, fresh, this.toReply(n)),
        onEnd: (err) => this.finish(key, fresh, err ? this.failure(err) : undefined),
      });
      return;
    }
    const shared = relay;
    shared.observers.add(exchange);
    exchange.onObservationEnd(() => this.leave(key, shared, exchange));
    if (shared.last) exchange.respond(shared.last);
  }

  /** Ends every relay of one endpoint with a final code (e.g. 4.04 when it left the directory). */
  endGroup(group: string, reply: CoapReply): void {
    for (const [key, relay] of [...this.relays]) {
      if (relay.group !== group) continue;
      relay.upstream?.cancel();
      this.finish(key, relay, reply);
    }
  }

  /** Ends every relay without a word to the clients: the endpoint is going away. */
  closeAll(): void {
    for (const relay of this.relays.values()) {
      relay.over = true;
      relay.upstream?.cancel();
    }
    this.relays.clear();
  }

  private deliver(key: string, relay: Relay, reply: CoapReply): void {
    if (relay.over) return;
    relay.last = reply;
    if (!reply.code.startsWith('2.')) return this.finish(key, relay, reply);
    for (const ex of [...relay.observers]) {
      if (!ex.respond(reply)) ex.notify(reply);
    }
  }

  /** The upstream observation is over: a final code to everyone (if any), and the relay goes. */
  private finish(key: string, relay: Relay, reply: CoapReply | undefined): void {
    if (relay.over) return;
    relay.over = true;
    if (this.relays.get(key) === relay) this.relays.delete(key);
    for (const ex of [...relay.observers]) {
      if (!reply) {
        ex.end();
        continue;
      }
      // A non-2.xx ends the observation on the wire; a 2.xx (the device declined to be observed)
      // is delivered, then the observation is closed on our side.
      if (!ex.respond(reply)) ex.notify(reply);
      if (reply.code.startsWith('2.')) ex.end();
    }
    relay.observers.clear();
  }

  private leave(key: string, relay: Relay, exchange: Exchange): void {
    relay.observers.delete(exchange);
    if (relay.observers.size > 0 || relay.over) return;
    relay.over = true;
    if (this.relays.get(key) === relay) this.relays.delete(key);
    relay.upstream?.cancel();
  }
}
