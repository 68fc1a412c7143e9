/**
 * The load-control node end to end: a test VTN (real HTTP, OpenADR 3.0.1 objects) publishes a
 * program and an event; an opted-in MQTT device (an MQTT.js client on an aedes broker, reached
 * through core mqtt out) and a CoAP device (a CoAP server registered in coap-rd, reached through
 * coap-request by endpoint name and as a member of a coap-proxy group) are commanded within their
 * limits and restored; reports reach the VTN;
 * override, outage and cancellation. The provisioning registry is an in-memory stand-in
 * (test/support/loadcontrol-provisioning.ts) until the real device-provisioning node is merged.
 */
import { test, describe, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { createServer as createTcpServer, type Server as TcpServer, type AddressInfo } from 'node:net';
import { createServer as createHttpServer, type RequestListener, type Server as HttpServer } from 'node:http';
import { existsSync, mkdtempSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Aedes } from 'aedes';
import mqtt, { type MqttClient } from 'mqtt';
import { createServer as createCoapServer, type Server as CoapServer } from 'coap';
import type { FlowNode, NodeModule } from 'node-red-node-test-helper';
import { helper, packageNode, coreNode, endpointPort, collect, waitForStatus } from '../support/flow-runtime';
import { TestVtn } from '../support/openadr-vtn';
import { MemoryProvisioning, provisioningStandIn } from '../support/loadcontrol-provisioning';
import { freePort } from '../support/free-port';
import { coapCall } from '../support/coap-client';
import { validateObject } from '../../lib/loadcontrol/validate';
import { DEFAULT_SHARING } from '../../lib/sharing/choices';
import type { DeviceRecord } from '../../lib/provisioning/types';

interface StateMsg {
  topic: string;
  payload: { kind: string; [k: string]: unknown };
}

async function until(what: string, condition: () => boolean, ms = 15_000): Promise<void> {
  for (let i = 0; i < ms / 20 && !condition(); i++) await new Promise((r) => setTimeout(r, 20));
  assert.ok(condition(), what);
}

const lamp = (id: string, optIn: boolean): DeviceRecord => ({
  id,
  state: 'provisioned',
  online: true,
  behaviours: ['dimmer'],
  sharing: { ...DEFAULT_SHARING, loadControl: { optIn, limits: { brightness: { min: 30 } } } },
});

describe('load-control node', () => {
  // Node-RED's HTTP node routes (RED.httpNode), served on a port of the test's own: the helper
  // does not serve them, and the webhook lives there.
  let httpNode: RequestListener | undefined;
  const captureHttpNode: NodeModule = (api) => {
    httpNode = (api as { httpNode: RequestListener }).httpNode;
  };
  const registry = new MemoryProvisioning();
  registry.add(lamp('lamp-1', true));
  registry.add(lamp('lamp-2', false));
  const nodes = [
    packageNode('openadr-vtn'),
    packageNode('load-control'),
    packageNode('coap-endpoint'),
    packageNode('coap-rd'),
    packageNode('coap-request'),
    packageNode('coap-proxy'),
    coreNode('function/10-switch'),
    coreNode('network/10-mqtt'),
    provisioningStandIn(registry),
    captureHttpNode,
  ];
  let vtn: TestVtn;
  let programID = '';
  let broker: Aedes;
  let mqttServer: TcpServer;
  let brokerPort = 0;
  let device: MqttClient;
  const mqttGot: { topic: string; payload: Record<string, unknown> }[] = [];
  let hooks: HttpServer;
  let hookPort = 0;
  let coapDevice: CoapServer;
  let coapPort = 0;
  const coapGot: string[] = [];
  const groupGot: string[] = [];

  before(async () => {
    vtn = new TestVtn();
    await vtn.start();
    programID = vtn.publishProgram({ programName: 'peak-saver', retailerName: 'ACME' }).id as string;
    broker = new Aedes();
    await broker.listen();
    mqttServer = createTcpServer(broker.handle);
    await new Promise<void>((r) => mqttServer.listen(0, '127.0.0.1', r));
    brokerPort = (mqttServer.address() as AddressInfo).port;
    device = mqtt.connect(`mqtt://127.0.0.1:${brokerPort}`, { clientId: 'lamp-1', reconnectPeriod: 100 });
    device.on('message', (topic, payload) => mqttGot.push({ topic, payload: JSON.parse(payload.toString()) as Record<string, unknown> }));
    await new Promise<void>((resolve, reject) => {
      device.once('connect', () => device.subscribe('devices/lamp-1/commands', { qos: 1 }, (err) => (err ? reject(err) : resolve())));
    });
    hooks = createHttpServer((req, res) => (httpNode ? httpNode(req, res) : res.writeHead(503).end()));
    await new Promise<void>((r) => hooks.listen(0, '127.0.0.1', r));
    hookPort = (hooks.address() as AddressInfo).port;
    coapPort = await freePort();
    coapDevice = createCoapServer({ type: 'udp4' }, (req, res) => {
      if (req.method === 'PUT' && req.url === '/light/dim') {
        coapGot.push(req.payload.toString());
        res.code = '2.04';
      } else if (req.method === 'PUT' && req.url === '/light/level') {
        groupGot.push(req.payload.toString());
        res.code = '2.04';
      } else res.code = '4.04';
      res.end();
    });
    await new Promise<void>((r) => coapDevice.listen(coapPort, '127.0.0.1', () => r()));
  });
  afterEach(async () => {
    await helper.unload();
    mqttGot.length = 0;
    coapGot.length = 0;
    groupGot.length = 0;
  });
  after(async () => {
    device.end(true);
    coapDevice.close();
    hooks.close();
    await new Promise<void>((r) => mqttServer.close(() => r()));
    await new Promise<void>((r) => broker.close(() => r()));
    await vtn.stop();
    await helper.stopServer?.();
  });

  function flow(lc: Record<string, unknown> = {}): FlowNode[] {
    return [
      { id: 'tab', type: 'tab' },
      { id: 'vtncfg', type: 'openadr-vtn', baseUrl: vtn.baseUrl },
      { id: 'prov', type: 'device-provisioning', z: 'tab' },
      {
        id: 'lc',
        type: 'load-control',
        z: 'tab',
        vtn: 'vtncfg',
        venName: 'home-gw',
        programs: 'peak-saver',
        poll: 2,
        provisioning: 'prov',
        devices: JSON.stringify([
          { name: 'porch', endpoint: 'bulb', path: '/light/dim', quantity: 'brightness', min: 40 },
          { name: 'all lights', group: 'lights', path: '/light/level', quantity: 'brightness' },
        ]),
        wires: [['route', 'cmds'], ['states']],
        ...lc,
      },
      {
        id: 'route',
        type: 'switch',
        z: 'tab',
        property: 'loadControl.transport',
        propertyType: 'msg',
        rules: [
          { t: 'eq', v: 'mqtt', vt: 'str' },
          { t: 'eq', v: 'coap', vt: 'str' },
        ],
        checkall: 'true',
        outputs: 2,
        wires: [['mqttout'], ['coapreq']],
      },
      { id: 'broker', type: 'mqtt-broker', broker: '127.0.0.1', port: String(brokerPort), clientid: 'gateway', usetls: false, protocolVersion: '4', keepalive: '60', cleansession: true, autoConnect: true },
      { id: 'mqttout', type: 'mqtt out', z: 'tab', broker: 'broker', topic: '', qos: '', retain: '' },
      { id: 'ep', type: 'coap-endpoint', address: '127.0.0.1', port: 0, family: 'udp4' },
      { id: 'rd', type: 'coap-rd', z: 'tab', endpoint: 'ep', persist: false, wires: [[]] },
      { id: 'proxy', type: 'coap-proxy', z: 'tab', endpoint: 'ep', rd: 'rd', groups: [{ name: 'lights', members: ['bulb'] }] },
      { id: 'coapreq', type: 'coap-request', z: 'tab', rd: 'rd', method: 'PUT', path: '', target: '', targetType: 'endpoint', timeout: '2', wires: [['coapres']] },
      { id: 'cmds', type: 'helper', z: 'tab' },
      { id: 'states', type: 'helper', z: 'tab' },
      { id: 'coapres', type: 'helper', z: 'tab' },
    ];
  }

  async function load(lc: Record<string, unknown> = {}): Promise<{ states: StateMsg[]; cmds: unknown[] }> {
    await helper.load(nodes, flow(lc), { vtncfg: { clientId: 'ven-client', clientSecret: 'ven-secret' } });
    const port = await endpointPort('ep');
    const res = await coapCall({
      port,
      method: 'POST',
      pathname: '/rd',
      query: `ep=bulb&base=coap://127.0.0.1:${coapPort}`,
      payload: '</light/dim>;rt="light.dim"',
      options: { 'Content-Format': 'application/link-format' },
    });
    assert.equal(res.code, '2.01');
    return { states: collect('states') as StateMsg[], cmds: collect('cmds') };
  }

  const kinds = (states: StateMsg[]): string[] => states.map((s) => s.payload.kind);

  test('an event dims the MQTT device, a CoAP endpoint and a CoAP group within their limits, restores them, and reports to the VTN', async () => {
    const { states, cmds } = await load();
    helper.getNode('lc').receive({ topic: 'devices/lamp-1/telemetry', payload: { brightness: 80, power: 9 } });
    helper.getNode('lc').receive({ topic: 'devices/lamp-2/state/brightness', payload: 10 }); // not taking part: ignored
    const start = Date.now() + 4000;
    vtn.publishEvent({
      programID,
      eventName: 'evening peak',
      // Per device after each interval, and the sum of both at the end.
      reportDescriptors: [
        { payloadType: 'DELTA_USAGE', startInterval: 0, numIntervals: 1, frequency: 1, repeat: -1 },
        { payloadType: 'USAGE', startInterval: 0, numIntervals: 1, frequency: 1, repeat: -1 },
        { payloadType: 'DELTA_USAGE', aggregate: true },
      ],
      intervalPeriod: { start: new Date(start).toISOString(), duration: 'PT3S' },
      intervals: [
        { id: 0, payloads: [{ type: 'SIMPLE', values: [3] }] },
        { id: 1, payloads: [{ type: 'SIMPLE', values: [1] }] },
      ],
    });
    await until('the event was received', () => kinds(states).includes('event-received'));
    await until('the three devices restored', () => kinds(states).filter((k) => k === 'device-restored').length === 3, 20_000);
    await until('the MQTT device got three commands', () => mqttGot.length === 3);
    await until('the CoAP device got three commands', () => coapGot.length === 3);
    assert.deepEqual(
      mqttGot.map((m) => [m.topic, m.payload.brightness, m.payload.reason]),
      [
        ['devices/lamp-1/commands', 30, 'event'],
        ['devices/lamp-1/commands', 60, 'event'],
        ['devices/lamp-1/commands', 80, 'restore'],
      ],
      'level 3 of 80 % is 20 %, the owner said 30 at least; level 1 is 60; back to the 80 it reported',
    );
    assert.deepEqual(coapGot, ['40', '75', '100'], 'the CoAP list set 40 % as its minimum');
    await until('the group got three commands', () => groupGot.length === 3);
    assert.deepEqual(groupGot, ['25', '75', '100'], 'a group of the coap-proxy, no limit set');
    assert.equal(cmds.length, 9, 'lamp-2 did not opt in: nothing for it');
    const first = cmds[0] as { loadControl: { clamped: boolean; eventID: string; level: number } };
    assert.equal(first.loadControl.level, 3);
    assert.equal(first.loadControl.clamped, true);
    assert.deepEqual(kinds(states).filter((k) => k === 'interval-started').length, 2);
    await until('three reports at the VTN', () => vtn.reports.size === 3);
    const sent = [...vtn.reports.values()];
    for (const r of sent) assert.deepEqual(validateObject('report', r), { ok: true });
    const resourcesOf = (r: (typeof sent)[number]) => r.resources as { resourceName: string; intervals: { id: number; payloads: { type: string }[] }[] }[];
    const perDevice = sent.filter((r) => resourcesOf(r).every((x) => x.resourceName !== 'AGGREGATED_REPORT'));
    assert.equal(perDevice.length, 2, 'one per interval');
    for (const r of perDevice) {
      assert.deepEqual(resourcesOf(r).map((x) => x.resourceName).sort(), ['all lights', 'lamp-1', 'porch']);
      const lamp1 = resourcesOf(r).find((x) => x.resourceName === 'lamp-1');
      assert.deepEqual(lamp1?.intervals[0]?.payloads.map((p) => p.type), ['DELTA_USAGE', 'USAGE'], 'lamp-1 reported its power');
    }
    const total = sent.find((r) => !perDevice.includes(r))!;
    assert.deepEqual(resourcesOf(total).map((x) => [x.resourceName, x.intervals.map((i) => i.id)]), [['AGGREGATED_REPORT', [0, 1]]]);
    assert.deepEqual(vtn.violations, []);
    await waitForStatus(helper.getNode('lc'), (s) => s.fill === 'green' && /3 devices/.test(String(s.text)));
  });

  test('override, VTN outage and cancellation: the devices are never left curtailed', async () => {
    const { states } = await load();
    const id = vtn.publishEvent({
      programID,
      intervalPeriod: { start: new Date(Date.now() + 2000).toISOString(), duration: 'PT60S' },
      intervals: [{ id: 0, payloads: [{ type: 'SIMPLE', values: [2] }] }],
    }).id as string;
    await until('both devices dimmed', () => mqttGot.length === 1 && coapGot.length === 1);
    assert.deepEqual([mqttGot[0]?.payload.brightness, coapGot[0]], [50, '50']);
    helper.getNode('lc').receive({ topic: 'override', device: 'porch' });
    await until('porch restored by the owner', () => coapGot.length === 2);
    assert.equal(coapGot[1], '100');
    vtn.setOutage(true);
    helper.getNode('lc').receive({ topic: 'poll' });
    await until('the outage is seen', () => kinds(states).includes('vtn-unreachable'));
    await waitForStatus(helper.getNode('lc'), (s) => s.fill === 'yellow' && /VTN unreachable/.test(String(s.text)));
    assert.equal(mqttGot.length, 1, 'the known event keeps running');
    vtn.setOutage(false);
    vtn.cancelEvent(id);
    helper.getNode('lc').receive({ topic: 'poll' });
    await until('lamp-1 restored after the cancellation', () => mqttGot.length === 2);
    assert.deepEqual([mqttGot[1]?.payload.brightness, mqttGot[1]?.payload.reason], [100, 'restore']);
    assert.ok(kinds(states).includes('event-cancelled'));
    assert.equal(coapGot.length, 2, 'porch, opted out, is not commanded again');
  });

  test('webhook: subscribed at the VTN, events arrive without polling, unsubscribed on close', async () => {
    await load({ poll: 3600, callbackBase: `http://127.0.0.1:${hookPort}/` });
    await until('subscribed', () => vtn.subscriptions.size === 1);
    const sub = [...vtn.subscriptions.values()][0]!;
    const op = (sub.objectOperations as { callbackUrl: string }[])[0]!;
    assert.equal(op.callbackUrl, `http://127.0.0.1:${hookPort}/openadr3/notify/lc`);
    const before = vtn.callbacks.length;
    const id = vtn.publishEvent({
      programID,
      intervalPeriod: { start: new Date(Date.now() + 1000).toISOString(), duration: 'PT60S' },
      intervals: [{ id: 0, payloads: [{ type: 'SIMPLE', values: [1] }] }],
    }).id as string;
    await until('lamp-1 dimmed', () => mqttGot.length === 1);
    assert.equal(mqttGot[0]?.payload.brightness, 75);
    vtn.updateEvent(id, { intervals: [{ id: 0, payloads: [{ type: 'SIMPLE', values: [3] }] }] });
    await until('the change arrived', () => mqttGot.length === 2);
    assert.equal(mqttGot[1]?.payload.brightness, 30);
    vtn.cancelEvent(id);
    await until('restored on the DELETE notification', () => mqttGot.length === 3);
    assert.equal(mqttGot[2]?.payload.reason, 'restore');
    assert.deepEqual(vtn.callbacks.slice(before).map((c) => [c.notification.operation, c.status]), [
      ['POST', 200],
      ['PUT', 200],
      ['DELETE', 200],
    ]);
    const forged = await fetch(op.callbackUrl, { method: 'POST', headers: { authorization: 'Bearer guessed', 'content-type': 'application/json' }, body: '{}' });
    assert.equal(forged.status, 401);
    await helper.unload();
    assert.equal(vtn.subscriptions.size, 0);
    assert.deepEqual(vtn.violations, []);
  });

  test('after a crash mid-event: a device whose event is gone is restored to its value before the event', async () => {
    const userDir = mkdtempSync(join(tmpdir(), 'lc-userdir-'));
    mkdirSync(join(userDir, 'edge-gateway'));
    const file = join(userDir, 'edge-gateway', 'loadcontrol-lc.json');
    const participant = { key: 'mqtt:lamp-1:brightness', name: 'lamp-1', transport: 'mqtt', quantity: 'brightness', limits: { min: 30 }, normal: 100, ratedWatts: 60, deviceId: 'lamp-1' };
    writeFileSync(file, JSON.stringify([{ participant, baseline: 65, eventID: 'event-before-the-crash', intervalID: 0, value: 33 }]));
    // settings() is in the helper, not in our typings of it.
    const settings = (helper as unknown as { settings(s: Record<string, unknown>): void }).settings.bind(helper);
    settings({ userDir });
    try {
      await load();
      await until('lamp-1 restored', () => mqttGot.length === 1);
      assert.deepEqual([mqttGot[0]?.payload.brightness, mqttGot[0]?.payload.reason], [65, 'restore']);
      await until('the file is emptied', () => (JSON.parse(readFileSync(file, 'utf8')) as { curtailments: unknown[] }).curtailments.length === 0);
    } finally {
      settings({ userDir: undefined });
    }
  });

  /** A user dir for the node's state files, for the duration of `body`. */
  async function withUserDir(body: (dir: string) => Promise<void>): Promise<void> {
    const userDir = mkdtempSync(join(tmpdir(), 'lc-userdir-'));
    // settings() is in the helper, not in our typings of it.
    const settings = (helper as unknown as { settings(s: Record<string, unknown>): void }).settings.bind(helper);
    settings({ userDir });
    try {
      await body(join(userDir, 'edge-gateway'));
    } finally {
      settings({ userDir: undefined });
    }
  }

  test("the owner's override survives a restart: the device is not curtailed again", async () => {
    await withUserDir(async (dir) => {
      await load();
      vtn.publishEvent({
        programID,
        intervalPeriod: { start: new Date(Date.now() + 2000).toISOString(), duration: 'PT60S' },
        intervals: [{ id: 0, payloads: [{ type: 'SIMPLE', values: [2] }] }],
      });
      await until('both devices dimmed', () => mqttGot.length === 1 && coapGot.length === 1);
      helper.getNode('lc').receive({ topic: 'override', device: 'porch' });
      await until('porch restored by the owner', () => coapGot.length === 2);
      const state = JSON.parse(readFileSync(join(dir, 'loadcontrol-lc.json'), 'utf8')) as { optOuts: { device: string }[] };
      assert.deepEqual(state.optOuts.map((o) => o.device), ['coap:porch']);
      await helper.unload();
      await load();
      // The state file is written in the same look at the clock as the commands: read it, not the
      // outputs (those are only watched once load() is back, perhaps after the first poll).
      const curtailed = (): string[] => (JSON.parse(readFileSync(join(dir, 'loadcontrol-lc.json'), 'utf8')) as { curtailments: { participant: { name: string } }[] }).curtailments.map((c) => c.participant.name).sort();
      await until('lamp-1 curtailed again: the event still runs', () => curtailed().includes('lamp-1'));
      assert.deepEqual(curtailed(), ['all lights', 'lamp-1'], 'porch, which the owner took out, is not');
    });
  });

  test('reports owed at close (VTN away) are sent after the restart once the VTN is back, once', async () => {
    await withUserDir(async (dir) => {
      const queueFile = join(dir, 'loadcontrol-lc-reports.json');
      for (const old of [...vtn.events.keys()]) vtn.cancelEvent(old); // so that "no event now" tells the VTN answered
      let { states } = await load();
      const id = vtn.publishEvent({
        programID,
        reportDescriptors: [{ payloadType: 'DELTA_USAGE', aggregate: true }],
        intervalPeriod: { start: new Date(Date.now() + 2000).toISOString(), duration: 'PT2S' },
        intervals: [{ id: 0, payloads: [{ type: 'SIMPLE', values: [1] }] }],
      }).id as string;
      await until('the event was received', () => states.some((m) => m.payload.kind === 'event-received' && m.payload.eventID === id));
      vtn.setOutage(true);
      await until('the event is over', () => states.some((m) => m.payload.kind === 'event-ended' && m.payload.eventID === id));
      await until('the report is queued on disk', () => existsSync(queueFile) && (JSON.parse(readFileSync(queueFile, 'utf8')) as unknown[]).length === 1);
      await helper.unload();
      ({ states } = await load());
      const ours = () => [...vtn.reports.values()].filter((r) => r.eventID === id);
      await until('the VTN is still away', () => kinds(states).includes('vtn-unreachable'));
      assert.equal(ours().length, 0);
      vtn.setOutage(false);
      helper.getNode('lc').receive({ topic: 'poll' });
      await until('the report at the VTN', () => ours().length === 1);
      await until('the queue on disk is empty', () => (JSON.parse(readFileSync(queueFile, 'utf8')) as unknown[]).length === 0);
      await helper.unload();
      await load();
      await waitForStatus(helper.getNode('lc'), (st) => st.fill === 'green' && /no event now/.test(String(st.text)));
      await helper.unload(); // waits for any report on its way
      assert.equal(ours().length, 1, 'once, not twice');
      assert.deepEqual(vtn.violations, []);
    });
  });

  test('bad settings: red status, inputs still completed', async () => {
    await helper.load(nodes, [{ id: 'vtncfg', type: 'openadr-vtn', baseUrl: vtn.baseUrl }, { id: 'lc', type: 'load-control', vtn: 'vtncfg', devices: '[{"name":"x"}]', wires: [[], []] }], {
      vtncfg: { clientId: 'ven-client', clientSecret: 'ven-secret' },
    });
    await waitForStatus(helper.getNode('lc'), (s) => s.fill === 'red' && /endpoint or a group/.test(String(s.text)));
  });
});
