/**
 * What a user gets from the palette manager: `npm pack` the built package, install the tarball
 * into a fresh Node-RED user dir from the registry, start Node-RED, and check that every node
 * set loads and every shipped example deploys. Needs `npm run build` first (npm test does it).
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { startNodeRed, type NodeRedProcess } from '../support/node-red-process';

const root = resolve(__dirname, '..', '..');
const pkg = readPackageJson(join(root, 'package.json'));
const nodeSets = Object.entries(pkg.nodeRedNodes);
const exampleFiles = listFiles(join(root, 'examples')).filter((f) => f.endsWith('.json'));

// Everything below (pack, install, start, deploys) shares one budget, well under the 3 min CI limit.
const deadline = Date.now() + 150_000;
function budget(maxMs: number): number {
  const left = deadline - Date.now();
  if (left <= 0) throw new Error('packaging test ran out of its 150 s budget');
  return Math.min(maxMs, left);
}

const STRUCTURAL_TYPES = new Set(['tab', 'subflow', 'group', 'junction']);

interface NodeSetInfo {
  id: string;
  module: string;
  types: string[];
  enabled: boolean;
  version?: string;
  err?: unknown;
}

interface FlowNode {
  id: string;
  type: string;
  [key: string]: unknown;
}

describe('npm pack, install into a fresh Node-RED user dir', { timeout: 175_000 }, () => {
  let work = '';
  let tarball = '';
  let packed: string[] = [];
  let installed = '';
  let red: NodeRedProcess | undefined;
  let nodeList: NodeSetInfo[] = [];
  let moduleInfo: unknown;

  before(async () => {
    for (const [set, file] of nodeSets) {
      if (!existsSync(join(root, file))) {
        throw new Error(`${file} (node set ${set}) is missing: run \`npm run build\` before this test (npm test does)`);
      }
    }
    work = mkdtempSync(join(tmpdir(), 'edge-gateway-pack-'));
    const packDir = join(work, 'pack');
    mkdirSync(packDir);
    const packOut = await run('npm', ['pack', '--json', '--pack-destination', packDir], root, budget(60_000));
    const report = parsePackReport(packOut);
    tarball = join(packDir, report.filename);
    packed = report.files;

    const userDir = join(work, 'userdir');
    mkdirSync(userDir);
    writeFileSync(
      join(userDir, 'package.json'),
      JSON.stringify({ name: 'edge-gateway-pack-test', private: true, dependencies: { [pkg.name]: `file:${tarball}` } }, null, 2),
    );
    await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--no-update-notifier', '--loglevel=error'], userDir, budget(120_000));
    installed = join(userDir, 'node_modules', pkg.name);

    red = await startNodeRed({ userDir, startTimeoutMs: budget(30_000) });
    nodeList = parseNodeList(await getJson(`${red.url}/nodes`));
    moduleInfo = await getJson(`${red.url}/nodes/${pkg.name}`);
  });

  after(async () => {
    try {
      await red?.stop();
    } finally {
      if (work) rmSync(work, { recursive: true, force: true });
    }
  });

  test('the tarball ships the built nodes, their editor files, examples and README, and no sources', () => {
    const has = new Set(packed);
    for (const f of ['package.json', 'README.md']) assert.ok(has.has(f), `${f} is not in the tarball`);
    for (const [set, file] of nodeSets) {
      assert.match(file, /^dist\/nodes\/[^/]+\.js$/, `node set ${set} should point at dist/nodes/<name>.js`);
      assert.ok(has.has(file), `${file} (node set ${set}) is not in the tarball`);
      const html = file.replace(/\.js$/, '.html');
      assert.ok(has.has(html), `${html} must ship next to ${file}: Node-RED reads the editor definition from there`);
    }
    const listed = new Set(nodeSets.map(([, file]) => file));
    for (const html of packed.filter((f) => /^dist\/nodes\/[^/]+\.html$/.test(f))) {
      assert.ok(listed.has(html.replace(/\.html$/, '.js')), `${html} ships but its .js is not in package.json "node-red".nodes`);
    }
    for (const dir of ['dist/nodes/icons', 'dist/nodes/locales']) {
      const built = listFiles(join(root, dir)).map((f) => relative(root, f));
      assert.ok(built.length > 0, `${dir}/ is empty in the build`);
      for (const f of built) assert.ok(has.has(f), `${f} is built but not in the tarball`);
    }
    assert.ok(exampleFiles.length > 0, 'examples/ has no .json flow');
    for (const f of exampleFiles) assert.ok(has.has(relative(root, f)), `${relative(root, f)} is not in the tarball`);

    const unwanted = packed.filter(
      (f) =>
        f.startsWith('test/') ||
        f.startsWith('.gateway/') ||
        f.split('/').includes('node_modules') ||
        (f.endsWith('.ts') && !f.endsWith('.d.ts')) ||
        f.endsWith('.tgz'),
    );
    assert.deepEqual(unwanted, [], 'files that must not be published');
  });

  test('Node-RED loads every node set from the installed package, without errors', () => {
    // Not some other copy of the package (a link, the checkout): the one npm put in the user dir.
    assert.ok(isRecord(moduleInfo), `GET /nodes/${pkg.name} should answer an object`);
    assert.equal(moduleInfo.path, installed, 'where Node-RED loaded the package from');
    assert.equal(moduleInfo.user, true, 'Node-RED should see the package as installed by the user (listed in the user dir package.json)');
    const ours = nodeList.filter((n) => n.module === pkg.name);
    assert.deepEqual(ours.map((n) => n.id).sort(), nodeSets.map(([set]) => `${pkg.name}/${set}`).sort(), 'node sets Node-RED found');
    for (const [set, file] of nodeSets) {
      const info = ours.find((n) => n.id === `${pkg.name}/${set}`);
      assert.ok(info);
      assert.equal(info.err, undefined, `node set ${set} failed to load: ${String(info.err)}`);
      assert.equal(info.enabled, true, `node set ${set} is disabled`);
      assert.equal(info.version, pkg.version);
      const html = readFileSync(join(installed, file.replace(/\.js$/, '.html')), 'utf8');
      const declared = registeredTypes(html);
      assert.ok(declared.length > 0, `${set}.html registers no type with RED.nodes.registerType('<literal>', ...)`);
      assert.deepEqual([...info.types].sort(), declared.sort(), `types of node set ${set}: runtime vs editor .html`);
    }
  });

  test('the runtime has every type of the package registered', async () => {
    assert.ok(red);
    // The admin API strips the registry's `loaded` flag, and `types` above comes from the .html.
    // Deploying one node of each type proves the .js registered it: a type the runtime lacks
    // stops the deploy at "Waiting for missing types". The tab is disabled, so nothing starts.
    const types = nodeList.filter((n) => n.module === pkg.name).flatMap((n) => n.types);
    const probe: FlowNode[] = [
      { id: 'probe.tab', type: 'tab', label: 'type probe', disabled: true },
      ...types.map((type) => ({ id: `probe.${type}`, type, z: 'probe.tab' })),
    ];
    const log = await deploy(red, probe);
    assert.doesNotMatch(log, /Waiting for missing types/, `types not registered by the package's .js:\n${log}`);
  });

  const OUTWARD_TYPES = new Set(['port-mapping', 'ddns-update', 'cloud-link']);
  for (const file of exampleFiles) {
    const name = relative(join(root, 'examples'), file);
    test(`example "${name}" is a well-formed flow that deploys`, async () => {
      assert.ok(red);
      const flow = parseFlow(readFileSync(join(installed, 'examples', name), 'utf8'), name);
      checkFlow(flow, nodeList);

      // The example binds the CoAP port (5683); port 0 lets the test run beside a real gateway.
      // Nodes that reach past this machine (router discovery, DNS, a cloud RD) are deployed
      // disabled: tests stay on loopback, and those nodes have their own tests against real peers.
      const deployed = flow.map((n) =>
        n.type === 'coap-endpoint' ? { ...n, port: 0 } : OUTWARD_TYPES.has(n.type) ? { ...n, d: true } : n,
      );
      const log = await deploy(red, deployed);
      assert.match(log, /Started flows/, `the example did not start:\n${log}`);
      const errors = log.split('\n').filter((l) => l.includes('[error]'));
      assert.deepEqual(errors, [], `errors while starting the example flow:\n${log}`);

      const current = await getJson(`${red.url}/flows`, { 'Node-RED-API-Version': 'v2' });
      assert.ok(isRecord(current) && Array.isArray(current.flows), 'GET /flows (v2) should answer {flows, rev}');
      const running = new Map(current.flows.filter(isRecord).map((n) => [String(n.id), String(n.type)]));
      assert.deepEqual(running, new Map(deployed.map((n) => [n.id, n.type])), 'GET /flows after the deploy');
    });
  }
});

function checkFlow(flow: FlowNode[], nodeList: NodeSetInfo[]): void {
  const ids = new Set<string>();
  for (const n of flow) {
    assert.ok(!ids.has(n.id), `duplicate id ${n.id}`);
    ids.add(n.id);
  }
  const byId = new Map(flow.map((n) => [n.id, n]));
  const coreTypes = new Set(nodeList.filter((s) => s.module === 'node-red').flatMap((s) => s.types));
  const ownTypes = new Set(nodeList.filter((s) => s.module === pkg.name).flatMap((s) => s.types));
  const containers = new Set(flow.filter((n) => n.type === 'tab' || n.type === 'subflow').map((n) => n.id));
  const subflows = new Set(flow.filter((n) => n.type === 'subflow').map((n) => n.id));

  for (const n of flow) {
    const known =
      STRUCTURAL_TYPES.has(n.type) ||
      coreTypes.has(n.type) ||
      ownTypes.has(n.type) ||
      (n.type.startsWith('subflow:') && subflows.has(n.type.slice('subflow:'.length)));
    assert.ok(known, `node ${n.id} has type "${n.type}": not core Node-RED, not this package, not a subflow in the file`);
    if ('z' in n) assert.ok(typeof n.z === 'string' && containers.has(n.z), `node ${n.id} has z=${JSON.stringify(n.z)}: no such tab or subflow`);
    if ('g' in n) assert.ok(typeof n.g === 'string' && byId.get(n.g)?.type === 'group', `node ${n.id} has g=${JSON.stringify(n.g)}: no such group`);
    if ('wires' in n) {
      assert.ok(Array.isArray(n.wires), `node ${n.id}: wires is not an array`);
      for (const port of n.wires) {
        assert.ok(Array.isArray(port), `node ${n.id}: wires must be an array per output`);
        for (const target of port) assert.ok(typeof target === 'string' && byId.has(target), `node ${n.id} is wired to ${JSON.stringify(target)}, which is not in the file`);
      }
    }
  }
  // Project rule: an imported example opens with a comment that explains it.
  const first = flow.find((n) => n.type !== 'tab');
  assert.equal(first?.type, 'comment', 'the first node after the tab(s) must be a comment');
}

function parseFlow(text: string, name: string): FlowNode[] {
  const data: unknown = JSON.parse(text);
  assert.ok(Array.isArray(data), `${name} is not a JSON array`);
  return data.map((n: unknown, i) => {
    assert.ok(isRecord(n) && typeof n.id === 'string' && typeof n.type === 'string', `${name}[${i}] is not an object with string id and type`);
    return { ...n, id: n.id, type: n.type };
  });
}

function parseNodeList(data: unknown): NodeSetInfo[] {
  assert.ok(Array.isArray(data), 'GET /nodes should answer a JSON array');
  return data.map((s: unknown) => {
    assert.ok(isRecord(s) && typeof s.id === 'string' && Array.isArray(s.types), `unexpected GET /nodes entry ${JSON.stringify(s)}`);
    return {
      id: s.id,
      module: String(s.module),
      types: s.types.map(String),
      enabled: s.enabled === true,
      version: typeof s.version === 'string' ? s.version : undefined,
      err: s.err,
    };
  });
}

/** Types the editor side declares; node-red-dev sees only string literals, so do we. */
function registeredTypes(html: string): string[] {
  return [...html.matchAll(/RED\.nodes\.registerType\(\s*(['"])([^'"]+)\1/g)].map((m) => m[2] ?? '');
}

interface PackageInfo {
  name: string;
  version: string;
  nodeRedNodes: Record<string, string>;
}

function readPackageJson(file: string): PackageInfo {
  const data: unknown = JSON.parse(readFileSync(file, 'utf8'));
  if (!isRecord(data) || typeof data.name !== 'string' || typeof data.version !== 'string') throw new Error(`${file}: no name/version`);
  const section = data['node-red'];
  const nodes = isRecord(section) ? section.nodes : undefined;
  if (!isRecord(nodes) || Object.keys(nodes).length === 0) throw new Error(`${file}: "node-red".nodes lists no node set`);
  const nodeRedNodes: Record<string, string> = {};
  for (const [set, path] of Object.entries(nodes)) {
    if (typeof path !== 'string') throw new Error(`${file}: "node-red".nodes.${set} is not a path`);
    nodeRedNodes[set] = path.replace(/^\.\//, '');
  }
  return { name: data.name, version: data.version, nodeRedNodes };
}

function parsePackReport(stdout: string): { filename: string; files: string[] } {
  const data: unknown = JSON.parse(stdout);
  const entry: unknown = Array.isArray(data) ? data[0] : undefined;
  if (!isRecord(entry) || typeof entry.filename !== 'string' || !Array.isArray(entry.files)) {
    throw new Error(`unexpected npm pack --json output: ${stdout.slice(0, 500)}`);
  }
  const files = entry.files.map((f: unknown) => (isRecord(f) && typeof f.path === 'string' ? f.path : ''));
  return { filename: entry.filename, files };
}

async function getJson(url: string, headers: Record<string, string> = {}): Promise<unknown> {
  const res = await fetch(url, { headers: { Accept: 'application/json', ...headers }, signal: AbortSignal.timeout(budget(10_000)) });
  const text = await res.text();
  assert.equal(res.status, 200, `GET ${url} answered ${res.status}: ${text}`);
  return JSON.parse(text);
}

/**
 * Full deploy through the admin API (v2); returns what Node-RED logged until the flows started
 * or stopped on missing types, plus a short grace for errors logged as nodes open sockets.
 */
async function deploy(red: NodeRedProcess, flows: FlowNode[]): Promise<string> {
  const from = red.output().length;
  const res = await fetch(`${red.url}/flows`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'Node-RED-API-Version': 'v2', 'Node-RED-Deployment-Type': 'full' },
    body: JSON.stringify({ flows }),
    signal: AbortSignal.timeout(budget(20_000)),
  });
  const body = await res.text();
  assert.ok(res.status === 200 || res.status === 204, `POST /flows answered ${res.status}: ${body}`);
  const until = Date.now() + budget(10_000);
  while (!/Started flows|Waiting for missing types/.test(red.output().slice(from))) {
    if (Date.now() >= until) throw new Error(`Node-RED logged neither "Started flows" nor missing types after a deploy:\n${red.output().slice(from)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  await new Promise((r) => setTimeout(r, 300));
  return red.output().slice(from);
}

function run(cmd: string, args: string[], cwd: string, timeoutMs: number): Promise<string> {
  // The child npm must not inherit this test's tsx loader.
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  delete env.NODE_TEST_CONTEXT;
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { cwd, env, timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) {
        const why = err.killed ? `killed after ${timeoutMs} ms` : err.message;
        reject(new Error(`${cmd} ${args.join(' ')} in ${cwd} failed (${why})\n${stderr}`));
      } else resolve(stdout);
    });
  });
}

function listFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .sort()
    .flatMap((entry) => {
      const path = join(dir, entry);
      return statSync(path).isDirectory() ? listFiles(path) : [path];
    });
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
