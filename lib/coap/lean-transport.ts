/**
 * A lean confirmable request/response transport on one UDP socket, for CoapClient's plain
 * requests (no Observe, no Block1). node-coap's Agent costs per request a crypto token, a
 * Writable and a Readable stream, several EventEmitters, three or four timers (retransmission,
 * the 247 s exchange lifetime) and a re-parse of every packet it sends; at proxy rates that is
 * most of the client's time. This does the same exchange (RFC 7252 §4) with one timer per
 * request: CON with retransmission on node-coap's timing parameters (ACK_TIMEOUT × random factor,
 * doubling, MAX_RETRANSMIT), piggybacked or separate responses (a CON response is ACKed),
 * Reset → the caller's reset error, and Block2 responses fetched block by block and reassembled
 * as node-coap does. Options are written and decoded with node-coap's own converters, so a
 * response reads exactly as it would through the Agent.
 *
 * It runs on a socket of its own, or (over()) on one it is given and shares: cloud-link sends from
 * the gateway's endpoint socket, so that the upstream sees it at the port that serves the proxy.
 * On a shared socket it leaves requests and strangers' messages alone, and never closes it.
 */
import { randomBytes } from 'node:crypto';
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { generate, parse, type Packet, type ParsedPacket } from 'coap-packet';
import { parameters } from 'coap';
import { packetToMessage, getOption, parseBlock2, createBlock2 } from 'coap/dist/lib/helpers';
import { isIgnored } from 'coap/dist/lib/option_converter';
import type { Family } from './endpoint';

type Option = { name: string | number; value: Buffer };

export interface LeanResult {
  packet: ParsedPacket;
  /** The decoded options and code, as node-coap's IncomingMessage holds them. */
  message: { code: string; payload: Buffer; options: Array<{ name: string | number; value: unknown }> };
}

interface Exchange {
  host: string;
  port: number;
  packet: { code: string; messageId: number; token: Buffer; confirmable: true; options: Option[]; payload: Buffer };
  /** Whether the exchange is still open: answered, failed and timed-out ones are not. */
  open: boolean;
  buf: Buffer;
  messageId: number;
  tokenKey: number;
  acked: boolean;
  attempts: number;
  nextRetransmitAt: number;
  retransmitMs: number;
  deadline: number;
  timer: NodeJS.Timeout | undefined;
  body: Buffer[] | undefined;
  onDone(err: Error | undefined, result?: LeanResult): void;
  onTimeout(): void;
}

const TOKEN_POOL_BYTES = 4096;
const MAX_MESSAGE_ID = 65536;

/** Reset from the peer (code 0.00): the caller turns it into its own error. */
export class LeanResetError extends Error {}

export class LeanTransport {
  private readonly socket: Socket;
  /** Whether the socket is ours (closed with the transport) or shared (left as it is). */
  private readonly owned: boolean;
  private readonly listener = (msg: Buffer, rinfo: RemoteInfo): void => this.onMessage(msg, rinfo.address, rinfo.port);
  private readonly byMessageId = new Map<number, Exchange>();
  private readonly byToken = new Map<number, Exchange>();
  private lastMessageId = Math.floor(Math.random() * (MAX_MESSAGE_ID - 1));
  private lastToken = Math.floor(Math.random() * 0xfffffffe);
  private pool = randomBytes(TOKEN_POOL_BYTES);
  private poolOffset = 0;
  private closed = false;

  constructor(family: Family, unref: boolean, shared?: Socket) {
    this.owned = shared === undefined;
    this.socket = shared ?? createSocket({ type: family });
    if (this.owned) {
      if (unref) this.socket.unref();
      this.socket.on('error', () => undefined);
    }
    this.socket.on('message', this.listener);
  }

  /** A transport on a socket that stays someone else's: close() only stops listening to it. */
  static over(socket: Socket): LeanTransport {
    // The family only says what socket to create; this one exists (bound or not yet).
    return new LeanTransport('udp4', false, socket);
  }

  /** A CoAP ping (an empty CON, RFC 7252 §4.3): done on the peer's Reset, which is the answer. */
  ping(host: string, port: number, timeoutMs: number, onDone: (err: Error | undefined) => void, onTimeout: () => void): void {
    this.start(host, port, '0.00', Buffer.alloc(0), [], Buffer.alloc(0), timeoutMs, (err) => onDone(err instanceof LeanResetError ? undefined : (err ?? new Error('ping answered with a message'))), onTimeout);
  }

