/**
 * What the rest of the gateway sees of the Resource Directory: the registered endpoints and
 * their changes. The proxy and groups depend on this contract, not on how the RD stores them.
 */
import type { EventEmitter } from 'node:events';
import type { Link } from '../link-format';

export interface RegisteredEndpoint {
  /** Registration resource id: the RD serves it at /rd/<id>. */
  readonly id: string;
  /** Endpoint name (RFC 9176 "ep"). */
  readonly ep: string;
  /** Sector (RFC 9176 "d"), if any. */
  readonly d?: string;
  /** Base URI the endpoint is reached at, e.g. "coap://192.0.2.5:5683" or "coap://[2001:db8::5]". */
  readonly base: string;
  /** Lifetime in seconds, and when it runs out (ms since the epoch). */
  readonly lt: number;
  readonly expiresAt: number;
  /** The links the endpoint registered, hrefs relative to base. */
  readonly links: readonly Link[];
  /** Where the registration came from. */
  readonly source: { address: string; port: number };
}

export type RemovalReason = 'deleted' | 'expired';

export interface DirectoryEvents {
  registered: [RegisteredEndpoint];
  updated: [RegisteredEndpoint];
  removed: [RegisteredEndpoint, RemovalReason];
}

export interface EndpointDirectory extends EventEmitter<DirectoryEvents> {
  /** The endpoint with that name (and sector, when given); undefined when none is registered. */
  endpoint(ep: string, d?: string): RegisteredEndpoint | undefined;
  /** Every registered endpoint, oldest registration first. */
  endpoints(): RegisteredEndpoint[];
  /** The registrations with this endpoint name, one per sector; without it, callers filter endpoints(). */
  named?(ep: string): RegisteredEndpoint[];
}
