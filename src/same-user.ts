import type { Participant, PresenceEvent } from './events.js';

/**
 * Sessions of one person. Daily gives every join a new session id, so a reconnect (a Wi-Fi blip, a
 * reload) or a second device is a join, and the old session's end a leave, while the person never
 * left the room. When the sessions share a `userId` (set through a meeting token; it may be null),
 * this marks such a join or leave `sameUserAs` the user's other session that is in the room at that
 * moment. The events still come, and in the same order: a program that keeps sessions by id needs
 * them; the sinks written for people (Slack, text lines) leave them out.
 *
 * It learns who is present from the events themselves (plus `seed` for a saved state), so it holds
 * one entry per present session that has a userId: room → userId → session id(s).
 */
export class SameUser {
  readonly #rooms = new Map<string, Map<string, string | string[]>>();

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
    const note = (i: number, other: string | undefined) => {
      if (other !== undefined) (others ??= [])[i] = other;
    };
    for (let i = 0; i < events.length; i++) if (events[i]!.type !== 'leave') note(i, this.#arrive(events[i]!));
    for (let i = 0; i < events.length; i++) if (events[i]!.type === 'leave') note(i, this.#depart(events[i]!));
    if (!others) return events as PresenceEvent[];
    return events.map((e, i) => (others![i] === undefined ? e : ({ ...e, sameUserAs: others![i] } as PresenceEvent)));
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
    if (userId === null) return undefined;
    const other = this.#other(e.room, userId, id);
    this.#add(e.room, userId, id);
    return other;
  }

  /** Take in a leave: the user's other session still present, if any. */
  #depart(e: PresenceEvent): string | undefined {
    const { id, userId } = e.participant;
    if (userId === null) return undefined;
    this.#remove(e.room, userId, id);
    return this.#other(e.room, userId, id);
  }

  /** Sessions held, for tests and the heap benchmark. */
  get size(): number {
    let n = 0;
    for (const users of this.#rooms.values()) for (const ids of users.values()) n += typeof ids === 'string' ? 1 : ids.length;
    return n;
  }

  #other(room: string, userId: string, self: string): string | undefined {
    const ids = this.#rooms.get(room)?.get(userId);
    if (ids === undefined) return undefined;
    if (typeof ids === 'string') return ids === self ? undefined : ids;
    return ids.find((x) => x !== self);
  }

  #add(room: string, userId: string, id: string): void {
    let users = this.#rooms.get(room);
    if (!users) this.#rooms.set(room, (users = new Map()));
    const ids = users.get(userId);
    if (ids === undefined) users.set(userId, id);
    else if (typeof ids === 'string') {
      if (ids !== id) users.set(userId, [ids, id]);
    } else if (!ids.includes(id)) ids.push(id);
  }

  #remove(room: string, userId: string, id: string): void {
    const users = this.#rooms.get(room);
    const ids = users?.get(userId);
    if (ids === undefined) return;
    if (typeof ids === 'string') {
      if (ids === id) users!.delete(userId);
    } else {
      const rest = ids.filter((x) => x !== id);
      users!.set(userId, rest.length === 1 ? rest[0]! : rest);
    }
    if (users!.size === 0) this.#rooms.delete(room);
  }
}
