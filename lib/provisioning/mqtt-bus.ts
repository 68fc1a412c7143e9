/**
 * The provisioning bus over MQTT.js: the gateway as a client of an external broker (mosquitto,
 * a cluster) or of the embedded broker's TLS listener, with its own client certificate.
 */
import { EventEmitter } from 'node:events';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { ProvisioningBus } from './provisioner';
import type { MosquittoAcl } from './mosquitto-acl';

export interface MqttBusEvents {
  connected: [];
  offline: [reason: string];
}

export class MqttBus extends EventEmitter<MqttBusEvents> implements ProvisioningBus {
  private readonly client: MqttClient;

  /** `acl`: the mosquitto ACL file the gateway keeps, for revocation at the broker. */
  constructor(url: string, options: IClientOptions, private readonly acl?: MosquittoAcl) {
    super();
    this.client = mqtt.connect(url, { reconnectPeriod: 2000, connectTimeout: 10_000, ...options });
    this.client.on('connect', () => this.emit('connected'));
    this.client.on('close', () => this.emit('offline', 'disconnected'));
    this.client.on('error', (err) => this.emit('offline', err.message));
  }

  get connected(): boolean {
    return this.client.connected;
  }

  async subscribe(filters: readonly string[], onMessage: (topic: string, payload: Buffer) => void): Promise<void> {
    this.client.on('message', (topic, payload) => onMessage(topic, payload));
    // MQTT.js queues this until connected and subscribes again after each reconnect.
    await this.client.subscribeAsync([...filters], { qos: 1 });
  }

  async publish(topic: string, payload: string, options: { retain?: boolean } = {}): Promise<void> {
    await this.client.publishAsync(topic, payload, { qos: 1, retain: options.retain === true });
  }

  async refuse(revokedIds: readonly string[]): Promise<void> {
    await this.acl?.update(revokedIds);
  }

  async close(): Promise<void> {
    await this.client.endAsync(true);
  }
}
