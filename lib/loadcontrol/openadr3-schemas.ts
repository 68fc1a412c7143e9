/**
 * JSON Schema transcription of the component schemas of the OpenADR 3 API OpenAPI document,
 * "OpenADR 3 API" version 3.0.1 (openapi: 3.0.0, components.schemas), published by the OpenADR
 * Alliance. It is a hand transcription, not a copy: the document itself is not distributable
 * here. scripts/check-openadr-schemas.mjs compares this file with the document (required
 * fields, property names, types, enums, patterns, references) and must report no difference.
 *
 * Transcription rules (OpenAPI 3.0 → JSON Schema draft-07, as ajv reads it):
 * - `nullable: true` becomes a type list with "null";
 * - `exclusiveMaximum: true` with `maximum: n` becomes `exclusiveMaximum: n`;
 * - `$ref: '#/components/schemas/x'` becomes `$ref: '#/definitions/x'`;
 * - `example`, `default: null` and long descriptions are left out; `discriminator` is left
 *   out too (the objects it selects between do not require objectType, which ajv's
 *   discriminator support needs), so notification.object is a plain oneOf.
 */

/** A JSON Schema as plain data; only the keywords used below. */
export interface JsonSchema {
  readonly $id?: string;
  readonly $ref?: string;
  readonly type?: string | readonly string[];
  readonly required?: readonly string[];
  readonly properties?: Readonly<Record<string, JsonSchema>>;
  readonly items?: JsonSchema;
  readonly anyOf?: readonly JsonSchema[];
  readonly oneOf?: readonly JsonSchema[];
  readonly enum?: readonly (string | null)[];
  readonly pattern?: string;
  readonly format?: string;
  readonly minLength?: number;
  readonly maxLength?: number;
  readonly minimum?: number;
  readonly maximum?: number;
  readonly exclusiveMaximum?: number;
  readonly default?: unknown;
  readonly description?: string;
  readonly definitions?: Readonly<Record<string, JsonSchema>>;
}

const ref = (name: string): JsonSchema => ({ $ref: `#/definitions/${name}` });
const nullableArrayOf = (items: JsonSchema): JsonSchema => ({ type: ['array', 'null'], items });
const nullableString: JsonSchema = { type: ['string', 'null'] };
const nullableBoolean: JsonSchema = { type: ['boolean', 'null'] };
/** id, createdDateTime, modificationDateTime and objectType: what the VTN adds on creation. */
const provisioned = (objectType: string): Record<string, JsonSchema> => ({
  id: ref('objectID'),
  createdDateTime: ref('dateTime'),
  modificationDateTime: ref('dateTime'),
  objectType: { type: 'string', enum: [objectType] },
});
const name128: JsonSchema = { type: 'string', minLength: 1, maxLength: 128 };

