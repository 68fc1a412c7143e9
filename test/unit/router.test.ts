import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Router, RouteConflictError } from '../../lib/coap/router';

test('exact, parameter and wildcard routes', () => {
  const r = new Router<string>();
  r.add('GET', '/sensors/:id', 'param');
  r.add('GET', '/sensors/all', 'exact');
  r.add('ANY', '/files/*', 'rest');
  assert.deepEqual(r.match('GET', ['sensors', 'all']), { kind: 'found', value: 'exact', params: {} });
  assert.deepEqual(r.match('GET', ['sensors', '7']), { kind: 'found', value: 'param', params: { id: '7' } });
  assert.deepEqual(r.match('PUT', ['files', 'a', 'b']), { kind: 'found', value: 'rest', params: { '*': 'a/b' } });
  assert.deepEqual(r.match('GET', ['sensors']), { kind: 'not-found' });
  assert.deepEqual(r.match('GET', ['sensors', '7', 'x']), { kind: 'not-found' });
  assert.deepEqual(r.match('POST', ['sensors', '7']), { kind: 'method-not-allowed' });
});

test('two routes for the same method and path conflict; removal frees the path', () => {
  const r = new Router<string>();
  const remove = r.add('GET', '/hello', 'a');
  assert.throws(() => r.add('GET', 'hello', 'b'), RouteConflictError);
  assert.throws(() => r.add('ANY', '/hello', 'b'), RouteConflictError);
  r.add('POST', '/hello', 'c');
  remove();
  r.add('GET', '/hello', 'd');
  assert.deepEqual(r.match('GET', ['hello']), { kind: 'found', value: 'd', params: {} });
});
