/** The IPv4 default gateway, read from the kernel's routing table (NAT-PMP talks to it, RFC 6886 section 3). */
import { readFile } from 'node:fs/promises';
import { NatError } from './errors';

/**
 * Parses /proc/net/route: whitespace-separated columns, addresses as little-endian hex.
 * Returns the gateway of the default route with the lowest metric, or undefined.
 */
export function parseDefaultGateway(routeTable: string): string | undefined {
  let best: { gateway: string; metric: number } | undefined;
  for (const line of routeTable.split('\n').slice(1)) {
    const cols = line.trim().split(/\s+/);
    if (cols.length < 8) continue;
    const [, destination, gatewayHex, flagsHex, , , metric, mask] = cols;
    const flags = Number.parseInt(flagsHex ?? '', 16);
    // RTF_UP (1) and RTF_GATEWAY (2) both set, destination and mask 0: a usable default route.
    if (destination !== '00000000' || mask !== '00000000' || (flags & 3) !== 3) continue;
    const gateway = hexToIpv4(gatewayHex ?? '');
    const m = Number(metric);
    if (gateway && (!best || m < best.metric)) best = { gateway, metric: m };
  }
  return best?.gateway;
}

function hexToIpv4(hex: string): string | undefined {
  if (!/^[0-9A-Fa-f]{8}$/.test(hex)) return undefined;
  const n = Number.parseInt(hex, 16);
  // The kernel prints the address in host (little-endian) order.
  return [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24].join('.');
}

export async function defaultGateway(routeFile = '/proc/net/route'): Promise<string> {
  let text: string;
  try {
    text = await readFile(routeFile, 'utf8');
  } catch (err) {
    throw new NatError('unreachable', `cannot read the routing table (${routeFile}): ${(err as Error).message}; set the router address`, { cause: err });
  }
  const gateway = parseDefaultGateway(text);
  if (!gateway) throw new NatError('unreachable', 'no IPv4 default route, so no router to ask; set the router address');
  return gateway;
}
