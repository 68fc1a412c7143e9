import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { parseAnswer, parseHostnames, updateUrl, effectiveCode, Dyndns2ConfigError } from '../../lib/nat/ddns/dyndns2';
import { judge } from '../../lib/nat/ddns/ddns-updater';

describe('dyndns2 protocol', () => {
  test('update URL: /nic/update added, hostname list and myip in the query', () => {
    const url = updateUrl('https://members.example.net', ['a.example.net', 'b.example.net'], '203.0.113.7');
    assert.equal(url.href, 'https://members.example.net/nic/update?hostname=a.example.net%2Cb.example.net&myip=203.0.113.7');
    assert.equal(updateUrl('http://127.0.0.1:8080/custom/path', ['a.example.net'], '2001:db8::1').pathname, '/custom/path');
  });

  test('refuses other schemes and credentials in the URL', () => {
    assert.throws(() => updateUrl('ftp://x.example', ['a.example.net'], '192.0.2.1'), Dyndns2ConfigError);
    assert.throws(() => updateUrl('https://u:p@x.example', ['a.example.net'], '192.0.2.1'), /credentials/);
    assert.throws(() => updateUrl('not a url', ['a.example.net'], '192.0.2.1'), /not a URL/);
  });

  test('host names: FQDNs only, at most 20, duplicates dropped', () => {
    assert.deepEqual(parseHostnames(' Home.Example.net., b.example.net home.example.net'), ['home.example.net', 'b.example.net']);
    assert.throws(() => parseHostnames('localhost'), /fully qualified/);
    assert.throws(() => parseHostnames('-bad.example.net'), /fully qualified/);
    assert.throws(() => parseHostnames(''), /no host name/);
    assert.throws(() => parseHostnames(Array.from({ length: 21 }, (_, i) => `h${i}.example.net`).join(',')), /at most 20/);
  });

  test('one line per host, in order; one line for several hosts applies to all', () => {
    assert.deepEqual(parseAnswer('good 203.0.113.7\nnohost\n', ['a.example.net', 'b.example.net']), [
      { hostname: 'a.example.net', code: 'good', line: 'good 203.0.113.7', address: '203.0.113.7' },
      { hostname: 'b.example.net', code: 'nohost', line: 'nohost' },
    ]);
    assert.deepEqual(parseAnswer('badauth', ['a.example.net', 'b.example.net']).map((a) => a.code), ['badauth', 'badauth']);
    assert.deepEqual(parseAnswer('<html>oops</html>', ['a.example.net']).map((a) => a.code), ['unknown']);
  });

  test('"good 127.0.0.1" for another address is a refused agent', () => {
    const [a] = parseAnswer('good 127.0.0.1', ['a.example.net']);
    assert.equal(effectiveCode(a!, '203.0.113.7'), 'badagent');
    assert.equal(effectiveCode(a!, '127.0.0.1'), 'good');
  });

  test('verdicts for every code', () => {
    const verdict = (body: string, status = 200): string => {
      const o = judge({ status, body }, ['a.example.net'], '203.0.113.7');
      return o.fatal ? `fatal ${o.fatal.code}` : o.retry ? `retry ${o.retry.code}` : 'updated';
    };
    assert.equal(verdict('good 203.0.113.7'), 'updated');
    assert.equal(verdict('nochg 203.0.113.7'), 'updated');
    for (const code of ['badauth', '!donator', 'notfqdn', 'nohost', 'numhost', 'abuse', 'badagent']) assert.equal(verdict(code), `fatal ${code}`);
    assert.equal(verdict('dnserr'), 'retry dnserr');
    assert.equal(verdict('911'), 'retry 911');
    assert.equal(verdict('Unauthorized', 401), 'fatal badauth');
    assert.equal(verdict('', 502), 'retry http 502');
    assert.equal(verdict('surprise'), 'retry unknown');
    assert.match(judge({ status: 301, body: '', location: 'https://new.example' }, ['a.example.net'], '192.0.2.1').fatal?.reason ?? '', /redirects to https:\/\/new\.example/);
  });
});
