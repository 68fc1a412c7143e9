import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { gatewayLinks } from '../../lib/coap/cloud-link/local-links';
import type { RegisteredEndpoint } from '../../lib/coap/rd/directory';
import type { Link } from '../../lib/coap/link-format';

const ep = (name: string, links: Link[]): RegisteredEndpoint => ({ id: name, ep: name, base: 'coap://192.0.2.5:5683', lt: 60, expiresAt: 0, links, source: { address: '192.0.2.5', port: 5683 } });

describe('links the gateway registers upstream', () => {
  test("each device's resources under /ep/<name>/, anchors dropped, absolute hrefs left out", () => {
    const { links, shortened } = gatewayLinks(
      [
        ep('lamp', [{ href: '/light', attributes: { rt: 'light', anchor: 'coap://192.0.2.5' } }, { href: 'coap://elsewhere/x' }]),
        ep('bare', []),
        ep('a b', [{ href: '/s' }]),
      ],
      [],
      1024,
    );
    assert.deepEqual(links, [{ href: '/ep/lamp/light', attributes: { rt: 'light' } }, { href: '/ep/bare' }, { href: '/ep/a%20b/s' }]);
    assert.equal(shortened, 0);
  });

  test('too many for one datagram: one link per device, as many as fit', () => {
    const devices = Array.from({ length: 80 }, (_, i) => ep(`device-${i}`, [{ href: '/a/long/resource/path', attributes: { rt: 'temperature' } }]));
    const { links, shortened } = gatewayLinks(devices, [], 1024);
    assert.ok(links.every((l) => /^\/ep\/device-\d+$/.test(l.href)));
    assert.ok(links.length > 0 && links.length < 80);
    assert.equal(shortened, 80);
  });
});
