/**
 * One window of a device's readings boiled down to one payload: numbers averaged, anything
 * else the latest value. An object payload is summarised field by field (top level only).
 */

interface Mean {
  sum: number;
  n: number;
}

type Field = { kind: 'mean'; mean: Mean } | { kind: 'latest'; value: unknown };

const SCALAR = Symbol('scalar');

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !Buffer.isBuffer(v);
}

function isFiniteNumber(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}

export class Summary {
  count = 0;
  private readonly fields = new Map<string | typeof SCALAR, Field>();
  private lastWasObject = false;

  /** maxFields bounds what one window holds: fields past it are left out. */
  constructor(private readonly maxFields: number) {}

  add(payload: unknown): void {
    this.count++;
    if (isPlainObject(payload)) {
      this.lastWasObject = true;
      for (const [name, value] of Object.entries(payload)) this.addField(name, value);
    } else {
      this.lastWasObject = false;
      this.addField(SCALAR, payload);
    }
  }

  private addField(name: string | typeof SCALAR, value: unknown): void {
    const field = this.fields.get(name);
    if (field === undefined && this.fields.size >= this.maxFields) return;
    if (isFiniteNumber(value) && (field === undefined || field.kind === 'mean')) {
      const mean = field?.kind === 'mean' ? field.mean : { sum: 0, n: 0 };
      mean.sum += value;
      mean.n++;
      if (field === undefined) this.fields.set(name, { kind: 'mean', mean });
      return;
    }
    // A field that ever carried something other than a number is reported as its latest value.
    this.fields.set(name, { kind: 'latest', value });
  }

  /** The summarised payload, shaped like the latest reading: an object, or a single value. */
  payload(): unknown {
    const valueOf = (f: Field): unknown => (f.kind === 'mean' ? f.mean.sum / f.mean.n : f.value);
    if (!this.lastWasObject) {
      const scalar = this.fields.get(SCALAR);
      return scalar === undefined ? undefined : valueOf(scalar);
    }
    const out: Record<string, unknown> = {};
    for (const [name, field] of this.fields) if (name !== SCALAR) out[name] = valueOf(field);
    return out;
  }
}
