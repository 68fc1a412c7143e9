/**
 * Lets one node answer an exchange another node received (coap-in → flow → coap-response)
 * while the message in between carries only a plain id, so it can be cloned and serialised.
 */
import { randomUUID } from 'node:crypto';
import type { Exchange } from './endpoint';

export class ExchangeRegistry {
  private readonly open = new Map<string, Exchange>();

  add(exchange: Exchange): string {
    const id = randomUUID();
    this.open.set(id, exchange);
    exchange.onSettled(() => this.open.delete(id));
    return id;
  }

  get(id: unknown): Exchange | undefined {
    return typeof id === 'string' ? this.open.get(id) : undefined;
  }

  get size(): number {
    return this.open.size;
  }
}

/** One registry per process: every coap-in and coap-response node of the runtime shares it. */
export const exchanges = new ExchangeRegistry();
