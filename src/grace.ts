import { changesOf, updateEvent } from './diff.js';
import type { LeaveEvent, Participant, PresenceEvent } from './events.js';
import { samePerson, type SamePersonRule } from './same-user.js';

interface Pending {
  event: LeaveEvent;
  since: number;
}

/**
 * Leave grace (flap suppression, like chokidar's `atomic`): a participant missing from a snapshot
 * is reported as left only once absent for `graceMs`. If the same id is back within it, neither
 * the leave nor the join is emitted (an update is, if their details changed meanwhile). If a new
 * session of the same person joins within it (Daily's reconnect; `samePerson` under the watcher's
 * rule), the leave is emitted then, and both are marked `sameUserAs` the other: the person never
 * left. A leave SameUser marked (another
 * session of theirs is in the room) is no absence, and is emitted at once.
 *
 * Expiry is only checked on successful polls: while polls fail nobody knows who is present, so a
 * pending leave waits for the next snapshot that still lacks the person.
 */
export class LeaveGrace {
  readonly graceMs: number;
  readonly #pending = new Map<string, Map<string, Pending>>();
  /**
   * Leaves that were pending when a saved state was written, until the first successful poll of
   * their room: room → participant id → when they went missing, on the monotonic clock (worked out
   * from the saved wall time at restore). If that poll still lacks the person, their grace goes on
   * from then rather than starting again.
   */
  readonly #carried = new Map<string, Map<string, number>>();

  /** What makes two sessions one person's, for pairing a reconnect with a pending leave. */
  readonly rule: SamePersonRule;

  constructor(graceMs: number, rule: SamePersonRule = 'userId') {
    this.rule = rule;
    this.graceMs = graceMs;
  }

  /**
   * A leave that was pending in a saved state: `missingForMs` is how long the person had been
   * missing by now (wall-clock time since the saved moment; a negative one, from a clock stepped
   * back, counts as none), `now` the monotonic clock.
   */
  carry(room: string, id: string, missingForMs: number, now: number): void {
    if (this.graceMs <= 0) return;
    let r = this.#carried.get(room);
    if (!r) this.#carried.set(room, (r = new Map()));
    r.set(id, now - Math.max(0, missingForMs));
  }

  /**
   * Filter one successful poll's events. `now` is in ms on a monotonic clock (performance.now(), not
   * the wall clock, which can step by hours). `covers(room)` says which rooms this poll observed (one
   * room in room mode, all of them for GET /presence): only their pending leaves can expire.
   * `leftOut(room, id)`, for a partial answer: whether it did not list this person (nor say they
   * left), so that a leave carried from a saved state waits for an answer that settles it.
   */
  process(events: readonly PresenceEvent[], now: number, covers: (room: string) => boolean, leftOut?: (room: string, id: string) => boolean): PresenceEvent[] {
    if (this.graceMs <= 0) return events as PresenceEvent[];
    const out: PresenceEvent[] = [];
    // room → userName → pending leaves, made for a room when one of its joins first needs it (one
    // person's sessions have one name under either rule: samePerson says the rest)
    const byName = new Map<string, Map<string | null, Pending[]>>();
    for (const e of events) {
      if (e.type === 'leave') {
        // the person is in the room in another session: not an absence to wait out
        if (e.sameUserAs !== undefined) {
          out.push(e);
          continue;
        }
        let room = this.#pending.get(e.room);
        if (!room) this.#pending.set(e.room, (room = new Map()));
        const p: Pending = { event: e, since: this.#carried.get(e.room)?.get(e.participant.id) ?? now };
        room.set(e.participant.id, p);
        const names = byName.get(e.room);
        if (names) addTo(names, e.participant.userName, p);
        continue;
      }
      if (e.type === 'join') {
        const room = this.#pending.get(e.room);
        const back = room?.get(e.participant.id);
        if (back) {
          room!.delete(e.participant.id);
          const changes = changesOf(back.event.participant, e.participant);
          if (changes) out.push(updateEvent(e.room, e.participant, changes, e.at));
          continue;
        }
        // a new session of someone whose old one is pending: a reconnect. Both are told now, marked,
        // the leave first (a join already marked has a session of theirs present: nothing to match)
        if (room && e.sameUserAs === undefined) {
          let names = byName.get(e.room);
          if (!names) byName.set(e.room, (names = pendingByName(room)));
          const list = names.get(e.participant.userName);
          // the oldest of theirs still pending (one taken back by its own id since the list was
          // made is not)
          const at =
            list?.findIndex((p) => room.get(p.event.participant.id) === p && samePerson(p.event.participant, e.participant, this.rule)) ?? -1;
          const old = at >= 0 ? list!.splice(at, 1)[0] : undefined;
          if (old) {
            room.delete(old.event.participant.id);
            out.push({ ...old.event, sameUserAs: e.participant.id }, { ...e, sameUserAs: old.event.participant.id });
            continue;
          }
        }
      }
      out.push(e);
    }
    // a carried leave lasts until a successful poll of its room settles it: that poll either lacked
    // the person (now pending, from the carried time) or listed them (back). A partial answer that
    // left them out settles neither: dropped then, the leave waited a whole grace again from the
    // next whole answer, and in --once runs (each poll a first) again after every partial one
    for (const [name, ids] of this.#carried) {
      if (!covers(name)) continue;
      if (leftOut) for (const id of ids.keys()) if (!leftOut(name, id)) ids.delete(id);
      if (!leftOut || ids.size === 0) this.#carried.delete(name);
    }
    for (const [name, room] of this.#pending) {
      if (!covers(name)) continue;
      for (const [id, p] of room) {
        if (now - p.since >= this.graceMs) {
          out.push(p.event);
          room.delete(id);
        }
      }
      if (room.size === 0) this.#pending.delete(name);
    }
    return out;
  }

  /** People whose leave is pending in `room` (kept in saved state so a restart cannot lose the leave). */
  pending(room: string): Participant[] {
    return [...(this.#pending.get(room)?.values() ?? [])].map((p) => p.event.participant);
  }

  /**
   * When each pending or carried leave's person went missing, for the saved state: room →
   * participant id → wall-clock ms, from `wallNow` and `now` (the monotonic clock) together.
   */
  missingSince(wallNow: number, now: number): Map<string, Map<string, number>> {
    const out = new Map<string, Map<string, number>>();
    const put = (room: string, id: string, since: number) => {
      let r = out.get(room);
      if (!r) out.set(room, (r = new Map()));
      r.set(id, wallNow - (now - since));
    };
    for (const [room, ids] of this.#carried) for (const [id, since] of ids) put(room, id, since);
    for (const [room, ids] of this.#pending) for (const [id, p] of ids) put(room, id, p.since);
    return out;
  }

  get rooms(): string[] {
    return [...this.#pending.keys()];
  }

  get size(): number {
    let n = 0;
    for (const r of this.#pending.values()) n += r.size;
    return n;
  }
}

function addTo(names: Map<string | null, Pending[]>, name: string | null, p: Pending): void {
  const list = names.get(name);
  if (list) list.push(p);
  else names.set(name, [p]);
}

/** A room's pending leaves by userName, oldest first. */
function pendingByName(room: ReadonlyMap<string, Pending>): Map<string | null, Pending[]> {
  const names = new Map<string | null, Pending[]>();
  for (const p of room.values()) addTo(names, p.event.participant.userName, p);
  return names;
}
