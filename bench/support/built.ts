/**
 * The compiled library (dist/, what the package ships) for benchmarks. Run through tsx, the
 * sources pay for esbuild's keepNames: every named closure is created with an
 * Object.defineProperty call, which the shipped code never makes (about 7 % of the proxy's CPU
 * time in a perf profile). `npm run bench` builds first.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export const ROOT = join(__dirname, '..', '..');

export function built<T>(relative: string): T {
  const file = join(ROOT, 'dist', relative);
  if (!existsSync(file)) throw new Error(`${file} is missing: run "npm run build" first ("npm run bench" does)`);
  return require(file) as T;
}

/** CPU time (user + system) a process has used so far, in µs; undefined where /proc is not there. */
export function processCpuMicros(pid: number): number | undefined {
  try {
    // Fields after the command name: utime and stime are the 12th and 13th, in clock ticks.
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    return ((Number(fields[11]) + Number(fields[12])) * 1e6) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return undefined;
  }
}

/** USER_HZ: 100 on every Linux this runs on (sysconf(_SC_CLK_TCK)). */
const CLOCK_TICKS_PER_SECOND = 100;
