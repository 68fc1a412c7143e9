import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { ResourceDirectory } from '../../lib/coap/rd/registry';
import { RdError } from '../../lib/coap/rd/rd-error';
import { parseLinks, serialiseLinks } from '../../lib/coap/link-format';

function directory(): ResourceDirectory {
  let n = 0;
  const rd = new ResourceDirectory({ clock: () => 1_700_000_000_000, newId: () => String(++n) });
  // The payload of RFC 6690 §5's sixth example, as in RFC 9176 §6.3's multi-endpoint lookup.
  const payload = parseLinks(
    '</sensors>;ct=40;title="Sensor Index",</sensors/temp>;rt="temperature-c";if="sensor",' +
      '</sensors/light>;rt="light-lux";if="sensor",<http://www.example.com/sensors/t123>;anchor="/sensors/temp";rel="describedby",' +
      '</t>;anchor="/sensors/temp";rel="alternate"',
  );
  const et = 'et=tag:example.com,2020:platform';
  rd.register({ query: ['ep=sensor1', et, 'base=coap://sensor1.example.com'], links: payload, source: { address: '192.0.2.1', port: 5683 } });
  rd.register({ query: ['ep=sensor2', et, 'base=coap://sensor2.example.com'], links: payload, source: { address: '192.0.2.2', port: 5683 } });
  rd.register({ query: ['ep=lamp', 'd=floor-3'], links: parseLinks('</light>;rt="light-lux";if="actuator"'), source: { address: '2001:db8::7', port: 61616 } });
  return rd;
}

describe('resource lookup (RFC 9176 §6.1)', () => {
  test('resolves targets and anchors against base; absolute targets stay', () => {
    const text = serialiseLinks(directory().lookupResources(['ep=sensor1']));
    assert.equal(
      text,
      '<coap://sensor1.example.com/sensors>;ct=40;title="Sensor Index";anchor="coap://sensor1.example.com",' +
        '<coap://sensor1.example.com/sensors/temp>;rt="temperature-c";if="sensor";anchor="coap://sensor1.example.com",' +
        '<coap://sensor1.example.com/sensors/light>;rt="light-lux";if="sensor";anchor="coap://sensor1.example.com",' +
        '<http://www.example.com/sensors/t123>;rel=describedby;anchor="coap://sensor1.example.com/sensors/temp",' +
        '<coap://sensor1.example.com/t>;rel=alternate;anchor="coap://sensor1.example.com/sensors/temp"',
    );
  });

  test('filters on link attributes, with prefix match, and on endpoint attributes', () => {
    const rd = directory();
    const hrefs = (q: string[]) => rd.lookupResources(q).map((l) => l.href);
    assert.deepEqual(hrefs(['rt=light-lux']), ['coap://sensor1.example.com/sensors/light', 'coap://sensor2.example.com/sensors/light', 'coap://[2001:db8::7]:61616/light']);
    assert.deepEqual(hrefs(['rt=light-lux', 'if=actuator']), ['coap://[2001:db8::7]:61616/light']);
    assert.deepEqual(hrefs(['rt=temp*']), ['coap://sensor1.example.com/sensors/temp', 'coap://sensor2.example.com/sensors/temp']);
    assert.deepEqual(hrefs(['d=floor-3']), ['coap://[2001:db8::7]:61616/light']);
    assert.equal(hrefs(['et=tag:example.com,2020:platform']).length, 10);
    assert.deepEqual(hrefs(['href=coap://sensor2.example.com/t']), ['coap://sensor2.example.com/t']);
    assert.deepEqual(hrefs(['anchor=coap://sensor1.example.com/sensors/temp', 'rel=alternate']), ['coap://sensor1.example.com/t']);
    assert.equal(hrefs(['href=/rd/3']).length, 1, 'href also matches the registration resource');
    assert.deepEqual(hrefs(['rt=nothing']), []);
  });

  test('pages with count and page; page without count is 4.00', () => {
    const rd = directory();
    const all = rd.lookupResources([]);
    assert.equal(all.length, 11);
    assert.deepEqual(rd.lookupResources(['count=4']), all.slice(0, 4));
    assert.deepEqual(rd.lookupResources(['page=1', 'count=4']), all.slice(4, 8));
    assert.deepEqual(rd.lookupResources(['page=2', 'count=4']), all.slice(8, 11));
    assert.deepEqual(rd.lookupResources(['page=9', 'count=4']), []);
    for (const q of [['page=1'], ['count=-1'], ['count=x'], ['count=1', 'count=2'], ['page=1.5', 'count=1']]) {
      assert.throws(() => rd.lookupResources(q), (e: unknown) => e instanceof RdError && e.code === '4.00', q.join('&'));
    }
  });
});

describe('endpoint lookup (RFC 9176 §6.3)', () => {
  test('lists registration resources with base, ep, d, attributes and rt=core.rd-ep', () => {
    const text = serialiseLinks(directory().lookupEndpoints(['d=floor-3']));
    assert.equal(text, '</rd/3>;base=coap://[2001:db8::7]:61616;ep=lamp;d=floor-3;rt="core.rd-ep"');
  });

  test('filters on endpoint attributes, and on its resources', () => {
    const rd = directory();
    const eps = (q: string[]) => rd.lookupEndpoints(q).map((l) => (l.attributes as Record<string, string>).ep);
    assert.deepEqual(eps([]), ['sensor1', 'sensor2', 'lamp']);
    assert.deepEqual(eps(['et=tag:example.com,2020:platform']), ['sensor1', 'sensor2']);
    assert.deepEqual(eps(['ep=sensor*']), ['sensor1', 'sensor2']);
    assert.deepEqual(eps(['if=actuator']), ['lamp']);
    assert.deepEqual(eps(['rt=core.rd-ep', 'base=coap://sensor2.example.com']), ['sensor2']);
    assert.deepEqual(eps(['href=/rd/1']), ['sensor1']);
    assert.deepEqual(eps(['count=1', 'page=1']), ['sensor2']);
    assert.deepEqual(eps(['ep=none']), []);
  });
});
