/**
 * One OSCORE security context (RFC 8613 §3) with its mutable state: the persisted Sender
 * Sequence Number, the replay window and its Echo recovery. Used by the client and server
 * nodes and by test clients; the transport keeps the exchange objects next to the Token (§8).
 */
import { buildAad } from './aad';
import { deriveContext, type ContextInput, type DerivedContext } from './context';
import { EchoResync, type EchoResyncOptions } from './echo-resync';
import { OscoreError } from './errors';
import { encodeUint, findOption, type CoapMessage, type CoapOption } from './message';
import { type OscoreOptionValue } from './option';
import { CODE, OPTION } from './option-numbers';
import { buildNonce, decodePartialIv, encodePartialIv } from './nonce';
import { protectMessage, readOscoreHeader, unprotectMessage } from './protect';
import { DEFAULT_REPLAY_WINDOW, ReplayWindow } from './replay-window';
import { SenderSequence, type SequenceStorage } from './sequence-store';

export interface SecurityContextOptions extends ContextInput {
  /** Where the Sender Sequence Number is persisted (FileSequenceStorage in production). */
  storage: SequenceStorage;
  /** K of Appendix B.1.1: numbers reserved per synchronous write. */
  reserve?: number;
  replayWindowSize?: number;
  /** Send the ID Context as 'kid context' in requests (§5.1). Default: when an ID Context is set. */
  sendKidContext?: boolean;
  /**
   * Whether the replay window must be resynchronised with Echo before requests are accepted
   * (Appendix B.1.2). Default: when the sequence store shows this context ran before.
   */
  replayWindowLost?: boolean;
  echo?: EchoResyncOptions;
}

/** The request/response association of §8: what the response is bound to. */
export interface OscoreExchange {
  readonly requestKid: Buffer;
  readonly requestPiv: Buffer;
  /** AEAD nonce of the request, reused by a response without Partial IV (§5.2). */
  readonly requestNonce: Buffer;
  readonly aad: Buffer;
  /** The request registered an observation (Observe 0). */
  readonly observe: boolean;
  /** The request nonce has protected (server) or verified (client) a response already. */
  requestNonceUsed: boolean;
  /** Client: largest Partial IV of verified notifications (§4.1.3.5.2). */
  notificationNumber: number | undefined;
  /** Client: no further response is accepted (§7.4: a single response, or the observation ended). */
  closed: boolean;
}

export type RequestVerification =
  | { status: 'verified'; message: CoapMessage; exchange: OscoreExchange; sequenceNumber: number }
  /** Replay window not yet resynchronised: send `response` (protected 4.01 + Echo) and drop the request. */
  | { status: 'echo-required'; response: CoapMessage; exchange: OscoreExchange };

export interface VerifiedResponse {
  message: CoapMessage;
  /** The response's own Partial IV as a number, when it had one (notifications, Echo challenges). */
  sequenceNumber?: number;
}

export interface ProtectResponseOptions {
  /** Use a fresh Partial IV even where the request nonce could be reused (§8.3 step 3). */
  partialIv?: boolean;
  /** Extra Class U options, e.g. Outer Max-Age 0. */
  extraOuter?: readonly CoapOption[];
}

function newExchange(requestKid: Buffer, requestPiv: Buffer, requestNonce: Buffer, aad: Buffer, observe: boolean): OscoreExchange {
  return { requestKid, requestPiv, requestNonce, aad, observe, requestNonceUsed: false, notificationNumber: undefined, closed: false };
}

function isRegistration(message: CoapMessage): boolean {
  const observe = findOption(message.options, OPTION.OBSERVE);
  return observe !== undefined && observe.value.every((b) => b === 0); // uint 0 (normally empty)
}

export class SecurityContext {
  readonly keys: DerivedContext;
  readonly sequence: SenderSequence;
  readonly replayWindow: ReplayWindow;
  readonly resync: EchoResync;
  private readonly sendKidContext: boolean;

