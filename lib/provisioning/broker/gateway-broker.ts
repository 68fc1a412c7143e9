/**
 * The embedded MQTT broker (aedes): a TLS listener for devices that must present a client
 * certificate from the configured CA, whose identity (CN or SAN) is the device ID and confines
 * the device to its own topics; an optional plain listener on loopback for the gateway's own
 * flows, with full access; retained messages and sessions kept in a LevelDB directory.
 */
import { EventEmitter } from 'node:events';
import { createServer as createTcpServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer, type TLSSocket } from 'node:tls';
import { Aedes, type Client, type AedesPublishPacket, type PublishPacket } from 'aedes';
import { Level } from 'level';
import levelPersistence from 'aedes-persistence-level';
import { certificateIdentity, classifyCertificateError, type IdentitySource } from './identity';
import { deviceMayUse, parseTopic } from '../topics';
import type { NoticeKind } from '../types';
import type { ProvisioningBus } from '../provisioner';

export interface BrokerTlsOptions {
  port: number;
  host?: string;
  ca: string | Buffer;
  cert: string | Buffer;
  key: string | Buffer;
  /** PEM certificate revocation list(s), checked by TLS. */
  crl?: string | Buffer;
  identityFrom?: IdentitySource;
}

export interface GatewayBrokerOptions {
  tls?: BrokerTlsOptions;
  /** Plain MQTT on 127.0.0.1 for the gateway's own flows (full access); off when undefined. */
  loopbackPort?: number;
  /** LevelDB directory for retained messages, sessions and wills; in memory when undefined. */
  persistenceDir?: string;
  maxClients?: number;
  maxMessageBytes?: number;
  /** Messages queued per client before its session is set up. */
  queueLimit?: number;
  /** Inbound QoS 2 messages a client may hold awaiting PUBREL. */
  maxInflight?: number;
  connectTimeoutMs?: number;
}

export const BROKER_DEFAULTS = {
  maxClients: 1000,
  maxMessageBytes: 256 * 1024,
  queueLimit: 42,
  maxInflight: 100,
  connectTimeoutMs: 10_000,
} as const;

/** A refusal the owner may need to hear about; `untrusted` and `acl` are for the log only. */
export interface BrokerRefusal {
  kind: NoticeKind | 'untrusted' | 'acl' | 'limit';
  identity: string;
  reason: string;
  detail: Record<string, string>;
}

export interface GatewayBrokerEvents {
  refused: [BrokerRefusal];
  clients: [count: number];
}

const LOCAL = Symbol('local flows');
type Identity = string | typeof LOCAL;

export class GatewayBroker extends EventEmitter<GatewayBrokerEvents> {
  private aedes: Aedes | undefined;
  private db: Level<string, unknown> | undefined;
  private readonly servers: Server[] = [];
  private readonly sockets = new Set<Socket>();
  private readonly identities = new WeakMap<object, Identity>();
  private readonly options: Required<Omit<GatewayBrokerOptions, 'tls' | 'loopbackPort' | 'persistenceDir'>> & GatewayBrokerOptions;
  /** Asked before a device may connect; the provisioning node answers. */
  isRevoked: (id: string) => boolean = () => false;
  tlsAddress: AddressInfo | undefined;
  loopbackAddress: AddressInfo | undefined;

  constructor(options: GatewayBrokerOptions) {
    super();
    this.options = { ...BROKER_DEFAULTS, ...options };
  }

