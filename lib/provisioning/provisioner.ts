/**
 * The gateway side of provisioning: answers hellos, keeps the registry and raises owner notices.
 * It talks MQTT through a ProvisioningBus, so the same logic runs in-process on the embedded
 * broker or as a client of any external broker.
 *
 * A hello on provisioning/<X>/hello can only come from the client whose certificate identity is
 * X: both the embedded broker and mosquitto (ACL pattern with %u) enforce that. The hello's own
 * `id` is what the device believes it is (its label); the two must agree.
 */
import { EventEmitter } from 'node:events';
import type { Claim, ClaimSource, DeviceRecord, Notice, NoticeKind, ProvisioningEvents, ProvisioningService } from './types';
import type { SharingChoices } from '../sharing/choices';
import { DEFAULT_SHARING } from '../sharing/choices';
import { acceptedPayload, parseHello, type RejectCode, type RejectedPayload } from './messages';
import { GATEWAY_SUBSCRIPTIONS, isValidDeviceId, parseTopic, provisioningTopic } from './topics';
import type { DeviceRegistry } from './registry';

export interface ProvisioningBus {
  subscribe(filters: readonly string[], onMessage: (topic: string, payload: Buffer) => void): Promise<void>;
  publish(topic: string, payload: string, options?: { retain?: boolean }): Promise<void>;
  /** Drops the live connection of a device, where the broker lets the gateway do that. */
  disconnect?(id: string): void;
  /** Tells the broker the whole set of revoked device IDs, where it keeps its own list (mosquitto ACL). */
  refuse?(revokedIds: readonly string[]): Promise<void>;
  close(): Promise<void>;
}

export interface ProvisionerOptions {
  heartbeatSeconds?: number;
  /** Sent to every device in `accepted`. */
  settings?: Record<string, unknown>;
  /** The same notice (kind and device) is raised at most once in this many seconds. */
  noticeQuietSeconds?: number;
  now?: () => Date;
  /** At most this many notices per minute in all; an outsider can invent certificate names. */
  maxNoticesPerMinute?: number;
  /** A message that could not be handled (a registry write failed); the provisioner carries on. */
  onError?: (err: Error) => void;
  /** Notices were dropped over the per-minute limit (called once per minute that had some). */
  onNoticesSuppressed?: (count: number) => void;
}

export const DEFAULT_HEARTBEAT_SECONDS = 60;
export const DEFAULT_NOTICE_QUIET_SECONDS = 60;
export const DEFAULT_MAX_NOTICES_PER_MINUTE = 30;
const MAX_QUIET_ENTRIES = 10_000;

export class ProvisioningError extends Error {}

export class Provisioner extends EventEmitter<ProvisioningEvents> implements ProvisioningService {
  private bus: ProvisioningBus | undefined;
  private readonly lastNotice = new Map<string, number>();
  private noticeWindow = { start: 0, count: 0, suppressed: 0 };
  private readonly options: Required<ProvisionerOptions>;

  constructor(
    readonly registry: DeviceRegistry,
    options: ProvisionerOptions = {},
  ) {
    super();
    this.options = {
      heartbeatSeconds: options.heartbeatSeconds ?? DEFAULT_HEARTBEAT_SECONDS,
      settings: options.settings ?? {},
      noticeQuietSeconds: options.noticeQuietSeconds ?? DEFAULT_NOTICE_QUIET_SECONDS,
      now: options.now ?? (() => new Date()),
      maxNoticesPerMinute: options.maxNoticesPerMinute ?? DEFAULT_MAX_NOTICES_PER_MINUTE,
      onError: options.onError ?? (() => undefined),
      onNoticesSuppressed: options.onNoticesSuppressed ?? (() => undefined),
    };
  }

  /** Starts listening on a bus; messages before that are the broker's to keep. */
  async attach(bus: ProvisioningBus): Promise<void> {
    this.bus = bus;
    await bus.subscribe(GATEWAY_SUBSCRIPTIONS, (topic, payload) => {
      this.handle(topic, payload).catch((err: Error) => this.options.onError(err));
    });
    await this.syncRefusals();
  }

  private async syncRefusals(): Promise<void> {
    await this.bus?.refuse?.(this.registry.devices().filter((d) => d.state === 'revoked').map((d) => d.id));
  }

  async detach(): Promise<void> {
    const bus = this.bus;
    this.bus = undefined;
    await bus?.close();
    await this.registry.flush();
  }

  // ---- ProvisioningService ----

  claims(): Claim[] {
    return this.registry.claims();
  }

  devices(): DeviceRecord[] {
    return this.registry.devices();
  }

  device(id: string): DeviceRecord | undefined {
    return this.registry.device(id);
  }

