/**
 * What the table stores: anything with a room, an id, and a field the table keeps its own index in
 * (so a delete needs no lookup). Only the tracker uses it.
 */
export interface TableEntry {
  room: string;
  id: string;
  /** This entry's index in the table (maintained by the table; -1 when not in one). */
  at: number;
}

const EMPTY = 0;
const DELETED = 1;

/**
 * A hash set of entries keyed by (room, id), with open addressing and linear probing, and each
 * entry's hash kept inline in an Int32Array.
 *
 * Used by the domain tracker, where a Map needed a `room + U+0000 + id` string per lookup: a new
 * string, hashed from scratch, and probes comparing key strings scattered over the heap. Here
 * (room, id) is hashed in place, a probe reads one Int32Array cell, and strings are compared only
 * when the 31-bit hash matches. At 10,000 rooms × 5 with 1% churn that took the domain diff from
 * ~0.7× to ~0.3× JSON.parse. (A one-room tracker keeps a Map by id: with this table its walk
 * measured slower, for a cause not found; see docs/architecture.md.)
 *
 * Tags: 0 is an empty cell, 1 a deleted one, and every stored hash has its top bit set, so it is
 * negative as an int32 and never equals either.
 */
export class SlotTable<T extends TableEntry> {
  #tags: Int32Array;
  #entries: (T | undefined)[];
  #mask: number;
  #size = 0;
  /** Cells not empty: entries plus deleted markers. Kept at most half the capacity. */
  #used = 0;

  constructor(capacity = 16) {
    let cap = 16;
    while (cap < capacity * 2) cap *= 2;
    this.#tags = new Int32Array(cap);
    this.#entries = new Array<T | undefined>(cap).fill(undefined);
    this.#mask = cap - 1;
  }

  get size(): number {
    return this.#size;
  }

  /** The entry for (room, id), whose hash is `hash` (from `hashKey`), or undefined. */
  get(room: string, id: string, hash: number): T | undefined {
    const tags = this.#tags;
    const mask = this.#mask;
    const tag = hash | 0x80000000;
    for (let i = hash & mask; ; i = (i + 1) & mask) {
      const t = tags[i]!;
      if (t === EMPTY) return undefined;
      if (t === tag) {
        const e = this.#entries[i]!;
        if (e.id === id && e.room === room) return e;
      }
    }
  }

  /** Add an entry known not to be in the table (get() just said so). */
  add(entry: T, hash: number): void {
    if ((this.#used + 1) * 2 > this.#tags.length) this.#resize();
    const tags = this.#tags;
    const mask = this.#mask;
    let i = hash & mask;
    while (tags[i]! < 0) i = (i + 1) & mask; // a deleted cell is reused
    if (tags[i] === EMPTY) this.#used++;
    tags[i] = hash | 0x80000000;
    this.#entries[i] = entry;
    entry.at = i;
    this.#size++;
  }

  delete(entry: T): void {
    const i = entry.at;
    if (i < 0 || this.#entries[i] !== entry) return;
    this.#tags[i] = DELETED;
    this.#entries[i] = undefined;
    entry.at = -1;
    this.#size--;
  }

  /** Grow when mostly full of entries; otherwise rebuild at the same size to clear deleted cells. */
  #resize(): void {
    const oldTags = this.#tags;
    const oldEntries = this.#entries;
    let cap = oldTags.length;
    if (this.#size * 4 >= cap) cap *= 2;
    this.#tags = new Int32Array(cap);
    this.#entries = new Array<T | undefined>(cap).fill(undefined);
    this.#mask = cap - 1;
    this.#used = 0;
    this.#size = 0;
    for (let i = 0; i < oldTags.length; i++) {
      const t = oldTags[i]!;
      if (t < 0) this.add(oldEntries[i]!, t);
    }
  }
}

/**
 * MurmurHash3's 32-bit mix over the UTF-16 code units of `s`, two per step, from `seed`. For one
 * room, `hashKey(id, 0)`; for a domain, `hashKey(id, roomHash)` with `roomHash = hashKey(room, 0)`
 * once per room, so the same id in two rooms hashes differently without building a joined string.
 */
export function hashKey(s: string, seed: number): number {
  let h = seed;
  const n = s.length;
  let i = 0;
  for (; i + 1 < n; i += 2) h = step(h, s.charCodeAt(i) | (s.charCodeAt(i + 1) << 16));
  if (i < n) h = step(h, s.charCodeAt(i));
  h ^= n;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

function step(h: number, k: number): number {
  k = Math.imul(k, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  h ^= Math.imul(k, 0x1b873593);
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}