  async start(): Promise<void> {
    const o = this.options;
    let persistence: ReturnType<typeof levelPersistence> | undefined;
    if (o.persistenceDir) {
      this.db = new Level<string, unknown>(o.persistenceDir);
      persistence = levelPersistence(this.db);
    }
    const aedes = await Aedes.createBroker({
      ...(persistence ? { persistence } : {}),
      queueLimit: o.queueLimit,
      maxInflightInbound: o.maxInflight,
      connectTimeout: o.connectTimeoutMs,
      drainTimeout: 30_000,
      maxClientsIdLength: 128,
    });
    this.aedes = aedes;
    aedes.authenticate = (client, _username, _password, done) => {
      const identity = this.identities.get(client.conn);
      if (identity === undefined) return done(null, false);
      if (aedes.connectedClients >= o.maxClients) {
        this.emit('refused', { kind: 'limit', identity: identity === LOCAL ? 'local' : identity, reason: `more than ${o.maxClients} clients`, detail: {} });
        return done(Object.assign(new Error('too many clients'), { returnCode: 3 }), false); // CONNACK 3: server unavailable
      }
      if (identity !== LOCAL && this.isRevoked(identity)) {
        this.emit('refused', { kind: 'revoked-device', identity, reason: `revoked device ${identity} tried to connect`, detail: { address: remote(client) } });
        return done(Object.assign(new Error('revoked'), { returnCode: 5 }), false);
      }
      done(null, true);
    };
    aedes.authorizePublish = (client, packet, done) => this.authorizePublish(client, packet, done);
    aedes.authorizeSubscribe = (client, sub, done) => {
      const identity = this.identities.get(client.conn);
      if (identity === LOCAL) return done(null, sub);
      done(null, identity !== undefined && deviceMayUse(identity, sub.topic) ? sub : null);
    };
    aedes.on('client', () => this.emit('clients', aedes.connectedClients));
    aedes.on('clientDisconnect', () => this.emit('clients', aedes.connectedClients));
    aedes.on('clientError', () => undefined); // a misbehaving client is dropped; that is all
    aedes.on('connectionError', () => undefined);

    if (o.tls) this.tlsAddress = await this.listenTls(aedes, o.tls);
    if (o.loopbackPort !== undefined) this.loopbackAddress = await this.listenLoopback(aedes, o.loopbackPort);
  }

  private authorizePublish(client: Client | null, packet: PublishPacket, done: (error?: Error | null) => void): void {
    if (packet.topic.startsWith('$SYS')) return done(new Error('$SYS is reserved'));
    if (client === null) return done(null);
    const identity = this.identities.get(client.conn);
    const size = packet.payload?.length ?? 0;
    if (size > this.options.maxMessageBytes) {
      this.emit('refused', { kind: 'limit', identity: identity === LOCAL ? 'local' : (identity ?? ''), reason: `message of ${size} bytes on ${packet.topic.slice(0, 100)}`, detail: {} });
      return done(new Error('message too large'));
    }
    if (identity === LOCAL) return done(null);
    if (identity !== undefined && deviceMayUse(identity, packet.topic)) return done(null);
    const target = parseTopic(packet.topic);
    const speaksForAnother = target && target.root === 'provisioning' && target.rest === 'hello';
    this.emit('refused', {
      kind: speaksForAnother ? 'identity-mismatch' : 'acl',
      identity: identity ?? '',
      reason: speaksForAnother
        ? `a device with certificate "${identity}" tried to register as "${target.id}"`
        : `device ${identity} may not publish on ${packet.topic.slice(0, 100)}`,
      detail: { certificate: identity ?? '', topic: packet.topic.slice(0, 200), address: remote(client) },
    });
    done(new Error('not your topic'));
  }

  private listenTls(aedes: Aedes, t: BrokerTlsOptions): Promise<AddressInfo> {
    // rejectUnauthorized is off so that a refused certificate can be told to the owner; a socket
    // that is not authorized is closed here and never reaches the broker.
    const server = createTlsServer(
      { ca: t.ca, cert: t.cert, key: t.key, ...(t.crl ? { crl: t.crl } : {}), requestCert: true, rejectUnauthorized: false, minVersion: 'TLSv1.2' },
      (socket: TLSSocket) => {
        socket.on('error', () => undefined);
        const peer = socket.getPeerCertificate();
        const identity = certificateIdentity(peer, t.identityFrom ?? 'cn');
        if (!socket.authorized || !identity) {
          this.refuseCertificate(socket, identity, String(socket.authorizationError ?? 'no client certificate'), peer.valid_to);
          socket.destroy();
          return;
        }
        this.identities.set(socket, identity);
        aedes.handle(socket);
      },
    );
    server.on('tlsClientError', () => undefined); // failed handshakes: nothing to tell beyond the peer's own error
    return this.listen(server, t.port, t.host ?? '0.0.0.0');
  }

