import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { generate, parse } from 'coap-packet';
import { CoapEndpoint } from '../../lib/coap/endpoint';
import { ResourceDirectory } from '../../lib/coap/rd/registry';
import { RdService } from '../../lib/coap/rd/rd-service';
import { FetchError, type FetchCore } from '../../lib/coap/rd/fetch-core';
import type { RdLimits } from '../../lib/coap/rd/limits';
import { coapCall } from '../support/coap-client';

interface Harness {
  port: number;
  rd: ResourceDirectory;
  service: RdService;
  advance(ms: number): void;
  fireTimer(): number | undefined;
  close(): Promise<void>;
}

async function harness(limits: Partial<RdLimits> = {}, fetchCore?: FetchCore): Promise<Harness> {
  let now = 1_700_000_000_000;
  let timer: { callback: () => void; delay: number } | undefined;
  const endpoint = new CoapEndpoint({ address: '127.0.0.1', port: 0 });
  const rd = new ResourceDirectory({ clock: () => now, limits });
  const service = new RdService(endpoint, rd, {
    fetchCore,
    setTimer: (callback, delay) => {
      const t = { callback, delay };
      timer = t;
      return () => {
        if (timer === t) timer = undefined;
      };
    },
  });
  service.start();
  const { port } = await endpoint.start();
  return {
    port,
    rd,
    service,
    advance: (ms) => (now += ms),
    fireTimer: () => {
      const t = timer;
      timer = undefined;
      t?.callback();
      return t?.delay;
    },
    close: async () => {
      service.stop();
      await endpoint.stop();
    },
  };
}

const LF = { 'Content-Format': 'application/link-format' };

/** One POST over a raw socket, to see every Location-Path option (the shared client keeps the last). */
function rawPost(port: number, path: string[], query: string[], body: string): Promise<{ code: string; locationPath: string[] }> {
  return new Promise((resolve, reject) => {
    const sock = createSocket('udp4');
    const timer = setTimeout(() => {
      sock.close();
      reject(new Error('no answer'));
    }, 5000);
    sock.on('message', (msg) => {
      const packet = parse(msg);
      clearTimeout(timer);
      sock.close();
      resolve({ code: packet.code, locationPath: packet.options.filter((o) => o.name === 'Location-Path').map((o) => o.value.toString()) });
    });
    const options = [
      ...path.map((p) => ({ name: 'Uri-Path' as const, value: Buffer.from(p) })),
      { name: 'Content-Format' as const, value: Buffer.from([40]) },
      ...query.map((q) => ({ name: 'Uri-Query' as const, value: Buffer.from(q) })),
    ];
    sock.send(generate({ messageId: 7, token: Buffer.from([9, 9]), confirmable: true, code: '0.02', options, payload: Buffer.from(body) }), port, '127.0.0.1');
  });
}

