/** TypeScript shapes of the OpenADR 3.0.1 objects this gateway reads and writes (see openadr3-schemas.ts). */

export type Point = { x: number; y: number };
export type Value = number | string | boolean | Point;

export interface ValuesMap {
  type: string;
  values: Value[];
}

export interface IntervalPeriod {
  start: string;
  duration?: string;
  randomizeStart?: string;
}

export interface Interval {
  id: number;
  intervalPeriod?: IntervalPeriod;
  payloads: ValuesMap[];
}

interface Provisioned {
  id?: string;
  createdDateTime?: string;
  modificationDateTime?: string;
}

export interface EventPayloadDescriptor {
  objectType?: 'EVENT_PAYLOAD_DESCRIPTOR';
  payloadType: string;
  units?: string | null;
  currency?: string | null;
}

export interface ReportPayloadDescriptor {
  objectType?: 'REPORT_PAYLOAD_DESCRIPTOR';
  payloadType: string;
  readingType?: string | null;
  units?: string | null;
  accuracy?: number | null;
  confidence?: number | null;
}

export interface ReportDescriptor {
  payloadType: string;
  readingType?: string | null;
  units?: string | null;
  targets?: ValuesMap[] | null;
  aggregate?: boolean;
  startInterval?: number;
  numIntervals?: number;
  historical?: boolean;
  frequency?: number;
  repeat?: number;
}

export interface Program extends Provisioned {
  objectType?: 'PROGRAM';
  programName: string;
  programLongName?: string | null;
  retailerName?: string | null;
  programType?: string | null;
  intervalPeriod?: IntervalPeriod;
  payloadDescriptors?: (EventPayloadDescriptor | ReportPayloadDescriptor)[] | null;
  targets?: ValuesMap[] | null;
}

export interface OadrEvent extends Provisioned {
  objectType?: 'EVENT';
  programID: string;
  eventName?: string | null;
  priority?: number | null;
  targets?: ValuesMap[] | null;
  reportDescriptors?: ReportDescriptor[] | null;
  payloadDescriptors?: EventPayloadDescriptor[] | null;
  intervalPeriod?: IntervalPeriod;
  intervals: Interval[];
}

export interface ReportResource {
  resourceName: string;
  intervalPeriod?: IntervalPeriod;
  intervals: Interval[];
}

export interface Report extends Provisioned {
  objectType?: 'REPORT';
  programID: string;
  eventID: string;
  clientName: string;
  reportName?: string | null;
  payloadDescriptors?: ReportPayloadDescriptor[] | null;
  resources: ReportResource[];
}

export type ObjectType = 'PROGRAM' | 'EVENT' | 'REPORT' | 'SUBSCRIPTION' | 'VEN' | 'RESOURCE';
export type Operation = 'GET' | 'POST' | 'PUT' | 'DELETE';

export interface Subscription extends Provisioned {
  objectType?: 'SUBSCRIPTION';
  clientName: string;
  programID: string;
  objectOperations: { objects: ObjectType[]; operations: Operation[]; callbackUrl: string; bearerToken?: string | null }[];
  targets?: ValuesMap[] | null;
}

export interface OadrNotification {
  objectType: ObjectType;
  operation: Operation;
  object: Record<string, unknown>;
  targets?: ValuesMap[] | null;
}

export interface Problem {
  type?: string;
  title?: string;
  status?: number;
  detail?: string;
  instance?: string;
}
