/**
 * Loads the built node files (dist/nodes/*.js) into node-red-node-test-helper, the way Node-RED
 * itself requires them, and waits on what the nodes show.
 */
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import helper, { type NodeModule, type TestNode } from 'node-red-node-test-helper';
import type { NodeStatus } from 'node-red';
import type { EventEmitter } from 'node:events';

const require = createRequire(__filename);
const root = join(__dirname, '..', '..');

helper.init(require.resolve('node-red'));

export { helper };

/** One of this package's built node modules, e.g. "coap-in". */
export function packageNode(name: string): NodeModule {
  const file = join(root, 'dist', 'nodes', `${name}.js`);
  if (!existsSync(file)) throw new Error(`${file} is missing: run "npm run build" first (npm test does)`);
  return require(file) as NodeModule;
}

/** A core node module, e.g. "common/25-catch". */
export function coreNode(path: string): NodeModule {
  return require(`@node-red/nodes/core/${path}.js`) as NodeModule;
}

function statusCalls(node: TestNode): NodeStatus[] {
  return node.status.getCalls().map((c) => c.args[0] as NodeStatus);
}

/** Resolves with the first status (past or future) that satisfies `match`. */
export function waitForStatus(node: TestNode, match: (s: NodeStatus) => boolean, timeoutMs = 5000): Promise<NodeStatus> {
  const seen = statusCalls(node).find(match);
  if (seen) return Promise.resolve(seen);
  // The helper emits "call:status" on the node; Node-RED's typings know only "input" and "close".
  const events = node as unknown as EventEmitter;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      events.removeListener('call:status', onStatus);
      reject(new Error(`node ${node.id} never showed the expected status; it showed ${JSON.stringify(statusCalls(node))}`));
    }, timeoutMs);
    function onStatus(): void {
      const hit = statusCalls(node).find(match);
      if (!hit) return;
      clearTimeout(timer);
      events.removeListener('call:status', onStatus);
      resolve(hit);
    }
    events.on('call:status', onStatus);
  });
}

/** The UDP port a coap-endpoint config node bound (tests bind port 0). */
export async function endpointPort(endpointId: string): Promise<number> {
  const node = helper.getNode(endpointId) as unknown as { endpoint: { address?: { port: number } }; state: { kind: string; text?: string } };
  for (let i = 0; i < 200; i++) {
    if (node.state.kind === 'failed') throw new Error(`endpoint failed: ${node.state.text}`);
    if (node.endpoint.address) return node.endpoint.address.port;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error('endpoint did not start listening');
}

/** Collects what a helper node receives. */
export function collect(nodeId: string): unknown[] {
  const got: unknown[] = [];
  helper.getNode(nodeId).on('input', (msg: unknown) => got.push(msg));
  return got;
}
