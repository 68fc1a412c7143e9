/**
 * Runs inside a network namespace (ip netns exec <ns> node --import tsx this-file) and does what
 * the parent test asks over stdio, one JSON object per line: port-mapping calls, a managed mapping,
 * a UDP echo, or sending a datagram and waiting for its answer.
 */
import { createInterface } from 'node:readline';
import { createSocket, type Socket } from 'node:dgram';
import { createPortMapper, type BackendChoice, type SelectOptions } from '../../lib/nat/select';
import { MappingManager, type MappingManagerOptions } from '../../lib/nat/mapping-manager';
import { NatError } from '../../lib/nat/errors';
import type { MappingRequest, PortMapper } from '../../lib/nat/types';

type Command =
  | { id: number; cmd: 'call'; backend: BackendChoice; options?: SelectOptions; method: 'externalAddress' | 'map' | 'unmap' | 'list'; arg?: MappingRequest }
  | { id: number; cmd: 'manage'; backend: BackendChoice; options?: SelectOptions; request: MappingRequest; manager?: Partial<MappingManagerOptions> }
  | { id: number; cmd: 'unmanage' }
  | { id: number; cmd: 'echo'; port: number }
  | { id: number; cmd: 'send'; host: string; port: number; payload: string; timeoutMs: number };

const write = (o: unknown): void => {
  process.stdout.write(`${JSON.stringify(o)}\n`);
};

function errorJson(err: unknown): Record<string, unknown> {
  const e = err as NatError;
  return { message: e?.message ?? String(err), kind: e?.kind, upnpCode: e?.upnpCode, natPmpResult: e?.natPmpResult };
}

let manager: MappingManager | undefined;
const sockets: Socket[] = [];

async function handle(c: Command): Promise<unknown> {
  switch (c.cmd) {
    case 'call': {
      const mapper: PortMapper = createPortMapper(c.backend, c.options);
      try {
        // The backend's kind is known only after the first call has discovered the router.
        let value: unknown;
        if (c.method === 'externalAddress') value = await mapper.externalAddress();
        else if (c.method === 'list') value = await mapper.list();
        else if (c.method === 'map') value = await mapper.map(c.arg!);
        else await mapper.unmap(c.arg!);
        return { kind: mapper.kind, value };
      } finally {
        mapper.close();
      }
    }
    case 'manage': {
      manager = new MappingManager({ ...c.manager, mapper: createPortMapper(c.backend, c.options), request: c.request });
      manager.on('change', (state) => write({ event: 'change', state: { ...state, error: state.error && errorJson(state.error) } }));
      manager.on('renewed', (state) => write({ event: 'renewed', state: { ...state, error: undefined } }));
      manager.start();
      return {};
    }
    case 'unmanage':
      await manager?.stop();
      manager = undefined;
      return {};
    case 'echo': {
      const s = createSocket('udp4');
      sockets.push(s);
      s.on('message', (msg, r) => s.send(Buffer.concat([Buffer.from('echo:'), msg]), r.port, r.address));
      await new Promise<void>((resolve) => s.bind(c.port, resolve));
      return {};
    }
    case 'send': {
      const s = createSocket('udp4');
      try {
        return await new Promise((resolve, reject) => {
          const t = setTimeout(() => reject(new Error(`no answer from ${c.host}:${c.port} within ${c.timeoutMs} ms`)), c.timeoutMs);
          s.on('message', (msg, r) => {
            clearTimeout(t);
            resolve({ value: msg.toString(), from: `${r.address}:${r.port}` });
          });
          s.send(c.payload, c.port, c.host);
        });
      } finally {
        s.close();
      }
    }
  }
}

const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  const c = JSON.parse(line) as Command;
  handle(c).then(
    (result) => write({ id: c.id, ok: true, ...(result as object) }),
    (err: unknown) => write({ id: c.id, ok: false, error: errorJson(err) }),
  );
});
lines.on('close', () => {
  // The parent went away: remove the mapping, then leave.
  void (manager?.stop() ?? Promise.resolve()).finally(() => {
    for (const s of sockets) s.close();
    process.exit(0);
  });
});
write({ event: 'ready' });
