/**
 * The JSON payloads of the provisioning topics and their validation. A payload that fails is
 * answered with `rejected` and a reason; nothing here throws on device input.
 */
import Ajv, { type JSONSchemaType } from 'ajv';
import { deviceTopics } from './topics';

/** What a device announces on provisioning/<id>/hello. */
export interface HelloPayload {
  /** The ID the device believes it has (printed on its label); must equal its certificate identity. */
  id: string;
  firmware: string;
  model?: string;
  vendor?: string;
  /** e.g. "switch", "dimmer", "thermostat". */
  behaviours?: string[];
  /** A PEM certificate signing request, for a gateway that issues operational certificates. */
  csr?: string;
}

export interface AcceptedPayload {
  id: string;
  topics: { telemetry: string; commands: string; status: string };
  heartbeatSeconds: number;
  settings: Record<string, unknown>;
}

export type RejectCode = 'bad-payload' | 'identity-mismatch' | 'unclaimed' | 'revoked';

export interface RejectedPayload {
  code: RejectCode;
  reason: string;
}

/** A hello is small; anything bigger is refused before parsing. */
export const MAX_HELLO_BYTES = 16 * 1024;

const short = { type: 'string', minLength: 1, maxLength: 128 } as const;

const helloSchema: JSONSchemaType<HelloPayload> = {
  type: 'object',
  properties: {
    id: { type: 'string', minLength: 1, maxLength: 64 },
    firmware: short,
    model: { ...short, nullable: true },
    vendor: { ...short, nullable: true },
    behaviours: { type: 'array', items: { type: 'string', minLength: 1, maxLength: 64 }, maxItems: 32, nullable: true },
    csr: { type: 'string', maxLength: 8192, nullable: true },
  },
  required: ['id', 'firmware'],
  additionalProperties: true,
};

const ajv = new Ajv({ allErrors: false });
const validateHello = ajv.compile(helloSchema);

export type HelloResult = { ok: true; hello: HelloPayload } | { ok: false; reason: string };

export function parseHello(payload: Buffer | string): HelloResult {
  const size = typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length;
  if (size > MAX_HELLO_BYTES) return { ok: false, reason: `hello is ${size} bytes; at most ${MAX_HELLO_BYTES}` };
  let value: unknown;
  try {
    value = JSON.parse(payload.toString());
  } catch {
    return { ok: false, reason: 'hello is not JSON' };
  }
  if (!validateHello(value)) {
    const e = validateHello.errors?.[0];
    return { ok: false, reason: `hello ${e?.instancePath || 'payload'} ${e?.message ?? 'is invalid'}` };
  }
  return { ok: true, hello: value };
}

export function acceptedPayload(id: string, heartbeatSeconds: number, settings: Record<string, unknown>): AcceptedPayload {
  return { id, topics: deviceTopics(id), heartbeatSeconds, settings };
}
