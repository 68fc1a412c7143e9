/** What nodes on a coap-endpoint see of it: the shared endpoint, its state, and the status dot for it. */
import type { Node, NodeStatus } from 'node-red';
import type { CoapEndpoint } from '../lib/coap/endpoint';

export type EndpointState = { kind: 'starting' } | { kind: 'listening'; text: string } | { kind: 'failed'; text: string };

export interface CoapEndpointNode extends Node {
  endpoint: CoapEndpoint;
  state: EndpointState;
  /** Calls `listener` now and on every state change; returns the unsubscribe function. */
  watchState(listener: (state: EndpointState) => void): () => void;
}


export function endpointStatus(state: EndpointState, label: string): NodeStatus {
  switch (state.kind) {
    case 'starting':
      return { fill: 'yellow', shape: 'ring', text: `${label} (starting)` };
    case 'listening':
      return { fill: 'green', shape: 'dot', text: `${label} on ${state.text}` };
    case 'failed':
      return { fill: 'red', shape: 'ring', text: state.text };
  }
}
