/** One HTTP request with a hard deadline (UPnP routers sometimes accept and never answer). */
import { request } from 'node:http';
import { NatError } from './errors';

export interface HttpReply {
  status: number;
  body: string;
}

export function httpRequest(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: string; timeoutMs: number },
): Promise<HttpReply> {
  return new Promise((resolve, reject) => {
    let target: URL;
    try {
      target = new URL(url);
    } catch {
      reject(new NatError('protocol', `bad URL from the router: ${url}`));
      return;
    }
    if (target.protocol !== 'http:') {
      reject(new NatError('unsupported', `only http: router URLs are supported, got ${url}`));
      return;
    }
    const req = request(target, { method: options.method ?? 'GET', headers: options.headers, timeout: options.timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        // Descriptions and SOAP answers are a few kB; anything huge is not a router.
        if (size > 1_000_000) req.destroy(new NatError('protocol', `answer from ${url} is larger than 1 MB`));
        else chunks.push(c);
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', (err) => reject(new NatError('unreachable', `${url}: ${err.message}`, { cause: err })));
    });
    req.on('timeout', () => req.destroy(new NatError('unreachable', `no answer from ${url} within ${options.timeoutMs} ms`)));
    req.on('error', (err) => reject(err instanceof NatError ? err : new NatError('unreachable', `${url}: ${err.message}`, { cause: err })));
    req.end(options.body);
  });
}
