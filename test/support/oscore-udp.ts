/** A raw-UDP OSCORE client for tests: every datagram in and out is visible and can be replayed or changed. */
import { createSocket, type Socket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { decodeUdpFrame, encodeUdpFrame, type CoapMessage, type CoapUdpFrame, type OscoreExchange, type SecurityContext } from '../../lib/oscore';

export const CON = 0;

export class UdpPeer {
  private readonly socket: Socket = createSocket('udp4');
  private messageId = Math.floor(Math.random() * 0xffff);
  private readonly ready: Promise<void>;

  constructor() {
    this.ready = new Promise((resolve) => this.socket.bind(0, '127.0.0.1', () => resolve()));
    this.socket.on('error', () => undefined);
  }

  /** Sends one datagram and resolves with the first answer (the piggybacked response), or rejects after timeoutMs. */
  async exchange(port: number, datagram: Buffer, timeoutMs = 3000): Promise<CoapUdpFrame> {
    await this.ready;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.socket.off('message', onMessage);
        reject(new Error(`no answer from port ${port} within ${timeoutMs} ms`));
      }, timeoutMs);
      const onMessage = (data: Buffer): void => {
        const frame = decodeUdpFrame(data);
        if (frame.message.code === 0) return; // an empty ACK: the answer comes separately
        clearTimeout(timer);
        this.socket.off('message', onMessage);
        resolve(frame);
      };
      this.socket.on('message', onMessage);
      this.socket.send(datagram, port, '127.0.0.1');
    });
  }

  /** A confirmable request datagram with a fresh Message ID and Token. */
  frame(message: CoapMessage): Buffer {
    this.messageId = (this.messageId + 1) & 0xffff;
    return encodeUdpFrame({ type: CON, messageId: this.messageId, token: randomBytes(4), message });
  }

  close(): void {
    this.socket.close();
  }
}

/** Protects `message`, sends it, and returns the raw datagram sent, the answer and the exchange to verify it. */
export async function protectedCall(
  peer: UdpPeer,
  port: number,
  context: SecurityContext,
  message: CoapMessage,
): Promise<{ datagram: Buffer; answer: CoapUdpFrame; exchange: OscoreExchange }> {
  const { message: outer, exchange } = context.protectRequest(message);
  const datagram = peer.frame(outer);
  const answer = await peer.exchange(port, datagram);
  return { datagram, answer, exchange };
}
