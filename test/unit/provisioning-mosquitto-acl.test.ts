/** The mosquitto ACL file the gateway keeps for revocation. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MosquittoAcl, renderMosquittoAcl } from '../../lib/provisioning/mosquitto-acl';

test('the ACL: gateway user, one deny block per revoked device (sorted, deduplicated, valid IDs only), then the patterns', () => {
  assert.equal(
    renderMosquittoAcl('gw', ['b-2', 'a-1', 'b-2', 'bad/id', '#']),
    [
      '# Written by the edge gateway (device-provisioning); edits are overwritten.',
      'user gw',
      'topic readwrite #',
      '',
      'user a-1',
      'topic deny devices/a-1/#',
      '',
      'user b-2',
      'topic deny devices/b-2/#',
      '',
      'pattern readwrite provisioning/%u/#',
      'pattern readwrite devices/%u/#',
      '',
    ].join('\n'),
  );
});

test('writes and signals only when the revoked set changes; a bad pid file is an error', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mosquitto-acl-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const pidFile = join(dir, 'm.pid');
  writeFileSync(pidFile, '4242\n');
  const signalled: number[] = [];
  const acl = new MosquittoAcl({ aclFile: join(dir, 'acl'), pidFile, gatewayUser: 'gw', signal: (pid) => signalled.push(pid) });
  await acl.update([]);
  await acl.update([]);
  await acl.update(['x-1']);
  assert.deepEqual(signalled, [4242, 4242]);
  assert.match(readFileSync(join(dir, 'acl'), 'utf8'), /^user x-1$/m);
  writeFileSync(pidFile, 'nonsense');
  await assert.rejects(acl.update(['x-1', 'x-2']), /holds no process id/);
});
