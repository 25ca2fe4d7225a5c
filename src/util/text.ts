/**
 * The characters text from the far end (a participant's name, a room's, Daily's `info`, a
 * receiver's error body) must not bring into a line a person reads: line breaks and other control
 * characters (ESC would drive the terminal; a line break forges a line of its own) and the
 * bidirectional-text controls (one reorders the rest of the line as displayed). A character-class
 * body, for the regular expressions below and `visible` in log.ts.
 */
export const UNSHOWN = '\\u0000-\\u001f\\u007f-\\u009f\\u2028\\u2029\\u200e\\u200f\\u202a-\\u202e\\u2066-\\u2069';

const UNSHOWN_RUNS = new RegExp(`[${UNSHOWN}]+`, 'g');

/** `text` on one line: every run of UNSHOWN characters as one space. */
export function oneLine(text: string): string {
  return text.replace(UNSHOWN_RUNS, ' ');
}

/** `text` without the byte order mark Windows editors write at the start of a UTF-8 file (JSON.parse refuses it). */
export function withoutBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/** A value that is a variable's reference, `$NAME` or `${NAME}`, left as written (a key or secret that never arrived). */
export const UNEXPANDED = /^\$(\{[A-Za-z_][A-Za-z0-9_]*\}|[A-Za-z_][A-Za-z0-9_]*)$/;
/** Where a variable's reference arrives unexpanded, for the error that finds one. */
export const NOT_EXPANDED_WHERE = "a systemd unit's Environment= line, a single-quoted shell string and docker run's --env-file take it as written";

/**
 * What a JavaScript value is, for an error about an argument of the wrong kind: "undefined", "null",
 * "an array", "an object", "a number", or a string shown (cut at 40 characters). Never give it a
 * value that may be a secret as a string.
 */
export function kindOf(v: unknown): string {
  if (v === null || v === undefined) return String(v);
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}`;
  if (v instanceof Map) return 'a Map';
  return typeof v === 'object' ? 'an object' : `a ${typeof v}`;
}

/**
 * An option's value as an error about it shows it: a number as written (NaN, Infinity and 1e+308,
 * which JSON.stringify turns into null), a string quoted, a list or object as JSON cut at 60
 * characters, and what JSON cannot write (a BigInt, a symbol, a function) by its kind, where
 * JSON.stringify threw or answered undefined. Not for a value that may be a secret.
 */
export function shownValue(v: unknown): string {
  if (typeof v === 'number') return String(v);
  if (typeof v === 'bigint') return `${v}n (a BigInt: give a number)`;
  if (typeof v === 'symbol' || typeof v === 'function') return `a ${typeof v}`;
  if (v === undefined) return 'undefined';
  try {
    const json = JSON.stringify(v);
    if (json !== undefined) return json.length > 60 ? `${json.slice(0, 60)}…` : json;
  } catch {
    // a cycle, or a BigInt inside
  }
  return kindOf(v);
}
