/**
 * An in-memory ProvisioningService (lib/provisioning/types.ts) for node and route tests that
 * exercise the consumers of the contract, and a stand-in `device-provisioning` node type that
 * exposes it. The real node is tested against mosquitto/aedes in its own tests.
 */
import { EventEmitter } from 'node:events';
import type { NodeAPI, Node, NodeDef } from 'node-red';
import type { NodeModule } from 'node-red-node-test-helper';
import type { Claim, ClaimSource, DeviceRecord, Notice, ProvisioningEvents, ProvisioningService } from '../../lib/provisioning/types';
import { DEFAULT_SHARING, type SharingChoices } from '../../lib/sharing/choices';

export class MemoryProvisioning extends EventEmitter<ProvisioningEvents> implements ProvisioningService {
  private readonly claimList = new Map<string, Claim>();
  private readonly deviceList = new Map<string, DeviceRecord>();
  private readonly noticeList: Notice[] = [];

  claims(): Claim[] {
    return [...this.claimList.values()];
  }
  devices(): DeviceRecord[] {
    return [...this.deviceList.values()];
  }
  device(id: string): DeviceRecord | undefined {
    return this.deviceList.get(id);
  }
  notices(limit = 100): Notice[] {
    return this.noticeList.slice(0, limit);
  }
  async claim(id: string, source: ClaimSource, label?: string): Promise<Claim> {
    const claim: Claim = { id, source, label, claimedAt: new Date().toISOString() };
    this.claimList.set(id, claim);
    this.emit('changed');
    return claim;
  }
  async unclaim(id: string): Promise<void> {
    this.claimList.delete(id);
    this.emit('changed');
  }
  async setSharing(id: string, choices: SharingChoices): Promise<DeviceRecord> {
    const device = this.deviceList.get(id);
    if (!device) throw new Error(`unknown device ${id}`);
    const updated = { ...device, sharing: choices };
    this.deviceList.set(id, updated);
    this.emit('changed');
    return updated;
  }
  async deprovision(id: string): Promise<void> {
    this.deviceList.delete(id);
    this.emit('changed');
  }
  async revoke(id: string): Promise<void> {
    const device = this.deviceList.get(id);
    if (device) this.deviceList.set(id, { ...device, state: 'revoked', online: false });
    this.emit('changed');
  }

  /** What the real service does when a claimed device connects and announces itself. */
  provision(device: Partial<DeviceRecord> & { id: string }): DeviceRecord {
    const record: DeviceRecord = { state: 'provisioned', online: true, behaviours: [], sharing: DEFAULT_SHARING, provisionedAt: new Date().toISOString(), ...device };
    this.deviceList.set(record.id, record); // the claim stays, as in the real service
    this.emit('provisioned', record);
    this.emit('changed');
    return record;
  }
  addNotice(notice: Notice): void {
    this.noticeList.unshift(notice);
    this.emit('notice', notice);
    this.emit('changed');
  }
}

/** A `device-provisioning` node type for the test helper whose nodes expose `service`. */
export function memoryProvisioningNode(service: ProvisioningService): NodeModule {
  return function register(api: unknown): void {
    const RED = api as NodeAPI;
    RED.nodes.registerType('device-provisioning', function (this: Node & { service?: ProvisioningService }, config: NodeDef) {
      RED.nodes.createNode(this, config);
      this.service = service;
    });
  };
}
