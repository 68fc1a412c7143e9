/**
 * CoapEndpoint's fast path for the common request: a plain CON or NON request (no Observe, no
 * Block1/Block2, not FETCH) answered with one message. node-coap's server costs per request a
 * Readable and a Writable stream, an LRU entry, a retry sender with two timers and a second parse
 * of the datagram; at proxy rates that is most of the endpoint's time. Here the packet the datagram
 * guard parsed is answered directly, with what node-coap's server does on the wire kept:
 * - the answer is piggybacked on the ACK; a handler slower than node-coap's piggybackReplyMs gets
 *   an empty ACK first and the answer later as a CON (new message ID, retransmitted with RFC 7252
 *   §4.2 back-off until the client ACKs or resets it); a NON request gets a NON answer;
 * - a duplicate (same source, message ID and token within EXCHANGE_LIFETIME, RFC 7252 §4.5) gets
 *   the same answer again and never reaches the handler twice; the memory of past exchanges is
 *   bounded;
 * - an answer of 1024 bytes or more goes block-wise (RFC 7959): the request is handed to node-coap
 *   with the answer, which segments it and serves the later blocks as it always has.
 */
import type { RemoteInfo, Socket } from 'node:dgram';
import { generate, type Packet, type ParsedPacket } from 'coap-packet';
import { parameters } from 'coap';
// node-coap's option writer (name spelling, ignored options, value conversion), so that a reply
// reads on the wire exactly as it would through node-coap's server. Not re-exported by its index.
import { setOption } from 'coap/dist/lib/helpers';
import type { CoapReply, OptionValue } from './endpoint';

/** node-coap's server answers a payload of this many bytes or more block-wise (its maxBlock2). */
export const BLOCK_WISE_FROM = 1024;

const LEAN_CODES = new Set(['0.01', '0.02', '0.03', '0.04', '0.06', '0.07']);
const EMPTY = Buffer.alloc(0);

/**
 * Whether the fast path serves this request. FETCH stays with node-coap (it checks Content-Format);
 * Observe and block-wise transfers need node-coap's per-exchange state.
 */
export function isLeanRequest(packet: ParsedPacket): boolean {
  if (packet.ack || packet.reset || !LEAN_CODES.has(packet.code)) return false;
  for (const option of packet.options) {
    const name = option.name;
    if (name === 'Observe' || name === 'Block1' || name === 'Block2') return false;
  }
  return true;
}

/** How CoapEndpoint answers one exchange, whichever server path received it. */
export interface ReplyChannel {
  /** Whether notifications can follow the first answer (node-coap's observe stream). */
  readonly observable: boolean;
  /** Sends the one answer (never an observation). */
  send(reply: CoapReply): void;
  /** Sends a notification on an open observation. */
  notify(reply: CoapReply): void;
  /** Ends an observation. */
  end(): void;
  /** Called when the client ends the observation (reset, failed delivery). */
  onClosed(listener: () => void): void;
  /** The socket is going away: stop every timer without sending anything. */
  abandon(): void;
}

interface Remembered {
  token: Buffer;
  /** What a duplicate gets: the answer, the empty ACK, or nothing yet (the handler is working). */
  bytes: Buffer | undefined;
  /** The answer went block-wise through node-coap: duplicates are node-coap's to answer. */
  delegated: boolean;
  at: number;
}

interface SeparateResponse {
  bytes: Buffer;
  rinfo: RemoteInfo;
  attempts: number;
  timeoutMs: number;
  timer: NodeJS.Timeout;
}

export interface LeanServerOptions {
  /** Past exchanges remembered for deduplication; the oldest is forgotten first. */
  maxRememberedExchanges: number;
}

/** Hands a request to node-coap's server, with the answer it must send block-wise. */
export type Delegate = (raw: Buffer, rinfo: RemoteInfo, reply: CoapReply, separate: boolean) => void;

export class LeanServer {
  private readonly recent = new Map<string, Remembered>();
  private readonly separate = new Map<string, SeparateResponse>();
  private lastMessageId = Math.floor(Math.random() * 0x10000);

