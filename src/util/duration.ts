const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * Parse a duration: "15s", "500ms", "2m", "1h", "1m30s", "1.5s", or a plain number of milliseconds.
 * Returns undefined when the text is not a duration, or not a whole number of milliseconds ("0.5ms":
 * rounded, it would be reported back as a number the user never wrote; `partOfMs` tells the two apart).
 */
export function parseDuration(input: string | number): number | undefined {
  const ms = exactMs(input);
  if (ms === undefined) return undefined;
  const whole = Math.round(ms);
  // "1.1s" is 1100.0000000000002 in floating point: that is still whole milliseconds
  return Math.abs(ms - whole) < 1e-6 ? whole : undefined;
}

/** Whether `input` is a duration but for a fraction of a millisecond ("0.5ms", "1.0005s"): its error says so. */
export function partOfMs(input: string | number): boolean {
  return exactMs(input) !== undefined && parseDuration(input) === undefined;
}

function exactMs(input: string | number): number | undefined {
  if (typeof input === 'number') return Number.isFinite(input) && input >= 0 ? input : undefined;
  const text = input.trim();
  if (/^\d+$/.test(text)) return Number(text);
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/gy;
  let total = 0;
  let matched = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text)) !== null) {
    total += Number(m[1]) * UNITS[m[2]!]!;
    matched = re.lastIndex;
  }
  if (matched === 0 || matched !== text.length) return undefined;
  return total;
}

export function formatDuration(ms: number): string {
  if (ms % 3_600_000 === 0 && ms >= 3_600_000) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0 && ms >= 60_000) return `${ms / 60_000}m`;
  if (ms % 1000 === 0 && ms >= 1000) return `${ms / 1000}s`;
  return `${Math.round(ms)}ms`;
}
