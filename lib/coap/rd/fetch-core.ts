/**
 * The RD's side of simple registration (RFC 9176 §5.1): GET /.well-known/core from the
 * registrant, with a deadline and a size bound, through node-coap's client.
 */
import { isIPv6 } from 'node:net';
import { createSocket } from 'node:dgram';
import { request as coapRequest, Agent } from 'coap';
import type { IncomingMessage } from 'coap';
import { ContentFormat, contentFormatNumber } from '../content-format';

export class FetchError extends Error {
  constructor(
    /** What the RD answers the registrant: 5.04 when it did not answer, 5.02 for a bad answer. */
    readonly code: '5.02' | '5.04',
    message: string,
  ) {
    super(message);
  }
}

export interface FetchTarget {
  address: string;
  port: number;
  timeoutMs: number;
  maxBytes: number;
}

/** Resolves with the link-format document the registrant serves at /.well-known/core. */
export type FetchCore = (target: FetchTarget) => Promise<Buffer>;

export const fetchWellKnownCore: FetchCore = ({ address, port, timeoutMs, maxBytes }) =>
  new Promise((resolve, reject) => {
    // Our own socket: node-coap's Agent.close() can wait forever on an aborted request, holding
    // the socket (and the process) open; this one is closed whatever happened.
    const socket = createSocket(isIPv6(address) ? 'udp6' : 'udp4');
    socket.on('error', () => undefined); // e.g. ICMP unreachable; the deadline reports it
    const agent = new Agent({ socket });
    let settled = false;
    const finish = (err: Error | undefined, body?: Buffer): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      // Stops node-coap's retransmission timers, which would otherwise send on a closed socket.
      agent.abort(req);
      // After the current message is handled (node-coap may still ACK it on this socket).
      setImmediate(() => socket.close());
      if (err) reject(err);
      else resolve(body as Buffer);
    };
    const req = coapRequest({ host: address, port, method: 'GET', pathname: '/.well-known/core', confirmable: true, agent });
    req.setOption('Accept', ContentFormat.linkFormat);
    const timer = setTimeout(() => finish(new FetchError('5.04', `no answer from ${address}:${port} within ${timeoutMs} ms`)), timeoutMs);
    req.on('response', (res: IncomingMessage) => {
      const format = contentFormatNumber(res.headers['Content-Format']);
      if (res.code !== '2.05') return finish(new FetchError('5.02', `/.well-known/core answered ${res.code}`));
      if (format !== undefined && format !== ContentFormat.linkFormat) {
        return finish(new FetchError('5.02', `/.well-known/core is Content-Format ${format}, not link-format`));
      }
      const payload = res.payload ?? Buffer.alloc(0);
      if (payload.length > maxBytes) return finish(new FetchError('5.02', `/.well-known/core is larger than ${maxBytes} bytes`));
      finish(undefined, payload);
    });
    req.on('error', (err: Error) => finish(new FetchError('5.04', `fetching /.well-known/core failed: ${err.message}`)));
    req.on('timeout', () => finish(new FetchError('5.04', `no answer from ${address}:${port}`)));
    req.end();
  });
