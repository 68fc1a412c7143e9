/**
 * What the dashboard shows, gathered from the deployed device-provisioning services (MQTT
 * devices, claims, notices) and coap-rd directories (CoAP endpoints), with vendor information.
 */
import type { Claim, DeviceRecord, Notice, ProvisioningService } from '../provisioning/types';
import type { EndpointDirectory, RegisteredEndpoint } from '../coap/rd/directory';
import type { SharingChoices } from '../sharing/choices';
import type { DeviceLoadControl, LoadControlOwner } from '../loadcontrol/owner-view';
import { lookupVendor, type VendorInfo } from './vendor-catalogue';

export interface Source<T> {
  readonly nodeId: string;
  readonly name: string;
  readonly value: T;
}

export interface DeviceView {
  readonly id: string;
  readonly kind: 'mqtt' | 'coap';
  /** The device-provisioning or coap-rd node it belongs to. */
  readonly source: string;
  readonly online: boolean;
  readonly state?: string;
  readonly label?: string;
  readonly firmware?: string;
  readonly model?: string;
  readonly vendor?: string;
  readonly behaviours: readonly string[];
  readonly lastSeen?: string;
  readonly vendorInfo?: VendorInfo;
  /** MQTT devices only: CoAP endpoints are not in the registry that keeps choices. */
  readonly sharing?: SharingChoices;
  readonly address?: string;
  /** Utility events the device is curtailed by, or was taken out of by the owner, now. */
  readonly loadControl?: Array<Omit<DeviceLoadControl, 'deviceId'> & { node: string }>;
}

export interface DashboardView {
  readonly devices: DeviceView[];
  /** Claims whose device has not provisioned yet (a claim stays as the device's admission). */
  readonly claims: Array<Claim & { registry: string }>;
  readonly notices: Array<Notice & { registry: string }>;
  readonly registries: Array<{ id: string; name: string }>;
  readonly thirdParties: string[];
  readonly canWrite: boolean;
}

export interface ViewInput {
  provisioning: readonly Source<ProvisioningService>[];
  directories: readonly Source<EndpointDirectory>[];
  loadControl?: readonly Source<LoadControlOwner>[];
  catalogue: readonly VendorInfo[];
  thirdParties: readonly string[];
  canWrite: boolean;
  now: number;
  noticeLimit: number;
}

function mqttDevice(d: DeviceRecord, source: string, catalogue: readonly VendorInfo[]): DeviceView {
  return {
    id: d.id,
    kind: 'mqtt',
    source,
    online: d.online,
    state: d.state,
    label: d.label,
    firmware: d.firmware,
    model: d.model,
    vendor: d.vendor,
    behaviours: [...d.behaviours],
    lastSeen: d.lastSeen,
    vendorInfo: lookupVendor(catalogue, d.vendor, d.model),
    sharing: d.sharing,
  };
}

/** An RD registration as a device: `et` (endpoint type) stands for the model, resource types for behaviours. */
function coapDevice(e: RegisteredEndpoint, source: string, now: number): DeviceView {
  const extra = e as RegisteredEndpoint & { attributes?: Readonly<Record<string, readonly string[]>>; updatedAt?: number };
  const rts = new Set<string>();
  for (const link of e.links) {
    const rt = link.attributes?.rt;
    for (const v of Array.isArray(rt) ? rt : rt === undefined ? [] : [rt]) for (const t of String(v).split(' ')) if (t) rts.add(t);
  }
  return {
    id: e.d !== undefined ? `${e.ep} (${e.d})` : e.ep,
    kind: 'coap',
    source,
    online: e.expiresAt > now,
    model: extra.attributes?.et?.[0],
    behaviours: [...rts],
    lastSeen: extra.updatedAt !== undefined ? new Date(extra.updatedAt).toISOString() : undefined,
    address: e.base,
  };
}

export function dashboardView(input: ViewInput): DashboardView {
  const devices: DeviceView[] = [];
  const claims: DashboardView['claims'] = [];
  const notices: DashboardView['notices'] = [];
  for (const p of input.provisioning) {
    for (const d of p.value.devices()) devices.push(mqttDevice(d, p.nodeId, input.catalogue));
    for (const c of p.value.claims()) if (p.value.device(c.id)?.state !== 'provisioned') claims.push({ ...c, registry: p.nodeId });
    for (const n of p.value.notices(input.noticeLimit)) notices.push({ ...n, registry: p.nodeId });
  }
  for (const dir of input.directories) for (const e of dir.value.endpoints()) devices.push(coapDevice(e, dir.nodeId, input.now));
  const lc = new Map<string, NonNullable<DeviceView['loadControl']>>();
  for (const node of input.loadControl ?? []) {
    for (const { deviceId, ...entry } of node.value.devices()) {
      const list = lc.get(deviceId) ?? [];
      list.push({ ...entry, node: node.nodeId });
      lc.set(deviceId, list);
    }
  }
  const withLoadControl = devices.map((d) => (lc.has(d.id) ? { ...d, loadControl: lc.get(d.id) } : d));
  notices.sort((a, b) => b.at.localeCompare(a.at));
  const thirdParties = new Set(input.thirdParties);
  for (const d of withLoadControl) for (const name of Object.keys(d.sharing?.thirdParties ?? {})) thirdParties.add(name);
  return {
    devices: withLoadControl,
    claims,
    notices: notices.slice(0, input.noticeLimit),
    registries: input.provisioning.map((p) => ({ id: p.nodeId, name: p.name })),
    thirdParties: [...thirdParties],
    canWrite: input.canWrite,
  };
}
