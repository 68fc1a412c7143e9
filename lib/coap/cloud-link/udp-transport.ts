/**
 * Confirmable CoAP requests and pings to one upstream over a given UDP socket. The socket is
 * normally the gateway's own CoAP endpoint: the upstream then sees the registration come from the
 * port that serves the proxy, the router's NAT binding it creates is the one the upstream's
 * requests come back through, and pings keep that binding open. node-coap's server ignores
 * responses and ACKs it did not ask for, so both can share the socket.
 */
import { randomBytes, randomInt } from 'node:crypto';
import type { RemoteInfo, Socket } from 'node:dgram';
import { generate, parse, type ParsedPacket } from 'coap-packet';

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

/** RFC 7252 §4.8: ACK_TIMEOUT 2 s, randomised up to ×1.5, doubled per retransmission. */
const ACK_TIMEOUT_MS = 2_000;
const ACK_RANDOM_FACTOR = 1.5;
const MAX_RETRANSMIT = 4;

interface Pending {
  messageId: number;
  token: Buffer;
  acked: boolean;
  onMessage(packet: ParsedPacket): void;
}

export class UdpTransport implements UpstreamTransport {
  private readonly pending = new Set<Pending>();
  private readonly listener = (msg: Buffer, rinfo: RemoteInfo): void => this.receive(msg, rinfo);
  private closed = false;

  constructor(
    private readonly socket: Socket,
    private readonly target: { host: string; port: number },
    /** Whether close() closes the socket too (it does when the transport made it). */
    private readonly ownsSocket = false,
  ) {
    socket.on('message', this.listener);
  }

  request(req: UpstreamRequest, timeoutMs: number): Promise<UpstreamResponse> {
    const options = [
      ...req.path.map((p) => ({ name: 'Uri-Path' as const, value: Buffer.from(p, 'utf8') })),
      ...(req.contentFormat === undefined ? [] : [{ name: 'Content-Format' as const, value: uint(req.contentFormat) }]),
      ...(req.query ?? []).map((q) => ({ name: 'Uri-Query' as const, value: Buffer.from(q, 'utf8') })),
    ];
    return this.exchange({ code: req.method, token: randomBytes(8), options, payload: req.payload ?? Buffer.alloc(0) }, timeoutMs).then(toResponse);
  }

  ping(timeoutMs: number): Promise<void> {
    return this.exchange({ code: '0.00', token: Buffer.alloc(0), options: [], payload: Buffer.alloc(0) }, timeoutMs).then(
      () => undefined,
      (err: unknown) => {
        // The answer to a ping is a Reset: here that is success.
        if (err instanceof UpstreamResetError) return;
        throw err;
      },
    );
  }

  close(): void {
    this.closed = true;
    this.socket.off('message', this.listener);
    for (const p of [...this.pending]) p.onMessage({ code: 'closed' } as ParsedPacket);
    if (this.ownsSocket) {
      try {
        this.socket.close();
      } catch {
        // already closed
      }
    }
  }

  private exchange(packet: { code: string; token: Buffer; options: Array<{ name: string; value: Buffer }>; payload: Buffer }, timeoutMs: number): Promise<ParsedPacket> {
    return new Promise((resolve, reject) => {
      if (this.closed) return reject(new Error('transport closed'));
      const messageId = randomInt(0, 0x10000);
      let datagram: Buffer;
      try {
        datagram = generate({ ...packet, messageId, confirmable: true });
      } catch (err) {
        return reject(err as Error);
      }
      let retransmits = 0;
      let wait = ACK_TIMEOUT_MS * (1 + Math.random() * (ACK_RANDOM_FACTOR - 1));
      let resend: NodeJS.Timeout | undefined;
      const entry: Pending = {
        messageId,
        token: packet.token,
        acked: false,
        onMessage: (reply) => {
          if (reply.code === 'closed') return finish(new Error('transport closed'));
          if (reply.reset) return finish(new UpstreamResetError(`${this.describe()} answered with a reset`));
          if (reply.ack && reply.code === '0.00') {
            // Empty ACK: the response follows separately (RFC 7252 §5.2.2).
            entry.acked = true;
            clearTimeout(resend);
            return;
          }
          finish(undefined, reply);
        },
      };
      const finish = (err: Error | undefined, reply?: ParsedPacket): void => {
        clearTimeout(resend);
        clearTimeout(deadline);
        if (!this.pending.delete(entry)) return;
        if (err) reject(err);
        else resolve(reply as ParsedPacket);
      };
      const send = (): void => {
        this.socket.send(datagram, this.target.port, this.target.host, (err) => {
          if (err) finish(new Error(`cannot send to ${this.describe()}: ${err.message}`));
        });
        if (retransmits++ < MAX_RETRANSMIT) {
          resend = setTimeout(() => {
            if (!entry.acked) send();
          }, wait);
          wait *= 2;
        }
      };
      const deadline = setTimeout(() => finish(new UpstreamTimeoutError(`no answer from ${this.describe()} within ${timeoutMs / 1000} s`)), timeoutMs);
      this.pending.add(entry);
      try {
        send();
      } catch (err) {
        finish(err as Error);
      }
    });
  }

  private receive(msg: Buffer, rinfo: RemoteInfo): void {
    if (this.pending.size === 0 || rinfo.port !== this.target.port) return;
    let packet: ParsedPacket;
    try {
      packet = parse(msg);
    } catch {
      return; // not ours to judge: the endpoint answers malformed datagrams
    }
    const isResponse = packet.code !== '0.00' && !packet.code.startsWith('0.');
    for (const p of this.pending) {
      const byId = (packet.ack || packet.reset) && packet.messageId === p.messageId;
      const byToken = isResponse && p.token.length > 0 && packet.token.equals(p.token);
      if (!byId && !byToken) continue;
      // A separate response comes as CON and must be acknowledged (RFC 7252 §5.2.2).
      if (packet.confirmable && isResponse) this.socket.send(generate({ code: '0.00', messageId: packet.messageId, ack: true }), rinfo.port, rinfo.address);
      p.onMessage(packet);
      return;
    }
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

function readUint(b: Buffer): number {
  let n = 0;
  for (const byte of b) n = n * 256 + byte;
  return n;
}

function toResponse(packet: ParsedPacket): UpstreamResponse {
  const maxAge = packet.options.find((o) => o.name === 'Max-Age');
  return {
    code: packet.code,
    payload: packet.payload,
    locationPath: packet.options.filter((o) => o.name === 'Location-Path').map((o) => o.value.toString('utf8')),
    ...(maxAge ? { maxAge: readUint(maxAge.value) } : {}),
  };
}
