import { applyEvents, type RoomState } from '../diff.js';
import type { Participant, PresenceEvent } from '../events.js';
import type { SavedState } from './store.js';
import { ownValue, setOwn } from '../util/record.js';

/**
 * A saved state with events applied in order (`applyEvents` per room): a join or update sets the
 * person's details, a leave removes them, and each update counts one more of that person's
 * (`updates`, which the next update's id includes; a join or leave starts them afresh). The daemon
 * uses it on start to bring its state file up to the events its outbox journal recorded after that
 * state was written, so the first poll diffs against what the sinks were told, not against an
 * older picture (which would leave a delivered join without its leave).
 */
export function replay(state: SavedState, events: readonly PresenceEvent[]): SavedState {
  const byRoom = new Map<string, PresenceEvent[]>();
  for (const e of events) {
    const list = byRoom.get(e.room);
    if (list) list.push(e);
    else byRoom.set(e.room, [e]);
  }
  const rooms: Record<string, Participant[]> = { ...state.rooms };
  const updates: Record<string, Record<string, number>> = { ...state.updates };
  for (const [room, list] of byRoom) {
    const before: RoomState = new Map();
    for (const p of ownValue(state.rooms, room) ?? []) if (!before.has(p.id)) before.set(p.id, p); // a repeated id counts once, the first, as on restore
    setOwn(rooms, room, [...applyEvents(before, list).values()]);
    const counts = new Map(Object.entries(ownValue(state.updates, room) ?? {}));
    for (const e of list) {
      if (e.type === 'update') counts.set(e.participant.id, (counts.get(e.participant.id) ?? 0) + 1);
      else counts.delete(e.participant.id);
    }
    if (counts.size > 0) setOwn(updates, room, Object.fromEntries(counts));
    else delete updates[room];
  }
  // a journaled event about someone whose leave was pending settles it: they left, or came back
  let pendingLeaves = state.pendingLeaves;
  if (pendingLeaves) {
    const left: Record<string, Record<string, string>> = {};
    for (const [room, ids] of Object.entries(pendingLeaves)) {
      const settled = new Set((byRoom.get(room) ?? []).map((e) => e.participant.id));
      const still = Object.entries(ids).filter(([id]) => !settled.has(id));
      if (still.length > 0) setOwn(left, room, Object.fromEntries(still));
    }
    pendingLeaves = Object.keys(left).length > 0 ? left : undefined;
  }
  const out: SavedState = { ...state, rooms };
  if (pendingLeaves) out.pendingLeaves = pendingLeaves;
  else delete out.pendingLeaves;
  if (Object.keys(updates).length > 0) out.updates = updates;
  else delete out.updates;
  return out;
}

/** The state of a first start (no state file yet), to replay a journal onto. */
export function emptyState(mode: SavedState['mode'], now: Date): SavedState {
  return { version: 1, savedAt: now.toISOString(), mode, rooms: {} };
}
