/** One error type for every backend, so the manager and the node can explain failures the same way. */

export type NatErrorKind =
  /** No router answered discovery or requests in time. */
  | 'unreachable'
  /** The router answered and said no (UPnP fault, NAT-PMP result code). */
  | 'refused'
  /** The router does not speak this protocol or version. */
  | 'unsupported'
  /** The answer did not make sense. */
  | 'protocol'
  /** The caller asked for something impossible (bad port, bad lifetime). */
  | 'invalid';

export class NatError extends Error {
  readonly kind: NatErrorKind;
  /** UPnP errorCode (e.g. 718 conflict, 606 not authorised) when the router's reply carried one. */
  readonly upnpCode?: number;
  /** NAT-PMP result code (RFC 6886 section 3.5). */
  readonly natPmpResult?: number;

  constructor(kind: NatErrorKind, message: string, details: { upnpCode?: number; natPmpResult?: number; cause?: unknown } = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'NatError';
    this.kind = kind;
    if (details.upnpCode !== undefined) this.upnpCode = details.upnpCode;
    if (details.natPmpResult !== undefined) this.natPmpResult = details.natPmpResult;
  }
}

/** Any thrown value as a NatError, keeping the original as the cause. */
export function asNatError(err: unknown, fallbackKind: NatErrorKind = 'protocol'): NatError {
  if (err instanceof NatError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new NatError(fallbackKind, message, { cause: err });
}

export function validateRequest(req: { internalPort: number; externalPort: number; lifetimeSeconds: number; protocol: string }): void {
  const port = (p: number): boolean => Number.isInteger(p) && p >= 1 && p <= 65535;
  if (!port(req.internalPort)) throw new NatError('invalid', `internal port ${req.internalPort} is not 1..65535`);
  if (!port(req.externalPort)) throw new NatError('invalid', `external port ${req.externalPort} is not 1..65535`);
  if (!Number.isInteger(req.lifetimeSeconds) || req.lifetimeSeconds < 0 || req.lifetimeSeconds > 0xffffffff) {
    throw new NatError('invalid', `lifetime ${req.lifetimeSeconds} s is not a whole number of seconds >= 0`);
  }
  if (req.protocol !== 'udp' && req.protocol !== 'tcp') throw new NatError('invalid', `protocol ${req.protocol} is not udp or tcp`);
}