  private refuseCertificate(socket: TLSSocket, fullIdentity: string | undefined, code: string, validTo: string | undefined): void {
    if (!fullIdentity) return; // no certificate at all: a scanner, not a device
    const identity = fullIdentity.slice(0, 64); // an untrusted certificate can say anything, at any length
    const kind = classifyCertificateError(code);
    const reason =
      kind === 'certificate-expired'
        ? `device ${identity} presented a certificate that expired ${validTo ?? ''}`.trim()
        : kind === 'certificate-revoked'
          ? `device ${identity} presented a revoked certificate`
          : `device ${identity} presented a certificate the gateway does not trust (${code})`;
    this.emit('refused', { kind, identity, reason, detail: { certificate: identity, error: code, address: socket.remoteAddress ?? '' } });
  }

  private listenLoopback(aedes: Aedes, port: number): Promise<AddressInfo> {
    const server = createTcpServer((socket: Socket) => {
      socket.on('error', () => undefined);
      this.identities.set(socket, LOCAL);
      aedes.handle(socket);
    });
    return this.listen(server, port, '127.0.0.1');
  }

  private listen(server: Server, port: number, host: string): Promise<AddressInfo> {
    this.servers.push(server);
    // Raw sockets, so that close() also ends handshakes still under way.
    server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.removeListener('error', reject);
        resolve(server.address() as AddressInfo);
      });
    });
  }

  /** In-process access for the gateway's own logic: no socket, full rights. */
  bus(): ProvisioningBus {
    const aedes = this.requireAedes();
    const subscriptions: Array<[string, (packet: AedesPublishPacket, cb: () => void) => void]> = [];
    return {
      subscribe: async (filters, onMessage) => {
        for (const filter of filters) {
          const deliver = (packet: AedesPublishPacket, cb: () => void): void => {
            onMessage(packet.topic, Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload));
            cb();
          };
          subscriptions.push([filter, deliver]);
          await new Promise<void>((resolve) => aedes.subscribe(filter, deliver, () => resolve()));
        }
      },
      publish: (topic, payload, options = {}) =>
        new Promise((resolve, reject) =>
          aedes.publish({ cmd: 'publish', topic, payload: Buffer.from(payload), qos: 1, retain: options.retain === true, dup: false }, (err) => (err ? reject(err) : resolve())),
        ),
      disconnect: (id) => this.disconnect(id),
      close: async () => {
        for (const [filter, deliver] of subscriptions.splice(0)) {
          await new Promise<void>((resolve) => aedes.unsubscribe(filter, deliver, () => resolve()));
        }
      },
    };
  }

  /** Closes every live connection whose certificate identity is `id`. */
  disconnect(id: string): number {
    // aedes keeps connected clients in a map by client ID, not in its typings.
    const clients = (this.aedes as unknown as { clients: Record<string, Client> } | undefined)?.clients ?? {};
    let closed = 0;
    for (const client of Object.values(clients)) {
      if (this.identities.get(client.conn) === id) {
        client.close();
        closed++;
      }
    }
    return closed;
  }

  get connectedClients(): number {
    return this.aedes?.connectedClients ?? 0;
  }

  private requireAedes(): Aedes {
    if (!this.aedes) throw new Error('the broker is not started');
    return this.aedes;
  }

  async close(): Promise<void> {
    const stopped = this.servers.splice(0).map((s) => new Promise<void>((resolve) => s.close(() => resolve())));
    const aedes = this.aedes;
    this.aedes = undefined;
    if (aedes) await new Promise<void>((resolve) => aedes.close(() => resolve()));
    for (const socket of this.sockets) socket.destroy();
    await Promise.all(stopped);
    if (this.db) await this.db.close().catch(() => undefined);
    this.db = undefined;
  }
}

function remote(client: Client): string {
  return (client.conn as Partial<Socket>).remoteAddress ?? '';
}

