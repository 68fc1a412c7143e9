/**
 * Which device a message on the data path is about, and whether it is a command from the vendor.
 * Devices publish under `devices/<id>/...` (the provisioning topic schema); flows may set
 * msg.deviceId instead.
 */

export interface DataPathMessage {
  deviceId?: unknown;
  topic?: unknown;
  direction?: unknown;
  payload?: unknown;
}

const DEVICE_TOPIC = /^devices\/([^/#+]+)\/(.*)$/;
const COMMAND_TOPIC = /^devices\/[^/#+]+\/commands(\/|$)/;
/** Longer IDs than this are not device IDs (the registry accepts no longer ones either). */
export const MAX_DEVICE_ID_LENGTH = 128;

/** msg.deviceId when it is a usable string, else the <id> of a `devices/<id>/...` topic. */
export function deviceIdOf(msg: DataPathMessage): string | undefined {
  const explicit = typeof msg.deviceId === 'string' ? msg.deviceId.trim() : '';
  const id = explicit !== '' ? explicit : typeof msg.topic === 'string' ? DEVICE_TOPIC.exec(msg.topic)?.[1] : undefined;
  return id !== undefined && id.length > 0 && id.length <= MAX_DEVICE_ID_LENGTH ? id : undefined;
}

/** A command on its way from the vendor to the device, not data on its way out. */
export function isVendorCommand(msg: DataPathMessage): boolean {
  return msg.direction === 'command' || (typeof msg.topic === 'string' && COMMAND_TOPIC.test(msg.topic));
}
