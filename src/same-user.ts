import type { Participant, PresenceEvent } from './events.js';
import { hashKey } from './util/slot-table.js';

const EMPTY = 0;
const DELETED = 1;

/** One of several sessions with one key in a room, and its name. */
interface Session {
  id: string;
  name: string | null;
}

/**
 * (room, key) → the session(s) with that key (the userId, or the name) in that room: one id (its
 * name beside it), or a list. Open addressing over an Int32Array of cells (a tag with the key's
 * hash, and the index of the key's row), the rows four slots apiece in one array (room, key, the
 * one session's name, the session or the list), reused through a free list. Nothing is allocated a
 * join but the rare second session's list: a first version, an object a key in the trackers'
 * SlotTable, allocated ~0.5 MB a poll on GET /presence at 10% churn, enough to push the just-parsed
 * answer into one more scavenge (the poll 12% slower); a Map, ~5%. One array, not one a field: a
 * freed row is reused wherever it is, and four arrays made four cache misses of a join where one
 * does (the marking measured ~25% slower with the name in an array of its own).
 */
class UserTable {
  #cells = new Int32Array(64);
  #mask = 31;
  /** Cells not empty (keys plus deleted markers), kept at most half the cells. */
  #used = 0;
  #size = 0;
  /**
   * Row r at 4r: room, key, the one session's name (when the row holds one; read only when a
   * second session comes), and that session's id or the list of them.
   */
  readonly #rows: (string | null | Session[])[] = [];
  readonly #free: number[] = [];

  get size(): number {
    return this.#size;
  }

