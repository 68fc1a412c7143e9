/**
 * The VTN client against the test VTN, and the test VTN against the OpenADR 3.0.1 document:
 * OAuth2 client credentials (errors as authError), 401/403/404/400 problem objects, skip/limit
 * pagination, target filters, token refresh before expiry and after a 401.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { TestVtn } from '../support/openadr-vtn';
import { VtnClient, VtnHttpError, VtnUnreachableError } from '../../lib/loadcontrol/vtn-client';
import { validateObject } from '../../lib/loadcontrol/validate';

const event = (programID: string, n: number, targets?: unknown) => ({
  programID,
  eventName: `e${n}`,
  intervalPeriod: { start: '2026-07-01T12:00:00Z', duration: 'PT1H' },
  intervals: [{ id: 0, payloads: [{ type: 'SIMPLE', values: [1] }] }],
  ...(targets ? { targets } : {}),
});

async function raw(url: string, init: RequestInit = {}): Promise<{ status: number; json: unknown }> {
  const res = await fetch(url, init);
  return { status: res.status, json: await res.json() };
}

describe('test VTN and VTN client', () => {
  const vtn = new TestVtn();
  let base = '';
  let programID = '';
  before(async () => {
    base = await vtn.start();
    programID = vtn.publishProgram({ programName: 'peak-saver', programType: 'DEMAND_RESPONSE' }).id as string;
  });
  after(() => vtn.stop());

  test('token endpoint: client credentials as a form; authError for a bad request or client', async () => {
    const form = (fields: Record<string, string>): RequestInit => ({ method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(fields).toString() });
    const ok = await raw(`${base}/auth/token`, form({ grant_type: 'client_credentials', client_id: 'ven-client', client_secret: 'ven-secret' }));
    assert.equal(ok.status, 200);
    assert.deepEqual(validateObject('clientCredentialResponse', ok.json), { ok: true });
    const wrong = await raw(`${base}/auth/token`, form({ grant_type: 'client_credentials', client_id: 'ven-client', client_secret: 'nope' }));
    assert.deepEqual([wrong.status, (wrong.json as { error: string }).error], [401, 'invalid_client']);
    const grant = await raw(`${base}/auth/token`, form({ grant_type: 'password', client_id: 'ven-client', client_secret: 'ven-secret' }));
    assert.deepEqual([grant.status, (grant.json as { error: string }).error], [400, 'unsupported_grant_type']);
    const missing = await raw(`${base}/auth/token`, form({ grant_type: 'client_credentials', client_id: 'ven-client' }));
    assert.deepEqual([missing.status, (missing.json as { error: string }).error], [400, 'invalid_request']);
    for (const r of [wrong, grant, missing]) assert.deepEqual(validateObject('authError', r.json), { ok: true });
  });

  test('401 without a token, 403 without the scope, 404 and 400 as problem objects', async () => {
    const client = new VtnClient({ baseUrl: base, clientId: 'ven-client', clientSecret: 'ven-secret' });
    const token = await client.accessToken();
    const auth = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    const answers = [
      await raw(`${base}/programs`),
      await raw(`${base}/events`, { method: 'POST', headers: auth, body: JSON.stringify(event(programID, 1)) }),
      await raw(`${base}/events/no-such-event`, { headers: auth }),
      await raw(`${base}/events?limit=51`, { headers: auth }),
      await raw(`${base}/reports`, { method: 'POST', headers: auth, body: JSON.stringify({ programID, eventID: 'x', clientName: 'gw' }) }),
    ];
    assert.deepEqual(answers.map((a) => a.status), [401, 403, 404, 400, 400]);
    for (const a of answers) {
      assert.deepEqual(validateObject('problem', a.json), { ok: true });
      assert.equal((a.json as { status: number }).status, a.status);
    }
    await assert.rejects(client.createReport({ programID, eventID: 'x', clientName: 'gw' } as never), /report: must have required property 'resources'/, 'the client checks before sending');
  });

  test('pagination: skip and limit 50 until a short page; targets filter', async () => {
    for (let i = 0; i < 60; i++) vtn.publishEvent(event(programID, i));
    vtn.publishEvent(event(programID, 99, [{ type: 'VEN_NAME', values: ['other-ven'] }]));
    vtn.publishEvent(event(programID, 98, [{ type: 'VEN_NAME', values: ['home-gw'] }]));
    const client = new VtnClient({ baseUrl: base, clientId: 'ven-client', clientSecret: 'ven-secret' });
    const mark = vtn.requests.length;
    const all = await client.events({ programID });
    assert.equal(all.valid.length, 62);
    const pages = vtn.requests.slice(mark).filter((r) => r.path === '/events');
    assert.deepEqual(pages.map((r) => [r.query.get('programID'), r.query.get('skip'), r.query.get('limit')]), [
      [programID, '0', '50'],
      [programID, '50', '50'],
    ]);
    const mine = await client.events({ programID, targetType: 'VEN_NAME', targetValues: ['home-gw'] });
    assert.equal(mine.valid.length, 61, 'untargeted events and the one for home-gw');
    assert.ok(!mine.valid.some((e) => e.eventName === 'e99'));
    assert.deepEqual(vtn.violations, []);
  });

  test('a business-logic client creates, reads, updates and deletes an event; reports are filtered by query', async () => {
    const bl = new VtnClient({ baseUrl: base, clientId: 'bl-client', clientSecret: 'bl-secret' });
    const auth = { authorization: `Bearer ${await bl.accessToken()}`, 'content-type': 'application/json' };
    const created = await raw(`${base}/events`, { method: 'POST', headers: auth, body: JSON.stringify(event(programID, 500)) });
    assert.equal(created.status, 201);
    const ev = created.json as { id: string; objectType: string; createdDateTime: string };
    assert.equal(ev.objectType, 'EVENT');
    assert.deepEqual(validateObject('event', ev), { ok: true });
    assert.equal((await raw(`${base}/events/${ev.id}`, { headers: auth })).status, 200);
    const updated = await raw(`${base}/events/${ev.id}`, { method: 'PUT', headers: auth, body: JSON.stringify({ ...event(programID, 500), eventName: 'renamed' }) });
    assert.deepEqual([updated.status, (updated.json as { eventName: string }).eventName], [200, 'renamed']);
    assert.equal((await raw(`${base}/events/${ev.id}`, { method: 'PUT', headers: auth, body: '{"programID": 5}' })).status, 400);
    assert.equal((await raw(`${base}/events/${ev.id}`, { method: 'DELETE', headers: auth })).status, 200);
    assert.equal((await raw(`${base}/events/${ev.id}`, { headers: auth })).status, 404);

    const ven = new VtnClient({ baseUrl: base, clientId: 'ven-client', clientSecret: 'ven-secret' });
    const report = (clientName: string) => ({ programID, eventID: 'event-1', clientName, resources: [{ resourceName: 'r', intervals: [{ id: 0, payloads: [{ type: 'USAGE', values: [1.5] }] }] }] });
    const mine = await ven.createReport(report('home-gw'));
    await ven.createReport(report('next-door'));
    assert.equal(mine.objectType, 'REPORT');
    const venAuth = { authorization: `Bearer ${await ven.accessToken()}` };
    const listed = await raw(`${base}/reports?clientName=home-gw&programID=${programID}`, { headers: venAuth });
    assert.deepEqual((listed.json as { id: string }[]).map((r) => r.id), [mine.id]);
    assert.equal((await raw(`${base}/reports?programID=not%20an%20id`, { headers: venAuth })).status, 400);
    assert.deepEqual(vtn.violations, []);
  });

  test('the token is refreshed before it expires, and again after a 401', async () => {
    let now = 1_000_000;
    const client = new VtnClient({ baseUrl: base, clientId: 'ven-client', clientSecret: 'ven-secret', now: () => now });
    const before = vtn.tokensIssued;
    await client.programs();
    await client.programs();
    assert.equal(vtn.tokensIssued, before + 1, 'one token for both');
    now += 3600_000 - 59_000; // less than a minute of its hour left
    await client.programs();
    assert.equal(vtn.tokensIssued, before + 2);
    vtn.expireTokens();
    const programs = await client.programs();
    assert.equal(programs.valid.length, 1);
    assert.equal(vtn.tokensIssued, before + 3);
  });

  test('wrong credentials and an unreachable VTN are told apart', async () => {
    const wrong = new VtnClient({ baseUrl: base, clientId: 'ven-client', clientSecret: 'bad' });
    await assert.rejects(wrong.programs(), (err: unknown) => err instanceof VtnHttpError && err.status === 401 && /invalid_client/.test(err.message));
    vtn.setOutage(true);
    try {
      const client = new VtnClient({ baseUrl: base, clientId: 'ven-client', clientSecret: 'ven-secret' });
      await assert.rejects(client.programs(), VtnUnreachableError);
    } finally {
      vtn.setOutage(false);
    }
  });
});
