import type { Participant, PresenceEvent } from '../events.js';
import type { SavedState } from './store.js';

/**
 * A saved state with events applied in order: a join or update sets the person's details, a leave
 * removes them. The daemon uses it on start to bring its state file up to the events its outbox
 * journal recorded after that state was written, so the first poll diffs against what the sinks
 * were told, not against an older picture (which would leave a delivered join without its leave).
 */
export function replay(state: SavedState, events: readonly PresenceEvent[]): SavedState {
  const rooms = new Map<string, Map<string, Participant>>();
  for (const [room, list] of Object.entries(state.rooms)) {
    const m = new Map<string, Participant>();
    for (const p of list) if (!m.has(p.id)) m.set(p.id, p); // a repeated id counts once, the first, as on restore
    rooms.set(room, m);
  }
  for (const e of events) {
    let m = rooms.get(e.room);
    if (!m) rooms.set(e.room, (m = new Map()));
    if (e.type === 'leave') m.delete(e.participant.id);
    else m.set(e.participant.id, e.participant);
  }
  const out: Record<string, Participant[]> = {};
  for (const [room, m] of rooms) out[room] = [...m.values()];
  return { ...state, rooms: out };
}

/** The state of a first start (no state file yet), to replay a journal onto. */
export function emptyState(mode: SavedState['mode'], now: Date): SavedState {
  return { version: 1, savedAt: now.toISOString(), mode, rooms: {} };
}
