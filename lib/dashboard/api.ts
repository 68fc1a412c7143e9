/**
 * The dashboard's API as plain functions: request in, status and body out. The plugin binds
 * them to Node-RED's admin HTTP behind RED.auth.needsPermission.
 */
import type { ProvisioningService } from '../provisioning/types';
import type { EndpointDirectory } from '../coap/rd/directory';
import type { LoadControlOwner } from '../loadcontrol/owner-view';
import { parseSharingChoices, SharingChoiceError } from '../sharing/parse-choices';
import { isValidDeviceId } from '../provisioning/topics';
import { dashboardView, type Source } from './view';
import type { VendorInfo } from './vendor-catalogue';

export interface ApiContext {
  provisioning(): Source<ProvisioningService>[];
  directories(): Source<EndpointDirectory>[];
  /** Deployed load-control nodes (none when absent). */
  loadControl?(): Source<LoadControlOwner>[];
  catalogue(): readonly VendorInfo[];
  /** Third parties the deployed data-sharing nodes serve. */
  thirdParties(): string[];
  now(): number;
}

export interface ApiReply {
  status: number;
  body: unknown;
}

export const MAX_LABEL_LENGTH = 64;
export const NOTICE_LIMIT = 100;

const error = (status: number, message: string): ApiReply => ({ status, body: { error: message } });

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function registryFor(ctx: ApiContext, registry: unknown): Source<ProvisioningService> | ApiReply {
  const all = ctx.provisioning();
  if (all.length === 0) return error(503, 'no device-provisioning node is deployed');
  if (registry === undefined || registry === null || registry === '') return all[0] as Source<ProvisioningService>;
  return all.find((p) => p.nodeId === registry) ?? error(404, `no device-provisioning node ${String(registry).slice(0, 40)}`);
}

function isReply(v: unknown): v is ApiReply {
  return isRecord(v) && typeof v.status === 'number' && 'body' in v;
}

/** The service's own refusals (already claimed, unknown device...) are the owner's to read. */
async function serviceCall(run: () => Promise<unknown>): Promise<ApiReply> {
  try {
    return { status: 200, body: await run() };
  } catch (err) {
    return error(409, (err as Error).message);
  }
}

export function getState(ctx: ApiContext, canWrite: boolean): ApiReply {
  return {
    status: 200,
    body: dashboardView({
      provisioning: ctx.provisioning(),
      directories: ctx.directories(),
      loadControl: ctx.loadControl?.() ?? [],
      catalogue: ctx.catalogue(),
      thirdParties: ctx.thirdParties(),
      canWrite,
      now: ctx.now(),
      noticeLimit: NOTICE_LIMIT,
    }),
  };
}

export async function postClaim(ctx: ApiContext, body: unknown): Promise<ApiReply> {
  if (!isRecord(body)) return error(400, 'expected a JSON object {id, label?}');
  const id = typeof body.id === 'string' ? body.id.trim() : '';
  if (!isValidDeviceId(id)) return error(400, 'a device ID is 1 to 64 letters, digits and . _ : @ - (starting with a letter or digit)');
  let label: string | undefined;
  if (body.label !== undefined && body.label !== '') {
    if (typeof body.label !== 'string' || body.label.length > MAX_LABEL_LENGTH || /[\u0000-\u001f\u007f]/.test(body.label)) {
      return error(400, `a label is at most ${MAX_LABEL_LENGTH} printable characters`);
    }
    label = body.label.trim();
  }
  const registry = registryFor(ctx, body.registry);
  if (isReply(registry)) return registry;
  return serviceCall(() => registry.value.claim(id, 'dashboard', label));
}

export async function deleteClaim(ctx: ApiContext, id: string, registryId: unknown): Promise<ApiReply> {
  if (!isValidDeviceId(id)) return error(400, 'not a device ID');
  const registry = registryFor(ctx, registryId);
  if (isReply(registry)) return registry;
  if (!registry.value.claims().some((c) => c.id === id)) return error(404, `no claim for ${id}`);
  return serviceCall(async () => {
    await registry.value.unclaim(id);
    return { id };
  });
}

export async function putSharing(ctx: ApiContext, id: string, body: unknown): Promise<ApiReply> {
  if (!isValidDeviceId(id)) return error(400, 'not a device ID');
  let choices;
  try {
    choices = parseSharingChoices(body);
  } catch (err) {
    if (err instanceof SharingChoiceError) return error(400, err.message);
    throw err;
  }
  const holder = ctx.provisioning().find((p) => p.value.device(id) !== undefined);
  if (!holder) return error(404, `no provisioned device ${id}`);
  return serviceCall(() => holder.value.setSharing(id, choices));
}

/**
 * The owner takes a device out of the utility's running event(s), through every load-control
 * node that commands it: restored and kept out until the event ends, as the flow's override.
 */
export function postOptOut(ctx: ApiContext, id: string): ApiReply {
  if (!isValidDeviceId(id)) return error(400, 'not a device ID');
  const owners = ctx.loadControl?.() ?? [];
  const results = owners.map((o) => o.value.optOut(id));
  const events = new Set<string>();
  for (const r of results) if (r.result === 'opted-out') for (const e of r.eventIDs) events.add(e);
  if (results.some((r) => r.result === 'opted-out')) return { status: 200, body: { id, events: [...events] } };
  if (results.some((r) => r.result === 'no-event')) return error(409, `${id} takes part in no running event`);
  return error(404, `no load-control node commands ${id}`);
}
