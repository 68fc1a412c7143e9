/**
 * Looks at every datagram before node-coap does, for what node-coap would get wrong:
 * - a Block1 option whose block number alone claims a huge body: node-coap allocates the whole
 *   body up front (num 2^20-1 × 1024 bytes is a 1 GiB allocation from one datagram);
 * - an unrecognised critical option, which RFC 7252 §5.4.1 says must be refused with 4.02
 *   (node-coap ignores it and serves the request);
 * - a message that does not parse, which RFC 7252 §4.2/§4.3 rejects with a Reset (for CON) or
 *   silently (node-coap answers 5.00, and to the wrong address).
 */
import { parse, generate, type ParsedPacket } from 'coap-packet';
import { OPTION_NUMBERS } from './option-numbers';

const KNOWN_OPTIONS = new Set(Object.values(OPTION_NUMBERS));
const BLOCK1 = 27;

export interface GuardLimits {
  /** Largest request body accepted through Block1, in bytes. */
  maxRequestBodyBytes: number;
}

export type Verdict =
  /** packet: the datagram parsed, so that the server need not parse it again */
  | { pass: true; packet: ParsedPacket }
  | { pass: false; reason: string; /** what to send back, if anything */ reply?: Buffer; /** normal traffic, not worth a log line */ quiet?: true };

export function inspectDatagram(raw: Buffer, limits: GuardLimits): Verdict {
  let packet: ParsedPacket;
  try {
    checkFraming(raw);
    packet = parse(raw);
  } catch (err) {
    return { pass: false, reason: `malformed message: ${(err as Error).message}`, reply: resetFor(raw) };
  }
  // A CoAP ping is an empty CON; its answer is a Reset (RFC 7252 §4.3).
  if (packet.code === '0.00' && packet.confirmable) {
    return { pass: false, reason: 'ping', reply: Buffer.from([0x70, 0x00, raw[2]!, raw[3]!]), quiet: true };
  }
  const isRequest = packet.code.startsWith('0.') && packet.code !== '0.00';
  if (!isRequest || packet.reset || packet.ack) return { pass: true, packet };

  let block1: ParsedPacket['options'][number] | undefined;
  for (const option of packet.options) {
    const number = optionNumber(option.name);
    if (number === BLOCK1) block1 ??= option;
    else if (number % 2 === 1 && !KNOWN_OPTIONS.has(number)) {
      return refuse(packet, '4.02', `unrecognised critical option ${number}`);
    }
  }
  if (block1) {
    const value = block1.value.reduce((acc, byte) => acc * 256 + byte, 0);
    const szx = value & 0x7;
    if (block1.value.length > 3 || szx === 7) return refuse(packet, '4.00', 'invalid Block1 option');
    const size = 2 ** (szx + 4);
    const num = Math.floor(value / 16);
    if ((num + 1) * size > limits.maxRequestBodyBytes) {
      const size1 = uintBytes(limits.maxRequestBodyBytes);
      return refuse(packet, '4.13', `Block1 body beyond ${limits.maxRequestBodyBytes} bytes`, [{ name: 'Size1', value: size1 }]);
    }
  }
  return { pass: true, packet };
}

/**
 * The format errors of RFC 7252 §3 that coap-packet lets through: a token longer than the
 * datagram or than 8 bytes, option nibbles of 15, options running past the end, and a payload
 * marker with nothing after it.
 */
function checkFraming(raw: Buffer): void {
  if (raw.length < 4) throw new Error('shorter than the 4-byte header');
  if (raw[0]! >> 6 !== 1) throw new Error('not CoAP version 1');
  const tkl = raw[0]! & 0x0f;
  if (tkl > 8) throw new Error(`token length ${tkl} is reserved`);
  let i = 4 + tkl;
  if (i > raw.length) throw new Error('token runs past the end');
  while (i < raw.length) {
    const byte = raw[i++]!;
    if (byte === 0xff) {
      if (i === raw.length) throw new Error('payload marker with no payload');
      return;
    }
    i += extended(byte >> 4);
    const lengthNibble = byte & 0x0f;
    const lengthBytes = extended(lengthNibble);
    if (i + lengthBytes > raw.length) throw new Error('option header runs past the end');
    const length =
      lengthBytes === 0 ? lengthNibble : lengthBytes === 1 ? raw[i]! + 13 : raw.readUInt16BE(i) + 269;
    i += lengthBytes + length;
    if (i > raw.length) throw new Error('option value runs past the end');
  }
}

/** The extra bytes an option delta or length nibble announces (RFC 7252 §3.1). */
function extended(nibble: number): number {
  if (nibble === 15) throw new Error('reserved option nibble 15');
  if (nibble < 13) return 0;
  return nibble === 13 ? 1 : 2;
}

/** coap-packet names the options it knows and leaves the rest as numeric strings. */
function optionNumber(name: string | number): number {
  if (typeof name === 'number') return name;
  const number = OPTION_NUMBERS[name];
  return number ?? Number(name);
}

/** CON requests get the error piggybacked; a NON request that must be rejected is dropped. */
function refuse(packet: ParsedPacket, code: string, reason: string, options: Array<{ name: string; value: Buffer }> = []): Verdict {
  if (!packet.confirmable) return { pass: false, reason };
  const reply = generate({
    code,
    messageId: packet.messageId,
    token: packet.token,
    ack: true,
    options,
    payload: Buffer.from(reason),
  });
  return { pass: false, reason, reply };
}

/** A Reset for a CON whose header can still be read (RFC 7252 §4.2); nothing otherwise. */
function resetFor(raw: Buffer): Buffer | undefined {
  if (raw.length < 4) return undefined;
  const version = raw[0]! >> 6;
  const type = (raw[0]! >> 4) & 0x3;
  if (version !== 1 || type !== 0) return undefined;
  return Buffer.from([0x70, 0x00, raw[2]!, raw[3]!]);
}

function uintBytes(n: number): Buffer {
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from(bytes);
}
