import { kindOf } from './util/text.js';
/**
 * The data that crosses module boundaries: participants, snapshots and presence events.
 * Everything here is plain data (JSON-serialisable), so it can be logged, persisted and sent as is.
 */

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

/**
 * Whether a value has the shape of a PresenceEvent as far as the code that reads events relies on
 * (an id, a room, a type and a participant with an id): events read back from the outbox or a
 * dead-letter file, and the library functions that take events from a caller.
 */
export function isEvent(e: unknown): e is PresenceEvent {
  if (!e || typeof e !== 'object') return false;
  const r = e as Partial<PresenceEvent>;
  return typeof r.id === 'string' && typeof r.room === 'string' && (r.type === 'join' || r.type === 'leave' || r.type === 'update') && typeof r.participant?.id === 'string';
}

/** A TypeError for a library function given something that is not an event, or undefined. */
export function notEventError(fn: string, what: string, e: unknown): TypeError | undefined {
  if (isEvent(e)) return undefined;
  const kind = e !== null && typeof e === 'object' && !Array.isArray(e) && !(e instanceof Map) ? "an object without an event's id, room, type (join, leave or update) and participant" : kindOf(e);
  return new TypeError(`${fn}: ${what} must be a presence event (as the watcher emits), not ${kind}`);
}
