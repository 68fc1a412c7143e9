/** NAT-PMP wire format (RFC 6886 section 3): a handful of fixed-size big-endian UDP messages. */
import type { MappingProtocol } from './types';

export const NATPMP_PORT = 5351;
export const OP_EXTERNAL_ADDRESS = 0;
const OP_MAP_UDP = 1;
const OP_MAP_TCP = 2;
/** A response's opcode is the request's plus 128. */
const RESPONSE_BIT = 128;

const RESULT_TEXT: Record<number, string> = {
  0: 'success',
  1: 'unsupported version',
  2: 'not authorised / refused',
  3: 'network failure (the router has no external address yet)',
  4: 'out of resources (no free ports)',
  5: 'unsupported opcode',
};

export function resultText(code: number): string {
  return RESULT_TEXT[code] ?? `unknown result code ${code}`;
}

export function mapOpcode(protocol: MappingProtocol): number {
  return protocol === 'udp' ? OP_MAP_UDP : OP_MAP_TCP;
}

export function encodeExternalAddressRequest(): Buffer {
  return Buffer.from([0, OP_EXTERNAL_ADDRESS]);
}

/** lifetimeSeconds 0 with externalPort 0 deletes the mapping (section 3.4). */
export function encodeMapRequest(protocol: MappingProtocol, internalPort: number, externalPort: number, lifetimeSeconds: number): Buffer {
  const b = Buffer.alloc(12);
  b[0] = 0;
  b[1] = mapOpcode(protocol);
  b.writeUInt16BE(0, 2);
  b.writeUInt16BE(internalPort, 4);
  b.writeUInt16BE(externalPort, 6);
  b.writeUInt32BE(lifetimeSeconds, 8);
  return b;
}

interface ResponseHeader {
  /** Request opcode this answers. */
  opcode: number;
  resultCode: number;
  /** Seconds since the router (re)started its port-mapping table: goes backwards after a reboot. */
  epochSeconds: number;
}

export interface ExternalAddressResponse extends ResponseHeader {
  address: string;
}

export interface MapResponse extends ResponseHeader {
  internalPort: number;
  externalPort: number;
  lifetimeSeconds: number;
}

/** Reads the common header, or undefined if the datagram is not a NAT-PMP v0 response. */
export function decodeHeader(b: Buffer): ResponseHeader | undefined {
  if (b.length < 8 || b[0] !== 0 || (b[1]! & RESPONSE_BIT) === 0) return undefined;
  return { opcode: b[1]! - RESPONSE_BIT, resultCode: b.readUInt16BE(2), epochSeconds: b.readUInt32BE(4) };
}

export function decodeExternalAddressResponse(b: Buffer): ExternalAddressResponse | undefined {
  const h = decodeHeader(b);
  if (!h || h.opcode !== OP_EXTERNAL_ADDRESS) return undefined;
  // Error responses may be cut short after the header (section 3.5).
  if (h.resultCode !== 0) return { ...h, address: '' };
  if (b.length < 12) return undefined;
  return { ...h, address: `${b[8]}.${b[9]}.${b[10]}.${b[11]}` };
}

export function decodeMapResponse(b: Buffer, protocol: MappingProtocol): MapResponse | undefined {
  const h = decodeHeader(b);
  if (!h || h.opcode !== mapOpcode(protocol)) return undefined;
  if (h.resultCode !== 0) return { ...h, internalPort: b.length >= 10 ? b.readUInt16BE(8) : 0, externalPort: 0, lifetimeSeconds: 0 };
  if (b.length < 16) return undefined;
  return { ...h, internalPort: b.readUInt16BE(8), externalPort: b.readUInt16BE(10), lifetimeSeconds: b.readUInt32BE(12) };
}
