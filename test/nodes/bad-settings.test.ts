import { test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { helper, packageNode, coreNode, waitForStatus, collect } from '../support/flow-runtime';

afterEach(() => helper.unload());

test('a node with unusable settings shows why, and still completes the messages it gets', async () => {
  await helper.load([packageNode('coap-endpoint'), packageNode('coap-rd'), coreNode('common/24-complete')], [
    { id: 'tab', type: 'tab' },
    { id: 'ep', type: 'coap-endpoint', address: '127.0.0.1', port: 0, family: 'udp4' },
    { id: 'rd', z: 'tab', type: 'coap-rd', endpoint: 'ep', lifetime: 'forever', wires: [] },
    { id: 'cmp', z: 'tab', type: 'complete', scope: ['rd'], uncaught: false, wires: [['sink']] },
    { id: 'sink', z: 'tab', type: 'helper' },
  ]);
  const completed = collect('sink');
  const rd = helper.getNode('rd');
  await waitForStatus(rd, (s) => s.fill === 'red' && /lifetime/.test(String(s.text)));
  rd.receive({ payload: 'list', topic: 'list' } as never);
  const deadline = Date.now() + 5000;
  while (completed.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  assert.equal(completed.length, 1, 'the message was acknowledged with done()');
});