  /**
   * Sends one CON request. options: as CoapClient builds them for node-coap (name → Buffer or
   * Buffer[]); they go through node-coap's setOption, as the Agent would write them.
   */
  request(
    host: string,
    port: number,
    code: string,
    options: Record<string, Buffer | Buffer[]>,
    payload: Buffer,
    timeoutMs: number,
    onDone: (err: Error | undefined, result?: LeanResult) => void,
    onTimeout: () => void,
  ): void {
    if (this.closed) throw new Error('CoAP client is closed');
    // What node-coap's setOption does with CoapClient's options: their names are already in its
    // canonical spelling and their values bytes, so only the ignored-option check is left.
    const list: Option[] = [];
    for (const name of Object.keys(options)) {
      if (isIgnored(name)) continue;
      const value = options[name] as Buffer | Buffer[];
      if (Array.isArray(value)) for (const v of value) list.push({ name, value: v });
      else list.push({ name, value });
    }
    const tokenKey = this.nextTokenKey();
    const token = Buffer.allocUnsafe(8);
    token.writeUInt32BE(tokenKey, 0);
    if (this.poolOffset + 4 > TOKEN_POOL_BYTES) {
      this.pool = randomBytes(TOKEN_POOL_BYTES);
      this.poolOffset = 0;
    }
    this.pool.copy(token, 4, this.poolOffset, this.poolOffset + 4);
    this.poolOffset += 4;
    this.start(host, port, code, token, list, payload, timeoutMs, onDone, onTimeout, tokenKey);
  }

  /** Sends a CON and keeps it until answered; tokenKey undefined: an empty message (a ping). */
  private start(
    host: string,
    port: number,
    code: string,
    token: Buffer,
    list: Option[],
    payload: Buffer,
    timeoutMs: number,
    onDone: (err: Error | undefined, result?: LeanResult) => void,
    onTimeout: () => void,
    tokenKey?: number,
  ): void {
    if (this.closed) throw new Error('CoAP client is closed');
    const messageId = this.nextMessageId();
    const packet = { code, messageId, token, confirmable: true as const, options: list, payload };
    const now = Date.now();
    const retransmitMs = parameters.ackTimeout * (1 + (parameters.ackRandomFactor - 1) * Math.random()) * 1000;
    const ex: Exchange = {
      host,
      port,
      packet,
      open: true,
      buf: generate(packet as Packet),
      messageId,
      tokenKey: tokenKey ?? -1,
      acked: false,
      attempts: 0,
      nextRetransmitAt: now + retransmitMs,
      retransmitMs,
      deadline: now + timeoutMs,
      timer: undefined,
      body: undefined,
      onDone,
      onTimeout,
    };
    this.byMessageId.set(messageId, ex);
    if (tokenKey !== undefined) this.byToken.set(tokenKey, ex);
    this.send(ex);
    this.schedule(ex, now);
  }

  /**
   * Stops. Open requests are dropped without a word, or, given `reason`, fail with it. A socket
   * of its own is closed; a shared one is only no longer listened to.
   */
  close(reason?: Error): Promise<void> {
    this.closed = true;
    const open = [...this.byMessageId.values()];
    for (const ex of open) this.drop(ex);
    this.socket.off('message', this.listener);
    if (reason) for (const ex of open) ex.onDone(reason);
    if (!this.owned) return Promise.resolve();
    this.socket.send = (() => undefined) as Socket['send'];
    return new Promise<void>((resolve) => {
      try {
        this.socket.close(() => resolve());
      } catch {
        resolve();
      }
    });
  }

  private send(ex: Exchange): void {
    this.socket.send(ex.buf, ex.port, ex.host, (err) => {
      if (err && ex.open) this.finish(ex, err);
    });
  }

  /** One timer per exchange: the next retransmission or the caller's deadline, whichever first. */
  private schedule(ex: Exchange, now: number): void {
    const retransmitting = !ex.acked && ex.attempts < parameters.maxRetransmit;
    const at = retransmitting ? Math.min(ex.nextRetransmitAt, ex.deadline) : ex.deadline;
    ex.timer = setTimeout(() => this.onTimer(ex), Math.max(0, at - now));
  }

  private onTimer(ex: Exchange): void {
    if (!ex.open) return;
    const now = Date.now();
    if (now >= ex.deadline) {
      this.drop(ex);
      ex.onTimeout();
      return;
    }
    if (!ex.acked && ex.attempts < parameters.maxRetransmit && now >= ex.nextRetransmitAt) {
      ex.attempts++;
      ex.retransmitMs *= 2;
      ex.nextRetransmitAt = now + ex.retransmitMs;
      this.send(ex);
    }
    this.schedule(ex, now);
  }

