/** Reading back a state file this node wrote: size-capped, so a damaged or planted file cannot exhaust memory. */
import { readFileSync, statSync } from 'node:fs';

/** The parsed content; undefined when there is no file. Too large or not JSON: an error the caller reports. */
export function readJsonFile(file: string, maxBytes: number): unknown {
  let size: number;
  try {
    size = statSync(file).size;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  if (size > maxBytes) throw new Error(`${file} is larger than ${maxBytes} bytes`);
  return JSON.parse(readFileSync(file, 'utf8')) as unknown;
}
