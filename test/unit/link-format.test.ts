import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serialiseLinks, matchesQuery, type Link } from '../../lib/coap/link-format';

test('links serialise as RFC 6690 link-format', () => {
  const links: Link[] = [
    { href: '/sensors/temp', attributes: { rt: 'temperature-c', if: 'sensor', ct: 0, obs: true } },
    { href: '/hello' },
  ];
  assert.equal(serialiseLinks(links), '</sensors/temp>;rt="temperature-c";if="sensor";ct=0;obs,</hello>');
  assert.equal(serialiseLinks([{ href: '/x', attributes: { title: 'a "b"' } }]), '</x>;title="a \\"b\\""');
});

test('query filtering per RFC 6690 §4.1, with prefix match', () => {
  const link: Link = { href: '/rd', attributes: { rt: 'core.rd core.rd-lookup-ep', ct: 40 } };
  assert.equal(matchesQuery(link, 'rt', 'core.rd'), true);
  assert.equal(matchesQuery(link, 'rt', 'core.rd*'), true);
  assert.equal(matchesQuery(link, 'rt', 'core.rd-lookup-res'), false);
  assert.equal(matchesQuery(link, 'ct', '40'), true);
  assert.equal(matchesQuery(link, 'href', '/r*'), true);
  assert.equal(matchesQuery(link, 'if', 'x'), false);
});