  constructor(
    private readonly sock: Socket,
    private readonly options: LeanServerOptions,
    private readonly delegate: Delegate,
  ) {}

  /** Whether the datagram is the ACK or Reset of one of our separate responses (and so is done with). */
  settle(packet: ParsedPacket, rinfo: RemoteInfo): boolean {
    if (this.separate.size === 0 || packet.code !== '0.00' || !(packet.ack || packet.reset)) return false;
    const key = exchangeKey(rinfo, packet.messageId);
    const pending = this.separate.get(key);
    if (!pending) return false;
    clearTimeout(pending.timer);
    this.separate.delete(key);
    return true;
  }

  /**
   * The channel that answers a new request, remembered from now on for its duplicates; undefined
   * for a duplicate of a recent request, which is answered here as the first copy was (RFC 7252
   * §4.5), or passed to node-coap when node-coap answered it.
   */
  channel(packet: ParsedPacket, raw: Buffer, rinfo: RemoteInfo, nodeCoap: () => void): ReplyChannel | undefined {
    const key = exchangeKey(rinfo, packet.messageId);
    const now = Date.now();
    const seen = this.recent.get(key);
    if (seen) {
      if (now - seen.at <= parameters.exchangeLifetime * 1000 && seen.token.equals(packet.token)) {
        if (seen.delegated && seen.bytes === undefined) nodeCoap();
        else if (seen.bytes) this.sock.send(seen.bytes, rinfo.port, rinfo.address);
        return undefined;
      }
      this.recent.delete(key);
    }
    const entry: Remembered = { token: packet.token, bytes: undefined, delegated: false, at: now };
    this.recent.set(key, entry);
    if (this.recent.size > this.options.maxRememberedExchanges) {
      this.recent.delete(this.recent.keys().next().value as string);
    }
    return new LeanChannel(this, packet, raw, rinfo, entry);
  }

  /** Stops every retransmission; what is in flight is dropped. */
  close(): void {
    for (const pending of this.separate.values()) clearTimeout(pending.timer);
    this.separate.clear();
    this.recent.clear();
  }

  get rememberedExchanges(): number {
    return this.recent.size;
  }

  /** @internal */
  transmit(bytes: Buffer, rinfo: RemoteInfo): void {
    this.sock.send(bytes, rinfo.port, rinfo.address);
  }

  /** @internal A CON response: sent, and sent again with back-off until ACKed (RFC 7252 §4.2). */
  sendConfirmable(bytes: Buffer, messageId: number, rinfo: RemoteInfo): void {
    const key = exchangeKey(rinfo, messageId);
    const timeoutMs = parameters.ackTimeout * (1 + (parameters.ackRandomFactor - 1) * Math.random()) * 1000;
    const pending: SeparateResponse = { bytes, rinfo, attempts: 0, timeoutMs, timer: setTimeout(() => this.retransmit(key), timeoutMs) };
    this.separate.set(key, pending);
    this.transmit(bytes, rinfo);
  }

  /** @internal */
  nextMessageId(): number {
    this.lastMessageId = (this.lastMessageId + 1) & 0xffff;
    return this.lastMessageId;
  }

  /** @internal */
  handOver(raw: Buffer, rinfo: RemoteInfo, reply: CoapReply, separate: boolean): void {
    this.delegate(raw, rinfo, reply, separate);
  }

  private retransmit(key: string): void {
    const pending = this.separate.get(key);
    if (!pending) return;
    if (pending.attempts >= parameters.maxRetransmit) {
      // The client is gone; nothing else to do (node-coap gives up the same way).
      this.separate.delete(key);
      return;
    }
    pending.attempts++;
    pending.timeoutMs *= 2;
    pending.timer = setTimeout(() => this.retransmit(key), pending.timeoutMs);
    this.transmit(pending.bytes, pending.rinfo);
  }
}

class LeanChannel implements ReplyChannel {
  readonly observable = false;
  private ackTimer: NodeJS.Timeout | undefined;
  private separate = false;
  private done = false;

