/**
 * A real Node-RED for the browser tests: this checkout linked into a fresh user dir (as
 * `npm start` does), adminAuth with an owner (everything) and a viewer (edge-gateway.read
 * only), and a flow deployed from the start.
 */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { startNodeRed, type NodeRedProcess } from '../support/node-red-process';

const root = resolve(__dirname, '..', '..');
const pkgName = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { name: string }).name;

export const OWNER = { username: 'owner', password: 'owner-test-password' };
export const VIEWER = { username: 'viewer', password: 'viewer-test-password' };

/** Node-RED's own bcrypt (what `node-red admin hash-pw` uses), from its editor-api package. */
function hashPassword(password: string): string {
  const editorApi = dirname(require.resolve('@node-red/editor-api/package.json'));
  const bcrypt = createRequire(join(editorApi, 'package.json'))('bcryptjs') as { hashSync(p: string, rounds: number): string };
  return bcrypt.hashSync(password, 8);
}

export interface Gateway {
  red: NodeRedProcess;
  userDir: string;
  /** An admin API token for a user, from POST /auth/token as the editor gets one. */
  token(user: { username: string; password: string }): Promise<string>;
  /** A full deploy as the owner (POST /flows, v2), credentials inline; resolves once the flows started. */
  deploy(flows: unknown[]): Promise<void>;
  stop(): Promise<void>;
}

export async function startGateway(flows: unknown[], settings: Record<string, unknown> = {}): Promise<Gateway> {
  const userDir = mkdtempSync(join(tmpdir(), 'edge-gateway-browser-'));
  mkdirSync(join(userDir, 'node_modules'), { recursive: true });
  symlinkSync(root, join(userDir, 'node_modules', pkgName), 'dir');
  writeFileSync(join(userDir, 'package.json'), JSON.stringify({ name: 'edge-gateway-browser-test', private: true, dependencies: { [pkgName]: `file:${root}` } }));
  writeFileSync(join(userDir, 'flows.json'), JSON.stringify(flows));
  let red: NodeRedProcess;
  try {
    red = await startNodeRed({
      userDir,
      settings: {
        adminAuth: {
          type: 'credentials',
          users: [
            { username: OWNER.username, password: hashPassword(OWNER.password), permissions: '*' },
            { username: VIEWER.username, password: hashPassword(VIEWER.password), permissions: ['read', 'edge-gateway.read'] },
          ],
        },
        ...settings,
      },
    });
  } catch (err) {
    rmSync(userDir, { recursive: true, force: true });
    throw err;
  }
  // An empty scope asks for the user's own permissions (a viewer may not ask for "*").
  const token = async (user: { username: string; password: string }): Promise<string> => {
    const body = new URLSearchParams({ client_id: 'node-red-editor', grant_type: 'password', scope: '', username: user.username, password: user.password });
    const res = await fetch(`${red.url}/auth/token`, { method: 'POST', body });
    if (res.status !== 200) throw new Error(`POST /auth/token for ${user.username} answered ${res.status}: ${await res.text()}`);
    return ((await res.json()) as { access_token: string }).access_token;
  };
  return {
    red,
    userDir,
    token,
    async deploy(flows) {
      const from = red.output().length;
      const res = await fetch(`${red.url}/flows`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${await token(OWNER)}`, 'Content-Type': 'application/json', 'Node-RED-API-Version': 'v2', 'Node-RED-Deployment-Type': 'full' },
        body: JSON.stringify({ flows }),
      });
      if (res.status !== 200) throw new Error(`deploy answered ${res.status}: ${await res.text()}`);
      for (let i = 0; i < 200 && !/Started flows/.test(red.output().slice(from)); i++) await new Promise((r) => setTimeout(r, 50));
      if (!/Started flows/.test(red.output().slice(from))) throw new Error(`the flows did not start:\n${red.output().slice(from)}`);
    },
    async stop() {
      try {
        await red.stop();
      } finally {
        rmSync(userDir, { recursive: true, force: true });
      }
    },
  };
}
