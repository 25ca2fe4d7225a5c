import { hash } from 'node:crypto';
import { murmur3Id, murmur3IdPair } from './util/murmur3.js';
import { kindOf } from './util/text.js';
import {
  notEventError,
  TRACKED_FIELDS,
  type JoinEvent,
  type LeaveEvent,
  type Participant,
  type ParticipantChanges,
  type PresenceEvent,
  type RoomSnapshot,
  type UpdateEvent,
} from './events.js';

/** The last-known presence of one room, keyed by participant (session) id. */
export type RoomState = Map<string, Participant>;
/** The last-known presence of many rooms, keyed by room name. Rooms with nobody present are absent. */
export type DomainState = Map<string, RoomState>;

export interface DiffOptions {
  /** ISO time stamped on every event. */
  at: string;
  /** Mark joins as `initial` (used for the first snapshot of a room when there is no saved state). */
  initial?: boolean;
  /**
   * Ms since the epoch: a join of someone whose `joinTime` is before it is marked `initial` as well.
   * The watcher gives 15 s (Daily's lag) before a room's first answer once one of its answers was
   * partial: a person listed for the first time with a joinTime from before then was there all
   * along, left out of a partial list, and is no arrival.
   */
  initialBefore?: number;
}

/** Whether a person joining now had joined before `before` (ms since the epoch; an unreadable joinTime: no). */
export function joinedBefore(joinTime: string | null | undefined, before: number | undefined): boolean {
  return before !== undefined && typeof joinTime === 'string' && Date.parse(joinTime) < before;
}

export interface DiffResult {
  events: PresenceEvent[];
  /** The state to diff the next snapshot against. */
  next: RoomState;
}

export const SEP = '\u0000';

/**
 * A deterministic event id: the same transition (room, participant, type and, for updates, the
 * values that changed) always gets the same id, so a re-delivery after a restart can be deduped.
 * `evt_` + 22 base64url characters (132 bits).
 *
 * Joins and leaves (the bulk of events at high churn) hash room, participant id and type with
 * MurmurHash3 x86_128: several times cheaper than SHA-256, and nobody but the domain owner and
 * Daily chooses those inputs. Updates include names a participant can set to anything, so they use
 * SHA-256: no one can craft a name whose update id collides with, and so gets deduped in place
 * of, someone else's event.
 */
export function eventId(room: string, participantId: string, type: string, detail = ''): string {
  if (typeof room !== 'string' || typeof participantId !== 'string' || typeof type !== 'string' || typeof detail !== 'string') {
    const [name, v] = typeof room !== 'string' ? ['room', room] : typeof participantId !== 'string' ? ['participantId', participantId] : typeof type !== 'string' ? ['type', type] : ['detail', detail];
    throw new TypeError(`eventId(room, participantId, type, detail?): ${name} must be a string, not ${kindOf(v)}`);
  }
  if (!detail) return murmur3Id(room, participantId, type);
  return 'evt_' + hash('sha256', room + SEP + participantId + SEP + type + SEP + detail, 'base64url').slice(0, 22);
}

/**
 * `[eventId(room, id, 'join'), eventId(room, id, 'leave')]`, computed together (one read of the
 * shared inputs). The tracker takes both when someone joins and keeps the leave's for later.
 */
export function joinAndLeaveIds(room: string, participantId: string): [string, string] {
  return murmur3IdPair(room, participantId, 'join', 'leave');
}

export function changesOf(prev: Participant, next: Participant): ParticipantChanges | undefined {
  // the common case, nothing changed, without a loop (this runs once per participant per poll)
  if (
    prev.userName === next.userName &&
    prev.userId === next.userId &&
    prev.mtgSessionId === next.mtgSessionId &&
    prev.joinTime === next.joinTime
  ) {
    return undefined;
  }
  let changes: ParticipantChanges | undefined;
  for (const field of TRACKED_FIELDS) {
    const from = prev[field];
    const to = next[field];
    if (from !== to) {
      (changes ??= {})[field] = { from, to };
    }
  }
  return changes;
}

function changeDetail(changes: ParticipantChanges): string {
  let detail = '';
  for (const field of TRACKED_FIELDS) {
    const c = changes[field];
    if (c) detail += `${field}${SEP}${c.from ?? ''}${SEP}${c.to ?? ''}${SEP}`;
  }
  return detail;
}

