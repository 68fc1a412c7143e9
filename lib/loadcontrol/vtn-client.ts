/**
 * HTTP client for an OpenADR 3.0.1 VTN: OAuth2 client-credentials token from the VTN's token
 * endpoint (refreshed before it expires), the resource endpoints the VEN uses, pagination, and
 * schema validation of every object it sends and receives.
 */
import type { OpenAdr3SchemaName } from './openadr3-schemas';
import type { Problem, Report, Subscription } from './openadr3-types';
import { SchemaError, validateObject } from './validate';

export interface VtnClientOptions {
  /** e.g. https://vtn.example/openadr3/3.0.1 */
  readonly baseUrl: string;
  readonly clientId: string;
  readonly clientSecret: string;
  readonly scope?: string;
  /** Token endpoint; relative to the base URL as the document's tokenUrl ("auth/token"). */
  readonly tokenUrl?: string;
  readonly timeoutMs?: number;
  /** Bigger answers are refused: the VTN is outside our control. */
  readonly maxResponseBytes?: number;
  /** Most objects read from one list endpoint (pages of 50). */
  readonly maxObjects?: number;
  readonly now?: () => number;
}

export const DEFAULT_VTN_CLIENT = { timeoutMs: 10_000, maxResponseBytes: 4 * 1024 * 1024, maxObjects: 1000 } as const;

/** The spec's largest page. */
export const PAGE_LIMIT = 50;

/** The VTN could not be reached or did not answer in time: try again later. */
export class VtnUnreachableError extends Error {}

/** The VTN answered with an error status (problem object or OAuth2 error when it sent one). */
export class VtnHttpError extends Error {
  constructor(readonly status: number, message: string, readonly problem?: Problem) {
    super(message);
  }
}

export interface ListResult<T> {
  readonly valid: T[];
  /** Objects that failed the schema, with the reason: each is left out, the rest are used. */
  readonly invalid: { object: unknown; reason: string }[];
}

export type QueryValue = string | number | readonly string[] | undefined;