  notices(limit?: number): Notice[] {
    return this.registry.notices(limit);
  }

  async claim(id: string, source: ClaimSource, label?: string): Promise<Claim> {
    const clean = String(id ?? '').trim();
    if (!isValidDeviceId(clean)) throw new ProvisioningError(`"${clean.slice(0, 80)}" is not a device ID: 1 to 64 letters, digits and . _ : @ -`);
    const existing = this.registry.claim(clean);
    const claim: Claim = existing && label === undefined ? existing : { id: clean, claimedAt: existing?.claimedAt ?? this.now(), source: existing?.source ?? source, ...(label ? { label: label.slice(0, 128) } : {}) };
    const writes = [this.registry.putClaim(claim)];
    const device = this.registry.device(clean);
    if (device) {
      // Claiming again is how the owner readmits a revoked device.
      const state = device.state === 'revoked' ? 'deprovisioned' : device.state;
      writes.push(this.registry.putDevice({ ...device, state, ...(claim.label ? { label: claim.label } : {}) }));
    }
    await Promise.all(writes);
    if (device?.state === 'revoked') await this.syncRefusals();
    this.emit('changed');
    return claim;
  }

  async unclaim(id: string): Promise<void> {
    const state = this.registry.device(id)?.state;
    if (state === 'provisioned') await this.tellDeprovision(id, 'the owner removed the claim');
    await Promise.all([this.registry.removeClaim(id), this.registry.removeDevice(id)]);
    if (state === 'revoked') await this.syncRefusals();
    this.emit('changed');
  }

  async setSharing(id: string, choices: SharingChoices): Promise<DeviceRecord> {
    const device = this.registry.device(id);
    if (!device) throw new ProvisioningError(`no device ${id}`);
    const updated: DeviceRecord = { ...device, sharing: choices };
    await this.registry.putDevice(updated);
    this.emit('changed');
    return updated;
  }

  /** The device forgets its configuration and the claim ends; claiming it again brings it back. */
  async deprovision(id: string): Promise<void> {
    const device = this.registry.device(id);
    if (!device && !this.registry.claim(id)) throw new ProvisioningError(`no device ${id}`);
    if (device?.state === 'provisioned') await this.tellDeprovision(id, 'the owner deprovisioned the device');
    await Promise.all([this.registry.removeClaim(id), device ? this.registry.putDevice({ ...device, state: 'deprovisioned', online: false }) : Promise.resolve()]);
    this.emit('changed');
  }

  async revoke(id: string): Promise<void> {
    if (!isValidDeviceId(id)) throw new ProvisioningError(`"${String(id).slice(0, 80)}" is not a device ID`);
    const device = this.registry.device(id) ?? this.blankDevice(id);
    await Promise.all([this.registry.putDevice({ ...device, state: 'revoked', online: false }), this.registry.removeClaim(id)]);
    await this.publish(provisioningTopic(id, 'rejected'), { code: 'revoked', reason: 'the owner revoked this device' });
    this.bus?.disconnect?.(id);
    await this.syncRefusals();
    this.emit('changed');
  }

  // ---- what brokers report ----

  /** The embedded broker asks this before it lets a client in. */
  isRevoked(id: string): boolean {
    return this.registry.device(id)?.state === 'revoked';
  }

  /** A refusal the broker saw (expired certificate, another device's topic, revoked identity). */
  async report(kind: NoticeKind, deviceId: string, reason: string, detail?: Record<string, string>): Promise<void> {
    await this.notify(kind, deviceId, reason, detail);
  }

  // ---- messages ----

  async handle(topic: string, payload: Buffer): Promise<void> {
    const parsed = parseTopic(topic);
    if (!parsed) return;
    if (parsed.root === 'provisioning' && parsed.rest === 'hello') return this.hello(parsed.id, payload);
    if (parsed.root === 'devices' && parsed.rest === 'status') return this.status(parsed.id, payload);
  }

