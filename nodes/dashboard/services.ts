/**
 * The deployed parts of the gateway the dashboard and data-sharing read: device-provisioning
 * nodes (their ProvisioningService), coap-rd nodes (their endpoint directory) and load-control
 * nodes (what they curtail, and the owner's override). Looked up at
 * each use, since flows are redeployed under our feet.
 */
import type { NodeAPI, NodeDef } from 'node-red';
import type { ProvisioningService } from '../../lib/provisioning/types';
import type { EndpointDirectory } from '../../lib/coap/rd/directory';
import type { LoadControlOwner } from '../../lib/loadcontrol/owner-view';

export interface Found<T> {
  readonly nodeId: string;
  readonly name: string;
  readonly value: T;
}

function deployed<T>(RED: NodeAPI, type: string, pick: (node: object) => T | undefined): Found<T>[] {
  const found: Found<T>[] = [];
  RED.nodes.eachNode((def: NodeDef) => {
    if (def.type !== type) return;
    const node = RED.nodes.getNode(def.id) as object | null;
    const value = node ? pick(node) : undefined;
    if (value !== undefined) found.push({ nodeId: def.id, name: def.name || def.id, value });
  });
  return found;
}

/** Started device-provisioning nodes, in flow order. */
export function provisioningServices(RED: NodeAPI): Found<ProvisioningService>[] {
  return deployed(RED, 'device-provisioning', (n) => (n as { service?: ProvisioningService }).service);
}

export function endpointDirectories(RED: NodeAPI): Found<EndpointDirectory>[] {
  return deployed(RED, 'coap-rd', (n) => (n as { directory?: EndpointDirectory }).directory);
}

export function loadControlOwners(RED: NodeAPI): Found<LoadControlOwner>[] {
  return deployed(RED, 'load-control', (n) => (n as { loadControl?: LoadControlOwner }).loadControl);
}

/** The one chosen by id, or, with none chosen, the first deployed. */
export function provisioningService(RED: NodeAPI, nodeId?: string): ProvisioningService | undefined {
  if (nodeId) return (RED.nodes.getNode(nodeId) as { service?: ProvisioningService } | null)?.service;
  return provisioningServices(RED)[0]?.value;
}
