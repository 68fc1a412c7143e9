/**
 * An OpenADR 3 VEN: the utility's events become commands for the opted-in devices, within the
 * owner's limits; output 1 carries the commands (mqtt out / coap-request), output 2 every state
 * change, and reports go back to the VTN.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { NodeAPI, Node, NodeDef, NodeMessage, NodeMessageInFlow } from 'node-red';
import { LoadControlSchedule, type StateChange } from '../lib/loadcontrol/schedule';
import { loadState, saveState, type LoadControlState } from '../lib/loadcontrol/curtailment-store';
import { loadReportQueue, saveReportQueue } from '../lib/loadcontrol/report-queue-store';
import type { Report } from '../lib/loadcontrol/openadr3-types';
import { VtnSession, type SessionChange } from '../lib/loadcontrol/vtn-session';
import { coapParticipants, participantsFromRegistry, ParticipantConfigError, type Participant } from '../lib/loadcontrol/participants';
import { commandMessage, DEFAULT_TOPIC_TEMPLATE, stateMessage } from '../lib/loadcontrol/messages';
import { DEFAULT_SIGNAL_OPTIONS } from '../lib/loadcontrol/signals';
import { ownerView, type LoadControlOwner } from '../lib/loadcontrol/owner-view';
import type { ProvisioningService } from '../lib/provisioning/types';
import { integerSetting, SettingError, settingsOrRefuse } from './settings';
import type { OpenAdrVtnNode } from './openadr-vtn-node';

interface LoadControlDef extends NodeDef {
  vtn: string;
  venName: string;
  programs: string;
  targetType: string;
  targetValues: string;
  poll: string | number;
  provisioning: string;
  devices: unknown;
  randomize: string | number;
  priceThresholds: string;
  setpointStep: string | number;
  openEndedHours: string | number;
  maxDevices: string | number;
  maxEvents: string | number;
  maxReports: string | number;
  callbackBase: string;
  topicTemplate: string;
}

type Send = (msg: NodeMessage | (NodeMessage | null)[]) => void;
type Done = (err?: Error) => void;

const MAX_NOTIFICATION_BYTES = 1024 * 1024;

function list(text: unknown): string[] {
  return String(text ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

function numberList(name: string, text: unknown, fallback: readonly number[]): number[] {
  const items = list(text);
  if (items.length === 0) return [...fallback];
  const n = items.map(Number);
  if (n.some((x) => !Number.isFinite(x)) || n.length > 3) throw new SettingError(`${name}: up to three numbers, comma separated`);
  return n.sort((a, b) => a - b);
}

function devicesSetting(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  if (value.trim() === '') return [];
  try {
    return JSON.parse(value) as unknown;
  } catch {
    throw new SettingError('the CoAP device list is not valid JSON');
  }
}

export = function register(RED: NodeAPI): void {
  function LoadControlNode(this: Node, config: LoadControlDef): void {
    RED.nodes.createNode(this, config);
    const venName = (config.venName ?? '').trim() || 'edge-gateway';
    const settings = settingsOrRefuse(
      this,
      'load-control',
      () => {
        if (venName.length > 128) throw new SettingError('the VEN name is longer than 128 characters');
        const pollMs = integerSetting('poll interval', config.poll, 60, 2, 86_400) * 1000;
        const randomizeMs = integerSetting('start randomisation', config.randomize, 0, 0, 3600) * 1000;
        const openEndedMs = integerSetting('open-ended event cap', config.openEndedHours, 4, 1, 48) * 3600_000;
        const maxEvents = integerSetting('max events', config.maxEvents, 100, 1, 10_000);
        const maxReports = integerSetting('max queued reports', config.maxReports, 100, 1, 10_000);
        const maxDevices = integerSetting('max devices', config.maxDevices, 100, 1, 10_000);
        const coapList = coapParticipants(devicesSetting(config.devices), maxDevices);
        const priceThresholds = numberList('price thresholds', config.priceThresholds, DEFAULT_SIGNAL_OPTIONS.priceThresholds);
        const setpointStep = config.setpointStep === undefined || config.setpointStep === '' ? DEFAULT_SIGNAL_OPTIONS.setpointStep : Number(config.setpointStep);
        if (!Number.isFinite(setpointStep) || Math.abs(setpointStep) > 5) throw new SettingError('setpoint step must be a number from -5 to 5 (°C per level)');
        if (config.callbackBase && !/^https?:\/\/\S+$/.test(config.callbackBase.trim())) throw new SettingError('the callback base must be an http(s) URL');
        return { coapList, pollMs, randomizeMs, openEndedMs, maxEvents, maxReports, priceThresholds, setpointStep };
      },
      [ParticipantConfigError],
    );
    if (!settings) return;
    const { coapList, pollMs, randomizeMs, openEndedMs, maxEvents, maxReports, priceThresholds, setpointStep } = settings;
    const vtnNode = config.vtn ? (RED.nodes.getNode(config.vtn) as OpenAdrVtnNode | null) : null;
    const client = vtnNode ? vtnNode.vtnClient() : 'choose an openadr-vtn configuration';
    if (typeof client === 'string') {
      this.status({ fill: 'yellow', shape: 'ring', text: client });
      this.warn(`load-control waits: ${client}`);
      this.on('input', (_m: NodeMessageInFlow, _s: Send, done: Done) => done());
      return;
    }

    const topicTemplate = (config.topicTemplate ?? '').trim() || DEFAULT_TOPIC_TEMPLATE;
    const schedule = new LoadControlSchedule({ clientName: venName, randomizeStartMs: randomizeMs, openEndedMs, maxEvents, signals: { priceThresholds, setpointStep } });
    // State on disk under <userDir>/edge-gateway/: the curtailed devices and the owner's opt-outs
    // (loadcontrol-<id>.json), so that a crash in an event can neither leave a device curtailed
    // nor curtail one the owner took out; and the reports still owed to the VTN
    // (loadcontrol-<id>-reports.json). Without a user dir, memory only.
    const userDir = (RED.settings as { userDir?: unknown }).userDir;
    const fileBase = typeof userDir === 'string' && userDir !== '' ? join(userDir, 'edge-gateway', `loadcontrol-${this.id.replace(/[^A-Za-z0-9_.-]/g, '_')}`) : undefined;
    const stateFile = fileBase && `${fileBase}.json`;
    const queueFile = fileBase && `${fileBase}-reports.json`;
    let saved: LoadControlState = { curtailments: [], optOuts: [] };
    let queued: Report[] = [];
    if (stateFile && queueFile) {
      try {
        saved = loadState(stateFile);
      } catch (err) {
        this.warn(`${stateFile} unreadable (${(err as Error).message}): devices curtailed or opted out before the restart are not known`);
      }
      try {
        queued = loadReportQueue(queueFile, maxReports);
      } catch (err) {
        this.warn(`${queueFile} unreadable (${(err as Error).message}): reports owed before the restart are lost`);
      }
    }
    const session = new VtnSession({
      client,
      schedule,
      venName,
      programNames: list(config.programs),
      targetType: config.targetType?.trim() || undefined,
      targetValues: list(config.targetValues).length ? list(config.targetValues) : undefined,
      pollMs,
      maxQueuedReports: maxReports,
      queuedReports: queued,
      saveQueue: queueFile ? (queue) => saveReportQueue(queueFile, queue) : undefined,
    });
    let saveFailed = false;
    // Saved curtailments not yet taken back (that waits for the first poll) stay on disk meanwhile.
    let unadopted = saved.curtailments;
    const saveSchedule = (): void => {
      if (!stateFile) return;
      const now = schedule.curtailments();
      const curtailments = [...now, ...unadopted.filter((c) => !now.some((n) => n.participant.key === c.participant.key))];
      try {
        saveState(stateFile, { curtailments, optOuts: schedule.optOutList() });
        saveFailed = false;
      } catch (err) {
        if (!saveFailed) this.error(`cannot save ${stateFile}: ${(err as Error).message}`);
        saveFailed = true;
      }
    };
    schedule.on('curtailments', saveSchedule);
    schedule.on('opt-outs', saveSchedule);
    // For the dashboard (nodes/dashboard/services.ts): what is curtailed, and the owner's override.
    (this as Node & { loadControl?: LoadControlOwner }).loadControl = ownerView(schedule, Date.now, (p, events) =>
      this.log(`owner override from the dashboard: ${p.name} leaves ${events.length ? events.join(', ') : 'no running event'}`),
    );
    let closed = false;
    let reachable: boolean | undefined;
    let running: string | undefined;

    const showStatus = (): void => {
      if (closed) return;
      const n = schedule.participants().length;
      if (reachable === false) this.status({ fill: 'yellow', shape: 'ring', text: `VTN unreachable; ${running ? `running ${running}` : 'no event'}; ${n} devices` });
      else if (running) this.status({ fill: 'blue', shape: 'dot', text: `event ${running}; ${n} devices` });
      else this.status({ fill: 'green', shape: 'dot', text: reachable ? `${n} devices, no event now` : 'connecting to the VTN' });
    };
    const sendState = (change: StateChange | SessionChange): void => {
      if (closed) return;
      this.send([null, stateMessage(change) as unknown as NodeMessage]);
    };

    schedule.on('command', (cmd) => {
      if (closed && cmd.reason !== 'restore') return;
      this.send([commandMessage(cmd, topicTemplate) as unknown as NodeMessage, null]);
    });
    schedule.on('state', (change) => {
      if (change.kind === 'interval-started') running = change.eventID;
      if ((change.kind === 'event-ended' || change.kind === 'event-cancelled') && running === change.eventID) running = undefined;
      // Logged once per event: a malformed event is the utility's problem, not the flow's.
      if (change.kind === 'event-rejected') this.warn(`event ${change.eventID ?? '(no id)'} refused: ${change.reason}`);
      if (change.kind === 'report-declined') this.warn(`event ${change.eventID}: ${change.reason}`);
      if (change.kind === 'clock-jump') this.warn(`the clock jumped ${Math.round(change.jumpMs / 1000)} s; schedule re-planned`);
      sendState(change);
      showStatus();
    });
    session.on('state', (change) => {
      if (change.kind === 'vtn-unreachable') {
        if (reachable !== false) this.warn(`VTN unreachable: ${change.reason}; known events keep running, retrying with growing delays`);
        reachable = false;
      }
      if (change.kind === 'vtn-reachable') reachable = true;
      if (change.kind === 'notice' || change.kind === 'report-dropped') this.warn(change.reason);
      sendState(change);
      showStatus();
    });

    // Participants: the CoAP list, plus opted-in devices from the provisioning node's registry.
    let service: ProvisioningService | undefined;
    const refreshParticipants = (): void => {
      if (closed) return;
      let registry: Participant[] = [];
      try {
        registry = service ? participantsFromRegistry(service.devices()) : [];
      } catch (err) {
        this.warn(`device registry unreadable: ${(err as Error).message}`);
      }
      schedule.setParticipants([...coapList, ...registry]);
      showStatus();
    };
    const attachProvisioning = (): void => {
      if (!config.provisioning || service) return;
      const node = RED.nodes.getNode(config.provisioning) as (Node & { service?: ProvisioningService }) | null;
      if (!node?.service) return;
      service = node.service;
      service.on('changed', refreshParticipants);
    };

    // Webhook: only when the gateway is reachable from the VTN at callbackBase.
    let hookPath: string | undefined;
    if (config.callbackBase?.trim()) {
      hookPath = `/openadr3/notify/${this.id}`;
      const bearer = randomBytes(24).toString('base64url');
      const callbackUrl = `${config.callbackBase.trim().replace(/\/+$/, '')}${hookPath}`;
      RED.httpNode.post(hookPath, (req: IncomingMessage, res: ServerResponse) => {
        const chunks: Buffer[] = [];
        let size = 0;
        let refused = false;
        req.on('data', (c: Buffer) => {
          size += c.length;
          if (size > MAX_NOTIFICATION_BYTES && !refused) {
            refused = true;
            res.writeHead(413).end();
          } else if (!refused) chunks.push(c);
        });
        req.on('end', () => {
          if (refused) return;
          let body: unknown;
          try {
            body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
          } catch {
            body = undefined;
          }
          const answer = session.notify(req.headers.authorization, body);
          res.writeHead(answer.status, { 'content-type': 'application/json' }).end(answer.reason ? JSON.stringify({ title: answer.reason, status: answer.status }) : '');
        });
      });
      session.useWebhook(callbackUrl, bearer);
    }

    // The provisioning node may be created after this one: look once everything exists.
    const startTimer = setTimeout(() => {
      attachProvisioning();
      refreshParticipants();
      // Before the first look at the clock: a device the owner took out stays out.
      schedule.adoptOptOuts(saved.optOuts);
      schedule.start();
      session.start();
      // Saved curtailments are taken back once the VTN has been asked (or found away): those
      // whose event is still on keep going, the others are restored.
      void session.pollNow().then(() => {
        if (closed) return;
        unadopted = [];
        schedule.adopt(saved.curtailments);
        saveSchedule();
      });
    }, 0);
    showStatus();

    const deviceOf = (msg: NodeMessageInFlow & { device?: unknown; quantity?: unknown }): Participant | undefined => {
      const topic = /^devices\/([^/]+)\/(?:state|telemetry)(?:\/([^/]+))?$/.exec(typeof msg.topic === 'string' ? msg.topic : '');
      const device = msg.device !== undefined ? String(msg.device) : topic?.[1];
      const quantity = msg.quantity !== undefined ? String(msg.quantity) : topic?.[2];
      if (!device) return undefined;
      return schedule.participants().find((p) => (p.key === device || p.name === device || p.deviceId === device) && (quantity === undefined || p.quantity === quantity));
    };

    this.on('input', (msg: NodeMessageInFlow, _send: Send, done: Done) => {
      const m = msg as NodeMessageInFlow & { device?: unknown; quantity?: unknown };
      if (m.topic === 'poll') {
        void session.pollNow();
        return done();
      }
      const p = deviceOf(m);
      if (!p) {
        // States of devices that do not take part pass by (an mqtt in on devices/+/telemetry sends them all).
        if (m.topic !== 'override' && m.topic !== 'set') return done();
        return done(new Error(`no opted-in device "${String(m.device ?? '')}": set msg.device to a device name or id`));
      }
      if (m.topic === 'override') {
        const events = schedule.override(p.key);
        this.log(`owner override: ${p.name} leaves ${events.length ? events.join(', ') : 'no running event'}`);
        return done();
      }
      const payload = m.payload as unknown;
      const obj = (typeof payload === 'object' && payload !== null ? payload : {}) as Record<string, unknown>;
      const value = typeof payload === 'number' ? payload : typeof obj.value === 'number' ? obj.value : typeof obj[p.quantity] === 'number' ? (obj[p.quantity] as number) : undefined;
      const powerW = typeof obj.power === 'number' ? obj.power : undefined;
      if (m.topic === 'set') {
        if (value === undefined) return done(new Error('msg.payload must be the value the owner set'));
        schedule.ownerCommanded(p.key, value);
        return done();
      }
      if (value === undefined && powerW === undefined) return done(new Error('a device report needs a number, or {value, power}'));
      schedule.deviceReported(p.key, { value, powerW });
      done();
    });

    this.on('close', (_removed: boolean, done: () => void) => {
      clearTimeout(startTimer);
      service?.off('changed', refreshParticipants);
      // Hand the devices back before going: a redeploy must not leave anything curtailed.
      schedule.restoreAll();
      closed = true;
      schedule.stop();
      if (hookPath) {
        // Express has no route removal: drop our route from the router stack, as core http-in does.
        const router = (RED.httpNode as unknown as { _router?: { stack: { route?: { path?: string } }[] } })._router;
        if (router) router.stack = router.stack.filter((layer) => layer.route?.path !== hookPath);
      }
      session.stop().then(
        () => done(),
        () => done(),
      );
    });
  }
  RED.nodes.registerType('load-control', LoadControlNode);
};
