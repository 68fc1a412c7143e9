/**
 * The vendor catalogue from settings.js: `edgeGateway: { vendorCatalogue: [...] }` inline, or a
 * path to a JSON file (relative to the user dir), re-read when the file changes.
 */
import { readFileSync, statSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { parseVendorCatalogue, VendorCatalogueError, type VendorInfo } from '../../lib/dashboard/vendor-catalogue';

export const MAX_CATALOGUE_BYTES = 4 * 1024 * 1024;

export function catalogueFromSetting(setting: unknown, userDir: string | undefined, warn: (message: string) => void): () => readonly VendorInfo[] {
  let lastProblem = '';
  const problem = (message: string): VendorInfo[] => {
    if (message !== lastProblem) warn(`vendor catalogue not used: ${message}`);
    lastProblem = message;
    return [];
  };
  if (setting === undefined || setting === null || setting === '') return () => [];
  if (typeof setting !== 'string') {
    let inline: VendorInfo[];
    try {
      inline = parseVendorCatalogue(setting);
    } catch (err) {
      inline = problem((err as Error).message);
    }
    return () => inline;
  }
  const file = isAbsolute(setting) ? setting : join(userDir ?? process.cwd(), setting);
  let cached: { mtimeMs: number; size: number; entries: VendorInfo[] } | undefined;
  return () => {
    try {
      const st = statSync(file);
      if (cached && cached.mtimeMs === st.mtimeMs && cached.size === st.size) return cached.entries;
      if (st.size > MAX_CATALOGUE_BYTES) return problem(`${file} is larger than ${MAX_CATALOGUE_BYTES} bytes`);
      const entries = parseVendorCatalogue(JSON.parse(readFileSync(file, 'utf8')));
      cached = { mtimeMs: st.mtimeMs, size: st.size, entries };
      lastProblem = '';
      return entries;
    } catch (err) {
      if (err instanceof VendorCatalogueError || err instanceof SyntaxError) return problem(`${file}: ${err.message}`);
      return problem(`${file}: ${(err as Error).message}`);
    }
  };
}