describe('RD over CoAP', () => {
  let h: Harness;
  before(async () => {
    h = await harness({ maxBodyBytes: 200 });
  });
  after(() => h.close());

  test('registration answers 2.01 with Location-Path rd/<id>; re-registration the same location', async () => {
    const res = await coapCall({ port: h.port, method: 'POST', pathname: '/rd', query: 'ep=node1&lt=120', payload: '</sensors/temp>;rt="temperature"', options: LF });
    assert.equal(res.code, '2.01');
    const reg = h.rd.endpoint('node1');
    assert.ok(reg);
    assert.equal(reg.lt, 120);
    assert.match(reg.base, /^coap:\/\/127\.0\.0\.1:\d+$/);
    const again = await rawPost(h.port, ['rd'], ['ep=node1'], '</a>');
    assert.equal(again.code, '2.01');
    assert.deepEqual(again.locationPath, ['rd', reg.id]);
    assert.deepEqual(h.rd.endpoint('node1')?.links, [{ href: '/a' }]);
  });

  test('a body without Content-Format is taken as link-format; an empty body registers no links', async () => {
    assert.equal((await coapCall({ port: h.port, method: 'POST', pathname: '/rd', query: 'ep=nocf', payload: '</x>' })).code, '2.01');
    assert.equal((await coapCall({ port: h.port, method: 'POST', pathname: '/rd', query: 'ep=empty' })).code, '2.01');
    assert.deepEqual(h.rd.endpoint('empty')?.links, []);
  });

  test('bad registrations get the right error and change nothing', async () => {
    const before = h.rd.endpoints().length;
    const post = (query: string, payload: string, options: Record<string, string> = LF) =>
      coapCall({ port: h.port, method: 'POST', pathname: '/rd', query, payload, options }).then((r) => r.code);
    assert.equal(await post('ep=x', '{"a":1}', { 'Content-Format': 'application/json' }), '4.15');
    assert.equal(await post('ep=x', '</a>;;garbage'), '4.00');
    assert.equal(await post('lt=100', '</a>'), '4.00');
    assert.equal(await post('ep=x&lt=0', '</a>'), '4.00');
    const big = await coapCall({ port: h.port, method: 'POST', pathname: '/rd', query: 'ep=x', payload: `</${'a'.repeat(300)}>`, options: LF });
    assert.equal(big.code, '4.13');
    assert.equal(big.options.Size1, 200);
    assert.equal(h.rd.endpoints().length, before);
  });

  test('update, read, delete; unknown ids are 4.04', async () => {
    await coapCall({ port: h.port, method: 'POST', pathname: '/rd', query: 'ep=upd&lt=100', payload: '</a>', options: LF });
    const id = h.rd.endpoint('upd')?.id as string;
    assert.equal((await coapCall({ port: h.port, method: 'POST', pathname: `/rd/${id}`, query: 'lt=300' })).code, '2.04');
    assert.equal(h.rd.endpoint('upd')?.lt, 300);
    assert.deepEqual(h.rd.endpoint('upd')?.links, [{ href: '/a' }], 'empty body keeps the links');
    assert.equal((await coapCall({ port: h.port, method: 'POST', pathname: `/rd/${id}`, payload: '</b>;rt="x"', options: LF })).code, '2.04');
    const read = await coapCall({ port: h.port, method: 'GET', pathname: `/rd/${id}` });
    assert.equal(read.code, '2.05');
    assert.equal(read.headers['Content-Format'], 'application/link-format');
    assert.equal(read.payload.toString(), '</b>;rt="x"');
    assert.equal((await coapCall({ port: h.port, method: 'DELETE', pathname: `/rd/${id}` })).code, '2.02');
    assert.equal((await coapCall({ port: h.port, method: 'DELETE', pathname: `/rd/${id}` })).code, '4.04');
    assert.equal((await coapCall({ port: h.port, method: 'POST', pathname: `/rd/${id}` })).code, '4.04');
    assert.equal((await coapCall({ port: h.port, method: 'GET', pathname: `/rd/${id}` })).code, '4.04');
    assert.equal((await coapCall({ port: h.port, method: 'GET', pathname: '/rd' })).code, '4.05');
  });

  test('lookup: link-format, empty 2.05 for no match, 4.06 for another Accept, 4.00 for bad paging', async () => {
    const res = await coapCall({ port: h.port, method: 'GET', pathname: '/rd-lookup/res', query: 'rt=temperature' });
    assert.equal(res.code, '2.05');
    assert.equal(res.headers['Content-Format'], 'application/link-format');
    assert.equal(res.payload.toString(), '');
    await coapCall({ port: h.port, method: 'POST', pathname: '/rd', query: 'ep=therm', payload: '</t>;rt="temperature"', options: LF });
    const hit = await coapCall({ port: h.port, method: 'GET', pathname: '/rd-lookup/res', query: 'rt=temperature' });
    assert.match(hit.payload.toString(), /^<coap:\/\/127\.0\.0\.1:\d+\/t>;rt="temperature";anchor="coap:\/\/127\.0\.0\.1:\d+"$/);
    const eps = await coapCall({ port: h.port, method: 'GET', pathname: '/rd-lookup/ep', query: 'ep=therm' });
    assert.match(eps.payload.toString(), /^<\/rd\/[0-9a-f]+>;base=coap:\/\/127\.0\.0\.1:\d+;ep=therm;rt="core\.rd-ep"$/);
    assert.equal((await coapCall({ port: h.port, pathname: '/rd-lookup/ep', options: { Accept: 'application/json' } })).code, '4.06');
    assert.equal((await coapCall({ port: h.port, pathname: '/rd-lookup/ep', query: 'page=2' })).code, '4.00');
  });

  test('discovery: /.well-known/core?rt=core.rd* lists the three RD resources', async () => {
    const res = await coapCall({ port: h.port, pathname: '/.well-known/core', query: 'rt=core.rd*' });
    assert.equal(res.code, '2.05');
    assert.equal(
      res.payload.toString(),
      '</rd>;rt="core.rd";ct=40,</rd-lookup/ep>;rt="core.rd-lookup-ep";ct=40,</rd-lookup/res>;rt="core.rd-lookup-res";ct=40',
    );
  });
});

