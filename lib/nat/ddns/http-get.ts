/**
 * One HTTP(S) GET with basic auth and a hard deadline. Redirects are not followed: a provider
 * that moved must be configured with its new URL, and credentials never follow a redirect.
 */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';

export interface GetReply {
  status: number;
  body: string;
  location?: string;
}

/** No answer, a refused connection, TLS trouble: the network, not the provider's verdict. */
export class NetworkError extends Error {}

const MAX_BODY_BYTES = 64 * 1024;

export function httpGet(url: URL, options: { username: string; password: string; userAgent: string; timeoutMs: number; signal?: AbortSignal }): Promise<GetReply> {
  return new Promise((resolve, reject) => {
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const auth = Buffer.from(`${options.username}:${options.password}`, 'utf8').toString('base64');
    const shown = `${url.protocol}//${url.host}${url.pathname}`;
    let settled = false;
    const fail = (err: Error): void => {
      if (settled) return;
      settled = true;
      reject(err);
    };
    const req = send(
      url,
      { method: 'GET', headers: { Authorization: `Basic ${auth}`, 'User-Agent': options.userAgent, Accept: 'text/plain' }, timeout: options.timeoutMs, signal: options.signal },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > MAX_BODY_BYTES) req.destroy(new NetworkError(`answer from ${shown} is larger than ${MAX_BODY_BYTES} bytes`));
          else chunks.push(c);
        });
        res.on('end', () => {
          if (settled) return;
          settled = true;
          const location = res.headers.location;
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), ...(location ? { location } : {}) });
        });
        res.on('error', (err) => fail(new NetworkError(`${shown}: ${err.message}`)));
      },
    );
    req.on('timeout', () => req.destroy(new NetworkError(`no answer from ${shown} within ${options.timeoutMs / 1000} s`)));
    req.on('error', (err) => fail(err instanceof NetworkError ? err : new NetworkError(`${shown}: ${err.message}`)));
    req.end();
  });
}
