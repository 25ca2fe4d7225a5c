/**
 * The data that crosses module boundaries: participants, snapshots and presence events.
 * Everything here is plain data (JSON-serialisable), so it can be logged, persisted and sent as is.
 */
import { kindOf, shownValue } from './util/text.js';

/** One participant session as Daily reports it. `id` is the session id: new on every join. */
export interface Participant {
  id: string;
  userId: string | null;
  userName: string | null;
  mtgSessionId: string | null;
  joinTime: string | null;
  /** Seconds since join. Grows on every poll, so it never produces an update event. */
  duration: number | null;
}

/** Fields whose change produces an `update` event. */
export const TRACKED_FIELDS = ['userName', 'userId', 'mtgSessionId', 'joinTime'] as const;
export type TrackedField = (typeof TRACKED_FIELDS)[number];

export type ParticipantChanges = Partial<Record<TrackedField, { from: string | null; to: string | null }>>;

/** Presence of one room at one moment. */
export interface RoomSnapshot {
  room: string;
  participants: Participant[];
  /**
   * False when Daily reported more participants (`total_count`) than it returned: people missing
   * from a partial snapshot may still be there, so they never produce a leave.
   */
  complete: boolean;
}

export type PresenceEventType = 'join' | 'leave' | 'update';
/** Every event type, in the order the docs name them. */
export const EVENT_TYPES = ['join', 'leave', 'update'] as const satisfies readonly PresenceEventType[];

interface BaseEvent {
  /** Unique per event and deterministic for the same transition, so receivers can dedupe re-deliveries. */
  id: string;
  type: PresenceEventType;
  room: string;
  /** ISO time at which the watcher observed the change. */
  at: string;
  participant: Participant;
}

export interface JoinEvent extends BaseEvent {
  type: 'join';
  /** Present (true) only on joins from the first snapshot of a room: the person was already there. */
  initial?: true;
  /**
   * Present only when the person stays in the room through this join: another session of theirs
   * (`samePerson`: by default the same non-blank `userId` and `userName`) is there (a second
   * device, or a reconnect before the old session timed out), or left within the leave grace (a
   * reconnect). Its value is that session's id. Sinks for people skip it.
   */
  sameUserAs?: string;
}

export interface LeaveEvent extends BaseEvent {
  type: 'leave';
  /**
   * Present only when the person stays in the room through this leave: the id of their session
   * (`samePerson`) that is there (or, within the leave grace, the one that replaced this one).
   * Sinks for people skip it.
   */
  sameUserAs?: string;
}

export interface UpdateEvent extends BaseEvent {
  type: 'update';
  changes: ParticipantChanges;
  /** Never set on an update: declared so that `event.sameUserAs` reads on any event. */
  sameUserAs?: never;
}

/** What the watcher emits and the sinks deliver: tell the three apart by `type`. */
export type PresenceEvent = JoinEvent | LeaveEvent | UpdateEvent;

/** Per-poll information, emitted as `poll` after every request (successful or not). */
export interface PollInfo {
  /** Room name, or `*` for the domain-wide endpoint. */
  target: string;
  ok: boolean;
  /** Participants seen (0 when the poll failed). */
  participants: number;
  /** Rooms seen with anyone present (domain-wide polls), 1 or 0 for a room poll. */
  rooms: number;
  durationMs: number;
  /** Events produced by this poll. */
  events: number;
  /**
   * Set on a room's successful poll when Daily listed fewer participants than its `total_count`
   * (a partial snapshot: joins and updates, but no leaves, for the people it left out).
   */
  partial?: true;
  error?: Error;
}

/** The typed event map of PresenceWatcher. */
export interface PresenceWatcherEvents {
  join: (event: JoinEvent) => void;
  leave: (event: LeaveEvent) => void;
  update: (event: UpdateEvent) => void;
  /** Every join, leave and update, in order. */
  event: (event: PresenceEvent) => void;
  error: (error: Error) => void;
  /** The first successful snapshot of every target has been taken. */
  ready: () => void;
  poll: (info: PollInfo) => void;
  /** The watcher stopped: by stop(), or by a fatal error (which is emitted as `error` first). */
  stop: (reason?: Error) => void;
}

/** Participant fields other than `id`, and what each holds; absent reads as null. */
const PARTICIPANT_TEXT = ['userId', 'userName', 'mtgSessionId', 'joinTime'] as const;