  /** The cell holding (room, key), or -1. */
  find(room: string, key: string, hash: number): number {
    const cells = this.#cells;
    const mask = this.#mask;
    const tag = hash | 0x80000000;
    for (let i = hash & mask; ; i = (i + 1) & mask) {
      const t = cells[2 * i]!;
      if (t === EMPTY) return -1;
      if (t === tag) {
        const row = cells[2 * i + 1]!;
        if (this.#rows[4 * row + 1] === key && this.#rows[4 * row] === room) return i;
      }
    }
  }

  sessions(cell: number): string | Session[] {
    return this.#rows[4 * this.#cells[2 * cell + 1]! + 3] as string | Session[];
  }

  /** The name of the one session a row holds. */
  name(cell: number): string | null {
    return this.#rows[4 * this.#cells[2 * cell + 1]! + 2] as string | null;
  }

  setSessions(cell: number, sessions: Session[]): void {
    const row = this.#cells[2 * cell + 1]!;
    if (sessions.length === 1) {
      this.#rows[4 * row + 2] = sessions[0]!.name;
      this.#rows[4 * row + 3] = sessions[0]!.id;
    } else this.#rows[4 * row + 3] = sessions;
  }

  /** Add (room, key) with its one session, known not to be here (find just said so). */
  add(room: string, key: string, hash: number, session: string, name: string | null): void {
    if ((this.#used + 1) * 2 > this.#mask + 1) this.#rebuild();
    let row = this.#free.pop();
    if (row === undefined) {
      row = this.#rows.length / 4;
      this.#rows.push(room, key, name, session);
    } else {
      const rows = this.#rows;
      rows[4 * row] = room;
      rows[4 * row + 1] = key;
      rows[4 * row + 2] = name;
      rows[4 * row + 3] = session;
    }
    this.#place(hash | 0x80000000, row);
    this.#size++;
  }

  delete(cell: number): void {
    const row = this.#cells[2 * cell + 1]!;
    this.#cells[2 * cell] = DELETED;
    // '' rather than a hole: the array stays packed
    const rows = this.#rows;
    rows[4 * row] = rows[4 * row + 1] = rows[4 * row + 3] = '';
    rows[4 * row + 2] = null;
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
 * What makes two sessions one person's:
 * - `userId` (the default): the same userId, set through a meeting token and not blank, and the
 *   same userName. The name too, because an app may give one token, and so one userId, to many
 *   people ("guest"): pairing them would keep one person's arrival out of Slack because another
 *   was there. A reconnect keeps its name.
 * - `name`: the same userName, not blank, whatever the userId: for rooms joined without meeting
 *   tokens, where Daily gives no stable userId. Two people of one name in a room are then one.
 */
export type SamePersonRule = 'userId' | 'name';
export const SAME_PERSON_RULES = ['userId', 'name'] as const satisfies readonly SamePersonRule[];

/** `s`, or undefined when it is null or blank (which would make everyone without one the same person). */
function present(s: string | null): string | undefined {
  if (s === null || s === '') return undefined;
  // trim() only where a blank one could start: it is per event, and most start with a letter or digit
  const c = s.charCodeAt(0);
  return (c <= 32 || c >= 0x85) && s.trim() === '' ? undefined : s;
}

/** The key that says whose a session is under `rule`, or undefined when it says nothing. */
function personKey(p: Participant, rule: SamePersonRule): string | undefined {
  return present(rule === 'name' ? p.userName : p.userId);
}

/** Whether two sessions are one person's under `rule` (see SamePersonRule). */
export function samePerson(a: Participant, b: Participant, rule: SamePersonRule = 'userId'): boolean {
  const k = personKey(a, rule);
  return k !== undefined && k === personKey(b, rule) && a.userName === b.userName;
}

/**
 * Sessions of one person. Daily gives every join a new session id, so a reconnect (a Wi-Fi blip, a
 * reload) or a second device is a join, and the old session's end a leave, while the person never
 * left the room. When the sessions are one person's (`samePerson`: by default the same userId and
 * userName), this marks such a join or leave `sameUserAs` that person's other session in the room
 * at that moment. The events still come, and in the same order: a program that keeps sessions by id needs
 * them; the sinks written for people (Slack, text lines) leave them out.
 *
 * It learns who is present from the events themselves (plus `seed` for a saved state), and holds
 * a row per key present in a room (the userId, or with the `name` rule the name): (room, key) →
 * its session(s), each with its name.
 */
export class SameUser {
  readonly #table = new UserTable();
  readonly rule: SamePersonRule;

  constructor(rule: SamePersonRule = 'userId') {
    this.rule = rule;
  }

  /** The sessions present in `room` when watching resumes from a saved state. */
  seed(room: string, participants: readonly Participant[]): void {
    for (const p of participants) {
      const key = personKey(p, this.rule);
      if (key !== undefined) this.#add(room, key, p.userName, p.id);
    }
  }

  /**
   * `events` (one poll's) with the joins and leaves of someone who stays in the room marked
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
      if (e.type !== 'leave') continue;
      const key = personKey(e.participant, this.rule);
      if (key === undefined) continue;
      const other = this.#remove(e.room, key, e.participant.userName, e.participant.id);
      if (other !== undefined) (others ??= [])[i] = other;
    }
    if (!others) return events as PresenceEvent[];
    return events.map((e, i) => (others![i] === undefined ? e : ({ ...e, sameUserAs: others![i] } as PresenceEvent)));
  }

  /** Keys held (userIds, or names under the `name` rule), each once a room they are in (for tests). */
  get size(): number {
    return this.#table.size;
  }

  /** Take in a join or update; for a join, the person's other session present, if any. */
  #arrive(e: PresenceEvent): string | undefined {
    const p = e.participant;
    if (e.type === 'update') {
      // a new userId or name makes the session another person's, as far as pairing goes
      if (!e.changes.userId && !e.changes.userName) return undefined;
      const before: Participant = {
        ...p,
        userId: e.changes.userId ? e.changes.userId.from : p.userId,
        userName: e.changes.userName ? e.changes.userName.from : p.userName,
      };
      const was = personKey(before, this.rule);
      if (was !== undefined) this.#remove(e.room, was, before.userName, p.id);
      const now = personKey(p, this.rule);
      if (now !== undefined) this.#add(e.room, now, p.userName, p.id);
      return undefined;
    }
    const key = personKey(p, this.rule);
    return key === undefined ? undefined : this.#add(e.room, key, p.userName, p.id);
  }

  /** Add a session; the person's other session in the room, if any. */
  #add(room: string, key: string, userName: string | null, id: string): string | undefined {
    // the key's hash alone: the table compares the room on a hit (in GET /presence's events the
    // room changes nearly every event, and hashing it too cost more than it saved). Names are read
    // only when a key has a second session in the room: a third array read on every leave
    // measured ~30% slower
    const hash = hashKey(key, 0);
    const cell = this.#table.find(room, key, hash);
    if (cell < 0) {
      this.#table.add(room, key, hash, id, userName);
      return undefined;
    }
    const s = this.#table.sessions(cell);
    if (typeof s === 'string') {
      if (s === id) return undefined;
      const name = this.#table.name(cell);
      this.#table.setSessions(cell, [{ id: s, name }, { id, name: userName }]);
      return name === userName ? s : undefined;
    }
    const other = s.find((x) => x.id !== id && x.name === userName)?.id;
    if (!s.some((x) => x.id === id)) s.push({ id, name: userName });
    return other;
  }

  /** Remove a session; the person's other session still in the room, if any. */
  #remove(room: string, key: string, userName: string | null, id: string): string | undefined {
    const cell = this.#table.find(room, key, hashKey(key, 0));
    if (cell < 0) return undefined;
    const s = this.#table.sessions(cell);
    if (typeof s === 'string') {
      if (s !== id) return this.#table.name(cell) === userName ? s : undefined;
      this.#table.delete(cell);
      return undefined;
    }
    const rest = s.filter((x) => x.id !== id);
    this.#table.setSessions(cell, rest);
    return rest.find((x) => x.name === userName)?.id;
  }
}
