/**
 * Finding the registered endpoint a proxied request is for: by name (and sector) for
 * /ep/<ep>/... and /d/<d>/<ep>/..., by authority (host:port of its base) for Proxy-Uri.
 */
import type { EndpointDirectory, RegisteredEndpoint } from '../rd/directory';
import { parseBase, type CoapTarget } from '../client';

export type Resolution =
  | { kind: 'found'; endpoint: RegisteredEndpoint; target: CoapTarget }
  | { kind: 'unknown' }
  /** The name is registered in several sectors: the client must say which (/d/<d>/<ep>). */
  | { kind: 'ambiguous'; sectors: string[] }
  /** Registered, but its base is no coap:// URI we can reach. */
  | { kind: 'unreachable'; endpoint: RegisteredEndpoint };

const targets = new WeakMap<RegisteredEndpoint, CoapTarget | null>();

/** The endpoint's base as a target, parsed once per registration object. */
export function targetOf(endpoint: RegisteredEndpoint): CoapTarget | undefined {
  let target = targets.get(endpoint);
  if (target === undefined) {
    try {
      target = parseBase(endpoint.base);
    } catch {
      target = null;
    }
    targets.set(endpoint, target);
  }
  return target ?? undefined;
}

function found(endpoint: RegisteredEndpoint): Resolution {
  const target = targetOf(endpoint);
  return target ? { kind: 'found', endpoint, target } : { kind: 'unreachable', endpoint };
}

/**
 * Without a sector the name must be unique across sectors; with one, the registration in that
 * sector ("" meaning none).
 */
export function resolveByName(directory: EndpointDirectory, ep: string, d?: string): Resolution {
  const named = directory.named ? directory.named(ep) : directory.endpoints().filter((e) => e.ep === ep);
  if (d !== undefined) {
    const hit = named.find((e) => (e.d ?? '') === d);
    return hit ? found(hit) : { kind: 'unknown' };
  }
  if (named.length === 0) return { kind: 'unknown' };
  if (named.length > 1) return { kind: 'ambiguous', sectors: named.map((e) => e.d ?? '') };
  return found(named[0] as RegisteredEndpoint);
}

/** The registered endpoint whose base has this host and port: the only targets a Proxy-Uri may name. */
export function resolveByAuthority(directory: EndpointDirectory, target: CoapTarget): Resolution {
  for (const endpoint of directory.endpoints()) {
    const t = targetOf(endpoint);
    if (t && t.host === target.host && t.port === target.port) return { kind: 'found', endpoint, target: t };
  }
  return { kind: 'unknown' };
}

/** One key per registration name and sector: what caches and relays group by. */
export function endpointKey(endpoint: RegisteredEndpoint): string {
  return `${endpoint.d ?? ''}\u0000${endpoint.ep}`;
}
