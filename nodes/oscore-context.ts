/**
 * Config node: one OSCORE security context (RFC 8613 §3). Master Secret and Salt live in
 * Node-RED credentials; the Sender Sequence Number in a file under the user directory.
 */
import { join } from 'node:path';
import type { NodeAPI, NodeDef } from 'node-red';
import { openContext, type OpenContext } from '../lib/oscore/context-config';
import type { OscoreContextNode, OscoreCredentials } from './oscore-node';
import { integerSetting } from './settings';

interface OscoreContextDef extends NodeDef {
  senderId: string;
  recipientId: string;
  idContext: string;
  alg: string;
  replayWindow: string | number;
  stateFile: string;
}

export = function register(RED: NodeAPI): void {
  function OscoreContextNodeCtor(this: OscoreContextNode, config: OscoreContextDef): void {
    RED.nodes.createNode(this, config);
    this.label = config.name || this.id;
    this.security = undefined;
    this.failure = undefined;
    this.waiting = false;
    let opened: OpenContext | undefined;
    const userDir = (RED.settings as { userDir?: unknown }).userDir;
    const stateFile = (config.stateFile ?? '').trim()
      || (typeof userDir === 'string' && userDir !== '' ? join(userDir, 'edge-gateway', 'oscore', `${this.id.replace(/[^A-Za-z0-9_.-]/g, '_')}.seq`) : '');
    const start = (masterSecret: string): void => {
      try {
        // Without a durable place for the sequence number a restart would reuse nonces (Appendix B.1).
        if (stateFile === '') throw new Error('no Node-RED user directory: set a sequence-number state file');
        opened = openContext({
          masterSecret,
          masterSalt: this.credentials.masterSalt,
          senderId: config.senderId,
          recipientId: config.recipientId,
          idContext: config.idContext,
          alg: config.alg === '30' ? 30 : 10,
          replayWindowSize: integerSetting('replay window', config.replayWindow, 32, 1, 4096),
          stateFile,
        });
        this.security = opened.context;
      } catch (err) {
        this.failure = (err as Error).message;
        this.error(`oscore-context "${this.label}" not started: ${this.failure}`);
      }
    };
    if (this.credentials?.masterSecret) start(this.credentials.masterSecret);
    else {
      // A freshly imported flow has no credentials yet: not an error, a step still to do.
      this.waiting = true;
      this.failure = 'no Master Secret yet: enter it in the security context (it is not exported with flows)';
      this.warn(`oscore-context "${this.label}" waits: ${this.failure}`);
    }

    this.on('close', (_removed: boolean, done: () => void) => {
      opened?.close();
      this.security = undefined;
      done();
    });
  }
  RED.nodes.registerType<OscoreContextNode, OscoreContextDef, object, OscoreCredentials>('oscore-context', OscoreContextNodeCtor, {
    credentials: { masterSecret: { type: 'password' }, masterSalt: { type: 'password' } },
  });
};