  constructor(
    private readonly server: LeanServer,
    private readonly request: ParsedPacket,
    private readonly raw: Buffer,
    private readonly rinfo: RemoteInfo,
    private readonly entry: Remembered,
  ) {
    if (request.confirmable) this.ackTimer = setTimeout(() => this.acknowledge(), parameters.piggybackReplyMs);
  }

  send(reply: CoapReply): void {
    if (this.done) return;
    const payload = reply.payload ?? EMPTY;
    if (payload.length >= BLOCK_WISE_FROM) {
      this.finish();
      this.entry.delegated = true;
      this.server.handOver(this.raw, this.rinfo, reply, this.separate);
      return;
    }
    const { request } = this;
    const confirmable = this.separate && request.confirmable;
    const messageId = confirmable ? this.server.nextMessageId() : request.messageId;
    const packet = {
      code: reply.code,
      messageId,
      token: request.token,
      confirmable,
      ack: request.confirmable && !this.separate,
      options: [] as Array<{ name: string; value: Buffer }>,
      payload,
    };
    applyOptions(packet, reply);
    // Throws when the answer does not fit a datagram: the endpoint answers 5.00 instead.
    const bytes = generate(packet as Packet, parameters.maxMessageSize);
    this.finish();
    if (confirmable) {
      this.server.sendConfirmable(bytes, messageId, this.rinfo);
      return;
    }
    if (!this.separate) this.entry.bytes = bytes;
    this.server.transmit(bytes, this.rinfo);
  }

  notify(): void {
    // never observing: the endpoint sends notifications only on an observable channel
  }

  end(): void {
    // nothing to end: see notify()
  }

  onClosed(): void {
    // never observing: see notify()
  }

  abandon(): void {
    this.finish();
  }

  private finish(): void {
    this.done = true;
    clearTimeout(this.ackTimer);
    this.ackTimer = undefined;
  }

  /** The handler is slow: an empty ACK stops the client retransmitting; the answer follows as a CON. */
  private acknowledge(): void {
    this.ackTimer = undefined;
    if (this.done) return;
    this.separate = true;
    const ack = Buffer.from([0x60, 0x00, this.raw[2] as number, this.raw[3] as number]);
    this.entry.bytes = ack;
    this.server.transmit(ack, this.rinfo);
  }
}

type WireOption = { name: string; value: Buffer };

/**
 * The reply's options written as node-coap's OutgoingMessage.setOption writes them. A value that
 * is already bytes under a name whose spelling setOption has been seen to keep is pushed as is:
 * setOption would only re-spell the name (a regular expression per call) and leave the bytes.
 */
function applyOptions(packet: { options: WireOption[] }, reply: CoapReply): void {
  const options = reply.options;
  if (options) {
    for (const name in options) {
      const value = options[name] as OptionValue;
      const spelled = Buffer.isBuffer(value) ? spelling(name) : undefined;
      if (spelled === null) continue;
      if (spelled !== undefined && !packet.options.some((o) => o.name === spelled)) packet.options.push({ name: spelled, value: value as Buffer });
      else setOption(packet as never, name as never, value as never);
    }
  }
  if (reply.contentFormat !== undefined) setOption(packet as never, 'Content-Format', reply.contentFormat);
}

/** How setOption spells each option name (null: an option it ignores); bounded, names are few. */
const spellings = new Map<string, string | null>();
const MAX_SPELLINGS = 256;

function spelling(name: string): string | null | undefined {
  const known = spellings.get(name);
  if (known !== undefined || spellings.size >= MAX_SPELLINGS) return known;
  const probe = { options: [] as WireOption[] };
  setOption(probe as never, name as never, EMPTY as never);
  const spelled = probe.options[0]?.name ?? null;
  spellings.set(name, spelled);
  return spelled;
}

function exchangeKey(rinfo: RemoteInfo, messageId: number): string {
  return `${rinfo.address}|${rinfo.port}|${messageId}`;
}