function joinUrl(base: string, path: string): URL {
  return new URL(path.replace(/^\//, ''), base.endsWith('/') ? base : `${base}/`);
}

export class VtnClient {
  private token?: { value: string; refreshAt: number };
  private tokenRequest?: Promise<string>;
  private readonly timeoutMs: number;
  private readonly maxBytes: number;
  private readonly maxObjects: number;
  private readonly now: () => number;

  constructor(private readonly options: VtnClientOptions) {
    this.timeoutMs = options.timeoutMs ?? DEFAULT_VTN_CLIENT.timeoutMs;
    this.maxBytes = options.maxResponseBytes ?? DEFAULT_VTN_CLIENT.maxResponseBytes;
    this.maxObjects = options.maxObjects ?? DEFAULT_VTN_CLIENT.maxObjects;
    this.now = options.now ?? Date.now;
    new URL(options.baseUrl); // throws on a malformed base URL
  }

  /** GET /programs, every page. */
  programs(query: Record<string, QueryValue> = {}): Promise<ListResult<Record<string, unknown>>> {
    return this.list('programs', 'program', query);
  }

  /** GET /events, every page; `programID` narrows to one program. */
  events(query: Record<string, QueryValue> = {}): Promise<ListResult<Record<string, unknown>>> {
    return this.list('events', 'event', query);
  }

  async createReport(report: Report): Promise<Report> {
    return (await this.send('POST', 'reports', 'report', report, 'report')) as Report;
  }

  async createSubscription(subscription: Subscription): Promise<Subscription> {
    return (await this.send('POST', 'subscriptions', 'subscription', subscription, 'subscription')) as Subscription;
  }

  async deleteSubscription(id: string): Promise<void> {
    await this.send('DELETE', `subscriptions/${encodeURIComponent(id)}`, undefined, undefined, 'subscription');
  }

  /** A bearer token, fetched or refreshed when less than a tenth of its life (at most 60 s) is left. */
  async accessToken(): Promise<string> {
    if (this.token && this.now() < this.token.refreshAt) return this.token.value;
    this.tokenRequest ??= this.fetchToken().finally(() => {
      this.tokenRequest = undefined;
    });
    return this.tokenRequest;
  }

  private async fetchToken(): Promise<string> {
    const body = new URLSearchParams({ grant_type: 'client_credentials', client_id: this.options.clientId, client_secret: this.options.clientSecret });
    if (this.options.scope) body.set('scope', this.options.scope);
    const url = joinUrl(this.options.baseUrl, this.options.tokenUrl ?? 'auth/token');
    const { status, json } = await this.http('POST', url, { 'content-type': 'application/x-www-form-urlencoded' }, body.toString());
    if (status !== 200) {
      const error = (json as { error?: unknown; error_description?: unknown; detail?: unknown } | undefined) ?? {};
      throw new VtnHttpError(status, `token refused (${status}): ${String(error.error ?? error.detail ?? 'no reason given')}${error.error_description ? `: ${String(error.error_description)}` : ''}`);
    }
    const v = validateObject('clientCredentialResponse', json);
    if (!v.ok) throw new SchemaError('clientCredentialResponse', `token answer: ${v.reason}`);
    const answer = json as { access_token: string; expires_in?: number };
    const lifeMs = (answer.expires_in ?? 3600) * 1000;
    this.token = { value: answer.access_token, refreshAt: this.now() + lifeMs - Math.min(60_000, lifeMs / 10) };
    return answer.access_token;
  }

  private async list(path: string, schema: OpenAdr3SchemaName, query: Record<string, QueryValue>): Promise<ListResult<Record<string, unknown>>> {
    const valid: Record<string, unknown>[] = [];
    const invalid: { object: unknown; reason: string }[] = [];
    for (let skip = 0; skip < this.maxObjects; skip += PAGE_LIMIT) {
      const page = await this.send('GET', path, undefined, undefined, undefined, { ...query, skip, limit: PAGE_LIMIT });
      if (!Array.isArray(page)) throw new SchemaError(schema, `GET /${path} did not answer with a list`);
      for (const object of page) {
        const v = validateObject(schema, object);
        if (v.ok) valid.push(object as Record<string, unknown>);
        else invalid.push({ object, reason: v.reason });
      }
      if (page.length < PAGE_LIMIT) break;
    }
    return { valid, invalid };
  }

  /** One authorised request; a 401 fetches a new token and tries once more. */
  private async send(method: string, path: string, bodySchema: OpenAdr3SchemaName | undefined, body: unknown, answerSchema: OpenAdr3SchemaName | undefined, query: Record<string, QueryValue> = {}): Promise<unknown> {
    if (bodySchema) {
      const v = validateObject(bodySchema, body);
      if (!v.ok) throw new SchemaError(bodySchema, `not sent: ${v.reason}`);
    }
    const url = joinUrl(this.options.baseUrl, path);
    for (const [k, value] of Object.entries(query)) {
      if (value === undefined) continue;
      if (Array.isArray(value)) for (const x of value) url.searchParams.append(k, String(x));
      else url.searchParams.set(k, String(value));
    }
    for (let attempt = 0; ; attempt++) {
      const token = await this.accessToken();
      const headers: Record<string, string> = { authorization: `Bearer ${token}`, accept: 'application/json' };
      if (body !== undefined) headers['content-type'] = 'application/json';
      const { status, json } = await this.http(method, url, headers, body === undefined ? undefined : JSON.stringify(body));
      if (status === 401 && attempt === 0) {
        this.token = undefined;
        continue;
      }
      if (status < 200 || status >= 300) {
        const problem = validateObject('problem', json).ok ? (json as Problem) : undefined;
        throw new VtnHttpError(status, `${method} /${path}: ${status}${problem?.title ? ` ${problem.title}` : ''}${problem?.detail ? `: ${problem.detail}` : ''}`, problem);
      }
      if (answerSchema && method !== 'GET') {
        const v = validateObject(answerSchema, json);
        if (!v.ok) throw new SchemaError(answerSchema, `${method} /${path} answered: ${v.reason}`);
      }
      return json;
    }
  }

  private async http(method: string, url: URL, headers: Record<string, string>, body?: string): Promise<{ status: number; json: unknown }> {
    let res: Response;
    try {
      res = await fetch(url, { method, headers, body, signal: AbortSignal.timeout(this.timeoutMs), redirect: 'error' });
    } catch (err) {
      throw new VtnUnreachableError(`${url.host}: ${(err as Error).cause instanceof Error ? ((err as Error).cause as Error).message : (err as Error).message}`);
    }
    const chunks: Buffer[] = [];
    let size = 0;
    try {
      const reader = res.body?.getReader();
      for (;;) {
        const next = await reader?.read();
        if (!next || next.done) break;
        size += next.value.length;
        if (size > this.maxBytes) {
          void reader?.cancel();
          throw new VtnHttpError(res.status, `${method} ${url.pathname}: answer larger than ${this.maxBytes} bytes, refused`);
        }
        chunks.push(Buffer.from(next.value));
      }
    } catch (err) {
      if (err instanceof VtnHttpError) throw err;
      throw new VtnUnreachableError(`${url.host}: ${(err as Error).message}`);
    }
    const text = Buffer.concat(chunks).toString('utf8');
    if (text === '') return { status: res.status, json: undefined };
    try {
      return { status: res.status, json: JSON.parse(text) as unknown };
    } catch {
      if (res.status >= 200 && res.status < 300) throw new VtnHttpError(res.status, `${method} ${url.pathname}: the answer is not JSON`);
      return { status: res.status, json: undefined };
    }
  }
}
