import { applyEvents, type RoomState } from '../diff.js';
import type { Participant, PresenceEvent } from '../events.js';
import type { SavedState } from './store.js';

/**
 * A saved state with events applied in order (`applyEvents` per room): a join or update sets the
 * person's details, a leave removes them. The daemon uses it on start to bring its state file up to
 * the events its outbox journal recorded after that state was written, so the first poll diffs
 * against what the sinks were told, not against an older picture (which would leave a delivered
 * join without its leave).
 */
export function replay(state: SavedState, events: readonly PresenceEvent[]): SavedState {
  const byRoom = new Map<string, PresenceEvent[]>();
  for (const e of events) {
    const list = byRoom.get(e.room);
    if (list) list.push(e);
    else byRoom.set(e.room, [e]);
  }
  const rooms: Record<string, Participant[]> = { ...state.rooms };
  for (const [room, list] of byRoom) {
    const before: RoomState = new Map();
    for (const p of state.rooms[room] ?? []) if (!before.has(p.id)) before.set(p.id, p); // a repeated id counts once, the first, as on restore
    rooms[room] = [...applyEvents(before, list).values()];
  }
  return { ...state, rooms };
}

/** The state of a first start (no state file yet), to replay a journal onto. */
export function emptyState(mode: SavedState['mode'], now: Date): SavedState {
  return { version: 1, savedAt: now.toISOString(), mode, rooms: {} };
}
