/**
 * A home network in three network namespaces, made by the test itself:
 *
 *   lan (gateway, 192.168.77.2) --veth-- router (miniupnpd) --veth-- wan (the internet, 11.200.0.2)
 *
 * The router's WAN address, 11.200.0.1, exists only inside these namespaces; it is not in a private
 * or reserved range because miniupnpd refuses to map ports behind such an address. Needs root
 * (CAP_SYS_ADMIN, CAP_NET_ADMIN): without it createLab() throws, so the test fails rather than skips.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requirePeer } from './peers';

export const LAN_ROUTER_IP = '192.168.77.1';
export const LAN_GATEWAY_IP = '192.168.77.2';
export const WAN_ROUTER_IP = '11.200.0.1';
export const WAN_HOST_IP = '11.200.0.2';
/** miniupnpd's HTTP port inside the router namespace. */
export const UPNP_HTTP_PORT = 5000;

export interface Lab {
  router: string;
  lan: string;
  wan: string;
  dir: string;
  /** Deletes the namespaces (and with them the veth pairs and nft tables). Safe to call twice. */
  destroy(): Promise<void>;
}

export function run(file: string, args: string[], timeoutMs = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { timeout: timeoutMs }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${file} ${args.join(' ')} failed: ${stderr.trim() || err.message}`));
      else resolve(stdout);
    });
  });
}

// Filter forward chain and NAT hooks that jump to the chains miniupnpd fills (Debian's
// nft_init.sh would do this but needs iptables). Outbound LAN traffic is masqueraded.
const RULES = `
table inet eg_router {
  chain miniupnpd {
  }
  chain prerouting_miniupnpd {
  }
  chain postrouting_miniupnpd {
  }
  chain forward {
    type filter hook forward priority 0; policy drop;
    ct state established,related accept
    iifname "rlan" oifname "rwan" accept
    jump miniupnpd
  }
  chain prerouting {
    type nat hook prerouting priority -100; policy accept;
    jump prerouting_miniupnpd
  }
  chain postrouting {
    type nat hook postrouting priority 100; policy accept;
    jump postrouting_miniupnpd
    oifname "rwan" masquerade
  }
}
`;

export async function createLab(): Promise<Lab> {
  const ip = requirePeer('ip', 'iproute2');
  const nft = requirePeer('nft', 'nftables');
  const prefix = `eg${process.pid}x${Math.floor(Math.random() * 1e6)}`;
  const lab: Lab = {
    router: `${prefix}-router`,
    lan: `${prefix}-lan`,
    wan: `${prefix}-wan`,
    dir: mkdtempSync(join(tmpdir(), 'eg-netns-')),
    destroy: async () => undefined,
  };
  const made: string[] = [];
  let destroyed = false;
  lab.destroy = async () => {
    if (destroyed) return;
    destroyed = true;
    for (const ns of made) await run(ip, ['netns', 'del', ns]).catch(() => undefined);
    rmSync(lab.dir, { recursive: true, force: true });
  };
  try {
    for (const ns of [lab.router, lab.lan, lab.wan]) {
      try {
        await run(ip, ['netns', 'add', ns]);
      } catch (err) {
        throw new Error(
          `cannot create network namespace ${ns}: this test needs root with CAP_SYS_ADMIN and CAP_NET_ADMIN (${(err as Error).message})`,
        );
      }
      made.push(ns);
    }
    const inNs = (ns: string, ...args: string[]): Promise<string> => run(ip, ['-n', ns, ...args]);
    await run(ip, ['link', 'add', 'rlan', 'netns', lab.router, 'type', 'veth', 'peer', 'name', 'lan0', 'netns', lab.lan]);
    await run(ip, ['link', 'add', 'rwan', 'netns', lab.router, 'type', 'veth', 'peer', 'name', 'wan0', 'netns', lab.wan]);
    await inNs(lab.router, 'addr', 'add', `${LAN_ROUTER_IP}/24`, 'dev', 'rlan');
    await inNs(lab.router, 'addr', 'add', `${WAN_ROUTER_IP}/24`, 'dev', 'rwan');
    await inNs(lab.lan, 'addr', 'add', `${LAN_GATEWAY_IP}/24`, 'dev', 'lan0');
    await inNs(lab.wan, 'addr', 'add', `${WAN_HOST_IP}/24`, 'dev', 'wan0');
    for (const [ns, dev] of [[lab.router, 'lo'], [lab.router, 'rlan'], [lab.router, 'rwan'], [lab.lan, 'lo'], [lab.lan, 'lan0'], [lab.wan, 'lo'], [lab.wan, 'wan0']] as const) {
      await inNs(ns, 'link', 'set', dev, 'up');
    }
    await inNs(lab.lan, 'route', 'add', 'default', 'via', LAN_ROUTER_IP);
    await run(ip, ['netns', 'exec', lab.router, 'sysctl', '-q', '-w', 'net.ipv4.ip_forward=1']);
    const rules = join(lab.dir, 'router.nft');
    writeFileSync(rules, RULES);
    await run(ip, ['netns', 'exec', lab.router, nft, '-f', rules]);
  } catch (err) {
    await lab.destroy();
    throw err;
  }
  return lab;
}

/**
 * Empties the chains miniupnpd fills, as Debian's stop script (nft_flush.sh) does: miniupnpd
 * itself leaves its rules in place on exit. Stop + flush + start is a router reboot.
 */
export async function flushMiniupnpdChains(lab: Lab): Promise<void> {
  const ip = requirePeer('ip', 'iproute2');
  for (const chain of ['miniupnpd', 'prerouting_miniupnpd', 'postrouting_miniupnpd']) {
    await run(ip, ['netns', 'exec', lab.router, 'nft', 'flush', 'chain', 'inet', 'eg_router', chain]);
  }
}

export interface MiniupnpdOptions {
  /** Advertise the IGD v1 description (force_igd_desc_v1=yes); default is miniupnpd's IGD v2. */
  forceIgdV1?: boolean;
  secureMode?: boolean;
  /** UPnP IGD on (default) or off, leaving only NAT-PMP. */
  upnp?: boolean;
  /** Mappings allowed for this LAN range; everything else denied. */
  allow?: string;
}

export interface Miniupnpd {
  output(): string;
  /** SIGTERM and wait; miniupnpd leaves its nft rules behind (see flushMiniupnpdChains). */
  stop(): Promise<void>;
}

export async function startMiniupnpd(lab: Lab, options: MiniupnpdOptions = {}): Promise<Miniupnpd> {
  const ip = requirePeer('ip', 'iproute2');
  const miniupnpd = requirePeer('miniupnpd', 'miniupnpd');
  const conf = join(lab.dir, `miniupnpd-${Date.now()}.conf`);
  writeFileSync(
    conf,
    [
      'ext_ifname=rwan',
      'listening_ip=rlan',
      `http_port=${UPNP_HTTP_PORT}`,
      'enable_natpmp=yes',
      `enable_upnp=${options.upnp === false ? 'no' : 'yes'}`,
      `secure_mode=${options.secureMode === false ? 'no' : 'yes'}`,
      `force_igd_desc_v1=${options.forceIgdV1 ? 'yes' : 'no'}`,
      // Epoch counts from miniupnpd's start, so a restart shows in NAT-PMP answers.
      'system_uptime=no',
      'uuid=3d3cec3a-8cf0-11e0-98ee-001a6bd2d07d',
      'upnp_table_name=eg_router',
      'upnp_nat_table_name=eg_router',
      'upnp_forward_chain=miniupnpd',
      'upnp_nat_chain=prerouting_miniupnpd',
      'upnp_nat_postrouting_chain=postrouting_miniupnpd',
      'min_lifetime=10',
      `allow 1024-65535 ${options.allow ?? '192.168.77.0/24'} 1024-65535`,
      'deny 0-65535 0.0.0.0/0 0-65535',
      '',
    ].join('\n'),
  );
  const child = spawn(ip, ['netns', 'exec', lab.router, miniupnpd, '-d', '-f', conf, '-P', join(lab.dir, 'miniupnpd.pid')], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return watchDaemon(child, 'miniupnpd', /Listening for NAT-PMP/);
}

async function watchDaemon(child: ChildProcess, name: string, ready: RegExp): Promise<Miniupnpd> {
  let log = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const append = (b: Buffer): void => {
    log += b.toString('utf8');
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const gone = await Promise.race([exited.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 5000))]);
    if (!gone) {
      child.kill('SIGKILL');
      await exited;
    }
  };
  const deadline = Date.now() + 10_000;
  while (!ready.test(log)) {
    if (child.exitCode !== null) throw new Error(`${name} exited (code ${child.exitCode}) before it was ready:\n${log}`);
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`${name} not ready within 10 s:\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { output: () => log, stop };
}