  constructor(options: SecurityContextOptions) {
    this.keys = deriveContext(options);
    this.sequence = new SenderSequence(options.storage, options.reserve);
    this.replayWindow = new ReplayWindow(options.replayWindowSize ?? DEFAULT_REPLAY_WINDOW);
    this.resync = new EchoResync(options.replayWindowLost ?? this.sequence.restarted, options.echo);
    this.sendKidContext = options.sendKidContext ?? this.keys.idContext !== undefined;
    if (this.sendKidContext && this.keys.idContext === undefined) throw new OscoreError('invalid-argument', 'sendKidContext without an ID Context');
  }

  get senderId(): Buffer {
    return this.keys.senderId;
  }

  get recipientId(): Buffer {
    return this.keys.recipientId;
  }

  get idContext(): Buffer | undefined {
    return this.keys.idContext;
  }

  /** Whether a request with this 'kid' / 'kid context' is addressed to this context (§8.2 step 2). */
  matches(header: OscoreOptionValue): boolean {
    if (!header.kid || !header.kid.equals(this.keys.recipientId)) return false;
    if (header.kidContext === undefined) return true;
    return this.keys.idContext !== undefined && header.kidContext.equals(this.keys.idContext);
  }

  /** §8.1. Keep the returned exchange with the Token to verify the response(s). */
  protectRequest(message: CoapMessage, extraOuter?: readonly CoapOption[]): { message: CoapMessage; exchange: OscoreExchange } {
    const { alg, senderId, senderKey, commonIv, idContext } = this.keys;
    const piv = encodePartialIv(this.sequence.take());
    const nonce = buildNonce(commonIv, senderId, piv);
    const aad = buildAad(alg, senderId, piv);
    const header: OscoreOptionValue = { partialIv: piv, kid: senderId, kidContext: this.sendKidContext ? idContext : undefined };
    const protectedMessage = protectMessage(message, { alg, key: senderKey, nonce, aad, isRequest: true, header, extraOuter });
    return { message: protectedMessage, exchange: newExchange(senderId, piv, nonce, aad, isRegistration(message)) };
  }

  /** §8.2 with the replay window of §7.4 and the Echo recovery of Appendix B.1.2. */
  verifyRequest(message: CoapMessage): RequestVerification {
    const header = readOscoreHeader(message);
    if (!header.partialIv || !header.kid) throw new OscoreError('bad-option', 'request without kid or Partial IV');
    if (!this.matches(header)) throw new OscoreError('context-not-found', 'kid / kid context of another context');
    const { alg, recipientId, recipientKey, commonIv } = this.keys;
    const sequenceNumber = decodePartialIv(header.partialIv);
    const synchronised = this.resync.isSynchronised;
    if (synchronised) {
      const check = this.replayWindow.check(sequenceNumber);
      if (check !== 'fresh') throw new OscoreError('replay', `request Partial IV ${sequenceNumber}: ${check}`);
    }
    const piv = Buffer.from(header.partialIv);
    const nonce = buildNonce(commonIv, recipientId, piv);
    const aad = buildAad(alg, recipientId, piv);
    const original = unprotectMessage(message, { alg, key: recipientKey, nonce, aad }, true);
    const exchange = newExchange(recipientId, piv, nonce, aad, isRegistration(original));
    if (synchronised) {
      this.replayWindow.accept(sequenceNumber);
      return { status: 'verified', message: original, exchange, sequenceNumber };
    }
    const echo = findOption(original.options, OPTION.ECHO);
    if (this.resync.consume(echo?.value)) {
      this.replayWindow.resetTo(sequenceNumber);
      const options = original.options.filter((o) => o !== echo);
      return { status: 'verified', message: { ...original, options }, exchange, sequenceNumber };
    }
    const challenge: CoapMessage = { code: CODE.UNAUTHORIZED, options: [{ number: OPTION.ECHO, value: this.resync.issue() }], payload: Buffer.alloc(0) };
    // B.1.2: the challenge MUST carry the server's own Partial IV: the request may be a replay.
    return { status: 'echo-required', response: this.protectResponse(challenge, exchange, { partialIv: true }), exchange };
  }

