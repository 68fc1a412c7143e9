/**
 * A test VTN: a real HTTP server on 127.0.0.1 implementing the OpenADR 3.0.1 endpoints the VEN
 * uses, as the OpenAPI document defines them. No public VTN can be reached from a test and no
 * VTN package is installable here, so this fake follows the document:
 * - POST /auth/token: OAuth2 client credentials (form body, clientCredentialRequest), answers
 *   clientCredentialResponse (Bearer, expires_in), authError on 400/401;
 * - GET/POST /programs, GET/PUT/DELETE /programs/{programID};
 * - GET/POST /events (query programID), GET/PUT/DELETE /events/{eventID};
 * - GET/POST /reports (query programID, eventID, clientName), GET /reports/{reportID};
 * - GET/POST /subscriptions, GET/DELETE /subscriptions/{subscriptionID}, and the callback:
 *   POST to callbackUrl with a notification object and the subscriber's bearerToken;
 * - targetType/targetValues, skip (>= 0) and limit (0..50) on every list;
 * - scopes: a VEN client has read_all, write_reports, write_subscriptions, write_vens; a
 *   business-logic (BL) client also write_programs and write_events: else 403;
 * - 400 / 401 / 403 / 404 answers are problem objects.
 * Every object it receives is validated against the transcribed component schemas (400 when
 * invalid) and every object it sends too: a failure there is recorded in `violations` and the
 * tests assert that list is empty.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { randomBytes } from 'node:crypto';
import type { AddressInfo, Socket } from 'node:net';
import { validateObject } from '../../lib/loadcontrol/validate';
import type { OpenAdr3SchemaName } from '../../lib/loadcontrol/openadr3-schemas';

type Json = Record<string, unknown>;
type Role = 'ven' | 'bl';

const SCOPES: Record<Role, string[]> = {
  ven: ['read_all', 'write_reports', 'write_subscriptions', 'write_vens'],
  bl: ['read_all', 'write_reports', 'write_subscriptions', 'write_vens', 'write_programs', 'write_events'],
};

const BASE_PATH = '/openadr3/3.0.1';
const MAX_BODY = 1024 * 1024;

export interface VtnRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  clientId?: string;
  status: number;
}

export interface TestVtnOptions {
  clients?: Record<string, { secret: string; role: Role }>;
  /** expires_in of issued tokens (s). */
  tokenLifetimeS?: number;
}

class HttpProblem extends Error {
  constructor(readonly status: number, readonly title: string, readonly detailText?: string) {
    super(title);
  }
}

export class TestVtn {
  readonly programs = new Map<string, Json>();
  readonly events = new Map<string, Json>();
  readonly reports = new Map<string, Json>();
  readonly subscriptions = new Map<string, Json>();
  readonly requests: VtnRequest[] = [];
  /** Objects this VTN sent or was about to send that fail the schema: must stay empty. */
  readonly violations: string[] = [];
  /** Callbacks delivered: status per call. */
  readonly callbacks: { url: string; status: number; notification: Json }[] = [];
  /** Events served as they are, unvalidated, to test how a VEN treats a malformed one. */
  readonly malformedEvents: unknown[] = [];
  tokensIssued = 0;
  private readonly tokens = new Map<string, { clientId: string; role: Role; expiresAt: number }>();
  private readonly clients: Record<string, { secret: string; role: Role }>;
  private readonly lifetimeS: number;
  private readonly sockets = new Set<Socket>();
  private server?: Server;
  private seq = 0;
  private outage = false;
  baseUrl = '';

  constructor(options: TestVtnOptions = {}) {
    this.clients = options.clients ?? { 'ven-client': { secret: 'ven-secret', role: 'ven' }, 'bl-client': { secret: 'bl-secret', role: 'bl' } };
    this.lifetimeS = options.tokenLifetimeS ?? 3600;
  }

