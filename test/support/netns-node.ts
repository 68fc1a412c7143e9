/** Parent side of netns-node-child.ts: a Node process inside a namespace, driven by JSON lines. */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { requirePeer } from './peers';

export interface ChildReply {
  ok: boolean;
  kind?: string;
  value?: unknown;
  from?: string;
  error?: { message: string; kind?: string; upnpCode?: number; natPmpResult?: number };
}

export interface ChildEvent {
  event: string;
  state?: Record<string, unknown> & { status: string; reason?: string; externalAddress?: string; mapping?: { externalPort: number }; error?: { message: string } };
}

export interface NetnsNode {
  call(command: Record<string, unknown>, timeoutMs?: number): Promise<ChildReply>;
  /** Every event so far; waitEvent() resolves on the first (past or future) match. */
  events: ChildEvent[];
  waitEvent(match: (e: ChildEvent) => boolean, timeoutMs: number): Promise<ChildEvent>;
  output(): string;
  /** Closes stdin (the child removes its mapping and exits), then SIGKILL after 5 s. */
  stop(): Promise<void>;
}

export async function startNetnsNode(namespace: string): Promise<NetnsNode> {
  const ip = requirePeer('ip', 'iproute2');
  const env = { ...process.env };
  delete env.NODE_TEST_CONTEXT;
  delete env.NODE_OPTIONS;
  const child: ChildProcess = spawn(ip, ['netns', 'exec', namespace, process.execPath, '--import', 'tsx', join(__dirname, 'netns-node-child.ts')], {
    env,
    cwd: join(__dirname, '..', '..'),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (b: Buffer) => {
    stderr += b.toString('utf8');
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const events: ChildEvent[] = [];
  const waiters = new Set<() => void>();
  const pending = new Map<number, (r: ChildReply) => void>();
  createInterface({ input: child.stdout! }).on('line', (line) => {
    let msg: ChildEvent & ChildReply & { id?: number };
    try {
      msg = JSON.parse(line) as typeof msg;
    } catch {
      stderr += `${line}\n`;
      return;
    }
    if (msg.id !== undefined) pending.get(msg.id)?.(msg);
    else {
      events.push(msg);
      for (const w of [...waiters]) w();
    }
  });

  const waitEvent = (match: (e: ChildEvent) => boolean, timeoutMs: number): Promise<ChildEvent> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        const hit = events.find(match);
        if (!hit) return;
        clearTimeout(t);
        waiters.delete(check);
        resolve(hit);
      };
      const t = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`no matching event from the child in ${namespace} within ${timeoutMs} ms; events: ${JSON.stringify(events)}\nstderr: ${stderr}`));
      }, timeoutMs);
      waiters.add(check);
      check();
    });

  let nextId = 1;
  const node: NetnsNode = {
    events,
    waitEvent,
    output: () => stderr,
    call(command, timeoutMs = 15_000) {
      const id = nextId++;
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => {
          pending.delete(id);
          reject(new Error(`child in ${namespace} did not answer ${JSON.stringify(command)} within ${timeoutMs} ms\nstderr: ${stderr}`));
        }, timeoutMs);
        pending.set(id, (r) => {
          clearTimeout(t);
          pending.delete(id);
          resolve(r);
        });
        child.stdin!.write(`${JSON.stringify({ ...command, id })}\n`);
      });
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.stdin!.end();
      const gone = await Promise.race([exited.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 5000))]);
      if (!gone) {
        child.kill('SIGKILL');
        await exited;
      }
    },
  };
  await waitEvent((e) => e.event === 'ready', 20_000);
  return node;
}