  /**
   * §8.3 (+ §8.3.1 Observe). Every response to an Observe registration carries its own Partial
   * IV (§4.1.3.5: allowed for the first, required for the rest), so the client's rule "at most one
   * response without Partial IV, and it is the oldest" always holds.
   */
  protectResponse(message: CoapMessage, exchange: OscoreExchange, options: ProtectResponseOptions = {}): CoapMessage {
    const { alg, senderId, senderKey, commonIv } = this.keys;
    const notification = findOption(message.options, OPTION.OBSERVE) !== undefined;
    // A nonce never protects two messages: a second response to one request needs its own Partial IV.
    const ownPiv = options.partialIv === true || notification || exchange.observe || exchange.requestNonceUsed;
    let nonce: Buffer;
    let header: OscoreOptionValue = {};
    if (ownPiv) {
      const piv = encodePartialIv(this.sequence.take());
      nonce = buildNonce(commonIv, senderId, piv);
      header = { partialIv: piv };
    } else {
      nonce = exchange.requestNonce;
      exchange.requestNonceUsed = true;
    }
    return protectMessage(message, { alg, key: senderKey, nonce, aad: exchange.aad, isRequest: false, header, extraOuter: options.extraOuter });
  }

  /** §8.4 (+ §8.4.2 Observe, §7.4.1 notification replay). */
  verifyResponse(message: CoapMessage, exchange: OscoreExchange): VerifiedResponse {
    if (exchange.closed) throw new OscoreError('replay', 'exchange already received its response');
    const header = readOscoreHeader(message);
    const { alg, recipientId, recipientKey, commonIv } = this.keys;
    if (header.kid && !header.kid.equals(recipientId)) throw new OscoreError('bad-option', 'response kid is not the Recipient ID');
    if (header.kidContext) throw new OscoreError('bad-option', "'kid context' in a response is not supported (Appendix B.2)");
    let nonce: Buffer;
    let sequenceNumber: number | undefined;
    if (header.partialIv) {
      sequenceNumber = decodePartialIv(header.partialIv);
      if (exchange.notificationNumber !== undefined && sequenceNumber <= exchange.notificationNumber) {
        throw new OscoreError('replay', `notification Partial IV ${sequenceNumber} not newer than ${exchange.notificationNumber}`);
      }
      nonce = buildNonce(commonIv, recipientId, header.partialIv);
    } else {
      // At most one response without Partial IV, and it is the oldest (§7.4.1, §8.4.2).
      if (exchange.requestNonceUsed || exchange.notificationNumber !== undefined) {
        throw new OscoreError('replay', 'a response without Partial IV was already accepted or is stale');
      }
      nonce = exchange.requestNonce;
    }
    const original = unprotectMessage(message, { alg, key: recipientKey, nonce, aad: exchange.aad }, false);
    const innerObserve = findOption(original.options, OPTION.OBSERVE);
    if (innerObserve && !exchange.observe) throw new OscoreError('unexpected-response', 'Observe in a response to a non-Observe request');
    if (sequenceNumber === undefined) exchange.requestNonceUsed = true;
    if (innerObserve) {
      if (sequenceNumber !== undefined) exchange.notificationNumber = sequenceNumber;
      // §4.1.3.5.2: the inner Observe is empty; give the application the Partial IV's low 3 bytes
      // so newer notifications carry larger Observe values (none at all sorts oldest).
      const value = sequenceNumber === undefined ? Buffer.alloc(0) : encodeUint(sequenceNumber % 2 ** 24);
      const options = original.options.map((o) => (o === innerObserve ? { number: OPTION.OBSERVE, value } : o));
      return { message: { ...original, options }, sequenceNumber };
    }
    exchange.closed = true; // a plain response, or the final response that ends an observation
    return { message: original, sequenceNumber };
  }
}

/** The Echo value of a decrypted 4.01 challenge (Appendix B.1.2), to repeat in the next request. */
export function echoChallenge(response: CoapMessage): Buffer | undefined {
  if (response.code !== CODE.UNAUTHORIZED) return undefined;
  return findOption(response.options, OPTION.ECHO)?.value;
}
