/** Topic schema, per-device ACL, hello validation, CSV claims and certificate identities. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { PeerCertificate } from 'node:tls';
import { deviceMayUse, isValidDeviceId, parseTopic, provisioningTopic } from '../../lib/provisioning/topics';
import { MAX_HELLO_BYTES, parseHello } from '../../lib/provisioning/messages';
import { parseClaimsCsv } from '../../lib/provisioning/csv';
import { certificateIdentity, classifyCertificateError } from '../../lib/provisioning/broker/identity';
import { DeviceRegistry } from '../../lib/provisioning/registry';
import { Provisioner, type ProvisioningBus } from '../../lib/provisioning/provisioner';

test('device IDs: no MQTT separators or wildcards, no $, at most 64 characters', () => {
  for (const ok of ['a', 'lamp-1', 'AB:CD:EF:01', 'dev_1.x@home', 'x'.repeat(64)]) assert.ok(isValidDeviceId(ok), ok);
  for (const bad of ['', '/', 'a/b', '+', '#', 'a+', '$SYS', ' a', 'x'.repeat(65), 'a\u0000b', '-lead']) assert.ok(!isValidDeviceId(bad), JSON.stringify(bad));
});

test('a device may use only its own two prefixes, for topics and filters', () => {
  assert.ok(deviceMayUse('d-1', 'devices/d-1/telemetry'));
  assert.ok(deviceMayUse('d-1', 'devices/d-1/#'));
  assert.ok(deviceMayUse('d-1', provisioningTopic('d-1', 'hello')));
  for (const no of ['devices/d-10/telemetry', 'devices/d-1', 'devices/+/telemetry', 'devices/#', '#', 'provisioning/d-2/hello', '$SYS/x', 'other/d-1/x']) {
    assert.ok(!deviceMayUse('d-1', no), no);
  }
  assert.ok(!deviceMayUse('+', 'devices/+/x'), 'an identity that is a wildcard gets nothing');
  assert.deepEqual(parseTopic('provisioning/d-1/hello'), { root: 'provisioning', id: 'd-1', rest: 'hello' });
  assert.equal(parseTopic('provisioning/+/hello'), undefined);
  assert.equal(parseTopic('devices/d-1'), undefined);
});

test('hello validation answers with a reason for every kind of bad payload', () => {
  assert.deepEqual(parseHello(JSON.stringify({ id: 'd', firmware: '1', behaviours: ['switch'] })), { ok: true, hello: { id: 'd', firmware: '1', behaviours: ['switch'] } });
  const bad: Array<[string | Buffer, RegExp]> = [
    ['', /not JSON/],
    ['{', /not JSON/],
    ['null', /payload/],
    ['[]', /must be object/],
    ['{"firmware":"1"}', /id/],
    ['{"id":"d"}', /firmware/],
    ['{"id":"d","firmware":""}', /firmware/],
    ['{"id":"d","firmware":"1","behaviours":"switch"}', /behaviours/],
    [JSON.stringify({ id: 'd', firmware: '1', behaviours: Array(33).fill('x') }), /behaviours/],
    [Buffer.alloc(MAX_HELLO_BYTES + 1, 0x20), /at most/],
    [Buffer.from([0xff, 0xfe, 0x00]), /not JSON/],
  ];
  for (const [payload, reason] of bad) {
    const r = parseHello(payload);
    assert.equal(r.ok, false, String(payload).slice(0, 40));
    if (!r.ok) assert.match(r.reason, reason);
  }
});

test('random bytes on the provisioning topics are answered rejected, never thrown', async () => {
  const sent: Array<[string, string]> = [];
  const bus: ProvisioningBus = {
    subscribe: async () => undefined,
    publish: async (topic, payload) => void sent.push([topic, payload]),
    close: async () => undefined,
  };
  const p = new Provisioner(new DeviceRegistry(undefined), { noticeQuietSeconds: 0 });
  await p.attach(bus);
  await p.claim('fz-1', 'flow');
  for (let i = 0; i < 300; i++) await p.handle('provisioning/fz-1/hello', randomBytes(i % 40));
  await p.handle('provisioning/fz-1/hello', Buffer.from('{"id":"fz-1","firmware":{"x":1}}'));
  await p.handle('devices/fz-1/status', randomBytes(64));
  await p.handle('not/a/provisioning/topic', randomBytes(8));
  assert.equal(sent.length, 301);
  assert.ok(sent.every(([t, body]) => t === 'provisioning/fz-1/rejected' && JSON.parse(body).code === 'bad-payload'));
  assert.equal(p.device('fz-1'), undefined);
});

test('CSV claims: header, quotes, comments, duplicates and bad lines', () => {
  const r = parseClaimsCsv('id,label\r\n# comment\nlamp-1,hall\n"lamp-2","say ""hi"", twice"\nlamp-1,dup\n\nnot valid!,x\nlamp-3\n');
  assert.deepEqual(r.claims, [{ id: 'lamp-1', label: 'hall' }, { id: 'lamp-2', label: 'say "hi", twice' }, { id: 'lamp-3' }]);
  assert.deepEqual(r.problems, ['line 7: "not valid!" is not a device ID']);
  const many = parseClaimsCsv(Array.from({ length: 5 }, (_, i) => `d-${i}`).join('\n'), 3);
  assert.equal(many.claims.length, 3);
  assert.equal(many.problems.length, 2);
});

test('certificate identity from the CN or the first DNS/URI subjectAltName; TLS errors classified', () => {
  const cert = { subject: { CN: 'dev-1' }, subjectaltname: 'IP Address:10.0.0.1, URI:urn:dev:1, DNS:dev-1.local' } as unknown as PeerCertificate;
  assert.equal(certificateIdentity(cert, 'cn'), 'dev-1');
  assert.equal(certificateIdentity(cert, 'san'), 'urn:dev:1');
  assert.equal(certificateIdentity({} as PeerCertificate, 'cn'), undefined);
  assert.equal(certificateIdentity({ subject: { CN: 'x' } } as unknown as PeerCertificate, 'san'), undefined);
  assert.equal(classifyCertificateError('CERT_HAS_EXPIRED'), 'certificate-expired');
  assert.equal(classifyCertificateError('CERT_REVOKED'), 'certificate-revoked');
  assert.equal(classifyCertificateError('UNABLE_TO_VERIFY_LEAF_SIGNATURE'), 'untrusted');
});
