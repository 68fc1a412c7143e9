/**
 * Keeps Dynamic DNS names pointing at the gateway's external address over dyndns2. Sends an
 * update only when the address differs from what the provider last confirmed for a name
 * (providers block clients that keep sending unchanged updates), stops for good on a fatal
 * answer, and retries provider trouble and network errors with growing delays.
 */
import { EventEmitter } from 'node:events';
import { isIP } from 'node:net';
import { backoffDelay, type BackoffOptions } from '../backoff';
import { CODE_MEANING, effectiveCode, parseAnswer, updateUrl, type HostAnswer } from './dyndns2';
import { httpGet, NetworkError, type GetReply } from './http-get';

export type DdnsStatus = 'idle' | 'updating' | 'updated' | 'retrying' | 'disabled' | 'stopped';

export interface DdnsState {
  status: DdnsStatus;
  /** The address the names should point at (the latest one given). */
  address?: string;
  /** Per host name, the address the provider last confirmed (good or nochg). */
  confirmed: Readonly<Record<string, string>>;
  /** The answers to the latest update. */
  answers?: readonly HostAnswer[];
  /** While retrying or disabled: the code ("badauth", "911", "network", "http 502", ...) and why. */
  code?: string;
  reason?: string;
  /** Consecutive failed attempts. */
  failures: number;
  retryInMs?: number;
}

export type Fetcher = (url: URL, options: { username: string; password: string; userAgent: string; timeoutMs: number; signal?: AbortSignal }) => Promise<GetReply>;

export interface DdnsUpdaterOptions {
  /** e.g. "https://members.dyndns.org"; "/nic/update" is added when the URL names no path. */
  server: string;
  hostnames: readonly string[];
  username: string;
  password: string;
  userAgent: string;
  timeoutMs?: number;
  backoff?: BackoffOptions;
  /** The HTTP GET; tests may pass their own. */
  fetch?: Fetcher;
  /** Schedules a retry; returns the cancel function. Tests pass one they fire by hand. */
  setTimer?: (callback: () => void, delayMs: number) => () => void;
}

export type SubmitResult = 'sent' | 'queued' | 'unchanged' | 'disabled' | 'invalid' | 'stopped';

/** Provider trouble is rarely over in seconds; one update a minute at most, an hour apart at worst. */
export const DDNS_BACKOFF: BackoffOptions = { initialMs: 60_000, maxMs: 3_600_000 };

function realTimer(callback: () => void, delayMs: number): () => void {
  const t = setTimeout(callback, delayMs);
  return () => clearTimeout(t);
}

interface Outcome {
  answers: HostAnswer[];
  /** A fatal code stops the updater; a retry code schedules another attempt. */
  fatal?: { code: string; reason: string };
  retry?: { code: string; reason: string };
}

export class DdnsUpdater extends EventEmitter<{ change: [DdnsState] }> {
  private readonly options: Required<Omit<DdnsUpdaterOptions, 'fetch'>> & { fetch: Fetcher };
  private readonly confirmed: Record<string, string> = {};
  private wanted?: string;
  private inFlight?: AbortController;
  private cancelRetry?: () => void;
  private failures = 0;
  private lastState: DdnsState = { status: 'idle', confirmed: {}, failures: 0 };

  constructor(options: DdnsUpdaterOptions) {
    super();
    // Fails early on a bad URL or scheme, not at the first update.
    updateUrl(options.server, options.hostnames, '192.0.2.1');
    this.options = { timeoutMs: 15_000, backoff: DDNS_BACKOFF, setTimer: realTimer, ...options, fetch: options.fetch ?? httpGet };
  }

  get state(): DdnsState {
    return this.lastState;
  }

  /** A (possibly) new external address. Never throws; says what it did. */
  submit(address: string): SubmitResult {
    const status = this.lastState.status;
    if (status === 'stopped') return 'stopped';
    if (status === 'disabled') return 'disabled';
    if (isIP(address) === 0) return 'invalid';
    this.wanted = address;
    // An update or a retry is pending: it sends the newest address when its turn comes.
    if (this.inFlight || this.cancelRetry) return 'queued';
    if (this.pendingHosts(address).length === 0) return 'unchanged';
    void this.attempt();
    return 'sent';
  }

