/** How coap-in and coap-request find the oscore-context config nodes they name. */
import type { Node, NodeAPI } from 'node-red';
import type { SecurityContext } from '../lib/oscore/security-context';

export interface OscoreCredentials {
  masterSecret?: string;
  masterSalt?: string;
}

/** What coap-in and coap-request see of an oscore-context config node. */
export interface OscoreContextNode extends Node<OscoreCredentials> {
  /** The live context, or undefined with `failure` saying why. */
  security: SecurityContext | undefined;
  failure: string | undefined;
  /** For logs and msg.oscore.context: the node's name, else its id. */
  label: string;
  /** No Master Secret yet (a freshly imported flow): a step still to do, not an error. */
  waiting: boolean;
}

/** A listed context that waits for its credentials. */
export class ContextWaiting extends Error {}

export interface ResolvedContext {
  id: string;
  label: string;
  context: SecurityContext;
}

/** The live contexts for these config node ids; throws with a reason the status can show. */
export function resolveContexts(RED: NodeAPI, ids: readonly string[]): ResolvedContext[] {
  return ids.map((id) => {
    const node = RED.nodes.getNode(id) as unknown as OscoreContextNode | null;
    if (!node) throw new Error(`oscore-context ${id} is missing`);
    if (node.waiting) throw new ContextWaiting(`OSCORE "${node.label}" waits for its Master Secret`);
    if (!node.security) throw new Error(`OSCORE "${node.label}": ${node.failure ?? 'not started'}`);
    return { id, label: node.label, context: node.security };
  });
}

/** The ids in a node's list setting (blank entries dropped). */
export function contextIds(value: unknown): string[] {
  if (typeof value === 'string') return value.trim() === '' ? [] : [value.trim()];
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string' && v.trim() !== '') : [];
}
