/**
 * The bench's gateway in a process of its own: a reverse proxy that knows one device, "dev" at
 * 127.0.0.1:<argv[2]>, with its response cache on when argv[3] is "cache". Prints "PORT <n>" once
 * it listens; exits when its parent closes stdin, so it never outlives the bench.
 */
import { EventEmitter } from 'node:events';
import type { DirectoryEvents, EndpointDirectory, RegisteredEndpoint } from '../../lib/coap/rd/directory';
import { built } from './built';

const HOST = '127.0.0.1';

/** The smallest EndpointDirectory: the bench registers its devices by hand. */
export class BenchDirectory extends EventEmitter<DirectoryEvents> implements EndpointDirectory {
  private readonly list: RegisteredEndpoint[] = [];
  add(ep: string, port: number, d?: string): void {
    this.list.push({ id: String(this.list.length + 1), ep, d, base: `coap://${HOST}:${port}`, lt: 3600, expiresAt: Date.now() + 3_600_000, links: [], source: { address: HOST, port } });
  }
  endpoint(ep: string, d?: string): RegisteredEndpoint | undefined {
    return this.list.find((e) => e.ep === ep && (d === undefined || e.d === d));
  }
  endpoints(): RegisteredEndpoint[] {
    return [...this.list];
  }
}

if (require.main === module) {
  const { CoapEndpoint } = built<typeof import('../../lib/coap/endpoint')>('lib/coap/endpoint.js');
  const { ReverseProxy } = built<typeof import('../../lib/coap/proxy/reverse-proxy')>('lib/coap/proxy/reverse-proxy.js');
  const directory = new BenchDirectory();
  directory.add('dev', Number(process.argv[2]));
  const endpoint = new CoapEndpoint({ address: HOST, port: 0, maxPendingRequests: 10_000 });
  const proxy = new ReverseProxy(endpoint, () => directory, { maxPendingRequests: 1000, ...(process.argv[3] === 'cache' ? {} : { cacheMaxEntries: 0 }) });
  proxy.start();
  endpoint.start().then(
    ({ port }) => {
      process.stdout.write(`PORT ${port}\n`);
      process.stdin.resume();
      process.stdin.on('end', () => void proxy.stop().then(() => endpoint.stop()).finally(() => process.exit(0)));
    },
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