  private drop(ex: Exchange): void {
    ex.open = false;
    clearTimeout(ex.timer);
    if (this.byToken.get(ex.tokenKey) === ex) this.byToken.delete(ex.tokenKey);
    if (this.byMessageId.get(ex.messageId) === ex) this.byMessageId.delete(ex.messageId);
  }

  private finish(ex: Exchange, err: Error | undefined, result?: LeanResult): void {
    this.drop(ex);
    ex.onDone(err, result);
  }

  private onMessage(msg: Buffer, address: string, port: number): void {
    let packet: ParsedPacket;
    try {
      packet = parse(msg);
    } catch {
      return;
    }
    // Requests are not ours to answer (node-coap's Agent ignores them too).
    if (packet.code[0] === '0' && packet.code !== '0.00') return;
    let ex = packet.ack || packet.reset ? this.byMessageId.get(packet.messageId) : undefined;
    // An ACK or Reset with our message ID from another port is someone else's.
    if (ex && ex.port !== port) ex = undefined;
    if (!ex && packet.token.length === 8) {
      const candidate = this.byToken.get(packet.token.readUInt32BE(0));
      if (candidate && candidate.packet.token.equals(packet.token)) ex = candidate;
    }
    if (!ex) {
      if ((packet.ack || packet.reset) && packet.code === '0.00') return;
      if (packet.ack || packet.reset || !this.owned) return;
      // Unknown exchange: Reset, as node-coap's Agent does (RFC 7252 §4.2, §4.3). On a shared
      // socket it may be another user's, and is left alone.
      this.socket.send(generate({ code: '0.00', reset: true, messageId: packet.messageId }), port, address);
      return;
    }
    if (packet.confirmable) this.socket.send(generate({ code: '0.00', ack: true, messageId: packet.messageId }), port, address);
    if (packet.reset) {
      this.finish(ex, new LeanResetError('reset'));
      return;
    }
    if (packet.code === '0.00') {
      // Empty ACK: the answer comes separately; stop retransmitting, keep waiting.
      if (!ex.acked) {
        ex.acked = true;
        clearTimeout(ex.timer);
        this.schedule(ex, Date.now());
      }
      return;
    }
    if (!ex.packet.token.equals(packet.token)) return;
    const block2Value = getOption(packet.options as never, 'Block2');
    if (Buffer.isBuffer(block2Value)) {
      const block2 = parseBlock2(block2Value);
      if (block2 == null) return this.finish(ex, new Error('failed to parse block2'));
      (ex.body ??= []).push(packet.payload);
      if (block2.more === 1) {
        const next = createBlock2({ more: 0, num: block2.num + 1, size: block2.size });
        if (next == null) return this.finish(ex, new Error('failed to create block2'));
        // The next block: a new message ID, the same token and options, no payload.
        this.byMessageId.delete(ex.messageId);
        ex.messageId = this.nextMessageId();
        this.byMessageId.set(ex.messageId, ex);
        ex.packet.messageId = ex.messageId;
        ex.packet.options = ex.packet.options.filter((o) => o.name !== 'Block2');
        ex.packet.options.push({ name: 'Block2', value: next });
        ex.packet.payload = Buffer.alloc(0);
        ex.buf = generate(ex.packet as Packet);
        ex.acked = false;
        ex.attempts = 0;
        ex.retransmitMs = parameters.ackTimeout * (1 + (parameters.ackRandomFactor - 1) * Math.random()) * 1000;
        const now = Date.now();
        ex.nextRetransmitAt = now + ex.retransmitMs;
        clearTimeout(ex.timer);
        this.send(ex);
        this.schedule(ex, now);
        return;
      }
      packet.payload = ex.body.length === 1 ? (ex.body[0] as Buffer) : Buffer.concat(ex.body);
    }
    const message = {} as LeanResult['message'];
    packetToMessage(message as never, packet as never);
    this.finish(ex, undefined, { packet, message });
  }

  private nextMessageId(): number {
    if (++this.lastMessageId === MAX_MESSAGE_ID) this.lastMessageId = 0;
    return this.lastMessageId;
  }

  private nextTokenKey(): number {
    if (++this.lastToken > 0xffffffff) this.lastToken = 0;
    return this.lastToken;
  }
}
