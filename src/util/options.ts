import { shownValue } from './text.js';

/** Edits (insert, delete, replace) from a to b, for "did you mean" (names are short: the plain two-row table is plenty). */
export function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = row;
  }
  return prev[b.length]!;
}

/**
 * The known setting a mistyped one most likely meant: the same but for case, dashes or underscores
 * (`all-rooms`, the flag's spelling, for `allRooms`), or at most two letters off (`room`, `intervall`).
 */
export function closestName(key: string, known: readonly string[]): string | undefined {
  const norm = (k: string) => k.toLowerCase().replace(/[-_]/g, '');
  const same = known.find((k) => norm(k) === norm(key));
  if (same) return same;
  let best: string | undefined;
  let bestDistance = 3;
  for (const k of known) {
    const d = editDistance(norm(key), norm(k));
    if (d < bestDistance) [best, bestDistance] = [k, d];
  }
  return best;
}

/**
 * ` (did you mean "leave"?)` when `typed` is a slip for one of `choices` ("leve", "Join", "joins",
 * or a longer word that starts with it: "warning" for warn), else ''.
 */
export function didYouMean(typed: string, choices: readonly string[]): string {
  const t = typed.toLowerCase();
  const meant = closestName(typed, choices) ?? choices.find((c) => c.length >= 3 && t.startsWith(c.toLowerCase()));
  return meant === undefined ? '' : ` (did you mean "${meant}"?)`;
}

/**
 * The first key of `options` that is not in `names` (a key set to undefined counts as absent), as a
 * message: `unknown option "intervalMS" (did you mean intervalMs?)`; undefined when every key is
 * known. Plain JavaScript callers have no type check, and an ignored misspelling would leave the
 * default the caller meant to change.
 */
export function unknownOption(options: unknown, names: readonly string[]): string | undefined {
  // null threw "Cannot convert undefined or null to object"; a string had its characters' indexes
  // for keys ("unknown option "0"")
  if (options === null || typeof options !== 'object' || Array.isArray(options)) return `options must be an object, got ${shownValue(options)}`;
  for (const key of Object.keys(options)) {
    if (names.includes(key) || (options as Record<string, unknown>)[key] === undefined) continue;
    const k = key.toLowerCase();
    const near =
      names.find((n) => n.toLowerCase() === k) ??
      (k.length >= 3 ? names.find((n) => n.toLowerCase().startsWith(k) || k.startsWith(n.toLowerCase())) : undefined) ??
      (k.length >= 5 ? names.find((n) => editDistance(n.toLowerCase(), k) <= 2) : undefined);
    return `unknown option ${JSON.stringify(key)}${near ? ` (did you mean ${near}?)` : ''}`;
  }
  return undefined;
}

/**
 * `true` when A and B are the same set of keys, else `never`: `const check: SameKeys<keyof Options,
 * (typeof NAMES)[number]> = true` fails to compile once an option is added to one and not the other.
 */
export type SameKeys<A extends string, B extends string> = [Exclude<A, B>, Exclude<B, A>] extends [never, never] ? true : never;
