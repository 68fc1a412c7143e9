/**
 * An observable OSCORE resource for tests, on raw UDP: lib/oscore's SecurityContext does the
 * protection (RFC 8613 §8.2, §8.3 with each notification's own Partial IV), this file only the
 * CoAP messaging around it. Why not CoapEndpoint + lib/oscore/coap-server.ts (which serves
 * observable OSCORE resources too): tests here forge, replay and send unprotected notifications
 * byte by byte; and libcoap 4.3.1 on this machine is built without OSCORE. Every datagram sent
 * is kept, so a test can replay one.
 */
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import {
  CODE,
  OPTION,
  OscoreError,
  decodeUdpFrame,
  decodeUint,
  encodeUdpFrame,
  encodeUint,
  errorResponse,
  findOption,
  type CoapMessage,
  type CoapOption,
  type CoapUdpFrame,
  type OscoreExchange,
  type SecurityContext,
} from '../../lib/oscore';

const CON = 0;
const NON = 1;
const ACK = 2;
const RST = 3;

interface Observer {
  token: Buffer;
  remote: RemoteInfo;
  exchange: OscoreExchange;
}

export interface ServerEvent {
  kind: 'registered' | 'deregistered' | 'refused' | 'reset' | 'request';
  token: string;
  detail?: string;
}

export class OscoreObserveServer {
  private readonly socket: Socket = createSocket('udp4');
  private readonly observers = new Map<string, Observer>();
  /** Message ID of each notification sent → its Token, to match a Reset. */
  private readonly notificationIds = new Map<number, string>();
  private messageId = 0x2000;
  private observeCounter = 1;
  readonly events: ServerEvent[] = [];
  /** Every notification datagram sent, the registration's answer included. */
  readonly notifications: Buffer[] = [];

  constructor(
    private readonly context: SecurityContext,
    /** The resource's current value. */
    private readonly value: () => string,
  ) {
    this.socket.on('message', (data, remote) => this.receive(data, remote));
    this.socket.on('error', () => undefined);
  }

  listen(): Promise<number> {
    return new Promise((resolve) => this.socket.bind(0, '127.0.0.1', () => resolve(this.socket.address().port)));
  }

  get observerCount(): number {
    return this.observers.size;
  }

  /** Sends the current value to every observer as a NON notification; `forge` changes one bit of the tag. */
  notify(forge = false): void {
    for (const observer of this.observers.values()) {
      const message = this.context.protectResponse(this.content(true), observer.exchange);
      if (forge) message.payload[message.payload.length - 1] ^= 0x01;
      const datagram = this.send({ type: NON, messageId: this.nextId(), token: observer.token, message }, observer.remote);
      this.notificationIds.set(decodeUdpFrame(datagram).messageId, observer.token.toString('hex'));
      this.notifications.push(datagram);
    }
  }

  /** What an attacker on the path could send: an unprotected 2.05 notification on each observation's Token. */
  notifyUnprotected(payload: string): void {
    for (const observer of this.observers.values()) {
      const message: CoapMessage = { code: CODE.CONTENT, options: [{ number: OPTION.OBSERVE, value: encodeUint(this.observeCounter + 1000) }], payload: Buffer.from(payload) };
      this.send({ type: NON, messageId: this.nextId(), token: observer.token, message }, observer.remote);
    }
  }

  /**
   * Sends a notification sent before once more, with a new Message ID and, as an attacker on the
   * path may, a larger outer Observe (it is not protected, §4.1.3.5.2).
   */
  replay(datagram: Buffer, outerObserve: number, to: RemoteInfo): void {
    const frame = decodeUdpFrame(datagram);
    const options = frame.message.options.map((o) => (o.number === OPTION.OBSERVE ? { number: o.number, value: encodeUint(outerObserve) } : o));
    this.send({ ...frame, messageId: this.nextId(), message: { ...frame.message, options } }, to);
  }

  /** Where the observer with this token is. */
  remoteOf(token: string): RemoteInfo | undefined {
    return this.observers.get(token)?.remote;
  }

  close(): void {
    this.socket.close();
  }

  private content(notification: boolean): CoapMessage {
    const options: CoapOption[] = [{ number: OPTION.CONTENT_FORMAT, value: encodeUint(0) }];
    if (notification) options.unshift({ number: OPTION.OBSERVE, value: encodeUint(this.observeCounter++) });
    return { code: CODE.CONTENT, options, payload: Buffer.from(this.value()) };
  }

  private nextId(): number {
    this.messageId = (this.messageId + 1) & 0xffff;
    return this.messageId;
  }

  private send(frame: CoapUdpFrame, to: RemoteInfo): Buffer {
    const datagram = encodeUdpFrame(frame);
    this.socket.send(datagram, to.port, to.address);
    return datagram;
  }

  private receive(data: Buffer, remote: RemoteInfo): void {
    let frame: CoapUdpFrame;
    try {
      frame = decodeUdpFrame(data);
    } catch {
      return;
    }
    if (frame.type === RST) {
      const token = this.notificationIds.get(frame.messageId);
      if (token !== undefined && this.observers.delete(token)) this.events.push({ kind: 'reset', token });
      return;
    }
    if (frame.type === ACK || frame.message.code === 0 || frame.message.code > 31) return;
    const token = frame.token.toString('hex');
    const answer = (message: CoapMessage): void => {
      const type = frame.type === CON ? ACK : NON;
      this.send({ type, messageId: frame.type === CON ? frame.messageId : this.nextId(), token: frame.token, message }, remote);
    };
    let verified: ReturnType<SecurityContext['verifyRequest']>;
    try {
      verified = this.context.verifyRequest(frame.message);
    } catch (err) {
      const error = err instanceof OscoreError ? err : new OscoreError('malformed-message', String(err));
      this.events.push({ kind: 'refused', token, detail: error.kind });
      const reply = errorResponse(error);
      if (reply) answer(reply);
      return;
    }
    if (verified.status === 'echo-required') return answer(verified.response);
    const observe = findOption(verified.message.options, OPTION.OBSERVE);
    const observeValue = observe === undefined ? undefined : decodeUint(observe.value);
    if (observeValue === 0) {
      this.observers.set(token, { token: Buffer.from(frame.token), remote, exchange: verified.exchange });
      this.events.push({ kind: 'registered', token });
      const datagram = encodeUdpFrame({ type: ACK, messageId: frame.messageId, token: frame.token, message: this.context.protectResponse(this.content(true), verified.exchange) });
      this.socket.send(datagram, remote.port, remote.address);
      this.notifications.push(datagram);
      return;
    }
    // RFC 7641 §3.6: Observe 1 on the observation's Token ends it.
    if (observeValue === 1 && this.observers.delete(token)) this.events.push({ kind: 'deregistered', token });
    else this.events.push({ kind: 'request', token });
    answer(this.context.protectResponse(this.content(false), verified.exchange));
  }
}
