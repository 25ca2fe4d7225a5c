/**
 * Records keyed by names from outside (rooms, participant ids). Daily allows a room called
 * `constructor`, `toString` or `__proto__`: read with `record[key]`, the first two find
 * Object.prototype's function when the record has no such room, and `record['__proto__'] = v` sets
 * the record's prototype instead of adding a key (the room vanishes from its keys and its JSON).
 */

/** `record[key]` when the record has it as its own; undefined otherwise (an inherited `constructor` included). */
export function ownValue<T>(record: Readonly<Record<string, T>> | undefined, key: string): T | undefined {
  return record !== undefined && Object.hasOwn(record, key) ? record[key] : undefined;
}

/** `record[key] = value`, as a key of its own whatever the key (`__proto__` included). */
export function setOwn<T>(record: Record<string, T>, key: string, value: T): void {
  if (key === '__proto__') Object.defineProperty(record, key, { value, enumerable: true, writable: true, configurable: true });
  else record[key] = value;
}

/** Whether a value is a plain record (an object, not null, not an array): a parsed JSON or YAML mapping. */
export function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}
