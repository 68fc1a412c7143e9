/**
 * Confirmable CoAP requests and pings to one upstream over a given UDP socket, on the lean
 * transport (../lean-transport.ts: retransmission, separate and block-wise responses). The socket is
 * normally the gateway's own CoAP endpoint: the upstream then sees the registration come from the
 * port that serves the proxy, the router's NAT binding it creates is the one the upstream's
 * requests come back through, and pings keep that binding open. node-coap's server ignores
 * responses and ACKs it did not ask for, so both can share the socket.
 */
import type { Socket } from 'node:dgram';
import { LeanResetError, LeanTransport, type LeanResult } from '../lean-transport';

export interface UpstreamRequest {
  method: 'GET' | 'POST' | 'DELETE';
  path: readonly string[];
  query?: readonly string[];
  payload?: Buffer;
  /** Content-Format number, e.g. 40 (application/link-format). */
  contentFormat?: number;
}

export interface UpstreamResponse {
  code: string;
  payload: Buffer;
  locationPath: string[];
  /** Max-Age in seconds, when the response carries it (4.29, 5.03: when to try again). */
  maxAge?: number;
}

export interface UpstreamTransport {
  request(req: UpstreamRequest, timeoutMs: number): Promise<UpstreamResponse>;
  /** An empty CON (CoAP ping, RFC 7252 §4.3); resolves on the peer's Reset. */
  ping(timeoutMs: number): Promise<void>;
  close(): void;
}

export class UpstreamTimeoutError extends Error {}
export class UpstreamResetError extends Error {}

export class UdpTransport implements UpstreamTransport {
  private readonly lean: LeanTransport;
  private closed = false;

  constructor(
    private readonly socket: Socket,
    private readonly target: { host: string; port: number },
    /** Whether close() closes the socket too (it does when the transport made it). */
    private readonly ownsSocket = false,
  ) {
    this.lean = LeanTransport.over(socket);
  }

  request(req: UpstreamRequest, timeoutMs: number): Promise<UpstreamResponse> {
    const options: Record<string, Buffer | Buffer[]> = {
      'Uri-Path': req.path.map((p) => Buffer.from(p, 'utf8')),
      'Uri-Query': (req.query ?? []).map((q) => Buffer.from(q, 'utf8')),
      ...(req.contentFormat === undefined ? {} : { 'Content-Format': uint(req.contentFormat) }),
    };
    return new Promise((resolve, reject) => {
      try {
        if (this.closed) throw new Error('transport closed');
        this.lean.request(
          this.target.host,
          this.target.port,
          req.method,
          options,
          req.payload ?? Buffer.alloc(0),
          timeoutMs,
          (err, result) => (err ? reject(this.failure(err)) : resolve(toResponse(result as LeanResult))),
          () => reject(this.timeout(timeoutMs)),
        );
      } catch (err) {
        reject(err as Error);
      }
    });
  }

  ping(timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      try {
        if (this.closed) throw new Error('transport closed');
        // The answer to a ping is a Reset: here that is success.
        this.lean.ping(this.target.host, this.target.port, timeoutMs, (err) => (err ? reject(this.failure(err)) : resolve()), () => reject(this.timeout(timeoutMs)));
      } catch (err) {
        reject(err as Error);
      }
    });
  }

  close(): void {
    this.closed = true;
    void this.lean.close(new Error('transport closed'));
    if (this.ownsSocket) {
      try {
        this.socket.close();
      } catch {
        // already closed
      }
    }
  }

  private failure(err: Error): Error {
    if (err instanceof LeanResetError) return new UpstreamResetError(`${this.describe()} answered with a reset`);
    if (err.message === 'transport closed') return err;
    return new Error(`cannot send to ${this.describe()}: ${err.message}`);
  }

  private timeout(timeoutMs: number): UpstreamTimeoutError {
    return new UpstreamTimeoutError(`no answer from ${this.describe()} within ${timeoutMs / 1000} s`);
  }

  private describe(): string {
    const host = this.target.host.includes(':') ? `[${this.target.host}]` : this.target.host;
    return `coap://${host}:${this.target.port}`;
  }
}

function uint(n: number): Buffer {
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v % 256);
  return Buffer.from(bytes);
}

/** The response's options as node-coap decodes them: Location-Path as text, Max-Age as a number. */
function toResponse({ message }: LeanResult): UpstreamResponse {
  const locationPath: string[] = [];
  let maxAge: number | undefined;
  for (const { name, value } of message.options) {
    if (name === 'Location-Path') locationPath.push(String(value));
    else if (name === 'Max-Age' && typeof value === 'number') maxAge = value;
  }
  return { code: message.code, payload: message.payload, locationPath, ...(maxAge === undefined ? {} : { maxAge }) };
}