  private async hello(identity: string, payload: Buffer): Promise<void> {
    const result = parseHello(payload);
    if (!result.ok) return this.refuse(identity, 'bad-payload', 'bad-payload', `bad hello from ${identity}: ${result.reason}`);
    const hello = result.hello;
    if (hello.id !== identity) {
      return this.refuse(identity, 'identity-mismatch', 'identity-mismatch', `device announced ID "${hello.id.slice(0, 64)}" but its certificate says "${identity}"`, {
        announced: hello.id.slice(0, 64),
        certificate: identity,
      });
    }
    const known = this.registry.device(identity);
    if (known?.state === 'revoked') return this.refuse(identity, 'revoked', 'revoked-device', `revoked device ${identity} tried to register`);
    const claim = this.registry.claim(identity);
    if (!claim) {
      const why = known?.state === 'deprovisioned' ? 'deprovisioned device' : 'unclaimed device';
      return this.refuse(identity, 'unclaimed', 'unclaimed', `${why} ${identity} tried to register; claim it to let it in`, {
        ...(hello.vendor ? { vendor: hello.vendor } : {}),
        ...(hello.model ? { model: hello.model } : {}),
      });
    }
    const now = this.now();
    const record: DeviceRecord = {
      id: identity,
      state: 'provisioned',
      online: true,
      firmware: hello.firmware,
      ...(hello.model ? { model: hello.model } : {}),
      ...(hello.vendor ? { vendor: hello.vendor } : {}),
      behaviours: [...new Set(hello.behaviours ?? [])],
      provisionedAt: known?.state === 'provisioned' && known.provisionedAt ? known.provisionedAt : now,
      lastSeen: now,
      ...(claim.label ? { label: claim.label } : {}),
      sharing: known?.sharing ?? DEFAULT_SHARING,
    };
    await this.registry.putDevice(record);
    await this.publish(provisioningTopic(identity, 'accepted'), acceptedPayload(identity, this.options.heartbeatSeconds, this.options.settings));
    this.emit('provisioned', record);
    this.emit('changed');
  }

  private async status(id: string, payload: Buffer): Promise<void> {
    const device = this.registry.device(id);
    if (!device || device.state !== 'provisioned') return;
    const online = payload.toString().trim() === 'online';
    const updated: DeviceRecord = { ...device, online, lastSeen: this.now() };
    // A heartbeat only moves lastSeen; a change of online state is worth a write of its own.
    if (device.online === online) return void this.registry.touchDevice(updated);
    await this.registry.putDevice(updated);
    this.emit('changed');
  }

  /** Marks offline the devices silent for three heartbeats (a lost will, a broker restart). */
  async sweep(): Promise<number> {
    const limit = this.options.now().getTime() - 3 * this.options.heartbeatSeconds * 1000;
    const silent = this.registry.devices().filter((d) => d.state === 'provisioned' && d.online && Date.parse(d.lastSeen ?? '') < limit);
    if (silent.length === 0) return 0;
    await Promise.all(silent.map((d) => this.registry.putDevice({ ...d, online: false })));
    this.emit('changed');
    return silent.length;
  }

  private async refuse(id: string, code: RejectCode, kind: NoticeKind, reason: string, detail?: Record<string, string>): Promise<void> {
    const answer: RejectedPayload = { code, reason };
    await Promise.all([this.publish(provisioningTopic(id, 'rejected'), answer), this.notify(kind, id, reason, detail)]);
  }

  private async notify(kind: NoticeKind, deviceId: string, reason: string, detail?: Record<string, string>): Promise<void> {
    const key = `${kind}\u0000${deviceId}`;
    const nowMs = this.options.now().getTime();
    const last = this.lastNotice.get(key);
    if (last !== undefined && nowMs - last < this.options.noticeQuietSeconds * 1000) return;
    if (this.lastNotice.size >= MAX_QUIET_ENTRIES) this.lastNotice.clear();
    this.lastNotice.set(key, nowMs);
    if (!this.withinNoticeRate(nowMs)) return;
    const notice: Notice = { kind, deviceId: deviceId.slice(0, 128), at: this.now(), reason, ...(detail && Object.keys(detail).length ? { detail } : {}) };
    await this.registry.addNotice(notice);
    this.emit('notice', notice);
    this.emit('changed');
  }

  private withinNoticeRate(nowMs: number): boolean {
    const w = this.noticeWindow;
    if (nowMs - w.start >= 60_000) {
      if (w.suppressed > 0) this.options.onNoticesSuppressed(w.suppressed);
      this.noticeWindow = { start: nowMs, count: 0, suppressed: 0 };
    }
    if (this.noticeWindow.count >= this.options.maxNoticesPerMinute) {
      this.noticeWindow.suppressed++;
      return false;
    }
    this.noticeWindow.count++;
    return true;
  }

  private async tellDeprovision(id: string, reason: string): Promise<void> {
    await this.publish(provisioningTopic(id, 'deprovision'), { reason });
  }

  private async publish(topic: string, body: object): Promise<void> {
    await this.bus?.publish(topic, JSON.stringify(body));
  }

  private blankDevice(id: string): DeviceRecord {
    const label = this.registry.claim(id)?.label;
    return { id, state: 'deprovisioned', online: false, behaviours: [], sharing: DEFAULT_SHARING, ...(label ? { label } : {}) };
  }

  private now(): string {
    return this.options.now().toISOString();
  }
}
