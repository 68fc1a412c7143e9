/** PortMapper over NAT-PMP (RFC 6886), written here: npm nat-pmp has no timeout, retry or discovery. */
import { defaultGateway } from './default-gateway';
import { NatError, validateRequest } from './errors';
import {
  NATPMP_PORT,
  decodeExternalAddressResponse,
  decodeMapResponse,
  encodeExternalAddressRequest,
  encodeMapRequest,
  resultText,
} from './natpmp-codec';
import { exchange, RFC6886_SCHEDULE, type RetransmitSchedule } from './natpmp-transport';
import type { Mapping, MappingProtocol, MappingRequest, PortMapper } from './types';

export interface NatPmpOptions {
  /** Router address; default: the gateway of the IPv4 default route. */
  gateway?: string;
  /** Router port; 5351 except in tests. */
  port?: number;
  schedule?: RetransmitSchedule;
  /** Where the default route is read from (tests). */
  routeFile?: string;
  now?: () => number;
}

interface Held {
  mapping: Mapping;
  expiresAt: number;
}

export class NatPmpMapper implements PortMapper {
  readonly kind = 'NAT-PMP';
  private readonly options: NatPmpOptions;
  private readonly held = new Map<string, Held>();
  private readonly closing = new AbortController();
  private last?: { epoch: number; at: number };
  private queue: Promise<unknown> = Promise.resolve();
  /** How often the router's epoch showed that it lost its mappings (restart). */
  routerRestarts = 0;

  constructor(options: NatPmpOptions = {}) {
    this.options = options;
  }

  private now(): number {
    return (this.options.now ?? Date.now)();
  }

  async externalAddress(): Promise<string> {
    const res = await this.send(encodeExternalAddressRequest(), decodeExternalAddressResponse);
    if (res.resultCode !== 0) throw refusal('external address', res.resultCode);
    if (res.address === '0.0.0.0') throw new NatError('unreachable', 'the router has no external address yet');
    return res.address;
  }

  async map(request: MappingRequest): Promise<Mapping> {
    validateRequest(request);
    if (request.internalClient !== undefined) throw new NatError('unsupported', 'NAT-PMP maps ports only to the host that asks');
    const { protocol, internalPort } = request;
    // Lifetime 0 would delete: NAT-PMP has no permanent mappings, so ask for the longest lease.
    const lifetime = request.lifetimeSeconds === 0 ? 0xffffffff : request.lifetimeSeconds;
    const res = await this.send(encodeMapRequest(protocol, internalPort, request.externalPort, lifetime), (b) => decodeMapResponse(b, protocol));
    if (res.resultCode !== 0) throw refusal(`${protocol} mapping of port ${internalPort}`, res.resultCode);
    if (res.internalPort !== internalPort) throw new NatError('protocol', `the router answered for port ${res.internalPort}, not ${internalPort}`);
    const mapping: Mapping = { protocol, internalPort, externalPort: res.externalPort, lifetimeSeconds: res.lifetimeSeconds };
    this.held.set(key(protocol, internalPort), { mapping, expiresAt: this.now() + res.lifetimeSeconds * 1000 });
    return mapping;
  }

  async unmap(mapping: Pick<Mapping, 'protocol' | 'internalPort'>): Promise<void> {
    const { protocol, internalPort } = mapping;
    this.held.delete(key(protocol, internalPort));
    const res = await this.send(encodeMapRequest(protocol, internalPort, 0, 0), (b) => decodeMapResponse(b, protocol));
    if (res.resultCode !== 0) throw refusal(`removing the ${protocol} mapping of port ${internalPort}`, res.resultCode);
  }

  /** NAT-PMP cannot list a router's table: these are this client's live mappings, emptied when the router restarts. */
  async list(): Promise<Mapping[]> {
    // Asking for the address refreshes the epoch, which tells whether the router restarted.
    await this.externalAddress();
    const now = this.now();
    return [...this.held.values()].filter((h) => h.expiresAt > now).map((h) => h.mapping);
  }

  close(): void {
    this.closing.abort();
  }

  private async send<T extends { epochSeconds: number }>(request: Buffer, accept: (b: Buffer) => T | undefined): Promise<T> {
    // One request in flight at a time, as RFC 6886 section 3.1 asks of clients.
    const run = async (): Promise<T> => {
      if (this.closing.signal.aborted) throw new NatError('unreachable', 'NAT-PMP client closed');
      const gateway = this.options.gateway ?? (await defaultGateway(this.options.routeFile));
      const res = await exchange({
        gateway,
        port: this.options.port ?? NATPMP_PORT,
        request,
        accept,
        schedule: this.options.schedule ?? RFC6886_SCHEDULE,
        signal: this.closing.signal,
      });
      this.noteEpoch(res.epochSeconds);
      return res;
    };
    const result = this.queue.then(run, run);
    this.queue = result.catch(() => undefined);
    return result;
  }

  /** RFC 6886 section 3.6: an epoch smaller than expected means the router lost its mappings. */
  private noteEpoch(epoch: number): void {
    const at = this.now();
    if (this.last) {
      const elapsed = (at - this.last.at) / 1000;
      if (epoch + 2 < this.last.epoch + (elapsed * 7) / 8) {
        this.routerRestarts += 1;
        this.held.clear();
      }
    }
    this.last = { epoch, at };
  }
}

function key(protocol: MappingProtocol, internalPort: number): string {
  return `${protocol}:${internalPort}`;
}

function refusal(what: string, code: number): NatError {
  const kind = code === 1 || code === 5 ? 'unsupported' : code === 3 ? 'unreachable' : 'refused';
  return new NatError(kind, `NAT-PMP router refused ${what}: ${resultText(code)}`, { natPmpResult: code });
}
