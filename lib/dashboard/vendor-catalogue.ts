/**
 * The owner's (or integrator's) list of vendors and models: name, web site, support contact.
 * A JSON array of entries; a vendor+model entry wins over a vendor-only one.
 */

export interface VendorInfo {
  readonly vendor: string;
  readonly model?: string;
  readonly name: string;
  readonly url?: string;
  readonly support?: string;
}

export class VendorCatalogueError extends Error {}

export const MAX_CATALOGUE_ENTRIES = 10_000;

function text(entry: Record<string, unknown>, key: string, index: number, required: boolean): string | undefined {
  const v = entry[key];
  if (v === undefined && !required) return undefined;
  if (typeof v !== 'string' || v.trim() === '' || v.length > 500) throw new VendorCatalogueError(`entry ${index}: ${key} must be a non-empty string (at most 500 characters)`);
  return v.trim();
}

export function parseVendorCatalogue(data: unknown): VendorInfo[] {
  if (!Array.isArray(data)) throw new VendorCatalogueError('the vendor catalogue must be a JSON array of {vendor, model?, name, url?, support?}');
  if (data.length > MAX_CATALOGUE_ENTRIES) throw new VendorCatalogueError(`at most ${MAX_CATALOGUE_ENTRIES} entries`);
  return data.map((entry: unknown, i) => {
    if (typeof entry !== 'object' || entry === null) throw new VendorCatalogueError(`entry ${i} is not an object`);
    const e = entry as Record<string, unknown>;
    const url = text(e, 'url', i, false);
    if (url !== undefined && !/^https?:\/\//.test(url)) throw new VendorCatalogueError(`entry ${i}: url must start with http:// or https://`);
    return { vendor: text(e, 'vendor', i, true) as string, model: text(e, 'model', i, false), name: text(e, 'name', i, true) as string, url, support: text(e, 'support', i, false) };
  });
}

export function lookupVendor(catalogue: readonly VendorInfo[], vendor: string | undefined, model: string | undefined): VendorInfo | undefined {
  if (vendor === undefined) return undefined;
  const same = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();
  return (
    (model !== undefined ? catalogue.find((e) => same(e.vendor, vendor) && e.model !== undefined && same(e.model, model)) : undefined) ??
    catalogue.find((e) => same(e.vendor, vendor) && e.model === undefined)
  );
}
