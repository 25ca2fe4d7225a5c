import { durationSpots, entryEnds, hasLists, num, readEntries, sameButDurations, splitAgainst, str, toParticipant, type DomainEntries, type ParticipantEntry, type RoomText } from './daily/parse.js';
import { changesOf, eventId, joinAndLeaveIds, joinedBefore, joinEvent, leaveEvent, updateEvent, type DiffOptions } from './diff.js';
import type { Participant, PresenceEvent } from './events.js';
import { hashKey, SlotTable } from './util/slot-table.js';
import { ownValue, setOwn } from './util/record.js';
import { unknownOption } from './util/options.js';
import { kindOf } from './util/text.js';

/**
 * One tracked participant: its room and last-known fields, updated in place (duration on every
 * snapshot), plus bookkeeping that never leaves this module. Events carry their own Participant
 * objects (`toParticipant` copies exactly a Participant's fields), never a Slot.
 */
interface Slot extends Participant {
  room: string;
  /** Number of the last snapshot that listed this participant (duplicate detection, leaves). */
  seen: number;
  /** Index in the last snapshot's order. */
  pos: number;
  /** Its cell in the id table (kept by SlotTable). */
  at: number;
  /**
   * The id its leave event will have, computed with the join's: the two share every input but the
   * type. Computing it at the leave cost a whole MurmurHash3 and a read of an id string long out of
   * cache (at 100,000 people with 10% churn, ~3 ms of a ~20 ms diff), for ~56 B of heap a person.
   */
  leaveId: string;
  /** How many updates this session has had (each update's id includes it: `updateEvent`). */
  updates: number;
}

/**
 * Daily's own clock when these people were last listed: the latest `joinTime` + `duration` among
 * them (ms since the epoch, to the second; Daily counts duration to the time of its answer).
 * Undefined with nobody, or no readable time.
 */
export function lastListedAt(people: Iterable<Pick<Participant, 'joinTime' | 'duration'>>): number | undefined {
  let latest: number | undefined;
  for (const p of people) {
    const d = p.duration;
    const t = typeof p.joinTime === 'string' && typeof d === 'number' ? Date.parse(p.joinTime) + d * 1000 : Number.NaN;
    if (Number.isFinite(t) && (latest === undefined || t > latest)) latest = t;
  }
  return latest;
}

/** A saved update count: what `counts` has for `id` when it is a count (a hand-edited state may hold anything), else 0. */
function countOf(counts: Readonly<Record<string, number>> | undefined, id: string): number {
  const n = ownValue(counts, id);
  return Number.isSafeInteger(n) && n! > 0 ? n! : 0;
}

/**
 * `session` (an mtgSessionId), as the very string `near` holds when `near` is someone in `room`
 * with an equal one. Everyone in a room's meeting has the same mtgSessionId, yet JSON.parse makes a
 * string of its own for each person (36 characters, ~56 B; it shares only strings of 10 characters
 * or fewer): kept for every tracked person, that was ~56 B a person of heap, and of what each
 * scavenge copies of a poll's joins. A room's people share one string instead; the content is the same.
 */
function sharedSession(session: string | null, near: Slot | undefined, room: string): string | null {
  return session !== null && near !== undefined && near.room === room && near.mtgSessionId === session ? near.mtgSessionId : session;
}

function slotOf(room: string, p: Participant, seen: number, pos: number, leaveId: string, updates = 0): Slot {
  return { room, id: p.id, userId: p.userId, userName: p.userName, mtgSessionId: p.mtgSessionId, joinTime: p.joinTime, duration: p.duration, seen, pos, at: -1, leaveId, updates };
}

/**
 * Slots by (room, id): our own table, hashed in place. A domain keyed a Map by a new
 * `room + U+0000 + id` string per lookup (~0.7× JSON.parse at 10,000 rooms × 5 with 1% churn against
 * ~0.3× with this table); one room keyed a Map by id, where a miss (every join) cost ~450 ns at
 * 100,000 people against ~150 ns here (src/util/slot-table.ts says why).
 */
class IdTable {
  readonly #t = new SlotTable<Slot>();
  #room = '';
  #roomHash = hashKey('', 0);
  /** The hash of the last key looked up, for the add that follows a miss. */
  #last = 0;

  #hash(room: string, id: string): number {
    if (room !== this.#room) {
      this.#room = room;
      this.#roomHash = hashKey(room, 0);
    }
    return hashKey(id, this.#roomHash);
  }
  /** The slot for (room, id), if tracked. */
  find(room: string, id: string): Slot | undefined {
    this.#last = this.#hash(room, id);
    return this.#t.get(room, id, this.#last);
  }
  /** Add a slot right after a find() of its key that found nothing. */
  add(s: Slot): void {
    this.#t.add(s, this.#last);
  }
  delete(s: Slot): void {
    this.#t.delete(s);
  }
}

/**
 * Presence kept in place across snapshots: the core of RoomTracker (one room) and DomainTracker
 * (every room, in one flat list). Compared with the pure diff, which copies every entry and builds
 * a new map per snapshot:
 *
 * - It reads the API's checked entries directly and copies one into a typed Participant only when
 *   that person joined or changed.
 * - It walks the snapshot alongside the previous one: when people are listed in the same order as
 *   last time (as the simulator does; Daily's docs say nothing about order), an unchanged person is
 *   found by comparing one id (and room) with the next expected one, without hashing anything. The
 *   index (an IdTable) is the fallback for anyone out of place, so any order stays correct.
 * - It looks for leaves only in the stretches of the previous order that the walk jumped over.
 * - It keeps its state between snapshots instead of building a new one each time.
 */
