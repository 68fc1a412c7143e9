/** The device registry file: atomic, complete after kill -9, bounded, and never fatal when unreadable. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeviceRegistry } from '../../lib/provisioning/registry';
import { Provisioner } from '../../lib/provisioning/provisioner';
import { DEFAULT_SHARING } from '../../lib/sharing/choices';

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'provisioning-registry-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('kill -9: the file parses and holds every change that was acknowledged', async (t) => {
  const file = join(tempDir(t), 'devices.json');
  for (let round = 0; round < 3; round++) {
    const killAfter = 30 + Math.floor(Math.random() * 200);
    const child = spawn(process.execPath, ['--import', 'tsx', join(__dirname, '..', 'support', 'provisioning-registry-child.ts'), file], { stdio: ['ignore', 'pipe', 'inherit'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => {
      output += d.toString();
      if ((output.match(/^ack /gm)?.length ?? 0) >= killAfter && child.exitCode === null && !child.killed) child.kill('SIGKILL');
    });
    const signal = await new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, s) => resolve(s)));
    assert.equal(signal, 'SIGKILL', `round ${round}: the child was killed, not finished:\n${output.slice(-500)}`);
    const acked = [...output.matchAll(/^ack (\d+)$/gm)].map((m) => Number(m[1]));
    assert.ok(acked.length >= killAfter);
    JSON.parse(readFileSync(file, 'utf8')); // parses: never half a file
    const registry = new DeviceRegistry(file);
    assert.equal(registry.loadProblem, undefined);
    const claimed = new Set(registry.claims().map((c) => c.id));
    const noticed = new Set(registry.notices(1000).map((n) => n.deviceId));
    for (const n of acked) {
      assert.ok(claimed.has(`dev-${n}`), `round ${round}: acknowledged claim dev-${n} lost`);
      assert.equal(registry.claim(`dev-${n}`)?.label, `device ${n}`);
    }
    // Notices are bounded (the newest 200); the newest acknowledged ones are all there.
    for (const n of acked.slice(-50)) assert.ok(noticed.has(`stray-${n}`), `round ${round}: acknowledged notice stray-${n} lost`);
  }
  // Loading cleared what killed writers left behind.
  assert.deepEqual(readdirSync(join(file, '..')).filter((f) => f.endsWith('.tmp')), []);
});

test('a registry survives a restart: claims, devices with sharing choices, notices newest first', async (t) => {
  const file = join(tempDir(t), 'devices.json');
  const p = new Provisioner(new DeviceRegistry(file), { noticeQuietSeconds: 0 });
  await p.claim('dev-a', 'dashboard', 'porch');
  await p.handle('provisioning/dev-a/hello', Buffer.from(JSON.stringify({ id: 'dev-a', firmware: '1.2', behaviours: ['switch', 'switch'] })));
  const sharing = { ...DEFAULT_SHARING, vendor: { mode: 'summary' as const, windowMinutes: 15 } };
  await p.setSharing('dev-a', sharing);
  await p.report('unclaimed', 'x-1', 'first');
  await p.report('unclaimed', 'x-2', 'second');
  const again = new Provisioner(new DeviceRegistry(file));
  assert.deepEqual(again.claims().map((c) => [c.id, c.label, c.source]), [['dev-a', 'porch', 'dashboard']]);
  const dev = again.device('dev-a');
  assert.equal(dev?.state, 'provisioned');
  assert.equal(dev?.online, false, 'nobody is online right after a restart');
  assert.deepEqual(dev?.behaviours, ['switch']);
  assert.deepEqual(dev?.sharing, sharing);
  assert.deepEqual(again.notices().map((n) => n.deviceId), ['x-2', 'x-1']);
  assert.deepEqual(again.notices(1).map((n) => n.deviceId), ['x-2']);
});

test('notices are bounded, and the same notice is raised once per quiet time', async (t) => {
  const file = join(tempDir(t), 'devices.json');
  let now = Date.parse('2026-01-01T00:00:00Z');
  const p = new Provisioner(new DeviceRegistry(file, 5), { noticeQuietSeconds: 60, now: () => new Date(now) });
  const raised: string[] = [];
  p.on('notice', (n) => raised.push(n.deviceId));
  for (let i = 0; i < 8; i++) await p.report('unclaimed', `d-${i}`, 'x');
  await p.report('unclaimed', 'd-7', 'again at once');
  now += 61_000;
  await p.report('unclaimed', 'd-7', 'again later');
  assert.equal(raised.length, 9);
  assert.equal(p.notices().length, 5);
  assert.equal(p.notices()[0]?.reason, 'again later');
});

test('loading removes temporary files of a writer killed mid-write', (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, '.devices.json.123.abcd.tmp'), '{"half');
  writeFileSync(join(dir, 'other.json.tmp'), 'not ours');
  new DeviceRegistry(join(dir, 'devices.json'));
  assert.deepEqual(readdirSync(dir).sort(), ['other.json.tmp']);
});

test('notices in all are limited per minute, so invented certificate names cannot flood the owner', async () => {
  let now = Date.parse('2026-01-01T00:00:00Z');
  const suppressed: number[] = [];
  const p = new Provisioner(new DeviceRegistry(undefined), { maxNoticesPerMinute: 3, now: () => new Date(now), onNoticesSuppressed: (n) => suppressed.push(n) });
  const raised: string[] = [];
  p.on('notice', (n) => raised.push(n.deviceId));
  for (let i = 0; i < 10; i++) await p.report('identity-mismatch', `fake-${i}`, 'untrusted');
  assert.deepEqual(raised, ['fake-0', 'fake-1', 'fake-2']);
  now += 60_000;
  await p.report('unclaimed', 'real-1', 'a real one, a minute later');
  assert.deepEqual(raised.at(-1), 'real-1');
  assert.deepEqual(suppressed, [7]);
});

test('an unreadable file is moved aside and the registry starts empty', (t) => {
  const file = join(tempDir(t), 'devices.json');
  writeFileSync(file, '{"version": 1, "claims": [');
  const registry = new DeviceRegistry(file);
  assert.ok(registry.loadProblem);
  assert.ok(existsSync(registry.loadProblem.movedAside));
  assert.equal(existsSync(file), false);
  assert.deepEqual(registry.claims(), []);
});

test('claim refuses what is not a device ID; setSharing and deprovision refuse unknown devices', async () => {
  const p = new Provisioner(new DeviceRegistry(undefined));
  for (const bad of ['', 'a/b', '+', '#', '$SYS', 'x'.repeat(65), 'with space']) await assert.rejects(p.claim(bad, 'flow'), /not a device ID/);
  await assert.rejects(p.setSharing('nobody', DEFAULT_SHARING), /no device/);
  await assert.rejects(p.deprovision('nobody'), /no device/);
});

test('heartbeats keep a device online in memory; three missed heartbeats mark it offline', async (t) => {
  const file = join(tempDir(t), 'devices.json');
  let now = Date.parse('2026-01-01T00:00:00Z');
  const p = new Provisioner(new DeviceRegistry(file), { heartbeatSeconds: 10, now: () => new Date(now) });
  await p.claim('hb-1', 'flow');
  await p.handle('provisioning/hb-1/hello', Buffer.from(JSON.stringify({ id: 'hb-1', firmware: '1' })));
  now += 25_000;
  await p.handle('devices/hb-1/status', Buffer.from('online'));
  assert.equal(p.device('hb-1')?.lastSeen, new Date(now).toISOString());
  assert.equal(await p.sweep(), 0);
  now += 29_000;
  assert.equal(await p.sweep(), 0, 'not yet three heartbeats');
  now += 2_000;
  assert.equal(await p.sweep(), 1);
  assert.equal(p.device('hb-1')?.online, false);
  assert.equal(new DeviceRegistry(file).device('hb-1')?.state, 'provisioned', 'the offline change was written');
  await p.handle('devices/hb-1/status', Buffer.from('online'));
  assert.equal(p.device('hb-1')?.online, true);
  await p.handle('devices/unknown-1/status', Buffer.from('online'));
  assert.equal(p.device('unknown-1'), undefined, 'status of a device that is not provisioned is ignored');
});
