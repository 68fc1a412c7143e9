/**
 * A security context from what an editor form holds: hex strings, an algorithm choice, a state
 * file. One live context per state file in this process: two contexts counting in one file
 * would hand out the same sequence numbers, that is, reuse nonces.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { AeadAlgorithm } from './algorithms';
import { deriveContext } from './context';
import { OscoreError } from './errors';
import { DEFAULT_REPLAY_WINDOW } from './replay-window';
import { SecurityContext } from './security-context';
import { FileSequenceStorage } from './sequence-store';

export interface ContextSettings {
  masterSecret: string;
  masterSalt?: string;
  senderId: string;
  recipientId: string;
  idContext?: string;
  alg?: AeadAlgorithm;
  replayWindowSize?: number;
  stateFile: string;
}

/** Hex with optional spaces or colons ("0a 0b", "0a:0b"); blank is an empty value. */
export function parseHex(name: string, text: string | undefined): Buffer {
  const clean = (text ?? '').replace(/[\s:]/g, '');
  if (!/^([0-9a-fA-F]{2})*$/.test(clean)) throw new OscoreError('invalid-argument', `${name} is not hex bytes: "${String(text).slice(0, 40)}"`);
  return Buffer.from(clean, 'hex');
}

const liveStateFiles = new Set<string>();

export interface OpenContext {
  context: SecurityContext;
  /** Releases the state file for the next context (a redeploy). */
  close(): void;
}

export function openContext(settings: ContextSettings): OpenContext {
  const masterSecret = parseHex('Master Secret', settings.masterSecret);
  if (masterSecret.length === 0) throw new OscoreError('invalid-argument', 'Master Secret is empty');
  const masterSalt = parseHex('Master Salt', settings.masterSalt);
  const idContextText = (settings.idContext ?? '').trim();
  const input = {
    masterSecret,
    masterSalt,
    senderId: parseHex('Sender ID', settings.senderId),
    recipientId: parseHex('Recipient ID', settings.recipientId),
    idContext: idContextText === '' ? undefined : parseHex('ID Context', idContextText),
    alg: settings.alg,
  };
  deriveContext(input); // bad IDs or algorithm fail here, before a state file is touched
  const path = settings.stateFile;
  if (liveStateFiles.has(path)) throw new OscoreError('invalid-argument', `another security context already uses the state file ${path}`);
  try {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  } catch (err) {
    throw new OscoreError('state-unavailable', `cannot create ${dirname(path)}: ${(err as Error).message}`);
  }
  const storage = new FileSequenceStorage(path);
  // Mark the file at the first start, even before a number is used: the next start must know it
  // ran before, or a server would accept replays of requests its lost replay window had seen.
  const ranBefore = storage.load() !== undefined;
  if (!ranBefore) storage.save(0);
  const context = new SecurityContext({
    ...input,
    storage,
    replayWindowSize: settings.replayWindowSize ?? DEFAULT_REPLAY_WINDOW,
    replayWindowLost: ranBefore,
  });
  liveStateFiles.add(path);
  let open = true;
  return {
    context,
    close: () => {
      if (open) liveStateFiles.delete(path);
      open = false;
    },
  };
}
