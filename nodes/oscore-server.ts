/** What a coap-in shows and logs of the OSCORE traffic on its endpoint. */
import type { Node } from 'node-red';
import { oscoreErrorReply, type OscoreResources } from '../lib/oscore/coap-server';
import type { OscoreError } from '../lib/oscore/errors';

export interface OscoreReport {
  /** A request refused before it reached the flow (also called for "OSCORE required"). */
  refused(error: OscoreError, remote: { address: string }): void;
  stop(): void;
}

/** Status for the last refusal, one log line per kind of failure (an attacker cannot flood the log). */
export function reportOscore(node: Node, resources: OscoreResources | undefined): OscoreReport {
  const logged = new Set<string>();
  const refused = (error: OscoreError, remote: { address: string }): void => {
    const reply = oscoreErrorReply(error);
    node.status({ fill: 'yellow', shape: 'ring', text: `${reply.code} ${reply.payload?.toString() ?? ''} to ${remote.address}` });
    if (!logged.has(error.kind)) node.warn(`OSCORE request refused (${reply.code}, logged once per kind): ${error.message}`);
    logged.add(error.kind);
  };
  const challenged = (): void => node.status({ fill: 'blue', shape: 'ring', text: 'OSCORE: replay window resync (Echo challenge sent)' });
  const protectError = (err: Error): void => {
    node.status({ fill: 'red', shape: 'ring', text: err.message.slice(0, 60) });
    node.error(`OSCORE answer not protected (client got 5.00): ${err.message}`);
  };
  resources?.on('refused', refused);
  resources?.on('challenged', challenged);
  resources?.on('protect-error', protectError);
  return {
    refused,
    stop: () => {
      resources?.off('refused', refused);
      resources?.off('challenged', challenged);
      resources?.off('protect-error', protectError);
    },
  };
}
