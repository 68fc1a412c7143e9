/**
 * CoRE Resource Directory (RFC 9176) on a coap-endpoint: devices register, update and remove
 * themselves; every change becomes a message; registrations survive a restart.
 */
import { join } from 'node:path';
import type { NodeAPI, NodeDef, NodeMessage } from 'node-red';
import { ResourceDirectory, type Registration } from '../lib/coap/rd/registry';
import { RdService } from '../lib/coap/rd/rd-service';
import { RegistrationStore } from '../lib/coap/rd/store';
import { DEFAULT_RD_LIMITS, MAX_LIFETIME, type RdLimits } from '../lib/coap/rd/limits';
import type { RemovalReason } from '../lib/coap/rd/directory';
import { integerSetting, settingsOrRefuse } from './settings';
import type { CoapEndpointNode } from './endpoint-node';
import type { CoapRdNode } from './coap-rd-node';

interface CoapRdDef extends NodeDef {
  endpoint: string;
  lifetime: string | number;
  maxRegistrations: string | number;
  maxPerSource: string | number;
  maxBodyBytes: string | number;
  maxLinks: string | number;
  maxAttributes: string | number;
  persist: boolean;
}

function limitsFrom(config: CoapRdDef): Partial<RdLimits> {
  const d = DEFAULT_RD_LIMITS;
  return {
    defaultLifetime: integerSetting('default lifetime', config.lifetime, d.defaultLifetime, 1, MAX_LIFETIME),
    maxRegistrations: integerSetting('max registrations', config.maxRegistrations, d.maxRegistrations, 1, 1_000_000),
    maxRegistrationsPerSourcePerMinute: integerSetting('registrations per source per minute', config.maxPerSource, d.maxRegistrationsPerSourcePerMinute, 1, 1_000_000),
    maxBodyBytes: integerSetting('max body size', config.maxBodyBytes, d.maxBodyBytes, 64, 1024 * 1024),
    maxLinks: integerSetting('max links', config.maxLinks, d.maxLinks, 1, 100_000),
    maxAttributes: integerSetting('max endpoint attributes', config.maxAttributes, d.maxAttributes, 1, 1000),
  };
}

/** A registration as a message payload: a copy, so a flow that edits it cannot touch the directory. */
const plain = (reg: Registration): Registration => JSON.parse(JSON.stringify(reg)) as Registration;

export = function register(RED: NodeAPI): void {
  function CoapRdNodeCtor(this: CoapRdNode, config: CoapRdDef): void {
    RED.nodes.createNode(this, config);
    const endpointNode = RED.nodes.getNode(config.endpoint) as CoapEndpointNode | null;
    const directory = settingsOrRefuse(this, 'coap-rd', () => new ResourceDirectory({ limits: limitsFrom(config) }));
    if (!directory) {
      this.directory = new ResourceDirectory();
      return;
    }
    this.directory = directory;
    if (!endpointNode) {
      this.status({ fill: 'red', shape: 'ring', text: 'no CoAP endpoint configured' });
      this.error('coap-rd needs a coap-endpoint config node');
      return;
    }

    // Persistence: <userDir>/edge-gateway/rd-<node id>.json; without a user dir, memory only.
    const userDir = (RED.settings as { userDir?: unknown }).userDir;
    let store: RegistrationStore | undefined;
    if (config.persist !== false && typeof userDir === 'string' && userDir !== '') {
      const file = join(userDir, 'edge-gateway', `rd-${this.id.replace(/[^A-Za-z0-9_.-]/g, '_')}.json`);
      store = new RegistrationStore(file, { onError: (err) => this.warn(`could not save registrations to ${file}: ${err.message}`) });
      const loaded = store.load();
      if (loaded.problem) this.warn(`registration file ${file} unreadable (${loaded.problem})${loaded.movedAside ? `; moved to ${loaded.movedAside}` : ''}`);
      const { restored, dropped } = directory.restore(loaded.registrations);
      if (restored + dropped + loaded.skipped > 0) this.log(`restored ${restored} registration(s); ${dropped + loaded.skipped} expired or invalid`);
      if (dropped + loaded.skipped > 0) store.schedule(() => directory.snapshot());
    }

    const showCount = (): void => {
      const n = directory.size;
      this.status({ fill: 'green', shape: 'dot', text: `${n} endpoint${n === 1 ? '' : 's'}` });
    };
    const changed = (topic: 'registered' | 'updated' | 'removed' | 'expired', reg: Registration): void => {
      this.send({ topic, payload: plain(reg) } as NodeMessage);
      showCount();
      store?.schedule(() => directory.snapshot());
    };
    directory.on('registered', (reg) => changed('registered', reg as Registration));
    directory.on('updated', (reg) => changed('updated', reg as Registration));
    directory.on('removed', (reg, why: RemovalReason) => changed(why === 'expired' ? 'expired' : 'removed', reg as Registration));

    const service = new RdService(endpointNode.endpoint, directory);
    // Bad input is answered on the wire; the log gets each kind of refusal once, not a flood.
    const logged = new Set<string>();
    service.on('rejected', (err, req) => {
      if (logged.has(err.code)) return;
      logged.add(err.code);
      this.warn(`answered ${err.code} to ${req.method} /${req.path.join('/')} from ${req.remote.address}: ${err.message} (further ${err.code} answers are not logged)`);
    });
    service.on('simple-registration-failed', (err, source) => this.warn(`simple registration from ${source.address}:${source.port} failed: ${err.message}`));
    try {
      service.start();
      showCount();
    } catch (err) {
      this.status({ fill: 'red', shape: 'ring', text: (err as Error).message });
      this.error(`coap-rd cannot serve /rd on this endpoint: ${(err as Error).message}`);
    }

    this.on('input', (msg: NodeMessage, send: (m: NodeMessage) => void, done: (err?: Error) => void) => {
      const command = String(msg.topic ?? '');
      if (command === 'remove') {
        const id = String(msg.payload ?? '');
        const reg = directory.get(id) ?? directory.endpoints().find((r) => r.ep === id);
        if (!reg) return done(new Error(`no registration "${id}" to remove`));
        directory.remove(reg.id, 'deleted');
        return done();
      }
      if (command === 'list') {
        send({ ...msg, payload: directory.endpoints().map(plain) });
        return done();
      }
      done(new Error(`unknown command "${command}": use topic "remove" (payload: id or ep) or "list"`));
    });

    this.on('close', (_removed: boolean, done: () => void) => {
      service.stop();
      directory.removeAllListeners();
      if (store) store.flush().then(done, done);
      else done();
    });
  }
  RED.nodes.registerType('coap-rd', CoapRdNodeCtor);
};
