/** Longest wait a server may ask for; beyond it we wait this long and try again. */
export const MAX_RETRY_AFTER_MS = 10 * 60_000;

/**
 * Parse an HTTP `Retry-After` value: delta-seconds or an HTTP date. Returns milliseconds (capped at
 * {@link MAX_RETRY_AFTER_MS}), or undefined when absent or unparseable.
 */
export function parseRetryAfter(value: string | string[] | undefined | null, now: number = Date.now()): number | undefined {
  if (Array.isArray(value)) value = value[0];
  if (value == null) return undefined;
  const text = value.trim();
  if (text === '') return undefined;
  let ms: number;
  if (/^\d+(\.\d+)?$/.test(text)) {
    ms = Math.ceil(Number(text) * 1000);
  } else {
    const when = Date.parse(text);
    if (Number.isNaN(when)) return undefined;
    ms = Math.max(0, when - now);
  }
  return Math.min(ms, MAX_RETRY_AFTER_MS);
}
