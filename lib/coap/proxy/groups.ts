/**
 * Groups: named sets of registered endpoints that a request to /grp/<name>/<path> reaches all at
 * once. A member is an endpoint name, "sector:<d>" (every endpoint of that sector) or "rt:<rt>"
 * (every endpoint with a link of that resource type). The answer is one summary of every
 * member's reply, as JSON (default) or CBOR (Accept: 60).
 */
import { encode as cborEncode } from 'cbor-x';
import type { EndpointDirectory, RegisteredEndpoint } from '../rd/directory';
import { matchesQuery } from '../link-format';
import { ContentFormat, decodePayload } from '../content-format';
import { CoapTimeoutError, type ClientRequest, type ClientResponse, type CoapClient } from '../client';
import { targetOf } from './resolve';

export interface GroupDefinition {
  name: string;
  members: string[];
}

export class GroupConfigError extends Error {}

/** Checks groups from a flow's configuration: names unique and non-empty, members strings. */
export function parseGroups(input: unknown): GroupDefinition[] {
  if (input === undefined || input === null || input === '') return [];
  if (!Array.isArray(input)) throw new GroupConfigError('groups must be a list of {name, members}');
  const seen = new Set<string>();
  return input.map((g: unknown, i) => {
    const { name, members } = (g ?? {}) as { name?: unknown; members?: unknown };
    if (typeof name !== 'string' || name.trim() === '' || name.includes('/')) {
      throw new GroupConfigError(`group ${i + 1}: a name without "/" is required`);
    }
    if (seen.has(name.trim())) throw new GroupConfigError(`group "${name}" is defined twice`);
    seen.add(name.trim());
    const list = typeof members === 'string' ? members.split(/[\s,]+/) : members;
    if (!Array.isArray(list) || list.some((m) => typeof m !== 'string')) {
      throw new GroupConfigError(`group "${name}": members must be endpoint names, sector:<d> or rt:<type>`);
    }
    return { name: name.trim(), members: (list as string[]).map((m) => m.trim()).filter((m) => m !== '') };
  });
}

export interface GroupMembers {
  /** Registered endpoints to send to, each once. */
  endpoints: RegisteredEndpoint[];
  /** Endpoint names the group lists that are not registered now. */
  missing: string[];
}

export function groupMembers(group: GroupDefinition, directory: EndpointDirectory): GroupMembers {
  const all = directory.endpoints();
  const chosen = new Map<string, RegisteredEndpoint>();
  const missing: string[] = [];
  for (const member of group.members) {
    let hits: RegisteredEndpoint[];
    if (member.startsWith('sector:')) {
      const d = member.slice('sector:'.length);
      hits = all.filter((e) => (e.d ?? '') === d);
    } else if (member.startsWith('rt:')) {
      const rt = member.slice('rt:'.length);
      hits = all.filter((e) => e.links.some((l) => matchesQuery(l, 'rt', rt)));
    } else {
      // A plain name reaches that endpoint in every sector that has one.
      hits = all.filter((e) => e.ep === member);
      if (hits.length === 0) missing.push(member);
    }
    for (const e of hits) chosen.set(e.id, e);
  }
  return { endpoints: [...chosen.values()], missing };
}

/** A registered endpoint whose base is not a coap:// address the gateway can send to. */
export class NoCoapBaseError extends Error {}

export interface MemberAnswer {
  endpoint: RegisteredEndpoint;
  /** The member's code, or the gateway's stand-in: 5.04 silent, 5.02 unreachable, reset or no coap:// base. */
  code: string;
  response?: ClientResponse;
  error?: Error;
}

/**
 * Sends `req` to every member in this same tick, so the members act together (no "popcorn"),
 * and collects one answer per member; a member's failure never fails the others.
 */
export function fanOut(client: CoapClient, endpoints: readonly RegisteredEndpoint[], req: ClientRequest, timeoutMs: number): Promise<MemberAnswer[]> {
  return Promise.all(
    endpoints.map((endpoint) => {
      const target = targetOf(endpoint);
      if (!target) return Promise.resolve({ endpoint, code: '5.02', error: new NoCoapBaseError(`base ${endpoint.base} is not a coap:// address`) });
      return client.request(target, req, timeoutMs).then(
        (response): MemberAnswer => ({ endpoint, code: response.code, response }),
        (error: Error): MemberAnswer => ({ endpoint, code: error instanceof CoapTimeoutError ? '5.04' : '5.02', error }),
      );
    }),
  );
}

export interface MemberResult {
  ep: string;
  d?: string;
  /** The member's response code; 5.04 when it did not answer, 4.04 when it is not registered. */
  code: string;
  contentFormat?: number;
  payload?: Buffer;
}

/** Content-Formats the summary can carry: JSON unless the client asked for CBOR. */
export function summaryFormat(accept: number | undefined): number | undefined {
  if (accept === undefined || accept === ContentFormat.json) return ContentFormat.json;
  if (accept === ContentFormat.cbor) return ContentFormat.cbor;
  return undefined;
}

/**
 * Encodes the summary: per member its code and payload, the payload decoded when its format is
 * text, JSON or CBOR; otherwise bytes (a CBOR byte string, or base64 under "payloadBase64" in JSON).
 */
export function encodeSummary(group: string, results: readonly MemberResult[], format: number): Buffer {
  const cbor = format === ContentFormat.cbor;
  const members = results.map((r) => {
    const entry: Record<string, unknown> = { ep: r.ep };
    if (r.d !== undefined) entry.d = r.d;
    entry.code = r.code;
    if (r.contentFormat !== undefined) entry.ct = r.contentFormat;
    if (r.payload && r.payload.length > 0) Object.assign(entry, payloadEntry(r.payload, r.contentFormat, cbor));
    return entry;
  });
  const summary = { group, results: members };
  return cbor ? Buffer.from(cborEncode(summary)) : Buffer.from(JSON.stringify(summary));
}

const READABLE = new Set<number>([ContentFormat.textPlain, ContentFormat.linkFormat, ContentFormat.xml, ContentFormat.json, ContentFormat.senmlJson]);
const CBOR = new Set<number>([ContentFormat.cbor, ContentFormat.senmlCbor]);

function payloadEntry(payload: Buffer, format: number | undefined, cbor: boolean): Record<string, unknown> {
  const decodable = format !== undefined && (READABLE.has(format) || (cbor && CBOR.has(format)));
  if (decodable) {
    try {
      return { payload: decodePayload(payload, format) };
    } catch {
      // not what its Content-Format claims: fall through to bytes
    }
  }
  return cbor ? { payload } : { payloadBase64: payload.toString('base64') };
}
