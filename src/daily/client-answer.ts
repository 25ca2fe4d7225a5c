import { kindOf } from '../util/text.js';
import { DailyApiError, targetName } from './errors.js';
import type { DomainEntries, ParticipantEntry, RoomEntries } from './parse.js';

/**
 * A custom `PresenceClient`'s answers, checked as the watcher's own client checks Daily's: a
 * hand-written client that answered an array instead of a `RoomEntries`, or left `complete` out,
 * made the watcher fail with a bare TypeError from inside it, or see nobody, or treat every answer
 * as partial (and so never report a leave), without a word. Each problem is a retryable
 * `DAILY_INVALID_RESPONSE` naming the method and what is wrong, as a bad answer from Daily is.
 */
function badAnswer(target: string, method: string, what: string): DailyApiError {
  return new DailyApiError({
    target,
    code: 'DAILY_INVALID_RESPONSE',
    message: `invalid answer from the client's ${method} for ${targetName(target)}: ${what}`,
  });
}

/** Every entry an object with a non-empty string id; `at(i)` names entry i for the error. */
function checkList(list: unknown, target: string, method: string, name: string, at: (i: number) => string): readonly ParticipantEntry[] {
  if (!Array.isArray(list)) throw badAnswer(target, method, `${name} is ${kindOf(list)}, not an array of entries`);
  for (let i = 0; i < list.length; i++) {
    const e: unknown = list[i];
    if (e === null || typeof e !== 'object' || Array.isArray(e)) throw badAnswer(target, method, `${at(i)} is ${kindOf(e)}, not an entry object`);
    const id = (e as { id?: unknown }).id;
    if (typeof id !== 'string' || id === '') throw badAnswer(target, method, `${at(i)} has no non-empty string "id" (it is ${kindOf(id)})`);
  }
  return list as readonly ParticipantEntry[];
}

/** `getRoomEntries(room)`'s answer: `{ room, totalCount, entries, complete }` for that room. */
export function checkClientRoomAnswer(answer: unknown, room: string): RoomEntries {
  const method = 'getRoomEntries';
  if (answer === null || typeof answer !== 'object' || Array.isArray(answer)) {
    throw badAnswer(room, method, `it is ${kindOf(answer)}, not { room, totalCount, entries, complete } (RoomEntries)`);
  }
  const a = answer as Partial<Record<keyof RoomEntries, unknown>>;
  if (a.room !== room) throw badAnswer(room, method, `"room" is ${kindOf(a.room)}, not ${JSON.stringify(room)}, the room asked for`);
  checkList(a.entries, room, method, '"entries"', (i) => `entries[${i}]`);
  const total = a.totalCount;
  if (typeof total !== 'number' || !Number.isInteger(total) || total < 0) {
    throw badAnswer(room, method, `"totalCount" is ${kindOf(total)}, not a whole number ≥ 0 (Daily's total_count; the number of entries when there is none)`);
  }
  if (typeof a.complete !== 'boolean') {
    throw badAnswer(room, method, `"complete" is ${kindOf(a.complete)}, not true or false (false: some people are not listed, and none is taken to have left)`);
  }
  return answer as RoomEntries;
}

/**
 * `getDomainEntries()`'s answer: a `DomainEntries` (a `Map` of room → entries qualifies), whose
 * lists are checked as they are handed out: one that is not is thrown from inside `forEach`, which
 * the tracker undoes, as it does a bad room deep in Daily's own answer.
 */
export function checkClientDomainAnswer(answer: unknown): DomainEntries {
  const method = 'getDomainEntries';
  const a = answer as Partial<DomainEntries> | null | undefined;
  if (a === null || typeof a !== 'object' || Array.isArray(a) || typeof a.forEach !== 'function' || typeof a.size !== 'number') {
    throw badAnswer('*', method, `it is ${kindOf(answer)}${a && typeof a === 'object' && !Array.isArray(a) ? ' without forEach and size' : ''}, not a DomainEntries (a Map of room name → entries qualifies)`);
  }
  const entries = a as DomainEntries;
  return {
    size: entries.size,
    forEach(fn) {
      entries.forEach((list, room) => {
        if (typeof room !== 'string') throw badAnswer('*', method, `a room's name is ${kindOf(room)}, not a string`);
        fn(checkList(list, '*', method, `room "${room}"'s list`, (i) => `"${room}"[${i}]`), room);
      });
    },
  };
}
