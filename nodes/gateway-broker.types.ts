/** What other nodes see of a gateway-broker config node. */
import type { Node } from 'node-red';
import type { GatewayBroker } from '../lib/provisioning/broker/gateway-broker';

export type BrokerState = { kind: 'starting' } | { kind: 'running'; text: string } | { kind: 'failed'; text: string };

export interface GatewayBrokerNode extends Node {
  broker: GatewayBroker;
  /** Settles when the broker listens (or failed to); never rejects. */
  ready: Promise<Exclude<BrokerState, { kind: 'starting' }>>;
  state: BrokerState;
}
