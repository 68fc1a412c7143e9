/**
 * What other nodes (dashboard, data sharing, load control) see of a device-provisioning node:
 * `RED.nodes.getNode(id) as DeviceProvisioningNode`, then its ProvisioningService.
 */
import type { Node } from 'node-red';
import type { ProvisioningService } from '../lib/provisioning/types';

export interface DeviceProvisioningNode extends Node {
  service: ProvisioningService;
}
