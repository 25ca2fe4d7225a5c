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
 * Here (room, id) is hashed in place, a probe reads one Int32Array cell, and strings are compared
 * only when the 31-bit hash matches. A Map by id, probing a miss, compares the key strings along
 * its chain, a cache miss on each (~450 ns per miss at 100,000 ids, against ~150 ns here).
 *
 * The cells hold no references: each holds the index of its entry in `#items`, which keeps the
 * entries in the order they were added (compacted when half of it is holes). That order is the
 * point. V8's young-generation GC moves objects in the order it finds them; a first version kept
 * the entries in the cells, in hash order, and the tracker's slots ended up scattered in hash
 * order: the walk over unchanged people, which never touches the table, ran 1.5–2× slower than
 * with a Map (whose backing store is in insertion order), at 10,000 and 100,000 people alike.
 *
 * Tags: 0 is an empty cell, 1 a deleted one, and every stored hash has its top bit set, so it is
 * negative as an int32 and never equals either.
 */
export class SlotTable<T extends TableEntry> {
  /**
   * Two int32 a cell, side by side: its tag, then the index of its entry in #items. A probe reads
   * the tag, and a hit or an add the index next to it: one cache line, where two arrays made it
   * two (at 100,000 people, each a likely miss).
   */
  #cells: Int32Array;
  /** The entries in the order they were added; `undefined` where one was deleted since the last compaction. */
  #items: (T | undefined)[] = [];
  #holes = 0;
  /** Cell count − 1 (a power of two − 1). */
  #mask: number;
  #size = 0;
  /** Cells not empty: entries plus deleted markers. Kept at most half the capacity. */
  #used = 0;

  constructor() {
    this.#cells = new Int32Array(32);
    this.#mask = 15;
  }

  get size(): number {
    return this.#size;
  }

  /** The entry for (room, id), whose hash is `hash` (from `hashKey`), or undefined. */
  get(room: string, id: string, hash: number): T | undefined {
    const cells = this.#cells;
    const mask = this.#mask;
    const tag = hash | 0x80000000;
    for (let i = hash & mask; ; i = (i + 1) & mask) {
      const t = cells[2 * i]!;
      if (t === EMPTY) return undefined;
      if (t === tag) {
        const e = this.#items[cells[2 * i + 1]!]!;
        if (e.id === id && e.room === room) return e;
      }
    }
  }

  /** Add an entry known not to be in the table (get() just said so). */
  add(entry: T, hash: number): void {
    if ((this.#used + 1) * 2 > this.#mask + 1) this.#rebuild();
    this.#place(entry, hash | 0x80000000, this.#items.length);
    this.#items.push(entry);
    this.#size++;
  }

  delete(entry: T): void {
    const i = entry.at;
    if (i < 0 || this.#cells[2 * i]! >= 0 || this.#items[this.#cells[2 * i + 1]!] !== entry) return;
    this.#cells[2 * i] = DELETED;
    this.#items[this.#cells[2 * i + 1]!] = undefined;
    entry.at = -1;
    this.#size--;
    if (++this.#holes > 16 && this.#holes * 2 > this.#items.length) this.#compact();
  }

  #place(entry: T, tag: number, ref: number): void {
    const cells = this.#cells;
    const mask = this.#mask;
    let i = tag & mask;
    while (cells[2 * i]! < 0) i = (i + 1) & mask; // a deleted cell is reused
    if (cells[2 * i] === EMPTY) this.#used++;
    cells[2 * i] = tag;
    cells[2 * i + 1] = ref;
    entry.at = i;
  }

  /** Close the holes in #items, keeping the order; each kept entry's cell gets its new index. */
  #compact(): void {
    const items = this.#items;
    let w = 0;
    for (let r = 0; r < items.length; r++) {
      const e = items[r];
      if (e === undefined) continue;
      items[w] = e;
      this.#cells[2 * e.at + 1] = w++;
    }
    items.length = w;
    this.#holes = 0;
  }

  /** Grow when mostly full of entries; otherwise rebuild at the same size to clear deleted cells. */
  #rebuild(): void {
    const old = this.#cells;
    let cap = this.#mask + 1;
    if (this.#size * 4 >= cap) cap *= 2;
    const items = this.#items.filter((e): e is T => e !== undefined);
    const tags = items.map((e) => old[2 * e.at]!);
    this.#cells = new Int32Array(2 * cap);
    this.#mask = cap - 1;
    this.#used = 0;
    this.#holes = 0;
    this.#items = items;
    for (let r = 0; r < items.length; r++) this.#place(items[r]!, tags[r]!, r);
  }
}

/**
 * MurmurHash3's 32-bit mix over the UTF-16 code units of `s`, two per step, from `seed`. The
 * trackers hash `hashKey(id, roomHash)` with `roomHash = hashKey(room, 0)` computed once per room, so
 * the same id in two rooms hashes differently without building a joined string.
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
