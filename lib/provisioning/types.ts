/**
 * What the rest of the gateway (dashboard, data-sharing, load-control) sees of MQTT device
 * provisioning: claims, the device registry and owner notices. The device-provisioning node
 * exposes a ProvisioningService; other nodes depend on this contract only.
 */
import type { EventEmitter } from 'node:events';
import type { SharingChoices } from '../sharing/choices';

export type ClaimSource = 'dashboard' | 'flow' | 'csv';

export interface Claim {
  /** The device's unique ID: what its certificate's identity must equal. */
  readonly id: string;
  readonly claimedAt: string; // ISO 8601
  readonly source: ClaimSource;
  /** Owner's own name for it ("hall light"), optional. */
  readonly label?: string;
}

export type DeviceState = 'provisioned' | 'deprovisioned' | 'revoked';

export interface DeviceRecord {
  readonly id: string;
  readonly state: DeviceState;
  readonly online: boolean;
  readonly firmware?: string;
  readonly model?: string;
  readonly vendor?: string;
  /** Behaviours the device announced (e.g. "switch", "dimmer", "thermostat"). */
  readonly behaviours: readonly string[];
  readonly provisionedAt?: string; // ISO 8601
  readonly lastSeen?: string; // ISO 8601
  readonly label?: string;
  readonly sharing: SharingChoices;
}

export type NoticeKind =
  | 'unclaimed' // a device that nobody claimed tried to register
  | 'identity-mismatch' // certificate identity differs from the ID it announced
  | 'bad-payload' // a provisioning message failed validation
  | 'certificate-expired'
  | 'certificate-revoked'
  | 'revoked-device'; // a revoked device tried to come back

export interface Notice {
  readonly kind: NoticeKind;
  /** The ID the device announced or its certificate carried. */
  readonly deviceId: string;
  readonly at: string; // ISO 8601
  /** Human-readable, for the owner. */
  readonly reason: string;
  /** Certificate identity, client address, and similar, when known. */
  readonly detail?: Readonly<Record<string, string>>;
}

export interface ProvisioningEvents {
  /** Any change of claims, devices or choices; the dashboard refreshes on it. */
  changed: [];
  provisioned: [DeviceRecord];
  notice: [Notice];
}

export interface ProvisioningService extends EventEmitter<ProvisioningEvents> {
  claims(): Claim[];
  devices(): DeviceRecord[];
  device(id: string): DeviceRecord | undefined;
  /** Newest first, at most `limit`. */
  notices(limit?: number): Notice[];
  claim(id: string, source: ClaimSource, label?: string): Promise<Claim>;
  unclaim(id: string): Promise<void>;
  setSharing(id: string, choices: SharingChoices): Promise<DeviceRecord>;
  deprovision(id: string): Promise<void>;
  /** Disconnects the device now and refuses it from then on. */
  revoke(id: string): Promise<void>;
}
