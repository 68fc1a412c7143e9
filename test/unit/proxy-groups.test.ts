import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { decode as cborDecode } from 'cbor-x';
import type { CoapEndpoint } from '../../lib/coap/endpoint';
import { parseGroups, groupMembers, GroupConfigError } from '../../lib/coap/proxy/groups';
import { coapCall } from '../support/coap-client';
import { TestDirectory, startDevice, startProxy, type ProxyUnderTest } from './proxy-fixture';

describe('group definitions', () => {
  test('parsed from configuration, members as a list or a comma/space separated string', () => {
    assert.deepEqual(parseGroups([{ name: 'lamps', members: 'a, b sector:hall' }, { name: 'temp', members: ['rt:temperature'] }]), [
      { name: 'lamps', members: ['a', 'b', 'sector:hall'] },
      { name: 'temp', members: ['rt:temperature'] },
    ]);
    assert.deepEqual(parseGroups(undefined), []);
    for (const bad of ['x', [{ name: '' }], [{ name: 'a/b', members: [] }], [{ name: 'a', members: [1] }], [{ name: 'a', members: [] }, { name: 'a', members: [] }]]) {
      assert.throws(() => parseGroups(bad), GroupConfigError);
    }
  });

  test('members: names (every sector), whole sectors, resource types; each endpoint once; missing names listed', () => {
    const dir = new TestDirectory();
    dir.add('a', 'coap://127.0.0.1:1');
    dir.add('b', 'coap://127.0.0.1:2', { d: 'hall' });
    dir.add('c', 'coap://127.0.0.1:3', { d: 'hall', links: [{ href: '/t', attributes: { rt: 'temperature core.s' } }] });
    dir.add('a', 'coap://127.0.0.1:4', { d: 'attic' });
    const m = groupMembers({ name: 'g', members: ['a', 'sector:hall', 'rt:temperature', 'ghost'] }, dir);
    assert.deepEqual(m.endpoints.map((e) => `${e.d ?? ''}/${e.ep}`).sort(), ['/a', 'attic/a', 'hall/b', 'hall/c']);
    assert.deepEqual(m.missing, ['ghost']);
    assert.deepEqual(groupMembers({ name: 'g', members: ['rt:temp*'] }, dir).endpoints.map((e) => e.ep), ['c']);
  });
});

describe('group requests through the proxy', () => {
  const directory = new TestDirectory();
  const devices: CoapEndpoint[] = [];
  let gw: ProxyUnderTest;
  let mute: Socket;
  const received: Array<{ ep: string; payload: string; accept: unknown }> = [];

  before(async () => {
    const formats: Array<[string, number | undefined, Buffer]> = [
      ['text', 0, Buffer.from('on')],
      ['json', 50, Buffer.from('{"level":30}')],
      ['bytes', 42, Buffer.from([0, 1, 255])],
      ['cbor', 60, Buffer.from([0xa1, 0x61, 0x78, 0x01])], // {"x": 1}
    ];
    for (const [ep, ct, body] of formats) {
      const { device, base } = await startDevice((d) =>
        d.route('ANY', '/lamp', (ex) => {
          received.push({ ep, payload: ex.request.payload.toString(), accept: ex.request.options['Accept'] });
          ex.respond({ code: '2.04', payload: body, contentFormat: ct });
        }),
      );
      devices.push(device);
      directory.add(ep, base, { d: 'hall' });
    }
    mute = createSocket('udp4');
    await new Promise<void>((r) => mute.bind(0, '127.0.0.1', () => r()));
    directory.add('mute', `coap://127.0.0.1:${mute.address().port}`);
    gw = await startProxy(() => directory, {
      upstreamTimeoutMs: 300,
      maxGroupSize: 4,
      groups: [
        { name: 'hall', members: ['sector:hall'] },
        { name: 'mixed', members: ['text', 'mute', 'ghost'] },
        { name: 'everything', members: ['sector:hall', 'mute'] },
      ],
    });
  });
  after(async () => {
    await gw.stop();
    for (const d of devices) await d.stop();
    mute.close();
  });

  test('a PUT reaches every member; the summary (JSON) decodes text and JSON, base64 for other bytes', async () => {
    received.length = 0;
    const res = await coapCall({ port: gw.port, method: 'PUT', pathname: '/grp/hall/lamp', payload: 'dim 30' });
    assert.equal(res.code, '2.05');
    assert.equal(res.headers['Content-Format'], 'application/json');
    const summary = JSON.parse(res.payload.toString()) as { group: string; results: Array<Record<string, unknown>> };
    assert.equal(summary.group, 'hall');
    const byEp = Object.fromEntries(summary.results.map((r) => [r.ep, r]));
    assert.deepEqual(byEp.text, { ep: 'text', d: 'hall', code: '2.04', ct: 0, payload: 'on' });
    assert.deepEqual(byEp.json, { ep: 'json', d: 'hall', code: '2.04', ct: 50, payload: { level: 30 } });
    assert.deepEqual(byEp.bytes, { ep: 'bytes', d: 'hall', code: '2.04', ct: 42, payloadBase64: 'AAH/' });
    assert.deepEqual(byEp.cbor, { ep: 'cbor', d: 'hall', code: '2.04', ct: 60, payloadBase64: 'oWF4AQ==' });
    assert.deepEqual(received.map((r) => r.payload), ['dim 30', 'dim 30', 'dim 30', 'dim 30']);
  });

  test('Accept: 60 gives a CBOR summary (bytes as byte strings, CBOR decoded); Accept is not forwarded', async () => {
    received.length = 0;
    const res = await coapCall({ port: gw.port, pathname: '/grp/hall/lamp', options: { Accept: 'application/cbor' } });
    assert.equal(res.headers['Content-Format'], 'application/cbor');
    const summary = cborDecode(res.payload) as { results: Array<{ ep: string; payload: unknown }> };
    const byEp = Object.fromEntries(summary.results.map((r) => [r.ep, r.payload]));
    assert.ok(Buffer.from(byEp.bytes as Uint8Array).equals(Buffer.from([0, 1, 255])));
    assert.deepEqual(byEp.cbor, { x: 1 });
    assert.ok(received.every((r) => r.accept === undefined));
    assert.equal((await coapCall({ port: gw.port, pathname: '/grp/hall/lamp', options: { Accept: 'text/plain' } })).code, '4.06');
  });

  test('a silent member is 5.04 in the summary, an unregistered one 4.04; the others answer', async () => {
    const res = await coapCall({ port: gw.port, method: 'POST', pathname: '/grp/mixed/lamp' });
    const summary = JSON.parse(res.payload.toString()) as { results: Array<{ ep: string; code: string }> };
    assert.deepEqual(summary.results.map((r) => `${r.ep} ${r.code}`), ['text 2.04', 'mute 5.04', 'ghost 4.04']);
  });

  test('unknown group is 4.04; a group larger than the limit is 5.03', async () => {
    assert.equal((await coapCall({ port: gw.port, pathname: '/grp/nope/lamp' })).code, '4.04');
    const tooBig = await coapCall({ port: gw.port, pathname: '/grp/everything/lamp' });
    assert.equal(tooBig.code, '5.03');
    assert.match(tooBig.payload.toString(), /5 members, more than the 4 allowed/);
    assert.equal(gw.proxy.stats().pending, 0);
  });
});
