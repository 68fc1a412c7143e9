/**
 * A small in-memory ProvisioningService (lib/provisioning/types.ts) and a stand-in
 * "device-provisioning" node type that exposes it, for load-control tests until the real
 * provisioning node is merged: only the registry side load-control reads is meaningful.
 */
import { EventEmitter } from 'node:events';
import type { NodeAPI, Node, NodeDef } from 'node-red';
import type { NodeModule } from 'node-red-node-test-helper';
import type { Claim, ClaimSource, DeviceRecord, Notice, ProvisioningEvents, ProvisioningService } from '../../lib/provisioning/types';
import type { SharingChoices } from '../../lib/sharing/choices';

export class MemoryProvisioning extends EventEmitter<ProvisioningEvents> implements ProvisioningService {
  private readonly records = new Map<string, DeviceRecord>();
  private readonly claimList = new Map<string, Claim>();

  add(record: DeviceRecord): void {
    this.records.set(record.id, record);
    this.emit('changed');
  }

  claims(): Claim[] {
    return [...this.claimList.values()];
  }
  devices(): DeviceRecord[] {
    return [...this.records.values()];
  }
  device(id: string): DeviceRecord | undefined {
    return this.records.get(id);
  }
  notices(): Notice[] {
    return [];
  }
  async claim(id: string, source: ClaimSource, label?: string): Promise<Claim> {
    const c: Claim = { id, source, label, claimedAt: new Date().toISOString() };
    this.claimList.set(id, c);
    this.emit('changed');
    return c;
  }
  async unclaim(id: string): Promise<void> {
    this.claimList.delete(id);
    this.emit('changed');
  }
  async setSharing(id: string, choices: SharingChoices): Promise<DeviceRecord> {
    const d = this.records.get(id);
    if (!d) throw new Error(`no device ${id}`);
    const updated = { ...d, sharing: choices };
    this.records.set(id, updated);
    this.emit('changed');
    return updated;
  }
  async deprovision(id: string): Promise<void> {
    const d = this.records.get(id);
    if (d) this.records.set(id, { ...d, state: 'deprovisioned' });
    this.emit('changed');
  }
  async revoke(id: string): Promise<void> {
    const d = this.records.get(id);
    if (d) this.records.set(id, { ...d, state: 'revoked' });
    this.emit('changed');
  }
}

/** A node module registering "device-provisioning" with `service` set to the given registry. */
export function provisioningStandIn(service: ProvisioningService): NodeModule {
  return (api: unknown): void => {
    const RED = api as NodeAPI; // the helper hands node modules an untyped RED
    function DeviceProvisioning(this: Node & { service?: ProvisioningService }, config: NodeDef): void {
      RED.nodes.createNode(this, config);
      this.service = service;
    }
    RED.nodes.registerType('device-provisioning', DeviceProvisioning);
  };
}
