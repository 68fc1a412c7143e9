/** Validation of OpenADR 3 objects against the transcribed 3.0.1 component schemas (ajv). */
import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { OPENADR3_DOCUMENT, OPENADR3_SCHEMA_ID, type OpenAdr3SchemaName } from './openadr3-schemas';

let ajv: Ajv | undefined;
const compiled = new Map<OpenAdr3SchemaName, ValidateFunction>();

function validator(name: OpenAdr3SchemaName): ValidateFunction {
  let fn = compiled.get(name);
  if (fn) return fn;
  if (!ajv) {
    // allErrors off: the first reason is enough for a notice, and it bounds the work per object.
    // strictTypes off: the document itself has untyped object schemas (programDescriptions items).
    ajv = new Ajv({ strict: true, strictTypes: false, allowUnionTypes: true });
    addFormats(ajv);
    ajv.addSchema(OPENADR3_DOCUMENT as object);
  }
  fn = ajv.getSchema(`${OPENADR3_SCHEMA_ID}#/definitions/${name}`);
  if (!fn) throw new Error(`no OpenADR 3 schema "${name}"`);
  compiled.set(name, fn);
  return fn;
}

function describe(errors: ErrorObject[] | null | undefined): string {
  const e = errors?.[0];
  if (!e) return 'invalid';
  return `${e.instancePath || '(root)'} ${e.message ?? 'is invalid'}`;
}

export type Validation = { ok: true } | { ok: false; reason: string };

/** Checks `value` against the named OpenADR 3.0.1 component schema. */
export function validateObject(name: OpenAdr3SchemaName, value: unknown): Validation {
  const fn = validator(name);
  return fn(value) ? { ok: true } : { ok: false, reason: `${name}${describe(fn.errors)}`.replace(`${name}(root)`, `${name}:`).replace(`${name}/`, `${name}: /`) };
}

/** Thrown where an object that must be valid is not. */
export class SchemaError extends Error {
  constructor(readonly schema: OpenAdr3SchemaName, readonly reason: string) {
    super(reason);
  }
}

/** The value, typed, or a SchemaError. */
export function assertValid<T>(name: OpenAdr3SchemaName, value: unknown): T {
  const v = validateObject(name, value);
  if (!v.ok) throw new SchemaError(name, v.reason);
  return value as T;
}
