import type { Participant, PresenceEvent } from './events.js';
import { hashKey } from './util/slot-table.js';

const EMPTY = 0;
const DELETED = 1;

/**
 * (room, userId) → the user's session id(s) in that room: open addressing over an Int32Array of
 * cells (a tag with the key's hash, and the index of the key's row), the rows in three arrays
 * reused through a free list. Nothing is allocated a join but the rare second session's list: a
 * first version, an object a key in the trackers' SlotTable, allocated ~0.5 MB a poll on GET
 * /presence at 10% churn, enough to push the just-parsed answer into one more scavenge (the poll
 * 12% slower); a Map, ~5%.
 */
class UserTable {
  #cells = new Int32Array(64);
  #mask = 31;
  /** Cells not empty (keys plus deleted markers), kept at most half the cells. */
  #used = 0;
  #size = 0;
  readonly #rooms: string[] = [];
  readonly #users: string[] = [];
  readonly #sessions: (string | string[])[] = [];
  readonly #free: number[] = [];

  get size(): number {
    return this.#size;
  }

  /** The cell holding (room, userId), or -1. */
  find(room: string, userId: string, hash: number): number {
    const cells = this.#cells;
    const mask = this.#mask;
    const tag = hash | 0x80000000;
    for (let i = hash & mask; ; i = (i + 1) & mask) {
      const t = cells[2 * i]!;
      if (t === EMPTY) return -1;
      if (t === tag) {
        const row = cells[2 * i + 1]!;
        if (this.#users[row] === userId && this.#rooms[row] === room) return i;
      }
    }
  }

  sessions(cell: number): string | string[] {
    return this.#sessions[this.#cells[2 * cell + 1]!]!;
  }

  setSessions(cell: number, sessions: string | string[]): void {
    this.#sessions[this.#cells[2 * cell + 1]!] = sessions;
  }

  /** Add (room, userId), known not to be here (find just said so). */
  add(room: string, userId: string, hash: number, session: string): void {
    if ((this.#used + 1) * 2 > this.#mask + 1) this.#rebuild();
    let row = this.#free.pop();
    if (row === undefined) {
      row = this.#users.length;
      this.#rooms.push(room);
      this.#users.push(userId);
      this.#sessions.push(session);
    } else {
      this.#rooms[row] = room;
      this.#users[row] = userId;
      this.#sessions[row] = session;
    }
    this.#place(hash | 0x80000000, row);
    this.#size++;
  }

  delete(cell: number): void {
    const row = this.#cells[2 * cell + 1]!;
    this.#cells[2 * cell] = DELETED;
    // '' rather than a hole: the arrays stay packed
    this.#rooms[row] = this.#users[row] = this.#sessions[row] = '';
    this.#free.push(row);
    this.#size--;
  }

  // as SlotTable's #place: one function shared by both measured the trackers' diff ~3% slower
  // (bench/fastest.mjs, fastest run, six pairs of processes, slower in all six)
  #place(tag: number, row: number): void {
    const cells = this.#cells;
    const mask = this.#mask;
    let i = tag & mask;
    while (cells[2 * i]! < 0) i = (i + 1) & mask; // a deleted cell is reused
    if (cells[2 * i] === EMPTY) this.#used++;
    cells[2 * i] = tag;
    cells[2 * i + 1] = row;
  }

  /** Grow when a quarter full of keys; otherwise rebuild at the same size, clearing deleted cells. */
  #rebuild(): void {
    const old = this.#cells;
    let cap = this.#mask + 1;
    if (this.#size * 4 >= cap) cap *= 2;
    this.#cells = new Int32Array(2 * cap);
    this.#mask = cap - 1;
    this.#used = 0;
    for (let i = 0; i < old.length; i += 2) if (old[i]! < 0) this.#place(old[i]!, old[i + 1]!);
  }
}

/**
 * Sessions of one person. Daily gives every join a new session id, so a reconnect (a Wi-Fi blip, a
 * reload) or a second device is a join, and the old session's end a leave, while the person never
 * left the room. When the sessions share a `userId` (set through a meeting token; it may be null),
 * this marks such a join or leave `sameUserAs` the user's other session that is in the room at that
 * moment. The events still come, and in the same order: a program that keeps sessions by id needs
 * them; the sinks written for people (Slack, text lines) leave them out.
 *
 * It learns who is present from the events themselves (plus `seed` for a saved state), and holds
 * a row per user present in a room with a userId: (room, userId) → session id(s).
 */
export class SameUser {
  readonly #table = new UserTable();

  /** The sessions present in `room` when watching resumes from a saved state. */
  seed(room: string, participants: readonly Participant[]): void {
    for (const p of participants) if (p.userId !== null) this.#add(room, p.userId, p.id);
  }

  /**
   * `events` (one poll's) with the joins and leaves of a user who stays in the room marked
   * `sameUserAs`. One poll is one moment: its joins count as there before its leaves are gone, in
   * whichever order the events come, so a session replaced between two polls marks both.
   */
  mark(events: readonly PresenceEvent[]): PresenceEvent[] {
    let others: (string | undefined)[] | undefined;
    for (let i = 0; i < events.length; i++) {
      const e = events[i]!;
      if (e.type === 'leave') continue;
      const other = this.#arrive(e);
      if (other !== undefined) (others ??= [])[i] = other;
    }
    for (let i = 0; i < events.length; i++) {
      const e = events[i]!;
      if (e.type !== 'leave' || e.participant.userId === null) continue;
      const other = this.#remove(e.room, e.participant.userId, e.participant.id);
      if (other !== undefined) (others ??= [])[i] = other;
    }
    if (!others) return events as PresenceEvent[];
    return events.map((e, i) => (others![i] === undefined ? e : ({ ...e, sameUserAs: others![i] } as PresenceEvent)));
  }

  /** Users held, each once a room they are in (for tests). */
  get size(): number {
    return this.#table.size;
  }

  /** Take in a join or update; for a join, the user's other session present, if any. */
  #arrive(e: PresenceEvent): string | undefined {
    const { id, userId } = e.participant;
    if (e.type === 'update') {
      const change = e.changes.userId;
      if (change?.from != null) this.#remove(e.room, change.from, id);
      if (change?.to != null) this.#add(e.room, change.to, id);
      return undefined;
    }
    return userId === null ? undefined : this.#add(e.room, userId, id);
  }

  /** Add a session; the user's other session in the room, if any. */
  #add(room: string, userId: string, id: string): string | undefined {
    // the userId's hash alone: the table compares the room on a hit (in GET /presence's events the
    // room changes nearly every event, and hashing it too cost more than it saved)
    const hash = hashKey(userId, 0);
    const cell = this.#table.find(room, userId, hash);
    if (cell < 0) {
      this.#table.add(room, userId, hash, id);
      return undefined;
    }
    const s = this.#table.sessions(cell);
    if (typeof s === 'string') {
      if (s === id) return undefined;
      this.#table.setSessions(cell, [s, id]);
      return s;
    }
    const other = s.find((x) => x !== id);
    if (!s.includes(id)) s.push(id);
    return other;
  }

  /** Remove a session; the user's other session still in the room, if any. */
  #remove(room: string, userId: string, id: string): string | undefined {
    const cell = this.#table.find(room, userId, hashKey(userId, 0));
    if (cell < 0) return undefined;
    const s = this.#table.sessions(cell);
    if (typeof s === 'string') {
      if (s !== id) return s;
      this.#table.delete(cell);
      return undefined;
    }
    const rest = s.filter((x) => x !== id);
    this.#table.setSessions(cell, rest.length === 1 ? rest[0]! : rest);
    return rest[0];
  }
}
