/** Devices that take part in load control, and the owner's limits for each. */
import type { LoadControlLimits } from '../sharing/choices';
import type { DeviceRecord } from '../provisioning/types';

export type Transport = 'mqtt' | 'coap';

export interface Participant {
  /** Unique key: "mqtt:<device id>" or "coap:<name>". */
  readonly key: string;
  /** Its resourceName in reports, and the name in messages. */
  readonly name: string;
  readonly transport: Transport;
  /** What is commanded: "brightness" (%), "setpoint" (°C), "power" (%), "switch" (1/0), ... */
  readonly quantity: string;
  readonly limits: LoadControlLimits;
  /** Value when nothing is known about the device yet (before it reports or is commanded). */
  readonly normal: number;
  /** Rough rated power, for the load-reduction estimate and capacity limits. */
  readonly ratedWatts: number;
  /** MQTT: the provisioned device's id. */
  readonly deviceId?: string;
  /** CoAP: a registered endpoint, or a group of the coap-proxy, and the resource path. */
  readonly endpoint?: string;
  readonly group?: string;
  readonly path?: string;
}

/** Defaults by quantity: brightness, power and level are percentages, setpoint is °C, switch is 1/0. */
export const QUANTITY_NORMAL: Readonly<Record<string, number>> = { brightness: 100, power: 100, level: 100, setpoint: 21, switch: 1 };
export const DEFAULT_RATED_WATTS = 60;

/** Behaviours a provisioned device announces, and what load control commands on each. */
const BEHAVIOUR_QUANTITY: Readonly<Record<string, string>> = { dimmer: 'brightness', thermostat: 'setpoint', switch: 'switch' };

/**
 * The provisioned MQTT devices that opted in: one participant per quantity the owner set limits
 * for, or (no limits) per behaviour load control knows.
 */
export function participantsFromRegistry(devices: readonly DeviceRecord[]): Participant[] {
  const out: Participant[] = [];
  for (const d of devices) {
    const lc = d.sharing.loadControl;
    if (d.state !== 'provisioned' || !lc?.optIn) continue;
    const quantities = Object.keys(lc.limits ?? {});
    const chosen = quantities.length ? quantities : d.behaviours.map((b) => BEHAVIOUR_QUANTITY[b]).filter((q): q is string => q !== undefined);
    for (const quantity of chosen) {
      out.push({
        key: `mqtt:${d.id}:${quantity}`,
        name: d.label ? `${d.label} (${d.id})`.slice(0, 128) : d.id,
        transport: 'mqtt',
        quantity,
        limits: lc.limits?.[quantity] ?? {},
        normal: QUANTITY_NORMAL[quantity] ?? 100,
        ratedWatts: DEFAULT_RATED_WATTS,
        deviceId: d.id,
      });
    }
  }
  return out;
}

export interface CoapParticipantConfig {
  name: string;
  endpoint?: string;
  group?: string;
  path: string;
  quantity: string;
  min?: number | string | null;
  max?: number | string | null;
  normal?: number | string | null;
  ratedWatts?: number | string | null;
}

export class ParticipantConfigError extends Error {}

function numberOrUndefined(what: string, value: unknown): number | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  const n = Number(value);
  if (!Number.isFinite(n)) throw new ParticipantConfigError(`${what} must be a number, not "${String(value)}"`);
  return n;
}

/** The CoAP endpoints and groups configured in the node, checked. */
export function coapParticipants(list: unknown, maxEntries: number): Participant[] {
  if (list === undefined || list === null || list === '') return [];
  if (!Array.isArray(list)) throw new ParticipantConfigError('the CoAP device list must be a list');
  if (list.length > maxEntries) throw new ParticipantConfigError(`at most ${maxEntries} CoAP devices`);
  const seen = new Set<string>();
  return list.map((raw, i): Participant => {
    const c = (raw ?? {}) as Partial<CoapParticipantConfig>;
    const name = String(c.name ?? '').trim();
    if (!name || name.length > 128) throw new ParticipantConfigError(`CoAP device ${i + 1}: a name of 1 to 128 characters`);
    if (seen.has(name)) throw new ParticipantConfigError(`CoAP device "${name}" is listed twice`);
    seen.add(name);
    const endpoint = c.endpoint ? String(c.endpoint).trim() : undefined;
    const group = c.group ? String(c.group).trim() : undefined;
    if (!endpoint === !group) throw new ParticipantConfigError(`CoAP device "${name}": set an endpoint or a group (one of them)`);
    const path = String(c.path ?? '').trim();
    if (!path.startsWith('/')) throw new ParticipantConfigError(`CoAP device "${name}": the path must start with "/"`);
    const quantity = String(c.quantity ?? '').trim() || 'brightness';
    const min = numberOrUndefined(`"${name}" min`, c.min);
    const max = numberOrUndefined(`"${name}" max`, c.max);
    if (min !== undefined && max !== undefined && min > max) throw new ParticipantConfigError(`CoAP device "${name}": min ${min} is above max ${max}`);
    return {
      key: `coap:${name}`,
      name,
      transport: 'coap',
      quantity,
      limits: { ...(min !== undefined ? { min } : {}), ...(max !== undefined ? { max } : {}) },
      normal: numberOrUndefined(`"${name}" normal value`, c.normal) ?? QUANTITY_NORMAL[quantity] ?? 100,
      ratedWatts: numberOrUndefined(`"${name}" rated watts`, c.ratedWatts) ?? DEFAULT_RATED_WATTS,
      endpoint,
      group,
      path,
    };
  });
}
