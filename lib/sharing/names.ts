/** Names of third parties and load-control quantities: short, printable, no path or markup characters. */
export const NAME = /^[A-Za-z0-9][A-Za-z0-9 _.-]{0,31}$/;
export const NAME_RULE = '1 to 32 letters, digits, space, _ . -';

/** "utility, insurer" → ["utility", "insurer"]; throws make(reason) on a bad or repeated name. */
export function parseNameList(text: string, make: (reason: string) => Error): string[] {
  const names = text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  for (const n of names) if (!NAME.test(n)) throw make(`third party "${n.slice(0, 40)}" must be ${NAME_RULE}`);
  if (new Set(names).size !== names.length) throw make('a third party is named twice');
  return names;
}
