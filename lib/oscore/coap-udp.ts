/**
 * CoAP over UDP framing (RFC 7252 §3): the messaging layer around a CoapMessage. The nodes use
 * node-coap's framing; this exists for raw bytes: the RFC test vectors, fuzzing, and looking
 * into datagrams. Decoding throws only OscoreError('malformed-message').
 */
import { OscoreError } from './errors';
import type { CoapMessage } from './message';
import { PAYLOAD_MARKER } from './message';
import { decodeOptionList, encodeOptionList } from './option-list';

export interface CoapUdpFrame {
  /** 0 CON, 1 NON, 2 ACK, 3 RST. */
  type: number;
  messageId: number;
  token: Buffer;
  message: CoapMessage;
}

export function encodeUdpFrame(frame: CoapUdpFrame): Buffer {
  const { type, messageId, token, message } = frame;
  if (token.length > 8) throw new OscoreError('invalid-argument', 'token longer than 8 bytes');
  const header = Buffer.from([0x40 | ((type & 3) << 4) | token.length, message.code, messageId >> 8, messageId & 0xff]);
  const parts = [header, token, encodeOptionList(message.options)];
  if (message.payload.length > 0) parts.push(Buffer.of(PAYLOAD_MARKER), message.payload);
  return Buffer.concat(parts);
}

export function decodeUdpFrame(datagram: Buffer): CoapUdpFrame {
  if (datagram.length < 4) throw new OscoreError('malformed-message', 'shorter than the CoAP header');
  const first = datagram[0];
  if (first >> 6 !== 1) throw new OscoreError('malformed-message', 'CoAP version is not 1');
  const tokenLength = first & 0x0f;
  if (tokenLength > 8) throw new OscoreError('malformed-message', 'token length 9-15 is reserved');
  if (4 + tokenLength > datagram.length) throw new OscoreError('malformed-message', 'truncated token');
  const { options, payload } = decodeOptionList(datagram, 4 + tokenLength);
  return {
    type: (first >> 4) & 3,
    messageId: datagram.readUInt16BE(2),
    token: datagram.subarray(4, 4 + tokenLength),
    message: { code: datagram[1], options, payload },
  };
}
