/**
 * The UDP socket a CoapEndpoint serves on, so that cloud-link registers from the very port the
 * proxy answers on (see udp-transport.ts). CoapEndpoint has no public accessor for it yet; this
 * reads node-coap's server socket and returns undefined when the shape is not what it expects.
 */
import type { Socket } from 'node:dgram';
import type { CoapEndpoint } from '../endpoint';

export function endpointSocket(endpoint: CoapEndpoint): Socket | undefined {
  const server = (endpoint as unknown as { server?: { _sock?: unknown } }).server;
  const sock = server?._sock as Partial<Socket> | undefined;
  return sock && typeof sock.send === 'function' && typeof sock.on === 'function' && typeof sock.address === 'function' ? (sock as Socket) : undefined;
}
