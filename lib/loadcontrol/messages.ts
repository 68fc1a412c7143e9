/** Commands and state changes as flow messages: ready for core `mqtt out` and for `coap-request`. */
import type { DeviceCommand, StateChange } from './schedule';
import type { SessionChange } from './vtn-session';

/** The command topic of the provisioning topic schema (lib/provisioning/topics.ts); the payload names the quantity. */
export const DEFAULT_TOPIC_TEMPLATE = 'devices/{id}/commands';

export interface CommandMessage {
  topic?: string;
  payload: unknown;
  qos?: number;
  retain?: boolean;
  endpoint?: string;
  group?: string;
  path?: string;
  method?: string;
  /** What the command is, whatever the transport: for flows that drive other device types. */
  loadControl: {
    device: string;
    transport: 'mqtt' | 'coap';
    quantity: string;
    value: number;
    reason: DeviceCommand['reason'];
    programID?: string;
    eventID?: string;
    intervalID?: number;
    level?: number;
    signals?: readonly string[];
    clamped: boolean;
    limits: { min?: number; max?: number };
    at: string;
  };
}

/**
 * MQTT: topic from the template ({id}, {quantity}), JSON payload, QoS 1, not retained (a retained
 * curtailment would outlive the event). CoAP: a PUT of the value as text to the endpoint or
 * group and path, as coap-request takes it.
 */
export function commandMessage(cmd: DeviceCommand, topicTemplate = DEFAULT_TOPIC_TEMPLATE): CommandMessage {
  const p = cmd.participant;
  const loadControl: CommandMessage['loadControl'] = {
    device: p.name,
    transport: p.transport,
    quantity: p.quantity,
    value: cmd.value,
    reason: cmd.reason,
    programID: cmd.programID,
    eventID: cmd.eventID,
    intervalID: cmd.intervalID,
    level: cmd.level,
    signals: cmd.from,
    clamped: cmd.clamped,
    limits: p.limits,
    at: cmd.at,
  };
  if (p.transport === 'mqtt') {
    const topic = topicTemplate.replace(/\{id\}/g, p.deviceId ?? p.name).replace(/\{quantity\}/g, p.quantity);
    return { topic, payload: { [p.quantity]: cmd.value, reason: cmd.reason, eventID: cmd.eventID ?? null }, qos: 1, retain: false, loadControl };
  }
  return {
    ...(p.group ? { group: p.group } : { endpoint: p.endpoint }),
    path: p.path,
    method: 'PUT',
    payload: String(cmd.value),
    loadControl,
  };
}

export function stateMessage(change: StateChange | SessionChange): { topic: string; payload: StateChange | SessionChange } {
  return { topic: `loadcontrol/${change.kind}`, payload: change };
}