abstract class Tracker {
  /** Slots by id (one room) or by room and id (a domain: the same id in two rooms is two people). */
  readonly #index = new IdTable();
  /** Everyone tracked, in the order of the last snapshot (people kept from a partial one at the end). */
  #order: Slot[] = [];
  /** The order array before last, rewritten in place by the next snapshot (no new array per poll). */
  #spare: Slot[] = [];
  #snapshots = 0;
  #primed: boolean;
  // the snapshot being applied (between begin() and end())
  #initial = false;
  #initialBefore: number | undefined;
  #consume = false;
  #at = '';
  #expect = 0;
  #n = 0;
  #matched = 0;
  /**
   * Stretches of `order` the walk jumped over, as [from, to) pairs, and the furthest it got: only
   * there can someone be missing, so end() looks for leaves there instead of touching every slot
   * again (at 100k people that second pass over scattered slots cost more than the leaves).
   */
  readonly #skipped: number[] = [];
  #furthest = 0;
  /** Whether the walk ever went back (someone listed earlier than last time): the stretches may then overlap. */
  #wentBack = false;
  /**
   * What undo() needs: whether the tracker was primed before this snapshot, who joined in it, each
   * changed slot's fields before (slot, userName, userId, mtgSessionId, joinTime, flat; its update
   * count is one less than now), and each
   * listed slot's duration before, at its new position (NaN for null).
   */
  #wasPrimed = false;
  /**
   * Whether this snapshot's walk keeps what undo() needs: only one that can fail part way does (a
   * DomainTracker's, and a RoomTracker's read from the text a piece at a time).
   */
  #undoable = false;
  readonly #joined: Slot[] = [];
  readonly #changed: unknown[] = [];
  #durations: Float64Array = new Float64Array(0);
  /** Rooms whose list in the snapshot being applied named a participant id twice (the first counts), if any. */
  #repeatedIn: Set<string> | undefined;

  protected constructor(primed: boolean) {
    this.#primed = primed;
  }

  /**
   * The rooms whose list in the last snapshot applied named a participant id twice, in the order
   * found: the first listing counted, the second was passed over. Daily is not known to do this;
   * the watcher warns of it, as it would change nothing in the events otherwise said.
   */
  get repeatedIdRooms(): string[] {
    return this.#repeatedIn ? [...this.#repeatedIn] : [];
  }

