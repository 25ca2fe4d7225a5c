import type { Participant } from '../events.js';
import { invalidResponse } from './errors.js';

/**
 * One participant as the API listed it, checked only as far as every later step relies on: an
 * object with a non-empty string `id`. The other fields are read leniently (a wrong type counts as
 * absent) by {@link toParticipant}. A `Participant` is an entry too.
 */
export interface ParticipantEntry {
  readonly id: string;
  readonly userId?: unknown;
  readonly userName?: unknown;
  readonly mtgSessionId?: unknown;
  readonly joinTime?: unknown;
  readonly duration?: unknown;
}

/** A checked GET /rooms/:name/presence answer whose entries are not copied yet (the watcher's fast path). */
export interface RoomEntries {
  room: string;
  /** Daily's `total_count`; when larger than `entries.length` the snapshot is partial. */
  totalCount: number;
  entries: readonly ParticipantEntry[];
  complete: boolean;
}

/**
 * A checked GET /presence answer: every room with anyone in it and its entries, in the answer's
 * order. A `Map<string, readonly ParticipantEntry[]>` is one (a custom `PresenceClient` may answer
 * with a Map); {@link parseDomainEntries} answers with a view over the parsed body instead.
 */
export interface DomainEntries {
  /** Rooms with anyone present. */
  readonly size: number;
  /** Each room's entries (a room listed with nobody may be skipped), in the answer's order. */
  forEach(fn: (entries: readonly ParticipantEntry[], room: string) => void): void;
}

/** A validated GET /rooms/:name/presence answer. */
export interface RoomPresence {
  room: string;
  /** Daily's `total_count`; when larger than `participants.length` the snapshot is partial. */
  totalCount: number;
  participants: Participant[];
  complete: boolean;
}

/** A validated GET /presence answer: room name → participants. Empty rooms are absent. */
export type DomainPresence = Map<string, Participant[]>;

/** A string field as is; any other value counts as absent. */
export function str(v: unknown): string | null {
  return typeof v === 'string' ? v : null;
}

/** A finite number as is; anything else (a string, NaN, Infinity) counts as absent. */
export function num(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

/** The typed participant of a checked entry. Never throws: a field of the wrong type is null. */
export function toParticipant(e: ParticipantEntry): Participant {
  return {
    id: e.id,
    userId: str(e.userId),
    userName: str(e.userName),
    mtgSessionId: str(e.mtgSessionId),
    joinTime: str(e.joinTime),
    duration: num(e.duration),
  };
}

/** Where an entry is, for an error: data[i] in a room's answer, "room"[i] in the domain's. */
function entryAt(i: number, domainRoom: string | undefined): string {
  return domainRoom === undefined ? `data[${i}]` : `"${domainRoom}"[${i}]`;
}

/** Check every entry of a list in place (no copies): the whole list is rejected if one is malformed. */
function checkEntries(list: unknown[], target: string, domainRoom?: string): readonly ParticipantEntry[] {
  for (let i = 0; i < list.length; i++) {
    const raw = list[i];
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
      throw invalidResponse(target, `${entryAt(i, domainRoom)} is not an object`);
    }
    const id = (raw as { id?: unknown }).id;
    if (typeof id !== 'string' || id === '') {
      throw invalidResponse(target, `${entryAt(i, domainRoom)} has no string "id"`);
    }
  }
  return list as ParticipantEntry[];
}

/** Check the parsed body of GET /rooms/:name/presence without copying its entries. Throws a retryable DailyApiError. */
export function parseRoomEntries(room: string, body: unknown): RoomEntries {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw invalidResponse(room, 'body is not a JSON object');
  }
  const b = body as Record<string, unknown>;
  const data = b.data;
  if (!Array.isArray(data)) throw invalidResponse(room, '"data" is missing or not an array');
  const entries = checkEntries(data, room);
  const tc = b.total_count;
  let totalCount = entries.length;
  if (tc !== undefined) {
    if (typeof tc !== 'number' || !Number.isInteger(tc) || tc < 0) {
      throw invalidResponse(room, '"total_count" is not a non-negative integer');
    }
    totalCount = tc;
  }
  return { room, totalCount, entries, complete: totalCount <= entries.length };
}