  /** Stops retrying and abandons an update on its way; nothing is sent afterwards. */
  stop(): void {
    this.cancelRetry?.();
    this.cancelRetry = undefined;
    this.inFlight?.abort();
    this.inFlight = undefined;
    this.publish({ status: 'stopped', address: this.wanted, failures: this.failures });
  }

  private pendingHosts(address: string): string[] {
    return this.options.hostnames.filter((h) => this.confirmed[h] !== address);
  }

  private async attempt(): Promise<void> {
    const address = this.wanted as string;
    const hosts = this.pendingHosts(address);
    if (hosts.length === 0) {
      this.failures = 0;
      this.publish({ status: 'updated', address, failures: 0 });
      return;
    }
    const abort = new AbortController();
    this.inFlight = abort;
    this.publish({ status: 'updating', address, failures: this.failures });
    let outcome: Outcome;
    try {
      const { username, password, userAgent, timeoutMs } = this.options;
      const reply = await this.options.fetch(updateUrl(this.options.server, hosts, address), { username, password, userAgent, timeoutMs, signal: abort.signal });
      outcome = judge(reply, hosts, address);
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      outcome = { answers: [], retry: { code: 'network', reason: err instanceof NetworkError ? reason : `network error: ${reason}` } };
    }
    if (abort.signal.aborted) return; // stopped meanwhile
    this.inFlight = undefined;
    for (const a of outcome.answers) {
      if (CODE_MEANING[a.code as keyof typeof CODE_MEANING]?.verdict === 'updated' && effectiveCode(a, address) === a.code) this.confirmed[a.hostname] = address;
    }
    if (outcome.fatal) {
      this.failures++;
      this.publish({ status: 'disabled', address, answers: outcome.answers, ...outcome.fatal, failures: this.failures });
      return;
    }
    if (outcome.retry) {
      this.failures++;
      const delay = backoffDelay(this.failures, this.options.backoff);
      this.cancelRetry = this.options.setTimer(() => {
        this.cancelRetry = undefined;
        void this.attempt();
      }, delay);
      this.publish({ status: 'retrying', address, answers: outcome.answers, ...outcome.retry, failures: this.failures, retryInMs: delay });
      return;
    }
    this.failures = 0;
    this.publish({ status: 'updated', address, answers: outcome.answers, failures: 0 });
    // The address changed while this update was on its way.
    if (this.wanted !== address && this.pendingHosts(this.wanted as string).length > 0) void this.attempt();
  }

  private publish(state: Omit<DdnsState, 'confirmed'>): void {
    this.lastState = { ...state, confirmed: { ...this.confirmed } };
    this.emit('change', this.lastState);
  }
}

/** What an HTTP reply means for the update. */
export function judge(reply: GetReply, hosts: readonly string[], address: string): Outcome {
  if (reply.status >= 300 && reply.status < 400) {
    return { answers: [], fatal: { code: `http ${reply.status}`, reason: `the server redirects to ${reply.location ?? '(nowhere)'}: configure that URL` } };
  }
  const answers = parseAnswer(reply.body, hosts);
  const codes = answers.map((a) => ({ a, code: effectiveCode(a, address) }));
  const fatal = codes.find(({ code }) => code !== 'unknown' && CODE_MEANING[code].verdict === 'fatal');
  if (fatal) {
    const code = fatal.code as keyof typeof CODE_MEANING;
    return { answers, fatal: { code, reason: `${CODE_MEANING[code].text} (${fatal.a.hostname})` } };
  }
  if (codes.every(({ code }) => code === 'unknown') && (reply.status === 401 || reply.status === 403)) {
    return { answers, fatal: { code: 'badauth', reason: `${CODE_MEANING.badauth.text} (HTTP ${reply.status})` } };
  }
  const retry = codes.find(({ code }) => code !== 'unknown' && CODE_MEANING[code].verdict === 'retry');
  if (retry) {
    const code = retry.code as keyof typeof CODE_MEANING;
    return { answers, retry: { code, reason: CODE_MEANING[code].text } };
  }
  const unknown = codes.find(({ code }) => code === 'unknown');
  if (unknown) {
    const what = reply.status === 200 ? `unexpected answer "${unknown.a.line.slice(0, 60)}"` : `HTTP ${reply.status}${unknown.a.line ? ` "${unknown.a.line.slice(0, 60)}"` : ''}`;
    return { answers, retry: { code: reply.status === 200 ? 'unknown' : `http ${reply.status}`, reason: what } };
  }
  return { answers };
}
