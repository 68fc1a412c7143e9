import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseLinks, serialiseLinks, LinkFormatError, LinkFormatLimitError } from '../../lib/coap/link-format';

test('parses the RFC 6690 §5 examples, attributes by name', () => {
  const links = parseLinks('</sensors/temp>;rt="temperature-c";if="sensor",</sensors/light>;rt="light-lux";if="sensor";ct=0;obs');
  assert.deepEqual(links, [
    { href: '/sensors/temp', attributes: { rt: 'temperature-c', if: 'sensor' } },
    { href: '/sensors/light', attributes: { rt: 'light-lux', if: 'sensor', ct: '0', obs: true } },
  ]);
  assert.deepEqual(parseLinks('<http://www.example.com/sensors/t123>;anchor="/sensors/temp";rel="describedby"'), [
    { href: 'http://www.example.com/sensors/t123', attributes: { anchor: '/sensors/temp', rel: 'describedby' } },
  ]);
});

test('an empty document is no links; a bare link has no attributes', () => {
  assert.deepEqual(parseLinks(''), []);
  assert.deepEqual(parseLinks('  \r\n'), []);
  assert.deepEqual(parseLinks('</a>'), [{ href: '/a' }]);
});

test('tolerates whitespace around separators, as wrapped RFC examples show', () => {
  const links = parseLinks('</a>;rt="x",\n  </b>;\n    anchor="/a"; rel=alternate');
  assert.deepEqual(links, [
    { href: '/a', attributes: { rt: 'x' } },
    { href: '/b', attributes: { anchor: '/a', rel: 'alternate' } },
  ]);
});

test('quoted strings unescape, names lower-case, repeats become arrays', () => {
  const [link] = parseLinks('</x>;Title="a \\"quoted\\" \\\\ word";ct=40;ct=41;rt="a b"');
  assert.deepEqual(link, { href: '/x', attributes: { title: 'a "quoted" \\ word', ct: ['40', '41'], rt: 'a b' } });
});

test('round-trips through serialiseLinks', () => {
  const text = '</sensors/temp>;rt="temperature-c";if="sensor";ct=0;obs,</t>;anchor="/sensors/temp";rel=alternate;title="Ünïcode"';
  assert.deepEqual(parseLinks(serialiseLinks(parseLinks(text))), parseLinks(text));
});

const garbage: Array<[string, string]> = [
  ['/a', 'no angle brackets'],
  ['</a', 'unterminated target'],
  ['</a>,', 'trailing comma'],
  ['</a>,,</b>', 'empty link'],
  ['</a>;', 'empty parameter'],
  ['</a>;=x', 'no parameter name'],
  ['</a>;rt=', 'no value'],
  ['</a>;rt="unterminated', 'unterminated quote'],
  ['</a>;rt="x"y', 'junk after quoted value'],
  ['</a>;anchor=/b', 'unquoted anchor'],
  ['</a>;anchor="/b";anchor="/c"', 'two anchors'],
  ['</a>;anchor="not a uri"', 'anchor with spaces'],
  ['</a b>', 'space in target'],
  ['</a%zz>', 'bad pct-encoding'],
  ['</a>;sz=12a', 'sz not cardinal'],
  ['</a>;sz=012', 'sz with leading zero'],
  ['</a>;rt=""', 'empty relation types'],
  ['</a>;rt=" x"', 'relation types with leading space'],
  ['</a>;title="x\u0001"', 'control character'],
  ['</a> </b>', 'missing comma'],
  ['</a>;ct=4,0', 'comma inside value'],
  ['</a>;r(t=1', 'bad name character'],
  ['\u0000\u0001\u0002', 'binary'],
  ['<>>', 'stray >'],
];

for (const [text, why] of garbage) {
  test(`rejects garbage: ${why}`, () => {
    assert.throws(() => parseLinks(text), LinkFormatError);
  });
}

test('limits throw LinkFormatLimitError, a LinkFormatError', () => {
  assert.throws(() => parseLinks('</a>,</b>,</c>', { maxLinks: 2 }), LinkFormatLimitError);
  assert.doesNotThrow(() => parseLinks('</a>,</b>', { maxLinks: 2 }));
  assert.throws(() => parseLinks('</a>;a;b;c', { maxParamsPerLink: 2 }), (err: unknown) => err instanceof LinkFormatError && err instanceof LinkFormatLimitError);
});

test('the error says where reading stopped', () => {
  try {
    parseLinks('</a>;rt="x",</b>;;');
    assert.fail('should throw');
  } catch (err) {
    assert.ok(err instanceof LinkFormatError);
    assert.equal(err.offset, 17);
    assert.match(err.message, /parameter name at character 17/);
  }
});

test('random bytes never escape as anything but LinkFormatError', () => {
  let seed = 42;
  const rand = (n: number): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  const alphabet = '<>;,="\\/ abrtif*%0\t\n\u0000\u00e9';
  for (let i = 0; i < 5000; i++) {
    let text = '';
    const len = rand(40);
    for (let j = 0; j < len; j++) text += alphabet[rand(alphabet.length)];
    try {
      const links = parseLinks(text);
      assert.ok(Array.isArray(links));
    } catch (err) {
      assert.ok(err instanceof LinkFormatError, `${JSON.stringify(text)} threw ${String(err)}`);
    }
  }
});
