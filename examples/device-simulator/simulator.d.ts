// Types for the reference device, so TypeScript tests and benchmarks can drive it.
import type { MqttClient } from 'mqtt';

export interface SimulatorOptions {
  /** The ID the device believes it has (its label). */
  id: string;
  cert: string;
  key: string;
  ca: string;
  /** e.g. mqtts://127.0.0.1:8883 */
  local?: string;
  /** The vendor's default broker, the second rung of the ladder. */
  vendorUrl?: string;
  firmware?: string;
  model?: string;
  vendor?: string;
  behaviours?: string[];
  timeoutMs?: number;
  servername?: string;
  /** Sent instead of the JSON hello (to test refusals of bad payloads). */
  rawHello?: string;
}

export interface LocalOutcome {
  ok: boolean;
  error?: string;
  rejected?: { code: string; reason: string };
}

export type ProvisionResult =
  | { mode: 'provisioned'; client: MqttClient; config: { id: string; topics: Record<string, string>; heartbeatSeconds: number; settings: Record<string, unknown> }; local: LocalOutcome }
  | { mode: 'vendor'; client: MqttClient; local: LocalOutcome }
  | { mode: 'local'; local: LocalOutcome; vendor: LocalOutcome };

export function provision(options: SimulatorOptions): Promise<ProvisionResult>;
export function certificateId(certPem: string): string;
