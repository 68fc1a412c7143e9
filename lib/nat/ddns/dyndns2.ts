/**
 * The dyndns2 update protocol, as Dyn documented it and most DDNS providers copied it:
 *   GET /nic/update?hostname=a.example.net[,b...]&myip=203.0.113.7 with HTTP basic auth and a
 *   User-Agent "Company - Device - Version"; the body answers one code per line, one line per
 *   hostname in request order, or one line for failures of the account or the service.
 * References: https://help.dyn.com/remote-access-api/perform-update/ and
 * https://help.dyn.com/remote-access-api/return-codes/ (formerly dyndns.com/developers/specs/).
 */
import { isIP } from 'node:net';

/** Every code the protocol defines. */
export type Dyndns2Code = 'good' | 'nochg' | 'badauth' | '!donator' | 'notfqdn' | 'nohost' | 'numhost' | 'abuse' | 'badagent' | 'dnserr' | '911';

/**
 * What the client does next. "fatal": every further update fails too until the user corrects
 * something, so the client must stop (Dyn: "any failed update attempt should cause the client to
 * be disabled until ... manually re-enabled"). "retry": a problem on the provider's side.
 */
export type Verdict = 'updated' | 'fatal' | 'retry';

export const CODE_MEANING: Readonly<Record<Dyndns2Code, { verdict: Verdict; text: string }>> = {
  good: { verdict: 'updated', text: 'updated' },
  nochg: { verdict: 'updated', text: 'already up to date' },
  badauth: { verdict: 'fatal', text: 'wrong user name or password' },
  '!donator': { verdict: 'fatal', text: 'the account lacks a paid feature this update asks for' },
  notfqdn: { verdict: 'fatal', text: 'not a fully qualified host name' },
  nohost: { verdict: 'fatal', text: 'host name not in this account' },
  numhost: { verdict: 'fatal', text: 'too many host names, or a round-robin name' },
  abuse: { verdict: 'fatal', text: 'host name blocked for update abuse' },
  badagent: { verdict: 'fatal', text: 'the provider refuses this client' },
  dnserr: { verdict: 'retry', text: "DNS error at the provider" },
  '911': { verdict: 'retry', text: 'provider problem or maintenance' },
};

const CODES = new Set(Object.keys(CODE_MEANING));

/** At most 20 host names per request (Dyn's limit; "numhost" beyond). */
export const MAX_HOSTNAMES = 20;

export class Dyndns2ConfigError extends Error {}

/** "a.example.net, b.example.net" → checked, lower-cased FQDNs. */
export function parseHostnames(text: string): string[] {
  const names = text
    .split(/[,\s]+/)
    .map((h) => h.trim().toLowerCase().replace(/\.$/, ''))
    .filter((h) => h !== '');
  if (names.length === 0) throw new Dyndns2ConfigError('no host name given');
  if (names.length > MAX_HOSTNAMES) throw new Dyndns2ConfigError(`at most ${MAX_HOSTNAMES} host names per update`);
  for (const name of names) {
    const labels = name.split('.');
    const ok = name.length <= 253 && labels.length >= 2 && labels.every((l) => /^(?!-)[a-z0-9-]{1,63}(?<!-)$/.test(l));
    if (!ok) throw new Dyndns2ConfigError(`"${name}" is not a fully qualified host name`);
  }
  return [...new Set(names)];
}

/** The update URL: the server URL with /nic/update when it names no path. https or http only. */
export function updateUrl(server: string, hostnames: readonly string[], address: string): URL {
  let url: URL;
  try {
    url = new URL(server.trim());
  } catch {
    throw new Dyndns2ConfigError(`"${server}" is not a URL (e.g. https://members.dyndns.org)`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new Dyndns2ConfigError(`the server URL must be https:// (or http://), not ${url.protocol}`);
  if (url.username || url.password) throw new Dyndns2ConfigError('put the user name and password in the credentials, not in the URL');
  if (url.pathname === '/' || url.pathname === '') url.pathname = '/nic/update';
  url.searchParams.set('hostname', hostnames.join(','));
  url.searchParams.set('myip', address);
  return url;
}

export interface HostAnswer {
  hostname: string;
  code: Dyndns2Code | 'unknown';
  /** The line as the provider wrote it (trimmed, at most 200 characters). */
  line: string;
  /** The address after "good"/"nochg", when given. */
  address?: string;
}

/**
 * One answer per host name. A single line for several names is a failure of the account or the
 * service and applies to all of them. Lines that are no dyndns2 code are "unknown".
 */
export function parseAnswer(body: string, hostnames: readonly string[]): HostAnswer[] {
  const lines = body.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '');
  const parse = (line: string, hostname: string): HostAnswer => {
    const [word = '', rest] = line.split(/\s+/, 2);
    const code = CODES.has(word) ? (word as Dyndns2Code) : 'unknown';
    const answer: HostAnswer = { hostname, code, line: line.slice(0, 200) };
    if (rest !== undefined && isIP(rest)) answer.address = rest;
    return answer;
  };
  if (lines.length === 0) return hostnames.map((h) => ({ hostname: h, code: 'unknown', line: '' }));
  if (lines.length === 1 && hostnames.length > 1) return hostnames.map((h) => parse(lines[0] as string, h));
  return hostnames.map((h, i) => (lines[i] === undefined ? { hostname: h, code: 'unknown', line: '' } : parse(lines[i] as string, h)));
}

/**
 * "good 127.0.0.1" when another address was asked for is Dyn's way of saying the User-Agent is
 * refused (the update was ignored): a badagent in disguise.
 */
export function effectiveCode(answer: HostAnswer, requested: string): Dyndns2Code | 'unknown' {
  if (answer.code === 'good' && answer.address === '127.0.0.1' && requested !== '127.0.0.1') return 'badagent';
  return answer.code;
}