/** Whether a value is no object an event could be: null, a primitive, an array or a Map. */
function notAnObject(e: unknown): boolean {
  return e === null || typeof e !== 'object' || Array.isArray(e) || e instanceof Map;
}

/** A string, null, or absent (undefined). */
function textOrAbsent(v: unknown): boolean {
  return v === undefined || v === null || typeof v === 'string';
}

/** A string or null. */
function textOrNull(v: unknown): boolean {
  return v === null || typeof v === 'string';
}

/**
 * What keeps a value from being a PresenceEvent as the code that reads events relies on, in words
 * ("participant.userName is 1.5, not a string or null"), or undefined when it is one.
 * For events that come from outside the watcher: read back from the outbox or a dead-letter file
 * (edited by hand), or given to a library function by a caller. Every field a sink reads is
 * checked, so that a sink formatting it cannot throw (a name that is a number threw
 * "text.replace is not a function" in the Slack and text sinks, and the queue dead-lettered the
 * whole batch with it). Lenient where the sinks are: `at` may be a string that is no time, and a
 * participant's optional fields may be absent.
 */
export function eventProblem(e: unknown): string | undefined {
  if (notAnObject(e)) return `it is ${kindOf(e)}`;
  const r = e as Record<string, unknown>;
  if (r.type !== 'join' && r.type !== 'leave' && r.type !== 'update') return `its type is ${shownValue(r.type)}, not join, leave or update`;
  if (typeof r.id !== 'string') return `its id is ${shownValue(r.id)}, not a string`;
  if (typeof r.room !== 'string') return `its room is ${shownValue(r.room)}, not a string`;
  if (typeof r.at !== 'string') return `its at is ${shownValue(r.at)}, not a string (an ISO time)`;
  const p = r.participant;
  if (p === null || typeof p !== 'object' || Array.isArray(p)) return `its participant is ${shownValue(p)}, not an object`;
  const pr = p as Record<string, unknown>;
  if (typeof pr.id !== 'string') return `participant.id is ${shownValue(pr.id)}, not a string`;
  // written out, not a loop over the names: this runs for every event pushed to every sink
  if (!textOrAbsent(pr.userId) || !textOrAbsent(pr.userName) || !textOrAbsent(pr.mtgSessionId) || !textOrAbsent(pr.joinTime)) {
    const k = PARTICIPANT_TEXT.find((name) => !textOrAbsent(pr[name]))!;
    return `participant.${k} is ${shownValue(pr[k])}, not a string or null`;
  }
  if (pr.duration !== undefined && pr.duration !== null && typeof pr.duration !== 'number') return `participant.duration is ${shownValue(pr.duration)}, not a number or null`;
  if (r.sameUserAs !== undefined && (r.type === 'update' || typeof r.sameUserAs !== 'string')) return `its sameUserAs is ${shownValue(r.sameUserAs)}, not a session id of a join or leave`;
  if (r.type === 'join' && r.initial !== undefined && typeof r.initial !== 'boolean') return `its initial is ${shownValue(r.initial)}, not true (or absent)`;
  if (r.type !== 'update') return undefined;
  const changes = r.changes;
  const notChanges = () => `an update's changes are ${shownValue(changes)}, not an object of at least one field's { from, to }`;
  if (changes === null || typeof changes !== 'object' || Array.isArray(changes)) return notChanges();
  let fields = 0;
  for (const k in changes) {
    if (!Object.hasOwn(changes, k)) continue;
    fields++;
    const c = (changes as Record<string, unknown>)[k];
    if (c === null || typeof c !== 'object' || !textOrNull((c as { from?: unknown }).from) || !textOrNull((c as { to?: unknown }).to)) return `changes.${k} is ${shownValue(c)}, not { from, to } of strings or null`;
  }
  if (fields === 0) return notChanges();
  return undefined;
}

/** Whether a value is a PresenceEvent as far as the code that reads events relies on ({@link eventProblem}). */
export function isEvent(e: unknown): e is PresenceEvent {
  return eventProblem(e) === undefined;
}

/** A TypeError for a library function given something that is not an event, or undefined. */
export function notEventError(fn: string, what: string, e: unknown): TypeError | undefined {
  const problem = eventProblem(e);
  if (problem === undefined) return undefined;
  if (notAnObject(e)) return new TypeError(`${fn}: ${what} must be a presence event (as the watcher emits), not ${kindOf(e)}`);
  return new TypeError(`${fn}: ${what} must be a presence event (as the watcher emits): ${problem}`);
}