  /** Add a person from a saved state (a repeated id in the same room counts once), with the updates they had. */
  protected restore(room: string, p: Participant, updates = 0): void {
    if (this.#index.find(room, p.id)) return;
    const s = slotOf(room, p, 0, this.#order.length, eventId(room, p.id, 'leave'), updates);
    s.mtgSessionId = sharedSession(s.mtgSessionId, this.#order.at(-1), room);
    this.#index.add(s);
    this.#order.push(s);
  }

  /** People currently tracked. */
  get size(): number {
    return this.#order.length;
  }

  /**
   * Daily's own clock when the people tracked were last listed: the latest `joinTime` + `duration`
   * among them (ms since the epoch, to the second; Daily counts duration to the time of its answer).
   * Undefined with nobody tracked, or no readable time. The watcher's line for initial joins after
   * a partial answer is drawn on it, so that a host clock off from Daily's cannot move it.
   */
  lastListedAt(): number | undefined {
    return lastListedAt(this.#order);
  }

  /** Whether a snapshot or a saved state was ever applied. */
  get primed(): boolean {
    return this.#primed;
  }

  /** Everyone tracked, in the last snapshot's order (read-only: copy with toParticipant before handing out). */
  protected tracked(): readonly Slot[] {
    return this.#order;
  }

  protected begin(opts: ApplyOptions, undoable: boolean): void {
    this.#undoable = undoable;
    this.#initial = !this.#primed && opts.initial === true;
    this.#initialBefore = opts.initialBefore;
    this.#consume = opts.consume === true;
    this.#wasPrimed = this.#primed;
    this.#primed = true;
    this.#at = opts.at;
    this.#snapshots++;
    this.#repeatedIn = undefined;
    this.#expect = 0;
    this.#n = 0;
    this.#matched = 0;
    this.#skipped.length = 0;
    this.#furthest = 0;
    this.#wentBack = false;
    this.#joined.length = 0;
    this.#changed.length = 0;
  }

  /**
   * Take back the snapshot begun last, before its end(): for a DomainEntries whose forEach threw
   * part way (parsed room by room, it found a list that is not valid JSON, or a malformed entry).
   * Everyone is as before it began, durations included; its events are the caller's to drop. Only
   * for a snapshot begun `undoable` (the walk keeps what this needs only then).
   */
  protected undo(): void {
    const gen = this.#snapshots;
    const durations = this.#durations;
    for (const s of this.#joined) this.#index.delete(s);
    const c = this.#changed;
    for (let i = 0; i < c.length; i += 5) {
      const s = c[i] as Slot;
      s.userName = c[i + 1] as string | null;
      s.userId = c[i + 2] as string | null;
      s.mtgSessionId = c[i + 3] as string | null;
      s.joinTime = c[i + 4] as string | null;
      s.updates--;
    }
    this.#joined.length = 0;
    this.#changed.length = 0;
    const order = this.#order;
    for (let j = 0; j < order.length; j++) {
      const s = order[j]!;
      if (s.seen === gen) {
        const d = durations[s.pos]!;
        s.duration = Number.isNaN(d) ? null : d;
      }
      s.pos = j;
    }
    // the spare holds this snapshot's order so far, joined slots included: let them go
    this.#spare.length = 0;
    this.#primed = this.#wasPrimed;
  }

  /**
   * One room's entries, in snapshot order. Cannot throw on any checked entry. `initial` overrides
   * whether this room's joins are marked initial (the domain's rooms that a saved state never saw).
   */
  protected walk(events: PresenceEvent[], room: string, entries: readonly ParticipantEntry[], initial = this.#initial): void {
    const at = this.#at;
    const gen = this.#snapshots;
    const order = this.#order;
    const index = this.#index;
    const next = this.#spare;
    let n = this.#n; // people in `next`
    let expect = this.#expect; // where in `order` the next entry most likely is
    let matched = this.#matched;
    let furthest = this.#furthest;
    const consume = this.#consume;
    const undoable = this.#undoable;
    let durations = this.#durations;

    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]!;
      if (consume) (entries as (ParticipantEntry | undefined)[])[i] = undefined;
      const id = e.id;
      let s = order[expect];
      if (s === undefined || s.id !== id || s.room !== room) {
        // Not the expected person: most often the expected one left and this is the next one
        // listed last time. A look a few places ahead (same room only) finds them in slots the
        // walk is about to reach anyway, where the index costs a hash and ~4 cache misses (table
        // cell, list entry, slot, stored id): ~475 ns a lookup in a 10,000-room domain.
        s = undefined;
        const stop = Math.min(expect + 1 + LOOK_AHEAD, order.length);
        for (let k = expect + 1; k < stop; k++) {
          const t = order[k]!;
          if (t.room !== room) break;
          if (t.id === id) {
            s = t;
            break;
          }
        }
        s ??= index.find(room, id);
        if (s === undefined) {
          const p = toParticipant(e);
          // the string of the person before in this snapshot, or else of the one expected here, if in this room
          p.mtgSessionId = sharedSession(p.mtgSessionId, n > 0 ? next[n - 1] : order[expect], room);
          const [joinId, leaveId] = joinAndLeaveIds(room, id);
          const joined = slotOf(room, p, gen, n, leaveId);
          index.add(joined);
          if (undoable) this.#joined.push(joined);
          next[n++] = joined;
          events.push(joinEvent(room, p, at, initial || joinedBefore(p.joinTime, this.#initialBefore), joinId));
          continue;
        }
      }
      if (s.seen === gen) {
        // listed twice: the first one counts (no event for the second), and the room is noted
        (this.#repeatedIn ??= new Set()).add(room);
        continue;
      }
      const was = s.pos;
      if (was !== expect) {
        if (was > expect) this.#skipped.push(expect, was);
        else this.#wentBack = true;
      }
      expect = was + 1;
      if (expect > furthest) furthest = expect;
      s.seen = gen;
      s.pos = n;
      if (undoable) {
        if (n >= durations.length) durations = this.#growDurations(n);
        durations[n] = s.duration ?? NaN;
      }
      next[n++] = s;
      matched++;
      s.duration = num(e.duration);
      if (
        str(e.userName) === s.userName &&
        str(e.userId) === s.userId &&
        str(e.mtgSessionId) === s.mtgSessionId &&
        str(e.joinTime) === s.joinTime
      ) {
        continue;
      }
      const p = toParticipant(e);
      const changes = changesOf(s, p)!;
      if (undoable) this.#changed.push(s, s.userName, s.userId, s.mtgSessionId, s.joinTime);
      s.userName = p.userName;
      s.userId = p.userId;
      s.mtgSessionId = p.mtgSessionId;
      s.joinTime = p.joinTime;
      events.push(updateEvent(room, p, changes, at, s.updates++));
    }
    this.#n = n;
    this.#expect = expect;
    this.#matched = matched;
    this.#furthest = furthest;
  }

  /** The snapshot being applied marks initial, from the next walk on, the joins of people who joined before this time (ms since the epoch; undefined: none). */
  protected set initialBefore(at: number | undefined) {
    this.#initialBefore = at;
  }

  /** How many people this snapshot has listed so far (where the next one walked goes in the new order). */
  protected get listedSoFar(): number {
    return this.#n;
  }

  /** Whether the `count` people at `from` in the last snapshot's order are of `room` and not yet listed in this snapshot. */
  protected holds(room: string, from: number, count: number): boolean {
    const order = this.#order;
    const gen = this.#snapshots;
    if (from + count > order.length) return false;
    for (let k = from; k < from + count; k++) {
      const s = order[k]!;
      if (s.room !== room || s.seen === gen) return false;
    }
    return true;
  }

  /** Whether one of `entries` has the id of one of the `count` people at `from` in the last snapshot's order. */
  protected anyOf(entries: readonly ParticipantEntry[], from: number, count: number): boolean {
    const order = this.#order;
    for (const e of entries) for (let k = from; k < from + count; k++) if (order[k]!.id === e.id) return true;
    return false;
  }

  /** Whether the last snapshot applied listed the person with this id in `room` (not one a partial snapshot left out, kept as present). */
  protected listedLast(room: string, id: string): boolean {
    const s = this.#index.find(room, id);
    // (before any snapshot, everyone restored has the number 0 too)
    return this.#snapshots > 0 && s !== undefined && s.seen === this.#snapshots;
  }

  /** Where the person with this id in `room` is in the last snapshot's order, when tracked and not yet listed in this snapshot; else -1. */
  protected placeOf(room: string, id: string): number {
    const s = this.#index.find(room, id);
    return s === undefined || s.seen === this.#snapshots ? -1 : s.pos;
  }

  /**
   * A room listed exactly as when its people were last walked but for durations: the `count`
   * people at `from` in the last snapshot's order, in that order, get `durations` and are listed
   * again, as walk() does for an entry found in place that changed nothing but its duration (no
   * event). False, having done nothing, when those places do not hold `count` people of `room`
   * not yet listed in this snapshot: the caller then walks the room's entries instead.
   */
  protected same(room: string, from: number, count: number, durations: readonly number[], offset = 0): boolean {
    if (!this.holds(room, from, count)) return false;
    const order = this.#order;
    const gen = this.#snapshots;
    const next = this.#spare;
    let n = this.#n;
    let durationsBefore = this.#durations;
    if (from !== this.#expect) {
      if (from > this.#expect) this.#skipped.push(this.#expect, from);
      else this.#wentBack = true;
    }
    for (let k = 0; k < count; k++) {
      const s = order[from + k]!;
      s.seen = gen;
      s.pos = n;
      if (this.#undoable) {
        if (n >= durationsBefore.length) durationsBefore = this.#growDurations(n);
        durationsBefore[n] = s.duration ?? NaN;
      }
      next[n++] = s;
      s.duration = durations[offset + k]!;
    }
    this.#n = n;
    this.#matched += count;
    this.#expect = from + count;
    if (this.#expect > this.#furthest) this.#furthest = this.#expect;
    return true;
  }

  #growDurations(n: number): Float64Array {
    const grown = new Float64Array(Math.max(64, 2 * n, this.#order.length + 1));
    grown.set(this.#durations);
    return (this.#durations = grown);
  }

  /**
   * After the last walk: everyone not listed leaves (`complete`), or stays tracked (a partial
   * snapshot cannot tell who left). Leaves come in the previous snapshot's order.
   */
  protected end(events: PresenceEvent[], complete: boolean): void {
    const gen = this.#snapshots;
    const order = this.#order;
    const next = this.#spare;
    let n = this.#n;
    let left = false;
    // everyone tracked was listed again: no leave to look for (the common case)
    if (this.#matched < order.length) {
      // Someone not listed is in a stretch the walk jumped over, or past the furthest it got: the
      // walk only moves forward one listed person at a time or by jumping. Looked at in order.
      const stretches = this.#skipped;
      if (this.#furthest < order.length) stretches.push(this.#furthest, order.length);
      if (this.#wentBack) sortAndMerge(stretches);
      for (let r = 0; r < stretches.length; r += 2) {
        const to = stretches[r + 1]!;
        for (let j = stretches[r]!; j < to; j++) {
          const s = order[j]!;
          if (s.seen === gen) continue;
          if (complete) {
            this.#index.delete(s);
            events.push(leaveEvent(s.room, toParticipant(s), this.#at, s.leaveId));
            left = true;
          } else {
            s.pos = n;
            next[n++] = s;
          }
        }
      }
    }
    if (next.length !== n) next.length = n;
    this.#joined.length = 0;
    this.#changed.length = 0;
    // the old order becomes the spare; drop its references to people who left, or they would be
    // kept alive until the next snapshot overwrites them
    if (left) order.fill(undefined as unknown as Slot);
    this.#spare = order;
    this.#order = next;
  }
}

/** Options of {@link RoomTracker.apply} and {@link DomainTracker.apply}. */
export interface ApplyOptions extends DiffOptions {
  /**
   * The snapshot's lists are the caller's to give away (nobody reads them afterwards): the walk
   * overwrites each entry it has read with `undefined`. Why: the just-parsed answer is still live
   * while the diff allocates its events, so a scavenge landing in the diff copies it; an entry
   * already walked is then garbage unless the person joined or changed. At 100,000 people with
   * 10% churn, ~15 ms less GC a poll (BENCHMARKS.md's profile notes). The watcher sets it for the
   * answers of the DailyClient it created itself.
   */
  consume?: boolean;
}

/** What {@link RoomTracker.applyText} read and made of one answer. */
export interface RoomTextApplied {
  events: PresenceEvent[];
  /** Entries in the answer. */
  count: number;
  /** Daily's `total_count` (the entries' number when absent). */
  totalCount: number;
  /** Whether the answer listed everyone (`totalCount <= count`): only then can anyone have left. */
  complete: boolean;
}

/** What a constructor's saved state gets wrong, for a plain-JavaScript caller: a TypeError naming it. */
function checkSaved(owner: string, saved: unknown, savedIs: string, updates: unknown, updatesAre: string): void {
  if (saved !== undefined && (saved === null || typeof (saved as Iterable<unknown>)[Symbol.iterator] !== 'function')) {
    const record = saved !== null && typeof saved === 'object';
    throw new TypeError(`${owner}: saved must be ${savedIs}, not ${kindOf(saved)}${record && owner === 'DomainTracker' ? ' (a saved state\'s rooms? give Object.entries(state.rooms))' : ''}`);
  }
  if (updates !== undefined && (updates === null || typeof updates !== 'object' || Array.isArray(updates) || updates instanceof Map)) {
    throw new TypeError(`${owner}: updates must be ${updatesAre} (updateCounts() of the tracker saved), not ${updates instanceof Map ? 'a Map (give Object.fromEntries(map))' : kindOf(updates)}`);
  }
}

const APPLY_OPTIONS = ['at', 'initial', 'initialBefore', 'consume'] as const satisfies readonly (keyof ApplyOptions)[];

/**
 * The options an apply was given, checked: plain JavaScript has no type checker, and without `at`
 * (or with the arguments in another order) the walk failed inside, on a property of undefined.
 * A few keys a call, never per entry.
 */
function checkApplyOptions(method: string, opts: unknown): void {
  if (opts === null || typeof opts !== 'object' || Array.isArray(opts)) throw new TypeError(`${method}: options must be { at, initial?, consume? } (at: the ISO time the events are stamped with), not ${kindOf(opts)}`);
  const o = opts as Record<string, unknown>;
  const unknown = unknownOption(o, APPLY_OPTIONS);
  if (unknown !== undefined) throw new TypeError(`${method}: ${unknown}`);
  if (typeof o.at !== 'string') throw new TypeError(`${method}: options.at must be the ISO time the events are stamped with (new Date().toISOString()), not ${kindOf(o.at)}`);
  for (const k of ['initial', 'consume'] as const) if (o[k] !== undefined && typeof o[k] !== 'boolean') throw new TypeError(`${method}: options.${k} must be true or false, not ${kindOf(o[k])}`);
  if (o.initialBefore !== undefined && !Number.isFinite(o.initialBefore)) throw new TypeError(`${method}: options.initialBefore must be a time in ms since the epoch, not ${kindOf(o.initialBefore)}`);
}

/** How far past the expected place the walk looks for someone before asking the index. */
const LOOK_AHEAD = 3;

/** [from, to) pairs, flat, sorted by start with overlapping or touching ones joined, in place. */
function sortAndMerge(pairs: number[]): void {
  const list: [number, number][] = [];
  for (let i = 0; i < pairs.length; i += 2) list.push([pairs[i]!, pairs[i + 1]!]);
  list.sort((a, b) => a[0] - b[0]);
  pairs.length = 0;
  for (const [from, to] of list) {
    const last = pairs.length - 1;
    if (last > 0 && from <= pairs[last]!) pairs[last] = Math.max(pairs[last]!, to);
    else pairs.push(from, to);
  }
}

/**
 * The presence of one room, updated in place by each snapshot. Produces exactly the events of
 * `diffRoom(previous state, snapshot)`: same ids, same order (a property test holds the two
 * together), at a fraction of the cost on large rooms.
 */
export class RoomTracker extends Tracker {
  readonly room: string;

  /**
   * `saved`: the state to resume from. Without it the room has never been seen: the first
   * snapshot's joins may be marked `initial`. `updates`: how many updates each of them had, by id
   * (`updateCounts()` of the tracker saved; absent is none), so that their next one gets a new id.
   */
  constructor(room: string, saved?: Iterable<Participant>, updates?: Readonly<Record<string, number>>) {
    if (typeof room !== 'string') throw new TypeError(`RoomTracker: room must be the room's name, not ${kindOf(room)}`);
    checkSaved('RoomTracker', saved, 'its people (participants() of the tracker saved)', updates, 'an object of participant id → count');
    super(saved !== undefined);
    this.room = room;
    for (const p of saved ?? []) this.restore(room, p, countOf(updates, p.id));
  }

  /** The tracked people, as new Participant objects with their last-known durations (for saving state). */
  participants(): Participant[] {
    return this.tracked().map(toParticipant);
  }

  /**
   * Whether the last answer applied listed the participant with this id: false for someone it did
   * not list, gone or (a partial answer) left out and still tracked.
   */
  listed(id: string): boolean {
    return this.listedLast(this.room, id);
  }

  /** How many updates each tracked person has had, by id: those who had any (for saving state beside `participants()`). */
  updateCounts(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const s of this.tracked()) if (s.updates > 0) setOwn(out, s.id, s.updates);
    return out;
  }

  /**
   * Apply one snapshot of the room; returns its events. An incomplete snapshot produces joins and
   * updates but no leaves: people it did not list stay tracked. An id listed twice counts once (the
   * first). Cannot throw on any checked entry.
   */
  apply(entries: readonly ParticipantEntry[], complete: boolean, opts: ApplyOptions): PresenceEvent[] {
    if (!Array.isArray(entries)) {
      const answer = entries !== null && typeof entries === 'object' && Array.isArray((entries as { entries?: unknown }).entries);
      throw new TypeError(`RoomTracker.apply(entries, complete, { at }): entries must be an array of checked entries, not ${kindOf(entries)}${answer ? ' (an answer of parseRoomEntries? give its .entries and .complete)' : ''}`);
    }
    if (typeof complete !== 'boolean') throw new TypeError(`RoomTracker.apply(entries, complete, { at }): complete must be true or false (whether the answer listed everyone: parseRoomEntries' .complete), not ${kindOf(complete)}`);
    checkApplyOptions('RoomTracker.apply', opts);
    const events: PresenceEvent[] = [];
    this.begin(opts, false);
    this.walk(events, this.room, entries);
    this.end(events, complete);
    return events;
  }

  /**
   * Apply one snapshot read from the answer's text ({@link parseRoomText}): walked a piece at a
   * time as each is parsed, so the whole parsed answer never exists. When the pieces cannot settle
   * the answer, what they did is undone and the answer is read whole: its events, or its error
   * (thrown with the tracker as before it). Same events as `apply` of the answer parsed whole.
   */
  applyText(answer: RoomText, opts: ApplyOptions): RoomTextApplied {
    if (answer === null || typeof answer !== 'object' || typeof (answer as Partial<RoomText>).whole !== 'function') {
      throw new TypeError(`RoomTracker.applyText(answer, { at }): answer must be what parseRoomText (or DailyClient's getRoomText) returns, not ${kindOf(answer)}`);
    }
    checkApplyOptions('RoomTracker.applyText', opts);
    if (!answer.piecewise) return this.#applyWhole(answer, opts);
    const events: PresenceEvent[] = [];
    // the pieces are fresh arrays, garbage once walked: nothing to give away
    this.begin(opts.consume ? { ...opts, consume: false } : opts, true);
    let read: ReturnType<RoomText['pieces']>;
    try {
      read = answer.pieces((entries) => this.walk(events, this.room, entries));
    } catch (err) {
      // parseRoomText's never throws; another RoomText's may
      this.undo();
      throw err;
    }
    if (read !== undefined) {
      const complete = read.totalCount <= read.count;
      this.end(events, complete);
      return { events, count: read.count, totalCount: read.totalCount, complete };
    }
    this.undo();
    return this.#applyWhole(answer, opts);
  }

  #applyWhole(answer: RoomText, opts: ApplyOptions): RoomTextApplied {
    const whole = answer.whole();
    return { events: this.apply(whole.entries, whole.complete, opts), count: whole.entries.length, totalCount: whole.totalCount, complete: whole.complete };
  }
}

/**
 * The presence of a whole domain (GET /presence), updated in place by each snapshot: one flat
 * list of everyone, in snapshot order, so an unchanged domain costs what one room of the same
 * size does (not a tracker per room). A room absent from a snapshot has nobody in it.
 *
 * Produces the events of `diffDomain`, per room in the same order; across rooms, the joins and
 * updates of every room come first (in snapshot order), then every leave (in the previous
 * snapshot's order), where diffDomain interleaves each room's leaves after its joins.
 */
export class DomainTracker extends Tracker {
  /** Until the first snapshot: the only rooms the saved state had watched, when it watched rooms one by one. */
  #watchedRooms: ReadonlySet<string> | undefined;
  /** Until the first snapshot: room → `initialBefore` of its own (the constructor's `initialBefore`). */
  #roomLines: ReadonlyMap<string, number> | undefined;
  /**
   * Each room's list as the last snapshot applied read it, when its text can be compared with the
   * next answer's. Only those: a room that snapshot did not list, or listed in a way that cannot be
   * compared, has none (a memo from before would compare with a list the room no longer has). The
   * memos say where each list is in that answer's text, which the tracker keeps until the next
   * answer is applied: one answer's size.
   */
  readonly #memos = new Map<string, ListMemo>();
  /**
   * The same memos in the order of that answer (the first `#memoCount`; any after are stale): the
   * next answer most likely lists the rooms in the same order, so a room's memo is most often the
   * one after the last found, and the Map is asked only when it is not (~2 ms a poll at 10,000
   * rooms, a lookup's cache misses each).
   */
  readonly #memoOrder: ListMemo[] = [];
  #memoCount = 0;
  #text = '';
  #memoGen = 0;
  /**
   * The memos the snapshot being applied makes, flat: [memo or room, at, end, count, from, spots
   * at] each, and the spots sameButDurations found for them, one after another. Written from the
   * start by each snapshot, never shortened (emptying an array frees its store, and ~60,000
   * pushes a poll then grew it again).
   */
  readonly #staged: unknown[] = [];
  readonly #stagedSpots: number[] = [];
  #staging = 0;
  #spotsStaged = 0;
  /** Durations and where they are written, read by sameButDurations, reused from room to room. */
  readonly #durationsRead: number[] = [];
  readonly #spotsRead: number[] = [];
  /**
   * A split, reused from room to room: its plan (old entries' indexes and -1 for stretches, in the
   * list's order), the kept entries' spots in the new answer, the stretches' bounds and parsed
   * entries, the kept indexes alone, and all of the new list's spots.
   */
  readonly #plan: number[] = [];
  readonly #planSpots: number[] = [];
  readonly #middleBounds: number[] = [];
  readonly #middleLists: (readonly ParticipantEntry[])[] = [];
  readonly #kept: number[] = [];
  readonly #splitSpots: number[] = [];
  #listed = { participants: 0, rooms: 0 };

  /**
   * `saved`: room → people, the state to resume from. `onlyRooms`: the saved state watched just
   * these rooms (it was taken in room mode), so anyone in another room at the first snapshot was
   * already there, not arriving: those joins are marked initial when the snapshot asks for it.
   * `updates`: how many updates each of them had, by room and id (`updateCounts()` of the tracker
   * saved; absent is none), so that their next one gets a new id. `initialBefore`: room → ms since
   * the epoch, for the first snapshot only: a join in that room of someone whose `joinTime` is
   * before it is marked initial, as `ApplyOptions.initialBefore` does for every room (the watcher
   * gives it for the rooms whose saved answers were partial: whom those left out was there already).
   */
  constructor(
    saved?: Iterable<[string, Iterable<Participant>]>,
    onlyRooms?: Iterable<string>,
    updates?: Readonly<Record<string, Readonly<Record<string, number>>>>,
    initialBefore?: Readonly<Record<string, number>>,
  ) {
    checkSaved('DomainTracker', saved, 'room → people pairs (rooms() of the tracker saved)', updates, 'an object of room → participant id → count');
    if (initialBefore !== undefined) {
      if (initialBefore === null || typeof initialBefore !== 'object' || Array.isArray(initialBefore) || initialBefore instanceof Map) {
        throw new TypeError(`DomainTracker: initialBefore must be an object of room → time in ms since the epoch, not ${initialBefore instanceof Map ? 'a Map (give Object.fromEntries(map))' : kindOf(initialBefore)}`);
      }
      const bad = Object.entries(initialBefore).find(([, t]) => !Number.isFinite(t));
      if (bad) throw new TypeError(`DomainTracker: initialBefore of room ${JSON.stringify(bad[0])} must be a time in ms since the epoch, not ${kindOf(bad[1])}`);
    }
    super(saved !== undefined);
    for (const [room, list] of saved ?? []) {
      const counts = ownValue(updates, room);
      for (const p of list) this.restore(room, p, countOf(counts, p.id));
    }
    if (saved !== undefined && onlyRooms !== undefined) this.#watchedRooms = new Set(onlyRooms);
    const lines = Object.entries(initialBefore ?? {});
    if (lines.length > 0) this.#roomLines = new Map(lines);
  }

  /** How many updates each tracked person has had, by room and id: those who had any (for saving state beside `rooms()`). */
  updateCounts(): Record<string, Record<string, number>> {
    const out: Record<string, Record<string, number>> = {};
    for (const s of this.tracked()) {
      if (s.updates === 0) continue;
      let room = ownValue(out, s.room);
      if (room === undefined) setOwn(out, s.room, (room = {}));
      setOwn(room, s.id, s.updates);
    }
    return out;
  }

  /** The occupied rooms and their people (new Participant objects with last-known durations), in the last snapshot's order. */
  rooms(): Map<string, Participant[]> {
    const out = new Map<string, Participant[]>();
    for (const s of this.tracked()) {
      const list = out.get(s.room);
      if (list) list.push(toParticipant(s));
      else out.set(s.room, [toParticipant(s)]);
    }
    return out;
  }

  /**
   * Apply one snapshot of the domain; returns its events. When the snapshot's forEach throws (one
   * from DailyClient.getDomainEntriesDeferred parses each room as it is read), the snapshot is
   * undone and the error thrown: the tracker is as before it, and no event is lost or invented.
   *
   * A snapshot that gives its lists as text ({@link DomainLists}, as parseDomainText's does) is
   * read room by room from the text, and against the last answer's: a room whose list is the same
   * but for durations is not parsed at all (its people just take the new durations, which is all
   * a walk of its entries would have done), and of one that changed, only the stretches between
   * the last list's entries it still holds unchanged but for durations are parsed and walked.
   * Same events and state either way.
   */
  apply(snapshot: DomainEntries, opts: ApplyOptions): PresenceEvent[] {
    if (snapshot === null || typeof snapshot !== 'object' || typeof (snapshot as Partial<DomainEntries>).forEach !== 'function') {
      const parsed = snapshot !== null && typeof snapshot === 'object' && !Array.isArray(snapshot);
      throw new TypeError(`DomainTracker.apply(snapshot, { at }): snapshot must be GET /presence's answer checked (parseDomainEntries, parseDomainText) or a Map of room → entries, not ${kindOf(snapshot)}${parsed ? ' (the parsed body? give parseDomainEntries(body))' : ''}`);
    }
    checkApplyOptions('DomainTracker.apply', opts);
    const events: PresenceEvent[] = [];
    const lists = hasLists(snapshot);
    // a list read from text is a fresh array, garbage once walked: nothing to give away (and the
    // entries are read again after the walk, for durationSpots)
    this.begin(lists && opts.consume ? { ...opts, consume: false } : opts, true);
    const watched = this.#watchedRooms;
    const initial = opts.initial === true;
    let participants = 0;
    let rooms = 0;
    // the first snapshot after a state saved in room mode: rooms it did not watch get initial joins
    const initialOf = (room: string) => (watched === undefined ? undefined : initial && !watched.has(room));
    const lines = this.#roomLines;
    // what a snapshot that threw part way staged is void
    this.#staging = 0;
    this.#spotsStaged = 0;
    try {
      if (lists) {
        const memos = this.#memos;
        const memoGen = this.#memoGen;
        const memoOrder = this.#memoOrder;
        const memoCount = this.#memoCount;
        const text = snapshot.text;
        let cursor = 0;
        snapshot.forEachList((at, end, room) => {
          const from = this.listedSoFar;
          let memo = cursor < memoCount ? memoOrder[cursor] : undefined;
          if (memo === undefined || memo.room !== room) memo = memos.get(room);
          // (the sweep leaves no memo from before; this check holds whatever the sweep does)
          if (memo !== undefined && memo.gen !== memoGen) memo = undefined;
          if (memo !== undefined) {
            cursor = memo.index + 1;
            const listed = this.#readAgainst(events, memo, room, text, at, end, from, initialOf(room));
            if (listed !== undefined) {
              participants += listed;
              rooms++;
              return;
            }
          }
          const entries = snapshot.readList(at, end, room);
          participants += entries.length;
          if (entries.length > 0) rooms++;
          if (lines !== undefined) this.initialBefore = lines.get(room) ?? opts.initialBefore;
          this.walk(events, room, entries, initialOf(room));
          // only a room whose every entry is one person here, each with a number for its duration,
          // can be read next time as durations alone
          if (this.listedSoFar - from === entries.length && durationsAreNumbers(entries)) this.#stage(memo ?? room, at, end, entries.length, from);
        });
      } else {
        // forEach, not for-of: for-of over a Map made an [room, entries] pair per room (~8% of the domain's diff)
        snapshot.forEach((entries, room) => {
          participants += entries.length;
          if (entries.length > 0) rooms++;
          if (lines !== undefined) this.initialBefore = lines.get(room) ?? opts.initialBefore;
          this.walk(events, room, entries, initialOf(room));
        });
      }
    } catch (err) {
      this.undo();
      throw err;
    }
    this.#watchedRooms = undefined;
    this.#roomLines = undefined;
    this.end(events, true);
    this.#commitMemos(lists ? snapshot.text : '');
    this.#listed = { participants, rooms };
    return events;
  }

  /**
   * A room's list read against its memo (the last list it had): as durations alone when nothing
   * else changed, else as the last list's entries it still holds and the stretches between them,
   * only those parsed and walked ({@link splitAgainst}). How many entries it listed, or undefined
   * when it reads neither way (the caller then parses it whole; nothing was done).
   */
  #readAgainst(events: PresenceEvent[], memo: ListMemo, room: string, text: string, at: number, end: number, from: number, initial: boolean | undefined): number | undefined {
    const last = this.#text;
    const count = memo.count;
    const durations = this.#durationsRead;
    // where the last list's durations are: found the first time it is compared
    const spots = (memo.spots ??= durationSpots(last, memo.at, memo.end, count) ?? null);
    if (spots === null) return undefined;
    // most lists that changed changed their length by more than durations do between two polls
    // (a digit or two each): not worth comparing whole
    const grown = end - at - (memo.end - memo.at);
    if (grown <= 2 * count && grown >= -2 * count && sameButDurations(last, memo.at, memo.end, spots, text, at, end, durations, this.#spotsRead) && this.same(room, memo.from, count, durations)) {
      this.#stage(memo, at, end, count, from, this.#spotsRead);
      return count;
    }
    // the list changed: read it as the old entries it kept unchanged but for durations (people
    // may have gone from between them, or come or changed between them) and the stretches of
    // other entries between those, and parse and walk only the stretches
    const ends = (memo.ends ??= entryEnds(last, spots) ?? null);
    const plan = this.#plan;
    const planSpots = this.#planSpots;
    const bounds = this.#middleBounds;
    const split = ends === null ? undefined : splitAgainst(last, memo.at, memo.end, spots, ends, text, at, end, durations, plan, planSpots, bounds);
    if (split === undefined || split.kept === 0) return undefined;
    const items = split.items;
    // each stretch parsed, and the kept entries' old indexes in order (increasing)
    const middles = this.#middleLists;
    const kept = this.#kept;
    let inMiddles = 0;
    let numbers = true;
    for (let i = 0, m = 0, c = 0; i < items; i++) {
      if (plan[i]! >= 0) kept[c++] = plan[i]!;
      else {
        const list = readEntries(`[${text.slice(bounds[2 * m]!, bounds[2 * m + 1]!)}]`, room);
        if (list === undefined) return this.#dropMiddles(m);
        middles[m++] = list;
        inMiddles += list.length;
        numbers &&= durationsAreNumbers(list);
      }
    }
    if (!this.#keptHold(room, memo.from, split.kept) || this.#middlesHaveKept(room, memo.from, split.middles, split.kept, inMiddles)) return this.#dropMiddles(split.middles);
    // in the list's order: each run of consecutive old entries listed again, each stretch walked
    for (let i = 0, m = 0; i < items; ) {
      const k = plan[i]!;
      if (k < 0) {
        this.walk(events, room, middles[m++]!, initial);
        i++;
        continue;
      }
      const j = runEnd(plan, i, items);
      this.same(room, memo.from + k, j - i, durations, k);
      i = j;
    }
    const listed = split.kept + inMiddles;
    if (this.listedSoFar - from === listed && numbers) this.#stageSplit(memo, text, at, end, listed, from, items);
    this.#dropMiddles(split.middles);
    return listed;
  }

  /**
   * Let go of the first `count` stretches' parsed entries: the array that holds them lives as long
   * as the tracker, so they would stay alive (and be promoted by the next scavenges) until a later
   * split overwrote them. Undefined, for the callers that give up on the split.
   */
  #dropMiddles(count: number): undefined {
    const middles = this.#middleLists;
    for (let m = 0; m < count; m++) middles[m] = NO_ENTRIES;
    return undefined;
  }

  /**
   * Stage the memo of a list read as a split, with where its durations are for the next answer:
   * the kept entries' were read, each stretch's are found now (none when one of them does not say
   * beyond doubt: then they are looked for when first needed).
   */
  #stageSplit(memo: ListMemo, text: string, at: number, end: number, listed: number, from: number, items: number): void {
    const plan = this.#plan;
    const planSpots = this.#planSpots;
    const bounds = this.#middleBounds;
    const all = this.#splitSpots;
    let p = 0;
    for (let i = 0, m = 0; i < items; i++) {
      if (plan[i]! >= 0) {
        all[p++] = planSpots[i]!;
        continue;
      }
      const found = durationSpots(text, bounds[2 * m]!, bounds[2 * m + 1]!, this.#middleLists[m]!.length);
      m++;
      if (found === undefined) {
        this.#stage(memo, at, end, listed, from);
        return;
      }
      for (let k = 0; k < found.length; k++) all[p++] = found[k]!;
    }
    this.#stage(memo, at, end, listed, from, all);
  }

  /** Whether the split's `count` kept entries (`#kept`, old indexes, increasing), in runs of consecutive places in the last snapshot's order from `base`, still hold people of `room` not yet listed. */
  #keptHold(room: string, base: number, count: number): boolean {
    const kept = this.#kept;
    for (let i = 0; i < count; ) {
      const j = runEnd(kept, i, count);
      if (!this.holds(room, base + kept[i]!, j - i)) return false;
      i = j;
    }
    return true;
  }

  /**
   * Whether an entry of the split's stretches has the id of one of its `count` kept people (their
   * old places from `base`): an id listed twice, which the walk takes where it is first listed, so
   * a kept person listed after the stretch would be taken after the stretch's. Compared id by id
   * when there are few pairs, else each stretch entry is looked up in the index and its place
   * looked for among the kept (comparing every pair was ~1.5 s a poll for one room of 50,000
   * people with 10% churn).
   */
  #middlesHaveKept(room: string, base: number, middleCount: number, count: number, inMiddles: number): boolean {
    if (inMiddles === 0) return false;
    const kept = this.#kept;
    const middles = this.#middleLists;
    for (let m = 0; m < middleCount; m++) {
      const middle = middles[m]!;
      if (inMiddles * count <= 64) {
        for (let i = 0; i < count; ) {
          const j = runEnd(kept, i, count);
          if (this.anyOf(middle, base + kept[i]!, j - i)) return true;
          i = j;
        }
      } else {
        for (let e = 0; e < middle.length; e++) {
          const k = this.placeOf(room, middle[e]!.id) - base;
          if (k >= 0 && isKept(kept, count, k)) return true;
        }
      }
    }
    return false;
  }

  /** Stage a memo for the snapshot being applied: its spots when they are known (read as durations alone, or from a split), else found when first needed. */
  #stage(memo: ListMemo | string, at: number, end: number, count: number, from: number, spots?: readonly number[]): void {
    const staged = this.#staged;
    let i = this.#staging;
    staged[i++] = memo;
    staged[i++] = at;
    staged[i++] = end;
    staged[i++] = count;
    staged[i++] = from;
    if (spots === undefined) staged[i++] = -1;
    else {
      staged[i++] = this.#spotsStaged;
      for (let k = 0; k < count; k++) this.#stagedSpots[this.#spotsStaged++] = spots[k]!;
    }
    this.#staging = i;
  }

  /**
   * The staged memos become the ones that count, on `text` (the answer just applied; '' for one
   * that gave no text); all others go.
   */
  #commitMemos(text: string): void {
    const staging = this.#staging;
    const memos = this.#memos;
    const memoOrder = this.#memoOrder;
    const staged = this.#staged;
    const stagedSpots = this.#stagedSpots;
    const gen = ++this.#memoGen;
    let count = 0;
    for (let i = 0; i < staging; i += 6) {
      const at = staged[i] as ListMemo | string;
      const spotsAt = staged[i + 5] as number;
      let memo: ListMemo;
      if (typeof at === 'string') {
        memo = { room: at, at: 0, end: 0, spots: undefined, ends: undefined, count: 0, from: 0, gen, index: 0 };
        memos.set(at, memo);
      } else memo = at;
      memo.at = staged[i + 1] as number;
      memo.end = staged[i + 2] as number;
      const n = staged[i + 3] as number;
      memo.from = staged[i + 4] as number;
      memo.gen = gen;
      memo.ends = undefined;
      if (spotsAt < 0) memo.spots = undefined;
      // spots found (read as durations alone, or from a split): written over the old ones when as many
      else if (memo.spots != null && memo.spots.length === n) for (let k = 0; k < n; k++) memo.spots[k] = stagedSpots[spotsAt + k]!;
      else memo.spots = stagedSpots.slice(spotsAt, spotsAt + n);
      memo.count = n;
      memo.index = count;
      memoOrder[count++] = memo;
    }
    this.#memoCount = count;
    if (memos.size > count) {
      // forEach, not for-of: no [room, memo] pair per memo (deleting the current entry is safe in both)
      memos.forEach((memo, room) => {
        if (memo.gen !== gen) memos.delete(room);
      });
    }
    this.#text = count > 0 ? text : '';
  }

  /** What the last snapshot applied listed: entries (an id listed twice counts twice) and rooms with anyone. */
  get listed(): { participants: number; rooms: number } {
    return this.#listed;
  }
}

/**
 * A room's list as last read: the room, where its list is in the last answer's text, where each
 * entry's duration is written in it (found when first needed; null when the text does not say
 * beyond doubt), how many entries it has (each one person), where those people start in the
 * tracker's order, and the snapshot it is from.
 */
interface ListMemo {
  room: string;
  at: number;
  end: number;
  spots: number[] | null | undefined;
  /** Where each entry's closing brace is, when every entry's duration is its last member (found when first needed; null when not). */
  ends: number[] | null | undefined;
  count: number;
  from: number;
  gen: number;
  /** Its place in `#memoOrder`. */
  index: number;
}

const NO_ENTRIES: readonly ParticipantEntry[] = Object.freeze([]);

/** Whether old index `k` is one of `kept[0]` to `kept[count - 1]` (increasing). */
function isKept(kept: readonly number[], count: number, k: number): boolean {
  let lo = 0;
  let hi = count;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (kept[mid]! < k) lo = mid + 1;
    else hi = mid;
  }
  return lo < count && kept[lo] === k;
}

/** Where the run of consecutive indexes in `list` that begins at `i` ends (at most `to`; a -1, a split's stretch, ends a run). */
function runEnd(list: readonly number[], i: number, to: number): number {
  let j = i + 1;
  while (j < to && list[j] === list[j - 1]! + 1) j++;
  return j;
}

function durationsAreNumbers(entries: readonly ParticipantEntry[]): boolean {
  for (let k = 0; k < entries.length; k++) if (typeof entries[k]!.duration !== 'number') return false;
  return true;
}