describe('limits over CoAP', () => {
  test('per-source rate: 4.29 with Max-Age', async () => {
    const h = await harness({ maxRegistrationsPerSourcePerMinute: 2 });
    try {
      for (const ep of ['a', 'b']) assert.equal((await coapCall({ port: h.port, method: 'POST', pathname: '/rd', query: `ep=${ep}` })).code, '2.01');
      const res = await coapCall({ port: h.port, method: 'POST', pathname: '/rd', query: 'ep=c' });
      assert.equal(res.code, '4.29');
      assert.equal(res.options['Max-Age'], 60);
      h.advance(60_000);
      assert.equal((await coapCall({ port: h.port, method: 'POST', pathname: '/rd', query: 'ep=c' })).code, '2.01');
    } finally {
      await h.close();
    }
  });

  test('full directory: 5.03 with Max-Age; too many links: 4.13', async () => {
    const h = await harness({ maxRegistrations: 1, maxLinks: 2 });
    try {
      assert.equal((await coapCall({ port: h.port, method: 'POST', pathname: '/rd', query: 'ep=a&lt=100' })).code, '2.01');
      const res = await coapCall({ port: h.port, method: 'POST', pathname: '/rd', query: 'ep=b' });
      assert.equal(res.code, '5.03');
      assert.equal(res.options['Max-Age'], 100);
      assert.equal((await coapCall({ port: h.port, method: 'POST', pathname: '/rd', query: 'ep=a', payload: '</1>,</2>,</3>', options: LF })).code, '4.13');
    } finally {
      await h.close();
    }
  });
});

describe('expiry', () => {
  test('the service sweeps when the next lifetime runs out, and re-arms', async () => {
    const h = await harness();
    const removed: string[] = [];
    h.rd.on('removed', (r, why) => removed.push(`${r.ep}:${why}`));
    try {
      await coapCall({ port: h.port, method: 'POST', pathname: '/rd', query: 'ep=a&lt=60' });
      await coapCall({ port: h.port, method: 'POST', pathname: '/rd', query: 'ep=b&lt=90' });
      h.advance(60_000);
      assert.equal(h.fireTimer(), 60_000);
      assert.deepEqual(removed, ['a:expired']);
      h.advance(30_000);
      assert.equal(h.fireTimer(), 30_000);
      assert.deepEqual(removed, ['a:expired', 'b:expired']);
      assert.equal(h.fireTimer(), undefined, 'nothing left to expire: no timer');
    } finally {
      await h.close();
    }
  });
});

