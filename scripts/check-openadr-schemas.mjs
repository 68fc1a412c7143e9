// Compares our JSON Schema transcription (lib/loadcontrol/openadr3-schemas.ts) with the OpenADR 3
// OpenAPI document it transcribes, schema by schema: required fields, property names, types
// (nullable included), enums, patterns, formats, bounds, defaults and references.
//   node scripts/check-openadr-schemas.mjs <path-to-oadr3.0.1.yaml>
// Exit 0: no difference; 1: differences (listed); 2: usage or unreadable document.
// The document is not in the repository (not distributable); get it from the OpenADR Alliance.
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);

const file = process.argv[2];
if (!file) {
  console.error('usage: node scripts/check-openadr-schemas.mjs <path-to-oadr3.0.1.yaml>');
  process.exit(2);
}

/** YAML → object: js-yaml when installed (it is, through dependencies), else python3's yaml, else JSON. */
function loadDocument(path) {
  const text = readFileSync(path, 'utf8');
  try {
    const yaml = require('js-yaml');
    return yaml.load(text);
  } catch (err) {
    if (err?.code !== 'MODULE_NOT_FOUND') throw err;
  }
  try {
    const json = execFileSync('python3', ['-c', 'import sys, json, yaml; json.dump(yaml.safe_load(sys.stdin), sys.stdout)'], { input: text });
    return JSON.parse(json.toString('utf8'));
  } catch {
    return JSON.parse(text);
  }
}

async function loadTranscription() {
  const { tsImport } = await import('tsx/esm/api');
  const mod = await tsImport(pathToFileURL(join(root, 'lib', 'loadcontrol', 'openadr3-schemas.ts')).href, import.meta.url);
  return (mod.OPENADR3_DEFINITIONS ?? mod.default?.OPENADR3_DEFINITIONS);
}

const COMPARED = ['format', 'pattern', 'minLength', 'maxLength', 'minimum', 'maximum', 'exclusiveMaximum', 'default'];

/** Both dialects → one canonical form. `openapi` selects the OpenAPI 3.0 reading. */
function canonical(schema, openapi) {
  if (schema === undefined || schema === null) return undefined;
  if (schema.$ref) {
    const name = schema.$ref.replace(openapi ? '#/components/schemas/' : '#/definitions/', '');
    return { ref: name };
  }
  const out = {};
  const types = schema.type === undefined ? [] : Array.isArray(schema.type) ? [...schema.type] : [schema.type];
  if (openapi && schema.nullable === true) types.push('null');
  if (types.length) out.type = [...new Set(types)].sort();
  if (schema.required) out.required = [...schema.required].sort();
  if (schema.enum) out.enum = [...schema.enum].map(String).sort();
  for (const k of COMPARED) {
    if (schema[k] === undefined) continue;
    if (k === 'default' && schema[k] === null) continue; // nullable's default null: implied by the type
    out[k] = schema[k];
  }
  // OpenAPI 3.0 (draft 4) boolean exclusiveMaximum → draft 7 number.
  if (openapi && schema.exclusiveMaximum === true) {
    out.exclusiveMaximum = schema.maximum;
    delete out.maximum;
  }
  if (schema.properties) {
    out.properties = {};
    for (const [name, sub] of Object.entries(schema.properties)) out.properties[name] = canonical(sub, openapi);
  }
  if (schema.items) out.items = canonical(schema.items, openapi);
  for (const k of ['anyOf', 'oneOf', 'allOf']) if (schema[k]) out[k] = schema[k].map((s) => canonical(s, openapi));
  return out;
}

function differences(a, b, path, found) {
  const keys = new Set([...Object.keys(a ?? {}), ...Object.keys(b ?? {})]);
  if (a === undefined || b === undefined) {
    found.push(`${path}: ${a === undefined ? 'missing in the transcription' : 'not in the document'}`);
    return;
  }
  for (const k of keys) {
    const x = a[k];
    const y = b[k];
    if (k === 'properties') {
      const names = new Set([...Object.keys(x ?? {}), ...Object.keys(y ?? {})]);
      for (const n of names) differences(x?.[n], y?.[n], `${path}.properties.${n}`, found);
    } else if (k === 'items') {
      differences(x, y, `${path}.items`, found);
    } else if (k === 'anyOf' || k === 'oneOf' || k === 'allOf') {
      if ((x?.length ?? 0) !== (y?.length ?? 0)) found.push(`${path}.${k}: ${x?.length ?? 0} alternatives in the document, ${y?.length ?? 0} transcribed`);
      else x.forEach((s, i) => differences(s, y[i], `${path}.${k}[${i}]`, found));
    } else if (JSON.stringify(x) !== JSON.stringify(y)) {
      found.push(`${path}.${k}: document ${JSON.stringify(x)}, transcription ${JSON.stringify(y)}`);
    }
  }
}

const doc = loadDocument(file);
const documentSchemas = doc?.components?.schemas;
if (!documentSchemas) {
  console.error(`${file}: no components.schemas`);
  process.exit(2);
}
console.log(`document: ${doc.info?.title ?? '?'} ${doc.info?.version ?? '?'} (openapi ${doc.openapi ?? '?'}), ${Object.keys(documentSchemas).length} component schemas`);
const ours = await loadTranscription();
let failures = 0;
for (const name of Object.keys(ours)) {
  const found = [];
  if (!documentSchemas[name]) found.push(`${name}: not a component schema of the document`);
  else differences(canonical(documentSchemas[name], true), canonical(ours[name], false), name, found);
  const properties = Object.keys(ours[name].properties ?? {}).length;
  if (found.length === 0) console.log(`ok    ${name} (${properties} properties, required [${(ours[name].required ?? []).join(', ')}])`);
  else {
    failures += found.length;
    console.log(`DIFF  ${name}`);
    for (const f of found) console.log(`        ${f}`);
  }
}
const untranscribed = Object.keys(documentSchemas).filter((n) => !(n in ours));
console.log(untranscribed.length ? `not transcribed: ${untranscribed.join(', ')}` : 'every component schema is transcribed');
console.log(failures === 0 ? `no differences in ${Object.keys(ours).length} schemas` : `${failures} difference(s)`);
process.exit(failures === 0 ? 0 : 1);
