/** Reading editor fields, which arrive as strings or numbers and may be blank or nonsense. */
export class SettingError extends Error {}

/** Blank means the default; anything else must be an integer within [min, max]. */
export function integerSetting(name: string, value: unknown, fallback: number, min: number, max: number): number {
  if (value === undefined || value === null || (typeof value === 'string' && value.trim() === '')) return fallback;
  const n = typeof value === 'number' ? value : Number(value);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new SettingError(`${name} must be an integer from ${min} to ${max}, not "${String(value)}"`);
  }
  return n;
}

/** The part of a node that refuseToStart touches; Node-RED's Node satisfies it. */
interface StartableNode {
  status(status: { fill: 'red'; shape: 'ring'; text: string }): void;
  error(message: string): void;
  on(event: 'input', listener: (msg: unknown, send: unknown, done: (err?: Error) => void) => void): unknown;
}

/**
 * A node whose settings cannot work: red status with the reason, one error in the log, and
 * messages that still arrive are acknowledged, so a flow waiting on done() is not left hanging.
 */
export function refuseToStart(node: StartableNode, type: string, reason: string): void {
  node.status({ fill: 'red', shape: 'ring', text: reason });
  node.error(`${type} not started: ${reason}`);
  node.on('input', (_msg, _send, done) => done());
}

/** An error class a node's settings reader throws for settings that cannot work. */
type SettingErrorClass = abstract new (...args: never[]) => Error;

/**
 * Runs a node's settings reader. On a SettingError (or an error of one of `also`) the node
 * refuses to start and the result is undefined; any other error is a bug and is thrown.
 */
export function settingsOrRefuse<T>(node: StartableNode, type: string, read: () => T, also: readonly SettingErrorClass[] = []): T | undefined {
  try {
    return read();
  } catch (err) {
    if (!(err instanceof SettingError) && !also.some((cls) => err instanceof cls)) throw err;
    refuseToStart(node, type, (err as Error).message);
    return undefined;
  }
}
