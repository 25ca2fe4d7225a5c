import type { Participant } from '../events.js';

/** What is persisted: the last-known presence of every target, to diff against after a restart. */
export interface SavedState {
  version: 1;
  savedAt: string;
  /**
   * `rooms`: one entry per room seen at least once (empty rooms included): a room it lacks was never
   * seen. `domain`: every room's last-known people, a room it lacks was empty (a watcher in room
   * mode that resumed such a state keeps it so, its own rooms listed even when empty).
   */
  mode: 'rooms' | 'domain';
  rooms: Record<string, Participant[]>;
  /**
   * The daemon's outbox journal: the sequence number of the last emitted event this state includes.
   * Events journaled after it are replayed onto the state on start (see Outbox). Library stores
   * keep it as given; the watcher itself never sets it.
   */
  journalSeq?: number;
  /**
   * People in `rooms` whose leave was pending (leave grace) when the state was saved: room →
   * participant id → when they were first seen missing (ISO 8601, wall clock). On restore the grace
   * goes on from there instead of starting again, so a watcher restarted more often than its grace
   * (`--once` from cron) still reports the leave. Absent when nobody's leave was pending.
   */
  pendingLeaves?: Record<string, Record<string, string>>;
  /**
   * How many updates each person in `rooms` has had: room → participant id → count, only those who
   * had any. An update's id includes the count (`updateEvent`), so that a change back and forth
   * gets a new id each time, after a restart too. Absent when nobody had one (and in states saved
   * before it was recorded: their people's next update is counted as their first).
   */
  updates?: Record<string, Record<string, number>>;
  /**
   * Room mode: the rooms any of whose answers was partial (Daily's `total_count` larger than its
   * list) since they were first watched: room → true. A person such an answer left out, listed
   * after a restart with a `joinTime` from more than 15 s before the room's last answer, is marked
   * `initial`; a `--once` run has one answer a room and would not know otherwise. Absent when none was.
   */
  partialRooms?: Record<string, true>;
  /**
   * Where the snapshots were polled from: the API's origin and path (`https://api.daily.co/v1`), as
   * the client's `source` gives it. A watcher polling another source refuses the state
   * (`checkSource`). Absent in states saved before it was recorded, or by a client without one.
   */
  source?: string;
}

/** Where snapshots live between runs. The file store is the default; any other can be plugged in. */
export interface StateStore {
  /**
   * The saved state, or undefined (or null) on a first start. Throws (or rejects with) StateError
   * when it exists but is unusable. May answer at once, without a promise.
   */
  load(): Promise<SavedState | undefined | null> | SavedState | undefined | null;
  /**
   * Replace the saved state, atomically: after a crash either the old or the new state is there.
   * May be synchronous (a `writeFileSync` and a rename): a throw is a failed save, as a rejection is.
   */
  save(state: SavedState): Promise<void> | void;
}

/** A saved state that cannot be used (unreadable, corrupt, polled from another API): the daemon refuses to start rather than diff against it. */
export class StateError extends Error {
  override name = 'StateError';
  readonly code = 'STATE_UNUSABLE';
}

/**
 * Throws a StateError when `state` was polled from another source than `source` (the simulator's,
 * then Daily's; a staging gateway, then production): diffed against the other's answers, everyone
 * in its rooms would seem to leave and everyone there to join. `where` names the state in the message.
 */
export function checkSource(state: SavedState, source: string | undefined, where: string): void {
  if (state.source === undefined || source === undefined || state.source === source) return;
  throw new StateError(
    `${where} holds presence polled from ${state.source}, but this watcher polls ${source}: diffed against each other, everyone in its rooms would seem to leave. ` +
      `Give each API its own state file; if both reach the same Daily domain (a proxy in front of it), set "source" in the state file to ${JSON.stringify(source)}`,
  );
}