/** `id`, when given, must be `eventId(room, p.id, 'join')` (the tracker has it from joinAndLeaveIds). */
export function joinEvent(room: string, p: Participant, at: string, initial: boolean, id = eventId(room, p.id, 'join')): JoinEvent {
  const ev: JoinEvent = { id, type: 'join', room, at, participant: p };
  if (initial) ev.initial = true;
  return ev;
}

/** `id`, when given, must be `eventId(room, p.id, 'leave')`. */
export function leaveEvent(room: string, p: Participant, at: string, id = eventId(room, p.id, 'leave')): LeaveEvent {
  return { id, type: 'leave', room, at, participant: p };
}

/**
 * `seq`: how many updates this session had before this one (0 for its first). It is part of the id
 * from the second on, so a change back and forth (a name set to "Ann (away)", back to "Ann", then
 * to "Ann (away)" again) gets a new id each time: the same values alone gave the third the first's
 * id, and a receiver that dedupes by id dropped it. The first keeps the id it had without a count.
 */
export function updateEvent(room: string, p: Participant, changes: ParticipantChanges, at: string, seq = 0): UpdateEvent {
  const detail = changeDetail(changes);
  return {
    id: eventId(room, p.id, 'update', seq === 0 ? detail : `${detail}#${seq}`),
    type: 'update',
    room,
    at,
    participant: p,
    changes,
  };
}

/**
 * The reference diff's arguments checked (a few typeofs a call): a caller's slip is a TypeError
 * naming it, not "prev.get is not a function" from inside, or events stamped `at: undefined`.
 */
function checkDiffArgs(fn: string, prev: unknown, opts: unknown, updates: unknown): void {
  if (prev !== undefined && typeof (prev as Map<unknown, unknown> | null)?.get !== 'function') throw new TypeError(`${fn}: prev must be the last result's next (a Map) or undefined for a first snapshot, not ${kindOf(prev)}`);
  const at = (opts as { at?: unknown } | null | undefined)?.at;
  if (typeof at !== 'string') throw new TypeError(`${fn}: opts must be { at, initial? }, at the ISO time the events are stamped with (new Date().toISOString()); at is ${kindOf(at)}`);
  const before = (opts as { initialBefore?: unknown }).initialBefore;
  if (before !== undefined && !Number.isFinite(before)) throw new TypeError(`${fn}: opts.initialBefore must be a time in ms since the epoch, not ${kindOf(before)}`);
  if (updates !== undefined && typeof (updates as Map<unknown, unknown> | null)?.get !== 'function') throw new TypeError(`${fn}: updates must be a Map of update counts (kept in place), or left out, not ${kindOf(updates)}`);
}

/**
 * Diff one room's previous state against a new snapshot. Pure and O(n).
 *
 * - `prev` undefined means the room has never been seen: every participant is a join.
 * - An incomplete snapshot yields joins and updates, never leaves: the people it did not show are
 *   kept in the next state.
 * - A participant id listed twice in one snapshot counts once (the first occurrence).
 * - `updates`: how many updates each tracked participant has had (by id; absent is none), which
 *   each update's id includes (`updateEvent`). Kept up to date in place: an update counts one
 *   more, a leave drops its person. Without it every update is counted as its session's first.
 */
export function diffRoom(prev: RoomState | undefined, snapshot: RoomSnapshot, opts: DiffOptions, updates?: Map<string, number>): DiffResult {
  checkDiffArgs('diffRoom', prev, opts, updates);
  const s = snapshot as Partial<RoomSnapshot> | null | undefined;
  if (typeof s?.room !== 'string' || !Array.isArray(s.participants) || typeof s.complete !== 'boolean') {
    throw new TypeError(`diffRoom: snapshot must be { room, participants, complete } (a name, an array of participants, whether Daily listed everyone), not ${kindOf(snapshot)}${Array.isArray(snapshot) ? ' (the participants alone?)' : ''}`);
  }
  return roomDiff(prev, snapshot, opts, updates);
}

