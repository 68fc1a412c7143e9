/** A client and a server security context with mirrored IDs, for tests. */
import { MemorySequenceStorage, SecurityContext, type AeadAlgorithm, type CoapMessage, type CoapOption, type SequenceStorage } from '../../lib/oscore';

export const SECRET = Buffer.from('0102030405060708090a0b0c0d0e0f10', 'hex');
export const SALT = Buffer.from('9e7ca92223786340', 'hex');
export const CLIENT_ID = Buffer.from('c1', 'hex');
export const SERVER_ID = Buffer.from('5e', 'hex');

export interface PairOptions {
  alg?: AeadAlgorithm;
  idContext?: Buffer;
  clientStorage?: SequenceStorage;
  serverStorage?: SequenceStorage;
  now?: () => number;
}

export function makeClient(options: PairOptions = {}): SecurityContext {
  return new SecurityContext({
    masterSecret: SECRET,
    masterSalt: SALT,
    senderId: CLIENT_ID,
    recipientId: SERVER_ID,
    idContext: options.idContext,
    alg: options.alg,
    storage: options.clientStorage ?? new MemorySequenceStorage(),
  });
}

export function makeServer(options: PairOptions = {}): SecurityContext {
  return new SecurityContext({
    masterSecret: SECRET,
    masterSalt: SALT,
    senderId: SERVER_ID,
    recipientId: CLIENT_ID,
    idContext: options.idContext,
    alg: options.alg,
    storage: options.serverStorage ?? new MemorySequenceStorage(),
    echo: options.now ? { now: options.now } : undefined,
  });
}

export function opt(number: number, value: string | Buffer | number[]): CoapOption {
  return { number, value: Buffer.isBuffer(value) ? value : typeof value === 'string' ? Buffer.from(value, 'utf8') : Buffer.from(value) };
}

export function msg(code: number, options: CoapOption[] = [], payload: Buffer | string = Buffer.alloc(0)): CoapMessage {
  return { code, options, payload: typeof payload === 'string' ? Buffer.from(payload) : payload };
}

/** Options as [number, hex] pairs, for readable deepEqual. */
export function optionPairs(message: CoapMessage): [number, string][] {
  return message.options.map((o) => [o.number, o.value.toString('hex')]);
}
