/**
 * What the proxy tests share: an in-test EndpointDirectory (a fixture of our own contract, not a
 * stand-in for the RD), devices as CoapEndpoints on loopback, and a proxy on its own endpoint.
 */
import { EventEmitter } from 'node:events';
import { CoapEndpoint } from '../../lib/coap/endpoint';
import type { DirectoryEvents, EndpointDirectory, RegisteredEndpoint } from '../../lib/coap/rd/directory';
import type { Link } from '../../lib/coap/link-format';
import { ReverseProxy, type ProxyOptions } from '../../lib/coap/proxy/reverse-proxy';

export class TestDirectory extends EventEmitter<DirectoryEvents> implements EndpointDirectory {
  private readonly byId = new Map<string, RegisteredEndpoint>();
  private nextId = 1;

  add(ep: string, base: string, extra: { d?: string; links?: Link[] } = {}): RegisteredEndpoint {
    const e: RegisteredEndpoint = {
      id: String(this.nextId++),
      ep,
      d: extra.d,
      base,
      lt: 90_000,
      expiresAt: Date.now() + 90_000_000,
      links: extra.links ?? [],
      source: { address: '127.0.0.1', port: 1 },
    };
    this.byId.set(e.id, e);
    this.emit('registered', e);
    return e;
  }

  remove(e: RegisteredEndpoint): void {
    this.byId.delete(e.id);
    this.emit('removed', e, 'deleted');
  }

  endpoint(ep: string, d?: string): RegisteredEndpoint | undefined {
    return this.endpoints().find((e) => e.ep === ep && (d === undefined || e.d === d));
  }

  endpoints(): RegisteredEndpoint[] {
    return [...this.byId.values()];
  }
}

export async function startDevice(setup: (device: CoapEndpoint) => void): Promise<{ device: CoapEndpoint; base: string; port: number }> {
  const device = new CoapEndpoint({ address: '127.0.0.1', port: 0 });
  setup(device);
  const { port } = await device.start();
  return { device, port, base: `coap://127.0.0.1:${port}` };
}

export interface ProxyUnderTest {
  gateway: CoapEndpoint;
  proxy: ReverseProxy;
  port: number;
  stop(): Promise<void>;
}

export async function startProxy(directory: () => EndpointDirectory | undefined, options: Partial<ProxyOptions> = {}): Promise<ProxyUnderTest> {
  const gateway = new CoapEndpoint({ address: '127.0.0.1', port: 0 });
  const proxy = new ReverseProxy(gateway, directory, options);
  proxy.start();
  const { port } = await gateway.start();
  return {
    gateway,
    proxy,
    port,
    stop: async () => {
      await proxy.stop();
      await gateway.stop();
    },
  };
}

/** Polls a condition that a datagram on its way will make true; bounded so a bug fails, not hangs. */
export async function eventually(what: string, condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`never happened: ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