describe('simple registration (RFC 9176 §5.1)', () => {
  /** A registrant on one socket: sends POST /.well-known/rd, serves GET /.well-known/core. */
  function simpleRegistrant(port: number, query: string[], core: string): Promise<{ code: string; sock: Socket; gotGet: boolean }> {
    return new Promise((resolve, reject) => {
      const sock = createSocket('udp4');
      let gotGet = false;
      const timer = setTimeout(() => reject(new Error('no answer to the simple registration')), 10_000);
      sock.on('message', (msg, rinfo) => {
        const packet = parse(msg);
        if (packet.code === '0.01') {
          gotGet = packet.options.some((o) => o.name === 'Uri-Path' && o.value.toString() === 'core');
          const reply = generate({
            messageId: packet.messageId,
            token: packet.token,
            ack: packet.confirmable,
            code: '2.05',
            options: [{ name: 'Content-Format', value: Buffer.from([40]) }],
            payload: Buffer.from(core),
          });
          sock.send(reply, rinfo.port, rinfo.address);
          return;
        }
        if (packet.code === '0.00') return; // empty ACK: the answer comes separately
        if (packet.confirmable) sock.send(generate({ messageId: packet.messageId, code: '0.00', ack: true }), rinfo.port, rinfo.address);
        clearTimeout(timer);
        resolve({ code: packet.code, sock, gotGet });
      });
      sock.bind(0, '127.0.0.1', () => {
        const options = [
          { name: 'Uri-Path', value: Buffer.from('.well-known') },
          { name: 'Uri-Path', value: Buffer.from('rd') },
          ...query.map((q) => ({ name: 'Uri-Query', value: Buffer.from(q) })),
        ];
        sock.send(generate({ messageId: 4242, token: Buffer.from([1, 2, 3, 4]), confirmable: true, code: '0.02', options }), port, '127.0.0.1');
      });
    });
  }

  test('the RD fetches the registrant\'s /.well-known/core, registers it, then answers 2.04', async () => {
    const h = await harness();
    try {
      const { code, sock, gotGet } = await simpleRegistrant(h.port, ['ep=simple1', 'lt=600'], '</s/temp>;rt="temperature",</s/hum>');
      const registrantPort = sock.address().port;
      sock.close();
      assert.equal(code, '2.04');
      assert.equal(gotGet, true);
      const reg = h.rd.endpoint('simple1');
      assert.ok(reg);
      assert.equal(reg.simple, true);
      assert.equal(reg.lt, 600);
      assert.equal(reg.base, `coap://127.0.0.1:${registrantPort}`);
      assert.deepEqual(reg.links, [{ href: '/s/temp', attributes: { rt: 'temperature' } }, { href: '/s/hum' }]);
    } finally {
      await h.close();
    }
  });

  test('garbage from the registrant is 5.02; no answer is 5.04; a body or base is 4.00; both are reported', async () => {
    const answers: Array<Buffer | Error> = [Buffer.from('<<<garbage'), new FetchError('5.04', 'no answer')];
    const h = await harness({}, async () => {
      const next = answers.shift() as Buffer | Error;
      if (next instanceof Error) throw next;
      return next;
    });
    const failures: string[] = [];
    h.service.on('simple-registration-failed', (err) => failures.push(err.message));
    try {
      const call = (query: string, payload?: string) => coapCall({ port: h.port, method: 'POST', pathname: '/.well-known/rd', query, payload }).then((r) => r.code);
      assert.equal(await call('ep=s1'), '5.02');
      assert.equal(await call('ep=s2'), '5.04');
      assert.equal(await call('ep=s3', '</x>'), '4.00');
      assert.equal(await call('ep=s3&base=coap://x'), '4.00');
      assert.equal(await call('lt=60'), '4.00');
      assert.equal(failures.length, 2);
      assert.equal(h.rd.endpoints().length, 0);
    } finally {
      await h.close();
    }
  });

  test('simple registrations in flight are bounded: 5.03 beyond', async () => {
    let release: (b: Buffer) => void = () => undefined;
    let fetching: () => void = () => undefined;
    const started = new Promise<void>((resolve) => (fetching = resolve));
    const fetchCore: FetchCore = () =>
      new Promise<Buffer>((resolve) => {
        release = resolve;
        fetching();
      });
    const h = await harness({ maxPendingSimpleRegistrations: 1 }, fetchCore);
    try {
      const first = coapCall({ port: h.port, method: 'POST', pathname: '/.well-known/rd', query: 'ep=p1' });
      await started;
      const second = await coapCall({ port: h.port, method: 'POST', pathname: '/.well-known/rd', query: 'ep=p2' });
      assert.equal(second.code, '5.03');
      assert.equal(second.options['Max-Age'], 5);
      release(Buffer.from('</a>'));
      assert.equal((await first).code, '2.04');
      assert.deepEqual(h.rd.endpoints().map((r) => r.ep), ['p1']);
    } finally {
      await h.close();
    }
  });
});
