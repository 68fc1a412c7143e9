/** Uri-Query options ("k=v", repeatable) as an object a flow can read: repeated keys become arrays. */
export function queryObject(query: readonly string[]): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const q of query) {
    const eq = q.indexOf('=');
    const key = eq < 0 ? q : q.slice(0, eq);
    const value = eq < 0 ? '' : q.slice(eq + 1);
    const prev = out[key];
    out[key] = prev === undefined ? value : ([] as string[]).concat(prev, value);
  }
  return out;
}
