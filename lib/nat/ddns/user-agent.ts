/** The User-Agent dyndns2 asks for: "Company - Device - Version" (providers block anonymous clients). */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export function packageVersion(fromDir: string): string {
  // Source (nodes/) and built (dist/nodes/) files sit at different depths below package.json.
  for (const up of [['..'], ['..', '..'], ['..', '..', '..']]) {
    const file = join(fromDir, ...up, 'package.json');
    if (!existsSync(file)) continue;
    try {
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: unknown; version?: unknown };
      if (pkg.name === 'node-red-contrib-edge-gateway' && typeof pkg.version === 'string') return pkg.version;
    } catch {
      // unreadable: look further up
    }
  }
  return '0';
}

export function ddnsUserAgent(version: string): string {
  return `node-red-contrib-edge-gateway - ddns-update - ${version}`;
}