  async start(): Promise<string> {
    const server = createServer((req, res) => void this.handle(req, res));
    server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.server = server;
    this.baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}${BASE_PATH}`;
    return this.baseUrl;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  /** Outage: every connection is cut before an answer, as when the VTN is down. */
  setOutage(on: boolean): void {
    this.outage = on;
    if (on) for (const s of this.sockets) s.destroy();
  }

  // ---- what the utility's business logic does (direct, as a BL client would through the API) ----

  publishProgram(program: Json): Json {
    return this.store('program', this.programs, program, 'POST');
  }

  publishEvent(event: Json): Json {
    return this.store('event', this.events, event, 'POST');
  }

  updateEvent(id: string, changes: Json): Json {
    const old = this.events.get(id);
    if (!old) throw new Error(`no event ${id}`);
    return this.store('event', this.events, { ...old, ...changes, id }, 'PUT');
  }

  cancelEvent(id: string): void {
    const old = this.events.get(id);
    if (!old) throw new Error(`no event ${id}`);
    this.events.delete(id);
    void this.notify('EVENT', 'DELETE', old);
  }

  private store(schema: 'program' | 'event', map: Map<string, Json>, object: Json, operation: 'POST' | 'PUT'): Json {
    const v = validateObject(schema, object);
    if (!v.ok) throw new Error(`test VTN refuses its own ${schema}: ${v.reason}`);
    const now = new Date().toISOString();
    const id = typeof object.id === 'string' && operation === 'PUT' ? object.id : `${schema}-${++this.seq}`;
    const old = map.get(id);
    const stored: Json = {
      ...object,
      id,
      createdDateTime: (old?.createdDateTime as string | undefined) ?? now,
      modificationDateTime: now,
      objectType: schema === 'program' ? 'PROGRAM' : 'EVENT',
    };
    map.set(id, stored);
    void this.notify(schema === 'program' ? 'PROGRAM' : 'EVENT', operation, stored);
    return stored;
  }

  // ---- HTTP ----

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://vtn');
    const record: VtnRequest = { method: req.method ?? '', path: url.pathname.slice(BASE_PATH.length), query: url.searchParams, status: 0 };
    this.requests.push(record);
    if (this.outage) {
      req.socket.destroy();
      return;
    }
    const answer = (status: number, body: unknown): void => {
      record.status = status;
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    try {
      if (!url.pathname.startsWith(`${BASE_PATH}/`)) throw new HttpProblem(404, 'Not Found', `no such path ${url.pathname}`);
      const path = record.path.split('/').filter((s) => s !== '');
      const body = await this.readBody(req);
      if (path[0] === 'auth' && path[1] === 'token' && path.length === 2 && req.method === 'POST') {
        const { status, json } = this.token(req, body);
        answer(status, this.checked(status === 200 ? 'clientCredentialResponse' : 'authError', json));
        return;
      }
      const client = this.authenticate(req);
      record.clientId = client.clientId;
      const { status, json } = this.route(req.method ?? 'GET', path, url.searchParams, body, client);
      answer(status, json);
    } catch (err) {
      const p = err instanceof HttpProblem ? err : new HttpProblem(500, 'Internal Server Error', (err as Error).message);
      answer(p.status, this.checked('problem', { type: 'about:blank', title: p.title, status: p.status, ...(p.detailText ? { detail: p.detailText } : {}) }));
    }
  }

  private readBody(req: IncomingMessage): Promise<string> {
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      req.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_BODY) reject(new HttpProblem(413, 'Payload Too Large'));
        else chunks.push(c);
      });
      req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
      req.on('error', reject);
    });
  }

  private token(req: IncomingMessage, body: string): { status: number; json: Json } {
    if (!String(req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')) {
      return { status: 400, json: { error: 'invalid_request', error_description: 'the body must be application/x-www-form-urlencoded' } };
    }
    const form = Object.fromEntries(new URLSearchParams(body));
    if (form.grant_type !== undefined && form.grant_type !== 'client_credentials') return { status: 400, json: { error: 'unsupported_grant_type' } };
    const v = validateObject('clientCredentialRequest', form);
    if (!v.ok) return { status: 400, json: { error: 'invalid_request', error_description: v.reason } };
    const client = this.clients[form.client_id!];
    if (!client || client.secret !== form.client_secret) return { status: 401, json: { error: 'invalid_client', error_description: 'unknown client or wrong secret' } };
    const token = randomBytes(24).toString('hex');
    this.tokens.set(token, { clientId: form.client_id!, role: client.role, expiresAt: Date.now() + this.lifetimeS * 1000 });
    this.tokensIssued += 1;
    return { status: 200, json: { access_token: token, token_type: 'Bearer', expires_in: this.lifetimeS, scope: SCOPES[client.role].join(' ') } };
  }

  /** Ends every issued token now, as a VTN restart would. */
  expireTokens(): void {
    this.tokens.clear();
  }

  private authenticate(req: IncomingMessage): { clientId: string; role: Role } {
    const m = /^Bearer (\S+)$/.exec(String(req.headers.authorization ?? ''));
    const t = m ? this.tokens.get(m[1]!) : undefined;
    if (!t || t.expiresAt <= Date.now()) throw new HttpProblem(401, 'Unauthorized', m ? 'unknown or expired token' : 'a bearer token is required');
    return t;
  }

  private need(client: { role: Role }, scope: string): void {
    if (!SCOPES[client.role].includes(scope)) throw new HttpProblem(403, 'Forbidden', `needs scope ${scope}`);
  }

  private checked(schema: OpenAdr3SchemaName, object: unknown): unknown {
    const v = validateObject(schema, object);
    if (!v.ok) this.violations.push(`sent ${schema}: ${v.reason}`);
    return object;
  }

  private parseJson(body: string, schema: OpenAdr3SchemaName): Json {
    let json: unknown;
    try {
      json = JSON.parse(body);
    } catch {
      throw new HttpProblem(400, 'Bad Request', 'the body is not JSON');
    }
    const v = validateObject(schema, json);
    if (!v.ok) throw new HttpProblem(400, 'Bad Request', v.reason);
    return json as Json;
  }

  private page(list: Json[], query: URLSearchParams, schema: OpenAdr3SchemaName, filters: readonly string[]): Json[] {
    const int = (name: string, fallback: number, max: number): number => {
      const text = query.get(name);
      if (text === null) return fallback;
      const n = Number(text);
      if (!/^\d+$/.test(text) || n > max) throw new HttpProblem(400, 'Bad Request', `${name} must be an integer from 0 to ${max}`);
      return n;
    };
    const skip = int('skip', 0, 2 ** 31 - 1);
    const limit = int('limit', 50, 50);
    let selected = list.filter((o) => filters.every((k) => query.get(k) === null || o[k] === query.get(k)));
    const targetType = query.get('targetType');
    if (targetType !== null) {
      const values = query.getAll('targetValues');
      // Our reading of 3.0.1: an object without targets is for every VEN; one with targets of
      // that type is for the listed values.
      selected = selected.filter((o) => {
        const targets = (o.targets as { type: string; values: unknown[] }[] | null | undefined) ?? [];
        const ofType = targets.filter((t) => t.type === targetType);
        return ofType.length === 0 || ofType.some((t) => t.values.some((x) => values.includes(String(x))));
      });
    }
    return selected.slice(skip, skip + limit).map((o) => this.checked(schema, o) as Json);
  }

  private route(method: string, path: string[], query: URLSearchParams, body: string, client: { clientId: string; role: Role }): { status: number; json: unknown } {
    const [collection, id, extra] = path;
    if (extra !== undefined) throw new HttpProblem(404, 'Not Found');
    const spec: Record<string, { map: Map<string, Json>; schema: OpenAdr3SchemaName; write: string; objectType: string; filters: string[] }> = {
      programs: { map: this.programs, schema: 'program', write: 'write_programs', objectType: 'PROGRAM', filters: [] },
      events: { map: this.events, schema: 'event', write: 'write_events', objectType: 'EVENT', filters: ['programID'] },
      reports: { map: this.reports, schema: 'report', write: 'write_reports', objectType: 'REPORT', filters: ['programID', 'eventID', 'clientName'] },
      subscriptions: { map: this.subscriptions, schema: 'subscription', write: 'write_subscriptions', objectType: 'SUBSCRIPTION', filters: ['programID', 'clientName'] },
    };
    const s = collection ? spec[collection] : undefined;
    if (!s) throw new HttpProblem(404, 'Not Found', `no collection /${collection ?? ''}`);
    if (id !== undefined && !/^[a-zA-Z0-9_-]{1,128}$/.test(id)) throw new HttpProblem(400, 'Bad Request', 'malformed object ID');
    if (id === undefined && method === 'GET') {
      this.need(client, 'read_all');
      for (const f of s.filters) {
        const value = query.get(f);
        if (value !== null && f !== 'clientName' && !validateObject('objectID', value).ok) throw new HttpProblem(400, 'Bad Request', `malformed ${f}`);
      }
      const listed = [...s.map.values()];
      const json = this.page(listed, query, s.schema, s.filters);
      if (collection === 'events') {
        // Deliberately malformed events are served as they are, outside validation.
        return { status: 200, json: [...json, ...this.malformedEvents] };
      }
      return { status: 200, json };
    }
    if (id === undefined && method === 'POST') {
      this.need(client, s.write);
      const object = this.parseJson(body, s.schema);
      const now = new Date().toISOString();
      const stored = { ...object, id: `${s.schema}-${++this.seq}`, createdDateTime: now, modificationDateTime: now, objectType: s.objectType };
      s.map.set(stored.id, stored);
      if (collection === 'programs' || collection === 'events') void this.notify(s.objectType as 'PROGRAM' | 'EVENT', 'POST', stored);
      return { status: 201, json: this.checked(s.schema, stored) };
    }
    if (id === undefined) throw new HttpProblem(405, 'Method Not Allowed');
    const found = s.map.get(id);
    if (method === 'GET') {
      this.need(client, 'read_all');
      if (!found) throw new HttpProblem(404, 'Not Found', `no ${s.schema} ${id}`);
      return { status: 200, json: this.checked(s.schema, found) };
    }
    if (method === 'PUT' || method === 'DELETE') {
      this.need(client, s.write);
      if (!found) throw new HttpProblem(404, 'Not Found', `no ${s.schema} ${id}`);
      if (method === 'DELETE') {
        s.map.delete(id);
        if (collection === 'programs' || collection === 'events') void this.notify(s.objectType as 'PROGRAM' | 'EVENT', 'DELETE', found);
        return { status: 200, json: this.checked(s.schema, found) };
      }
      const object = this.parseJson(body, s.schema);
      const stored = { ...object, id, createdDateTime: found.createdDateTime, modificationDateTime: new Date().toISOString(), objectType: s.objectType };
      s.map.set(id, stored);
      if (collection === 'programs' || collection === 'events') void this.notify(s.objectType as 'PROGRAM' | 'EVENT', 'PUT', stored);
      return { status: 200, json: this.checked(s.schema, stored) };
    }
    throw new HttpProblem(405, 'Method Not Allowed');
  }

  /** Calls every subscription for this object type and operation, in the object's program. */
  private async notify(objectType: 'PROGRAM' | 'EVENT', operation: 'POST' | 'PUT' | 'DELETE', object: Json): Promise<void> {
    const programID = objectType === 'PROGRAM' ? object.id : object.programID;
    for (const sub of this.subscriptions.values()) {
      if (sub.programID !== programID) continue;
      for (const op of sub.objectOperations as { objects: string[]; operations: string[]; callbackUrl: string; bearerToken?: string | null }[]) {
        if (!op.objects.includes(objectType) || !op.operations.includes(operation)) continue;
        const notification = { objectType, operation, object };
        this.checked('notification', notification);
        try {
          const res = await fetch(op.callbackUrl, {
            method: 'POST',
            headers: { 'content-type': 'application/json', ...(op.bearerToken ? { authorization: `Bearer ${op.bearerToken}` } : {}) },
            body: JSON.stringify(notification),
            signal: AbortSignal.timeout(5000),
          });
          await res.arrayBuffer();
          this.callbacks.push({ url: op.callbackUrl, status: res.status, notification });
        } catch {
          this.callbacks.push({ url: op.callbackUrl, status: 0, notification });
        }
      }
    }
  }
}