/**
 * The checked GET /presence body, read in place. Not a Map on purpose: at 10,000 rooms a Map was
 * ~1.15 MB allocated while the just-parsed body (~15 MB) was still live. That body nearly fills
 * V8's young generation (16 MB on Node 20), so the Map's allocation set off a scavenge that copied
 * the body, every poll; without it, at 1% churn, the scavenge comes between polls, when the body is
 * garbage (~1 ms instead of ~12–25). BENCHMARKS.md's profile notes have the measurements.
 */
class CheckedDomainEntries implements DomainEntries, Iterable<[string, readonly ParticipantEntry[]]> {
  /** The body's keys, in order, and each one's checked list, side by side. */
  readonly #rooms: string[];
  readonly #lists: (readonly ParticipantEntry[])[];
  readonly size: number;

  constructor(rooms: string[], lists: (readonly ParticipantEntry[])[], size: number) {
    this.#rooms = rooms;
    this.#lists = lists;
    this.size = size;
  }

  forEach(fn: (entries: readonly ParticipantEntry[], room: string) => void): void {
    const rooms = this.#rooms;
    const lists = this.#lists;
    for (let i = 0; i < rooms.length; i++) {
      const list = lists[i]!;
      if (list.length > 0) fn(list, rooms[i]!);
    }
  }

  /** [room, entries] pairs, as a Map's iterator gives them. */
  *[Symbol.iterator](): IterableIterator<[string, readonly ParticipantEntry[]]> {
    for (let i = 0; i < this.#rooms.length; i++) {
      const list = this.#lists[i]!;
      if (list.length > 0) yield [this.#rooms[i]!, list];
    }
  }
}

/** Check the parsed body of GET /presence without copying its entries. Throws a retryable DailyApiError. */
export function parseDomainEntries(body: unknown): DomainEntries & Iterable<[string, readonly ParticipantEntry[]]> {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw invalidResponse('*', 'body is not a JSON object keyed by room name');
  }
  const rooms = Object.keys(body);
  const lists: (readonly ParticipantEntry[])[] = new Array(rooms.length);
  let size = 0;
  for (let i = 0; i < rooms.length; i++) {
    const room = rooms[i]!;
    const list = (body as Record<string, unknown>)[room];
    if (!Array.isArray(list)) throw invalidResponse('*', `room "${room}" is not an array of participants`);
    lists[i] = checkEntries(list, '*', room);
    if (list.length > 0) size++;
  }
  return new CheckedDomainEntries(rooms, lists, size);
}

/** A checked room answer with every entry copied into a typed participant. */
export function toRoomPresence({ room, totalCount, entries, complete }: RoomEntries): RoomPresence {
  return { room, totalCount, participants: entries.map(toParticipant), complete };
}

/** A checked domain answer with every entry copied into a typed participant. */
export function toDomainPresence(domain: DomainEntries): DomainPresence {
  const out: DomainPresence = new Map();
  domain.forEach((entries, room) => {
    if (entries.length > 0) out.set(room, entries.map(toParticipant));
  });
  return out;
}

/** Validate the parsed body of GET /rooms/:name/presence into typed participants. Throws a retryable DailyApiError. */
export function parseRoomPresence(room: string, body: unknown): RoomPresence {
  return toRoomPresence(parseRoomEntries(room, body));
}

/** Validate the parsed body of GET /presence into typed participants. Throws a retryable DailyApiError. */
export function parseDomainPresence(body: unknown): DomainPresence {
  return toDomainPresence(parseDomainEntries(body));
}

/** Parse Daily's error body `{"error": type, "info": text}`; tolerant of anything else. */
export function parseErrorBody(text: string): { type?: string; info?: string } {
  try {
    const b = JSON.parse(text) as unknown;
    if (b && typeof b === 'object' && !Array.isArray(b)) {
      const r = b as Record<string, unknown>;
      const out: { type?: string; info?: string } = {};
      if (typeof r.error === 'string') out.type = r.error.slice(0, 100);
      if (typeof r.info === 'string') out.info = r.info.slice(0, 300);
      return out;
    }
  } catch {
    // not JSON: Daily's error bodies are JSON, a proxy's may not be
  }
  return {};
}
