/**
 * The provisioning topic schema, after AWS IoT fleet provisioning (request on one topic, the
 * answer on `accepted` or `rejected`) and Azure DPS (the device announces itself; the service
 * answers with where and how to work). `<id>` is the device's unique ID, which is also its
 * certificate identity, so a broker ACL of "own topics only" is two prefixes per device.
 *
 *   device → gateway   provisioning/<id>/hello        HelloPayload (JSON)
 *   gateway → device   provisioning/<id>/accepted     AcceptedPayload (JSON)
 *   gateway → device   provisioning/<id>/rejected     RejectedPayload (JSON)
 *   gateway → device   provisioning/<id>/deprovision  { reason } (JSON): forget the configuration
 *   device (retained)  devices/<id>/status            "online" | "offline" (last will: "offline")
 *   device ↔ flows     devices/<id>/telemetry, devices/<id>/commands, anything under devices/<id>/
 */

export const PROVISIONING_ROOT = 'provisioning';
export const DEVICES_ROOT = 'devices';

export type ProvisioningKind = 'hello' | 'accepted' | 'rejected' | 'deprovision';

/** At most 64 characters, none of the MQTT separators and wildcards, not starting with '$'. */
export function isValidDeviceId(id: string): boolean {
  return /^[A-Za-z0-9][A-Za-z0-9._:@-]{0,63}$/.test(id);
}

export function provisioningTopic(id: string, kind: ProvisioningKind): string {
  return `${PROVISIONING_ROOT}/${id}/${kind}`;
}

export function statusTopic(id: string): string {
  return `${DEVICES_ROOT}/${id}/status`;
}

export function deviceTopics(id: string): { telemetry: string; commands: string; status: string } {
  return { telemetry: `${DEVICES_ROOT}/${id}/telemetry`, commands: `${DEVICES_ROOT}/${id}/commands`, status: statusTopic(id) };
}

/** What the gateway subscribes to. */
export const GATEWAY_SUBSCRIPTIONS = [`${PROVISIONING_ROOT}/+/hello`, `${DEVICES_ROOT}/+/status`] as const;

export interface ParsedTopic {
  readonly root: typeof PROVISIONING_ROOT | typeof DEVICES_ROOT;
  readonly id: string;
  /** The rest after the ID, e.g. "hello" or "status". */
  readonly rest: string;
}

export function parseTopic(topic: string): ParsedTopic | undefined {
  const parts = topic.split('/');
  if (parts.length < 3) return undefined;
  const [root, id] = parts;
  if ((root !== PROVISIONING_ROOT && root !== DEVICES_ROOT) || !isValidDeviceId(id)) return undefined;
  return { root, id, rest: parts.slice(2).join('/') };
}

/**
 * The per-device ACL: a device publishes and subscribes only under its own two prefixes.
 * Works for topic names and for subscription filters (a wildcard may appear only after the ID).
 */
export function deviceMayUse(identity: string, topicOrFilter: string): boolean {
  if (!isValidDeviceId(identity)) return false;
  return topicOrFilter.startsWith(`${PROVISIONING_ROOT}/${identity}/`) || topicOrFilter.startsWith(`${DEVICES_ROOT}/${identity}/`);
}

/** The mosquitto ACL file equivalent, for the README and the tests' broker. */
export function mosquittoAclPatterns(): string[] {
  return [`pattern readwrite ${PROVISIONING_ROOT}/%u/#`, `pattern readwrite ${DEVICES_ROOT}/%u/#`];
}
