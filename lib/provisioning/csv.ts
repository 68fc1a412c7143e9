/**
 * Claims from a CSV file: one device per line, `id[,label]`, an optional header line starting
 * with "id", quotes allowed around a field. Lines that are not a device ID are reported, not fatal.
 */
import { isValidDeviceId } from './topics';

export const MAX_CSV_CLAIMS = 10_000;

export interface CsvClaims {
  claims: Array<{ id: string; label?: string }>;
  problems: string[];
}

function fields(line: string): string[] {
  const out: string[] = [];
  const re = /\s*(?:"((?:[^"]|"")*)"|([^,]*))\s*(?:,|$)/gy;
  let m: RegExpExecArray | null;
  while (re.lastIndex < line.length && (m = re.exec(line)) !== null) {
    out.push(m[1] !== undefined ? m[1].replace(/""/g, '"') : (m[2] ?? '').trim());
    if (m[0] === '') break;
  }
  return out;
}

export function parseClaimsCsv(text: string, max = MAX_CSV_CLAIMS): CsvClaims {
  const claims: CsvClaims['claims'] = [];
  const problems: string[] = [];
  const seen = new Set<string>();
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const [id = '', label = ''] = fields(line);
    if (index === 0 && id.toLowerCase() === 'id') return;
    if (!isValidDeviceId(id)) return void problems.push(`line ${index + 1}: "${id.slice(0, 40)}" is not a device ID`);
    if (seen.has(id)) return;
    if (claims.length >= max) return void problems.push(`line ${index + 1}: more than ${max} devices; the rest is ignored`);
    seen.add(id);
    claims.push({ id, ...(label ? { label: label.slice(0, 128) } : {}) });
  });
  return { claims, problems: problems.slice(0, 100) };
}