/** diffRoom without its argument checks: for diffDomain, whose own checks cover every room's. */
function roomDiff(prev: RoomState | undefined, snapshot: RoomSnapshot, opts: DiffOptions, updates: Map<string, number> | undefined): DiffResult {
  const { room } = snapshot;
  const { at } = opts;
  const initial = prev === undefined && opts.initial === true;
  const events: PresenceEvent[] = [];
  const next: RoomState = new Map();

  let matched = 0;
  for (const p of snapshot.participants) {
    const size = next.size;
    next.set(p.id, p);
    if (next.size === size) {
      next.set(p.id, firstOf(snapshot.participants, p.id)); // listed twice: the first one counts
      continue;
    }
    const before = prev?.get(p.id);
    if (before === undefined) {
      events.push(joinEvent(room, p, at, initial || joinedBefore(p.joinTime, opts.initialBefore)));
    } else {
      matched++;
      const changes = changesOf(before, p);
      if (changes) {
        const seq = updates?.get(p.id) ?? 0;
        events.push(updateEvent(room, p, changes, at, seq));
        updates?.set(p.id, seq + 1);
      }
    }
  }

  // everyone seen before is still here: no leave to look for (the common case)
  if (prev && matched < prev.size) {
    for (const [id, p] of prev) {
      if (next.has(id)) continue;
      if (snapshot.complete) {
        events.push(leaveEvent(room, p, at));
        updates?.delete(id);
      } else {
        next.set(id, p);
      }
    }
  }
  return { events, next };
}

function firstOf(list: readonly Participant[], id: string): Participant {
  for (const p of list) if (p.id === id) return p;
  throw new Error('unreachable');
}

export interface DomainDiffResult {
  events: PresenceEvent[];
  next: DomainState;
}

/**
 * Diff a whole domain (GET /presence). A room absent from `snapshot` has nobody in it: everyone
 * previously seen there leaves. `initial` marks joins only when there is no previous domain state.
 * `updates`: as diffRoom's, by room (a room whose people all left is dropped).
 */
export function diffDomain(
  prev: DomainState | undefined,
  snapshot: ReadonlyMap<string, Participant[]>,
  opts: DiffOptions,
  updates?: Map<string, Map<string, number>>,
): DomainDiffResult {
  checkDiffArgs('diffDomain', prev, opts, updates);
  if (typeof (snapshot as Map<unknown, unknown> | null)?.has !== 'function' || typeof (snapshot as Map<unknown, unknown>)[Symbol.iterator] !== 'function') throw new TypeError(`diffDomain: snapshot must be a Map of room name → participants, not ${kindOf(snapshot)}${snapshot !== null && typeof snapshot === 'object' && !Array.isArray(snapshot) ? ' (a parsed body? new Map(Object.entries(body)), each list as participants)' : ''}`);
  const events: PresenceEvent[] = [];
  const next: DomainState = new Map();
  const initial = prev === undefined && opts.initial === true;
  const roomOpts: DiffOptions = { at: opts.at, initial, ...(opts.initialBefore !== undefined ? { initialBefore: opts.initialBefore } : {}) };

  for (const [room, participants] of snapshot) {
    let counts = updates?.get(room);
    if (updates && !counts) updates.set(room, (counts = new Map()));
    const r = roomDiff(prev?.get(room) ?? (initial ? undefined : EMPTY), { room, participants, complete: true }, roomOpts, counts);
    if (counts?.size === 0) updates!.delete(room);
    for (const e of r.events) events.push(e);
    if (r.next.size > 0) next.set(room, r.next);
  }
  if (prev) {
    for (const [room, state] of prev) {
      if (snapshot.has(room)) continue;
      for (const p of state.values()) events.push(leaveEvent(room, p, opts.at));
      updates?.delete(room);
    }
  }
  return { events, next };
}

const EMPTY: RoomState = new Map();

/** Apply events to a state (the inverse view of diff; used by tests and by state replay). */
export function applyEvents(state: RoomState, events: readonly PresenceEvent[]): RoomState {
  if (typeof (state as Map<unknown, unknown> | null)?.entries !== 'function') throw new TypeError(`applyEvents: state must be a room's state (a Map of participant id → participant), not ${kindOf(state)}`);
  if (!Array.isArray(events)) throw new TypeError(`applyEvents: events must be an array of events, not ${kindOf(events)}`);
  for (let i = 0; i < events.length; i++) {
    const notEvent = notEventError('applyEvents', `events[${i}]`, events[i]);
    if (notEvent) throw notEvent;
  }
  const out = new Map(state);
  for (const e of events) {
    if (e.type === 'leave') out.delete(e.participant.id);
    else out.set(e.participant.id, e.participant);
  }
  return out;
}
