/**
 * SSDP search for an Internet Gateway Device. A fresh socket per search: nat-upnp binds its
 * sockets once at createClient(), so a client made before the network was up never hears a reply.
 */
import { createSocket } from 'node:dgram';
import { NatError } from './errors';

const SSDP_ADDRESS = '239.255.255.250';
const SSDP_PORT = 1900;
export const IGD_SEARCH_TARGETS = ['urn:schemas-upnp-org:device:InternetGatewayDevice:2', 'urn:schemas-upnp-org:device:InternetGatewayDevice:1'];

export interface SsdpAnswer {
  /** URL of the root device description. */
  location: string;
  searchTarget: string;
  /** Who answered. */
  from: string;
}

export interface SsdpOptions {
  timeoutMs: number;
  /** Also asked directly (unicast), for networks that drop multicast: normally the default gateway. */
  unicastTo?: string;
}

export function parseSsdpAnswer(datagram: string): { location?: string; st?: string } {
  if (!/^HTTP\/1\.[01] 200/i.test(datagram)) return {};
  const headers: Record<string, string> = {};
  for (const line of datagram.split(/\r?\n/).slice(1)) {
    const i = line.indexOf(':');
    if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  return { location: headers.location, st: headers.st };
}

export function searchIgd(options: SsdpOptions): Promise<SsdpAnswer> {
  return new Promise((resolve, reject) => {
    const socket = createSocket({ type: 'udp4', reuseAddr: true });
    const timers: NodeJS.Timeout[] = [];
    let done = false;
    const finish = (err?: Error, answer?: SsdpAnswer): void => {
      if (done) return;
      done = true;
      timers.forEach(clearTimeout);
      try {
        socket.close();
      } catch {
        // never bound
      }
      if (err) reject(err);
      else resolve(answer!);
    };
    socket.on('error', (err) => finish(new NatError('unreachable', `SSDP socket error: ${err.message}`, { cause: err })));
    socket.on('message', (msg, rinfo) => {
      const { location, st } = parseSsdpAnswer(msg.toString('utf8'));
      if (location && st && IGD_SEARCH_TARGETS.includes(st)) finish(undefined, { location, searchTarget: st, from: rinfo.address });
    });
    socket.bind(0, () => {
      const send = (): void => {
        for (const st of IGD_SEARCH_TARGETS) {
          const m = Buffer.from(`M-SEARCH * HTTP/1.1\r\nHOST: ${SSDP_ADDRESS}:${SSDP_PORT}\r\nMAN: "ssdp:discover"\r\nMX: 1\r\nST: ${st}\r\n\r\n`);
          // A send error (no route for multicast) just means no answer from that path.
          socket.send(m, SSDP_PORT, SSDP_ADDRESS, () => undefined);
          if (options.unicastTo) socket.send(m, SSDP_PORT, options.unicastTo, () => undefined);
        }
      };
      // UDP may be lost: ask three times within the first half of the wait.
      for (const at of [0, options.timeoutMs / 6, options.timeoutMs / 3]) timers.push(setTimeout(send, at));
      timers.push(setTimeout(() => finish(new NatError('unreachable', `no UPnP Internet Gateway Device answered discovery within ${options.timeoutMs} ms`)), options.timeoutMs));
    });
  });
}