export const OPENADR3_DEFINITIONS: Readonly<Record<string, JsonSchema>> = {
  program: {
    type: 'object',
    required: ['programName'],
    properties: {
      ...provisioned('PROGRAM'),
      programName: name128,
      programLongName: nullableString,
      retailerName: nullableString,
      retailerLongName: nullableString,
      programType: nullableString,
      country: nullableString,
      principalSubdivision: nullableString,
      timeZoneOffset: ref('duration'),
      intervalPeriod: ref('intervalPeriod'),
      programDescriptions: nullableArrayOf({
        required: ['URL'],
        properties: { URL: { type: 'string', format: 'uri' } },
      }),
      bindingEvents: nullableBoolean,
      localPrice: nullableBoolean,
      payloadDescriptors: nullableArrayOf({ anyOf: [ref('eventPayloadDescriptor'), ref('reportPayloadDescriptor')] }),
      targets: nullableArrayOf(ref('valuesMap')),
    },
  },
  report: {
    type: 'object',
    required: ['programID', 'eventID', 'clientName', 'resources'],
    properties: {
      ...provisioned('REPORT'),
      programID: ref('objectID'),
      eventID: ref('objectID'),
      clientName: name128,
      reportName: nullableString,
      payloadDescriptors: nullableArrayOf(ref('reportPayloadDescriptor')),
      resources: {
        type: 'array',
        items: {
          type: 'object',
          required: ['resourceName', 'intervals'],
          properties: {
            resourceName: name128,
            intervalPeriod: ref('intervalPeriod'),
            intervals: { type: 'array', items: ref('interval') },
          },
        },
      },
    },
  },
  event: {
    type: 'object',
    required: ['programID', 'intervals'],
    properties: {
      ...provisioned('EVENT'),
      programID: ref('objectID'),
      eventName: nullableString,
      priority: { type: ['integer', 'null'], minimum: 0 },
      targets: nullableArrayOf(ref('valuesMap')),
      reportDescriptors: nullableArrayOf(ref('reportDescriptor')),
      payloadDescriptors: nullableArrayOf(ref('eventPayloadDescriptor')),
      intervalPeriod: ref('intervalPeriod'),
      intervals: { type: 'array', items: ref('interval') },
    },
  },
  subscription: {
    type: 'object',
    required: ['clientName', 'programID', 'objectOperations'],
    properties: {
      ...provisioned('SUBSCRIPTION'),
      clientName: name128,
      programID: ref('objectID'),
      objectOperations: {
        type: 'array',
        items: {
          type: 'object',
          required: ['objects', 'operations', 'callbackUrl'],
          properties: {
            objects: { type: 'array', items: ref('objectTypes') },
            operations: { type: 'array', items: { type: 'string', enum: ['GET', 'POST', 'PUT', 'DELETE'] } },
            callbackUrl: { type: 'string', format: 'uri' },
            bearerToken: nullableString,
          },
        },
      },
      targets: nullableArrayOf(ref('valuesMap')),
    },
  },
  ven: {
    type: 'object',
    required: ['venName'],
    properties: {
      ...provisioned('VEN'),
      venName: name128,
      attributes: nullableArrayOf(ref('valuesMap')),
      targets: nullableArrayOf(ref('valuesMap')),
      resources: nullableArrayOf(ref('resource')),
    },
  },
  resource: {
    type: 'object',
    required: ['resourceName'],
    properties: {
      ...provisioned('RESOURCE'),
      resourceName: name128,
      venID: ref('objectID'),
      attributes: nullableArrayOf(ref('valuesMap')),
      targets: nullableArrayOf(ref('valuesMap')),
    },
  },
  interval: {
    type: 'object',
    required: ['id', 'payloads'],
    properties: {
      id: { type: 'integer', format: 'int32' },
      intervalPeriod: ref('intervalPeriod'),
      payloads: { type: 'array', items: ref('valuesMap') },
    },
  },
  intervalPeriod: {
    type: 'object',
    required: ['start'],
    properties: {
      start: ref('dateTime'),
      duration: ref('duration'),
      randomizeStart: ref('duration'),
    },
  },
  valuesMap: {
    type: 'object',
    required: ['type', 'values'],
    properties: {
      type: name128,
      values: {
        type: 'array',
        items: { anyOf: [{ type: 'number' }, { type: 'integer' }, { type: 'string' }, { type: 'boolean' }, ref('point')] },
      },
    },
  },
  point: {
    type: 'object',
    required: ['x', 'y'],
    properties: {
      x: { type: 'number', format: 'float' },
      y: { type: 'number', format: 'float' },
    },
  },
  eventPayloadDescriptor: {
    type: 'object',
    required: ['payloadType'],
    properties: {
      objectType: { type: 'string', enum: ['EVENT_PAYLOAD_DESCRIPTOR'] },
      payloadType: name128,
      units: nullableString,
      currency: nullableString,
    },
  },
  reportPayloadDescriptor: {
    type: 'object',
    required: ['payloadType'],
    properties: {
      objectType: { type: 'string', enum: ['REPORT_PAYLOAD_DESCRIPTOR'] },
      payloadType: name128,
      readingType: nullableString,
      units: nullableString,
      accuracy: { type: ['number', 'null'], format: 'float' },
      confidence: { type: ['integer', 'null'], format: 'int32', minimum: 0, maximum: 100 },
    },
  },
  reportDescriptor: {
    type: 'object',
    required: ['payloadType'],
    properties: {
      payloadType: name128,
      readingType: nullableString,
      units: nullableString,
      targets: nullableArrayOf(ref('valuesMap')),
      aggregate: { type: 'boolean', default: false },
      startInterval: { type: 'integer', format: 'int32', default: -1 },
      numIntervals: { type: 'integer', format: 'int32', default: -1 },
      historical: { type: 'boolean', default: true },
      frequency: { type: 'integer', format: 'int32', default: -1 },
      repeat: { type: 'integer', format: 'int32', default: 1 },
    },
  },
  objectID: { type: 'string', pattern: '^[a-zA-Z0-9_-]*$', minLength: 1, maxLength: 128 },
  notification: {
    type: 'object',
    required: ['objectType', 'operation', 'object'],
    properties: {
      objectType: ref('objectTypes'),
      operation: { type: 'string', enum: ['GET', 'POST', 'PUT', 'DELETE'] },
      object: {
        type: 'object',
        oneOf: [ref('program'), ref('report'), ref('event'), ref('subscription'), ref('ven'), ref('resource')],
      },
      targets: nullableArrayOf(ref('valuesMap')),
    },
  },
  objectTypes: { type: 'string', enum: ['PROGRAM', 'EVENT', 'REPORT', 'SUBSCRIPTION', 'VEN', 'RESOURCE'] },
  dateTime: { type: 'string', format: 'date-time' },
  duration: {
    type: 'string',
    pattern: '^(-?)P(?=\\d|T\\d)(?:(\\d+)Y)?(?:(\\d+)M)?(?:(\\d+)([DW]))?(?:T(?:(\\d+)H)?(?:(\\d+)M)?(?:(\\d+(?:\\.\\d+)?)S)?)?$',
    default: 'PT0S',
  },
  clientCredentialRequest: {
    type: 'object',
    required: ['grant_type', 'client_id', 'client_secret'],
    properties: {
      grant_type: { type: 'string', enum: ['client_credentials'] },
      client_id: { type: 'string', minLength: 1, maxLength: 4096 },
      client_secret: { type: 'string', minLength: 1, maxLength: 4096 },
      scope: { type: 'string', minLength: 0, maxLength: 4096 },
    },
  },
  clientCredentialResponse: {
    type: 'object',
    required: ['access_token', 'token_type'],
    properties: {
      access_token: { type: 'string', minLength: 1, maxLength: 4096 },
      token_type: { type: 'string', enum: ['Bearer'] },
      expires_in: { type: 'integer' },
      refresh_token: { type: 'string', minLength: 1, maxLength: 4096 },
      scope: { type: 'string', minLength: 0, maxLength: 4096 },
    },
  },
  authError: {
    type: 'object',
    required: ['error'],
    properties: {
      error: {
        type: 'string',
        enum: ['invalid_request', 'invalid_client', 'invalid_grant', 'invalid_scope', 'unauthorized_client', 'unsupported_grant_type'],
      },
      error_description: { type: 'string' },
      error_uri: { type: 'string', format: 'uri' },
    },
  },
  problem: {
    type: 'object',
    properties: {
      type: { type: 'string', format: 'uri', default: 'about:blank' },
      title: { type: 'string' },
      status: { type: 'integer', format: 'int32', minimum: 100, exclusiveMaximum: 600 },
      detail: { type: 'string' },
      instance: { type: 'string', format: 'uri' },
    },
  },
};

/** The names of the transcribed component schemas. */
export type OpenAdr3SchemaName = keyof typeof OPENADR3_DEFINITIONS & string;

/** One document holding every definition, so that $refs resolve inside it. */
export const OPENADR3_SCHEMA_ID = 'urn:edge-gateway:openadr3-3.0.1-components';
export const OPENADR3_DOCUMENT: JsonSchema = { $id: OPENADR3_SCHEMA_ID, definitions: OPENADR3_DEFINITIONS };
