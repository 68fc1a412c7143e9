/**
 * The VEN session against the test VTN over real HTTP, the schedule on a hand-moved clock:
 * programs and events polled with the right query parameters, cancellation, an outage with
 * back-off (known events run to their end, devices restored, reports delivered afterwards), a
 * malformed event, and webhook subscriptions.
 */
import { test, describe, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { TestVtn } from '../support/openadr-vtn';
import { ManualClock } from '../support/loadcontrol-clock';
import { VtnClient } from '../../lib/loadcontrol/vtn-client';
import { VtnSession, type SessionChange } from '../../lib/loadcontrol/vtn-session';
import { LoadControlSchedule, type DeviceCommand, type StateChange } from '../../lib/loadcontrol/schedule';
import type { Participant } from '../../lib/loadcontrol/participants';
import { validateObject } from '../../lib/loadcontrol/validate';
import { loadReportQueue, saveReportQueue } from '../../lib/loadcontrol/report-queue-store';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const MIN = 60_000;
const T0 = Date.parse('2026-07-01T12:00:00Z');
const bulb: Participant = { key: 'coap:bulb', name: 'bulb', transport: 'coap', quantity: 'brightness', limits: { min: 30 }, normal: 100, ratedWatts: 60, endpoint: 'bulb', path: '/dim' };

async function until(what: string, condition: () => boolean, ms = 5000): Promise<void> {
  for (let i = 0; i < ms / 10 && !condition(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(condition(), what);
}

describe('VEN session with the test VTN', () => {
  let vtn: TestVtn;
  let clock: ManualClock;
  let schedule: LoadControlSchedule;
  let session: VtnSession;
  let commands: DeviceCommand[];
  let states: (StateChange | SessionChange)[];
  let programID: string;
  let webhook: Server | undefined;

  beforeEach(async () => {
    vtn = new TestVtn();
    const base = await vtn.start();
    programID = vtn.publishProgram({ programName: 'peak-saver' }).id as string;
    vtn.publishProgram({ programName: 'other-program' });
    clock = new ManualClock(T0);
    schedule = new LoadControlSchedule({ clientName: 'home-gw', clock });
    schedule.setParticipants([bulb]);
    schedule.start();
    const client = new VtnClient({ baseUrl: base, clientId: 'ven-client', clientSecret: 'ven-secret' });
    session = new VtnSession({ client, schedule, venName: 'home-gw', programNames: ['peak-saver'], targetType: 'VEN_NAME', clock, pollMs: 10 * MIN });
    commands = [];
    states = [];
    schedule.on('command', (c) => commands.push(c));
    schedule.on('state', (s) => states.push(s));
    session.on('state', (s) => states.push(s));
  });
  afterEach(async () => {
    await session.stop();
    schedule.stop();
    await vtn.stop();
    webhook?.close();
    webhook = undefined;
  });

  /** By default the event asks for a report of each interval, per device. */
  const publish = (intervals: number[], start = '2026-07-01T12:10:00Z', reportDescriptors: unknown[] = [{ payloadType: 'DELTA_USAGE', startInterval: 0, numIntervals: 1, frequency: 1, repeat: -1 }]) =>
    vtn.publishEvent({
      programID,
      eventName: 'evening peak',
      reportDescriptors,
      intervalPeriod: { start, duration: 'PT10M' },
      intervals: intervals.map((level, id) => ({ id, payloads: [{ type: 'SIMPLE', values: [level] }] })),
    }).id as string;

  test('polls the chosen program with the right query parameters; the event runs; the report reaches the VTN', async () => {
    publish([2]);
    session.start();
    await session.pollNow();
    const eventQueries = vtn.requests.filter((r) => r.path === '/events');
    assert.equal(eventQueries.length, 1, 'only the chosen program');
    const q = eventQueries[0]!.query;
    assert.deepEqual([q.get('programID'), q.get('targetType'), q.getAll('targetValues'), q.get('skip'), q.get('limit')], [programID, 'VEN_NAME', ['home-gw'], '0', '50']);
    assert.ok(states.some((s) => s.kind === 'vtn-reachable'));
    clock.advance(10 * MIN);
    assert.equal(commands.at(-1)?.value, 50);
    clock.advance(10 * MIN);
    assert.equal(commands.at(-1)?.reason, 'restore');
    await until('the report at the VTN', () => vtn.reports.size === 1);
    const report = [...vtn.reports.values()][0]!;
    assert.deepEqual(validateObject('report', report), { ok: true });
    assert.equal(report.clientName, 'home-gw');
    assert.equal((report.resources as { resourceName: string }[])[0]?.resourceName, 'bulb');
    await until('the VTN answered', () => states.some((s) => s.kind === 'report-sent'));
    assert.deepEqual(vtn.violations, []);
  });

  test('cancellation at the VTN: the next poll restores the device', async () => {
    const id = publish([2, 2]);
    session.start();
    await session.pollNow();
    clock.advance(12 * MIN);
    assert.equal(commands.at(-1)?.value, 50);
    vtn.cancelEvent(id);
    await session.pollNow();
    assert.deepEqual([commands.at(-1)?.reason, commands.at(-1)?.value], ['restore', 100]);
    assert.ok(states.some((s) => s.kind === 'event-cancelled'));
  });

  test('VTN outage: back-off, the known event runs to its end, the device is restored, reports follow later', async () => {
    publish([1, 3]);
    session.start();
    await session.pollNow();
    vtn.setOutage(true);
    await session.pollNow();
    await session.pollNow();
    const down = states.filter((s): s is Extract<SessionChange, { kind: 'vtn-unreachable' }> => s.kind === 'vtn-unreachable');
    assert.deepEqual(down.map((s) => s.retryInMs), [2000, 4000], 'growing delays');
    clock.advance(10 * MIN);
    assert.equal(commands.at(-1)?.value, 75);
    clock.advance(10 * MIN);
    assert.equal(commands.at(-1)?.value, 30);
    clock.advance(10 * MIN);
    assert.equal(commands.at(-1)?.reason, 'restore', 'never stuck curtailed while the VTN is away');
    assert.equal(vtn.reports.size, 0);
    assert.equal(session.queuedReports(), 2);
    vtn.setOutage(false);
    await session.pollNow();
    await until('both reports delivered', () => vtn.reports.size === 2);
    assert.equal(states.filter((s) => s.kind === 'vtn-reachable').length, 2);
  });

  test('reports owed when the session closes are kept on disk and reach the VTN after the restart, once', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'lc-queue-')), 'reports.json');
    const stopOld = session;
    session = new VtnSession({ client: new VtnClient({ baseUrl: vtn.baseUrl, clientId: 'ven-client', clientSecret: 'ven-secret' }), schedule, venName: 'home-gw', programNames: ['peak-saver'], clock, saveQueue: (q) => saveReportQueue(file, q) });
    await stopOld.stop();
    const id = publish([1, 3]);
    session.start();
    await session.pollNow();
    vtn.setOutage(true);
    clock.advance(30 * MIN);
    assert.equal(session.queuedReports(), 2);
    assert.equal(loadReportQueue(file, 100).length, 2, 'on disk as soon as queued');
    await session.stop();
    schedule.stop();
    // The restart, the VTN still away.
    const restart = () =>
      new VtnSession({
        client: new VtnClient({ baseUrl: vtn.baseUrl, clientId: 'ven-client', clientSecret: 'ven-secret' }),
        schedule: new LoadControlSchedule({ clientName: 'home-gw', clock }),
        venName: 'home-gw',
        programNames: ['peak-saver'],
        clock,
        queuedReports: loadReportQueue(file, 100),
        saveQueue: (q) => saveReportQueue(file, q),
      });
    session = restart();
    session.start();
    await session.pollNow();
    assert.equal(session.queuedReports(), 2);
    assert.equal(vtn.reports.size, 0);
    vtn.setOutage(false);
    await session.pollNow();
    await until('both reports at the VTN', () => vtn.reports.size === 2);
    await until('the queue on disk is empty', () => loadReportQueue(file, 100).length === 0);
    assert.deepEqual([...vtn.reports.values()].map((r) => r.reportName), [`${id}-report-0-interval-0`, `${id}-report-0-interval-1`]);
    // Another restart: nothing is sent twice.
    await session.stop();
    session = restart();
    assert.equal(session.queuedReports(), 0);
    session.start();
    await session.pollNow();
    await session.stop(); // waits for any report on its way
    assert.equal(vtn.requests.filter((r) => r.method === 'POST' && r.path === '/reports' && r.status === 201).length, 2, 'taken twice, not four times');
    assert.deepEqual(vtn.violations, []);
  });

  test('a malformed event from the VTN is refused with a notice; the good one still runs', async () => {
    publish([2]);
    vtn.malformedEvents.push({ id: 'broken', programID, intervals: [{ id: 'zero', payloads: 'x' }] });
    session.start();
    await session.pollNow();
    const rejected = states.find((s) => s.kind === 'event-rejected') as { eventID?: string; reason: string } | undefined;
    assert.equal(rejected?.eventID, 'broken');
    assert.match(rejected!.reason, /^event: \/intervals\/0\/id must be integer/);
    clock.advance(10 * MIN);
    assert.equal(commands.at(-1)?.value, 50);
  });

  test('a fault of our own in a poll is a notice and a retry, never a rejection', async () => {
    const broken = { programs: async () => Promise.reject(new TypeError('boom')) } as unknown as VtnClient;
    const s2 = new VtnSession({ client: broken, schedule, venName: 'home-gw', clock, pollMs: 10 * MIN });
    const seen: SessionChange[] = [];
    s2.on('state', (c) => seen.push(c));
    s2.start();
    await s2.pollNow();
    assert.deepEqual(seen.map((c) => c.kind), ['notice', 'vtn-unreachable']);
    assert.match((seen[0] as { reason: string }).reason, /boom/);
    await s2.stop();
  });

  test('webhook: a subscription per program, and notifications change the schedule without a poll', async () => {
    webhook = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        let json: unknown;
        try {
          json = JSON.parse(body);
        } catch {
          json = undefined;
        }
        const answer = session.notify(req.headers.authorization, json);
        res.writeHead(answer.status).end();
      });
    });
    await new Promise<void>((r) => webhook!.listen(0, '127.0.0.1', r));
    session.useWebhook(`http://127.0.0.1:${(webhook.address() as AddressInfo).port}/openadr/notify`, 'hook-secret');
    const id = publish([1]);
    session.start();
    await session.pollNow();
    const subs = [...vtn.subscriptions.values()];
    assert.equal(subs.length, 1);
    assert.equal(subs[0]!.programID, programID);
    assert.deepEqual(validateObject('subscription', subs[0]), { ok: true });
    assert.deepEqual(subs[0]!.targets, [{ type: 'VEN_NAME', values: ['home-gw'] }]);
    clock.advance(11 * MIN);
    assert.equal(commands.at(-1)?.value, 75);
    vtn.updateEvent(id, { intervals: [{ id: 0, payloads: [{ type: 'SIMPLE', values: [3] }] }] });
    await until('the notification arrived', () => vtn.callbacks.length === 1);
    assert.equal(vtn.callbacks[0]!.status, 200);
    assert.equal(commands.at(-1)?.value, 30);
    vtn.cancelEvent(id);
    await until('the DELETE notification', () => vtn.callbacks.length === 2);
    assert.equal(commands.at(-1)?.reason, 'restore');
    assert.equal(session.notify('Bearer wrong', {}).status, 401);
    assert.equal(session.notify('Bearer hook-secret', { objectType: 'EVENT' }).status, 400);
    await session.stop();
    assert.equal(vtn.subscriptions.size, 0, 'removed when the node stops');
  });
});
