import type { Participant } from '../events.js';
import { invalidResponse, type DailyApiError } from './errors.js';
import { proxyNote } from '../util/http-agent.js';
import { kindOf, oneLine } from '../util/text.js';

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
  if (e === null || typeof e !== 'object') throw new TypeError(`toParticipant: the entry must be a participant entry of Daily's answer (an object with an id), not ${kindOf(e)}`);
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

/**
 * A room parser given something else than a name first (the body alone, most likely): a TypeError
 * saying so, instead of blaming Daily for room "[object Object]".
 */
function checkRoomName(fn: string, room: unknown): void {
  if (typeof room !== 'string') throw new TypeError(`${fn}(room, …): room must be the room's name, not ${kindOf(room)}${room !== null && typeof room === 'object' ? ' (the answer goes second)' : ''}`);
}

/** Check the parsed body of GET /rooms/:name/presence without copying its entries. Throws a retryable DailyApiError. */
export function parseRoomEntries(room: string, body: unknown): RoomEntries {
  checkRoomName('parseRoomEntries', room);
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

/**
 * The error for an answer that is not JSON: its size, never its content (which may echo anything).
 * A web page where JSON belongs is said to be one: the cause is then where the request went (a
 * proxy's login, a captive portal, a gateway's error page sent as 200, a wrong --api-url), not what
 * Daily said.
 */
function notJson(target: string, text: string): DailyApiError {
  if (text.trim() === '') return invalidResponse(target, `the body is empty (${text.length} bytes), where Daily's JSON belongs`);
  if (text.trimStart().startsWith('<')) {
    return invalidResponse(target, `the body is an HTML or XML page (${text.length} bytes), not Daily's JSON${proxyNote()}: a proxy's or captive portal's page, a gateway's error page, or --api-url pointing elsewhere?`);
  }
  return invalidResponse(target, `body is not valid JSON (${text.length} bytes)`);
}

/** An answer's text parsed whole; a retryable DailyApiError naming `target` when it is not JSON. */
export function parseJson(target: string, text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw notJson(target, text);
  }
}

/**
 * GET /presence from the answer's text, each room's list parsed only when it is read.
 *
 * Why: at 10,000 rooms the parsed body is ~15 MB, nearly all of Node 20's 16 MB young generation,
 * and the diff has to allocate (slots, events) while it is live, so a scavenge landing in the diff
 * copied it, then promoted it. Parsed a room at a time, only the room being walked is live: over
 * 24 polls at 10% churn the watcher's GC time halved (BENCHMARKS.md's profile notes). The peak
 * heap of a poll is lower by the whole parsed body too.
 *
 * This path is taken only when the text's shape settles exactly what JSON.parse would make of it:
 * an object whose values are all arrays, with no other `[` or `]` anywhere (not even inside a
 * string), no two keys alike and no key starting with a digit (JSON.parse would put integer-like
 * keys first). Each room's list then lies between one `[` and the next `]`, every key parses alone,
 * and the text is valid JSON exactly when every list parses alone. Anything else (whitespace
 * between the tokens is fine) goes through JSON.parse and {@link parseDomainEntries}, with the same
 * result and the same errors.
 *
 * So the answer's `forEach` (and iterator) can throw the retryable DailyApiError that JSON.parse or
 * the entry check would have thrown up front: a list that is not valid JSON, or a malformed entry.
 * A `DomainTracker` undoes a snapshot whose `forEach` throws; other callers should read it whole
 * before acting on any of it, or use {@link parseDomainEntries}.
 *
 * `names`: room names kept from one answer to the next (the same Map each time; it holds at most
 * about twice the rooms of the last answer). With it, a room's name is the very string the tracker
 * already holds, so the walk's check that a person is in the expected room compares two pointers
 * instead of reading two strings (JSON.parse's keys are like that already). In the GET /presence
 * poll at 10% churn, ~6% faster at the median over 22 alternating rounds (BENCHMARKS.md's profile notes).
 * With it too, the last answer's order of rooms is kept (beside the Map, for as long as the Map
 * lives), and each name is first compared in place with the room expected there, so a domain
 * whose answers list their rooms in a steady order reads its names without slicing or hashing them.
 */
export function parseDomainText(text: string, names?: Map<string, string>): DomainEntries & Iterable<[string, readonly ParticipantEntry[]]> {
  if (typeof text !== 'string') throw notText('parseDomainText', text, 'parseDomainEntries');
  if (names !== undefined && !(names instanceof Map)) throw new TypeError(`parseDomainText(text, names?): names must be a Map (kept from one answer to the next), not ${kindOf(names)}`);
  return splitDomainText(text, names) ?? parseDomainEntries(parseJson('*', text));
}

/**
 * The text parsers given something else (an answer already parsed, most likely): a TypeError naming
 * the parser for that, instead of "text.indexOf is not a function" from inside.
 */
function notText(fn: string, value: unknown, parsedFn: string): TypeError {
  const hint = value !== null && typeof value === 'object' ? `: for an answer already parsed, use ${parsedFn}` : '';
  return new TypeError(`${fn}: give the answer's text, as read from the response, not ${kindOf(value)}${hint}`);
}

/** JSON's whitespace: space, tab, line feed, carriage return. */
function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

/** A room name as {@link splitDomainText} keeps it from one answer to the next. */
interface KnownRoom {
  /** The name: the one string every answer's room of this name is given as. */
  readonly name: string;
  /** Whether the name is written in JSON as it is, with no escape: the text then holds it verbatim between its quotes. */
  readonly plain: boolean;
  /** The attempt that last listed it: a second listing in one attempt is a repeated key. */
  attempt: number;
  /** Its place in the last answer read. */
  index: number;
}

/**
 * What {@link splitDomainText} keeps from one answer to the next, for one `names` Map (so for one
 * client): the rooms of the last answer in its order, and every room seen lately by name.
 */
interface RoomOrder {
  known: Map<string, KnownRoom>;
  /** The last answer's rooms, in its order: `count` of them (written by index, so the store is kept). */
  last: KnownRoom[];
  count: number;
  /** The list being filled, swapped with `last` once an answer is read through. */
  next: KnownRoom[];
  attempt: number;
}

const roomOrders = new WeakMap<Map<string, string>, RoomOrder>();

/** Whether JSON writes `name` as it is between its quotes (no `"`, backslash or control character). */
function isPlain(name: string): boolean {
  for (let j = 0; j < name.length; j++) {
    const c = name.charCodeAt(j);
    if (c === 0x22 || c === 0x5c || c < 0x20) return false;
  }
  return true;
}

/** The lazily parsed answer, or undefined when the text is not of the shape {@link parseDomainText} describes. */
function splitDomainText(text: string, names: Map<string, string> | undefined): DeferredDomainEntries | undefined {
  // every `[`, each with the first `]` after it not taken yet. The scan below then requires exactly
  // `"key":` before each `[` and `,` or the closing `}` after each `]`: a bracket anywhere else (a
  // nested list, one inside a string, a stray one) puts some `[` or `]` where that cannot hold
  const bounds: number[] = [];
  let open = -1;
  let close = -1;
  for (;;) {
    const a = text.indexOf('[', open + 1);
    if (a < 0) break;
    const b = text.indexOf(']', close + 1);
    if (b < a) return undefined;
    bounds.push(a, b);
    open = a;
    close = b;
  }

  let order = names === undefined ? undefined : roomOrders.get(names);
  // rooms come and go: past twice this answer's rooms (and some), start the names afresh
  if (names !== undefined && names.size > bounds.length + 1000) {
    names.clear();
    order = undefined;
  }
  if (order === undefined) {
    order = { known: new Map(), last: [], count: 0, next: [], attempt: 0 };
    if (names !== undefined) roomOrders.set(names, order);
  }
  const attempt = ++order.attempt;
  const { known, last, next } = order;
  const lastCount = order.count;
  // the room of the last answer expected next: most answers list the rooms of the one before in the
  // same order, give or take a room, so a name is first compared with the one expected there: no
  // hashing, no lookup (at 10,000 rooms ~2 ms a poll less than a lookup by name for each)
  let p = 0;

  let i = 0;
  while (isSpace(text.charCodeAt(i))) i++;
  if (text.charCodeAt(i++) !== 0x7b /* { */) return undefined;
  const rooms: string[] = [];
  let size = 0;
  for (let r = 0; r < bounds.length; r += 2) {
    const a = bounds[r]!;
    // `, "key" :` before this room's `[` (no comma before the first)
    while (isSpace(text.charCodeAt(i))) i++;
    if (r > 0 && text.charCodeAt(i++) !== 0x2c /* , */) return undefined;
    while (isSpace(text.charCodeAt(i))) i++;
    let k = a - 1;
    while (isSpace(text.charCodeAt(k))) k--;
    if (text.charCodeAt(k--) !== 0x3a /* : */) return undefined;
    while (isSpace(text.charCodeAt(k))) k--;
    if (k <= i || text.charCodeAt(i) !== 0x22 /* " */ || text.charCodeAt(k) !== 0x22) return undefined;
    let room: KnownRoom | undefined;
    // the expected room, or the one after it (the expected one emptied since)
    for (let q = p; q < p + 2 && q < lastCount; q++) {
      const was = last[q]!;
      // (a slice and === beat startsWith at a position, which compares a character at a time on Node 20)
      if (was.plain && was.name.length === k - i - 1 && text.slice(i + 1, k) === was.name) {
        room = was;
        p = q + 1;
        break;
      }
    }
    if (room === undefined) {
      const key = keyAt(text, i, k);
      if (key === undefined) return undefined;
      room = known.get(key);
      if (room === undefined) {
        const first = key.charCodeAt(0);
        if (first >= 0x30 && first <= 0x39) return undefined; // possibly integer-like: JSON.parse orders those first
        // `key` may be a view into the text (V8's slice of 13 characters or more), which would keep
        // the whole answer alive for as long as the tracker keeps the name: a room new to `names`
        // gets a string of its own
        let name = names?.get(key);
        if (name === undefined) {
          name = JSON.parse(text.slice(i, k + 1)) as string;
          names?.set(name, name);
        }
        room = { name, plain: isPlain(name), attempt: 0, index: -1 };
        known.set(name, room);
      } else if (room.index >= p && room.index < lastCount && last[room.index] === room) {
        // listed further on in the last answer: several rooms emptied since, or an order changed; go on from there
        p = room.index + 1;
      }
    }
    // (a room found in place is one of the last answer's, none twice; a repeat is caught all the same)
    if (room.attempt === attempt) return undefined; // the same key twice: JSON.parse would keep the last
    room.attempt = attempt;
    next[r >> 1] = room;
    rooms.push(room.name);
    // an empty list: nothing but whitespace between its brackets (the room is skipped, as an empty one is)
    let j = a + 1;
    while (isSpace(text.charCodeAt(j))) j++;
    if (j < bounds[r + 1]!) size++;
    else bounds[r] = -1;
    i = bounds[r + 1]! + 1;
  }
  while (isSpace(text.charCodeAt(i))) i++;
  if (text.charCodeAt(i++) !== 0x7d /* } */) return undefined;
  while (isSpace(text.charCodeAt(i))) i++;
  if (i !== text.length) return undefined;
  // read through: this answer's order is the one the next is compared with
  const count = bounds.length >> 1;
  for (let q = 0; q < count; q++) next[q]!.index = q;
  order.last = next;
  order.next = last;
  order.count = count;
  return new DeferredDomainEntries(text, rooms, bounds, size);
}

/**
 * The key whose quotes are at `from` and `to`, or undefined when that is not exactly one JSON
 * string. A plain key (no escape) is read as it is, as a slice of the text: fit for looking up,
 * not for keeping. JSON.parse reads the others.
 */
function keyAt(text: string, from: number, to: number): string | undefined {
  for (let j = from + 1; j < to; j++) {
    const c = text.charCodeAt(j);
    if (c === 0x22 /* " */) return undefined; // it ended before `to`: not one string
    if (c === 0x5c /* \ */ || c < 0x20) {
      try {
        const key: unknown = JSON.parse(text.slice(from, to + 1));
        return typeof key === 'string' ? key : undefined;
      } catch {
        return undefined;
      }
    }
  }
  return text.slice(from + 1, to);
}

/** What {@link splitDomainText} found: each room's list is parsed and checked when it is read. */
class DeferredDomainEntries implements DomainLists, Iterable<[string, readonly ParticipantEntry[]]> {
  readonly #text: string;
  readonly #rooms: string[];
  /** Each room's `[` and `]` positions, side by side; the `[` is -1 for an empty list. */
  readonly #bounds: number[];
  readonly size: number;

  constructor(text: string, rooms: string[], bounds: number[], size: number) {
    this.#text = text;
    this.#rooms = rooms;
    this.#bounds = bounds;
    this.size = size;
  }

  forEach(fn: (entries: readonly ParticipantEntry[], room: string) => void): void {
    const rooms = this.#rooms;
    for (let r = 0; r < rooms.length; r++) {
      if (this.#bounds[2 * r]! >= 0) fn(this.#list(r), rooms[r]!);
    }
  }

  *[Symbol.iterator](): IterableIterator<[string, readonly ParticipantEntry[]]> {
    for (let r = 0; r < this.#rooms.length; r++) {
      if (this.#bounds[2 * r]! >= 0) yield [this.#rooms[r]!, this.#list(r)];
    }
  }

  get text(): string {
    return this.#text;
  }

  forEachList(fn: (at: number, end: number, room: string) => void): void {
    const rooms = this.#rooms;
    const bounds = this.#bounds;
    for (let r = 0; r < rooms.length; r++) {
      if (bounds[2 * r]! >= 0) fn(bounds[2 * r]!, bounds[2 * r + 1]! + 1, rooms[r]!);
    }
  }

  readList(at: number, end: number, room: string): readonly ParticipantEntry[] {
    let parsed: unknown;
    try {
      parsed = JSON.parse(this.#text.slice(at, end));
    } catch {
      throw notJson('*', this.#text);
    }
    return checkEntries(parsed as unknown[], '*', room);
  }

  /** Room r's list, parsed now: a fresh array each time, which nobody else holds. */
  #list(r: number): readonly ParticipantEntry[] {
    return this.readList(this.#bounds[2 * r]!, this.#bounds[2 * r + 1]! + 1, this.#rooms[r]!);
  }
}

/**
 * A GET /presence answer that also gives each room's list as text ({@link parseDomainText}'s, when
 * the answer has the shape it reads room by room). A DomainTracker uses the text to skip parsing
 * a room whose list is the same as at the last poll but for durations ({@link sameButDurations}).
 */
export interface DomainLists extends DomainEntries {
  /** The answer's text. */
  readonly text: string;
  /** Each room with anyone in it: where its list is in `text` (from its `[` to just past its `]`), in the answer's order. */
  forEachList(fn: (at: number, end: number, room: string) => void): void;
  /** One of those lists parsed and checked: a retryable DailyApiError naming the answer when it is not JSON or an entry is malformed. */
  readList(at: number, end: number, room: string): readonly ParticipantEntry[];
}

/** Whether an answer gives its lists as text. */
export function hasLists(answer: DomainEntries): answer is DomainLists {
  return typeof (answer as Partial<DomainLists>).forEachList === 'function';
}

const DIGIT_0 = 0x30;
const DIGIT_9 = 0x39;

/** Where the run of digits at `i` ends (`i` itself when there is none). */
function digitsEnd(s: string, i: number): number {
  for (let c = s.charCodeAt(i); c >= DIGIT_0 && c <= DIGIT_9; c = s.charCodeAt(++i));
  return i;
}

/** Whether the digits from `from` to `to` are a whole number as JSON writes it, that reads exactly: 1–15 digits, no leading zero. */
function isWhole(s: string, from: number, to: number): boolean {
  const digits = to - from;
  return digits > 0 && digits <= 15 && (digits === 1 || s.charCodeAt(from) !== DIGIT_0);
}

/** The value of the digits from `from` to `to`. */
function wholeValue(s: string, from: number, to: number): number {
  let value = 0;
  for (let i = from; i < to; i++) value = value * 10 + (s.charCodeAt(i) - DIGIT_0);
  return value;
}

/**
 * Where each entry's duration is written in a list (`text` from `at` to `end`), when the text says
 * so beyond doubt; else undefined. The list parsed to `count` entries, each with a number for its
 * duration (the caller checked). The positions, in `text`, are where each entry's duration digits
 * start, entry by entry, for {@link sameButDurations}.
 *
 * Beyond doubt means: no backslash anywhere (so every `"` is a real string delimiter and every
 * key is written as it reads), and exactly `count` `"duration"` strings, each followed by a colon
 * and a whole number (digits only: no sign, fraction or exponent). Why that is enough: a
 * `"duration"` followed by a colon is a key; an entry with a number for its duration has at least
 * one such key inside it; there are as many keys as entries, so each entry holds exactly one (none
 * nested deeper, none repeated), and the k-th in the text is the k-th entry's own.
 */
export function durationSpots(text: string, at: number, end: number, count: number): number[] | undefined {
  const list = text.slice(at, end);
  if (list.indexOf('\\') >= 0) return undefined;
  const spots: number[] = [];
  for (let p = list.indexOf('duration"'); p >= 0; p = list.indexOf('duration"', p + 9)) {
    if (list.charCodeAt(p - 1) !== 0x22 /* " */) continue; // the end of a longer string
    let i = p + 9;
    while (isSpace(list.charCodeAt(i))) i++;
    if (list.charCodeAt(i++) !== 0x3a /* : */) return undefined; // a value, not a key
    while (isSpace(list.charCodeAt(i))) i++;
    const j = digitsEnd(list, i);
    const after = list.charCodeAt(j);
    if (j === i || after === 0x2e /* . */ || after === 0x65 /* e */ || after === 0x45 /* E */) return undefined;
    if (spots.push(at + i) > count) return undefined;
  }
  return spots.length === count ? spots : undefined;
}

/**
 * Whether the list in `next` (from `nextAt` to `nextEnd`) is the one in `text` (from `at` to `end`)
 * with nothing changed but the whole numbers at `spots` (from {@link durationSpots}). When it is,
 * JSON.parse of the new list gives exactly the old one's entries with those durations: `durations`
 * gets them, entry by entry, and `nextSpots` where they are written in `next` (its own spots).
 * Each new number must be written as JSON writes it: no leading zero, and at most 15 digits (so it
 * reads exactly). Compares a stretch at a time (one string comparison from one duration to the
 * next), never parsing anything.
 */
export function sameButDurations(
  text: string,
  at: number,
  end: number,
  spots: readonly number[],
  next: string,
  nextAt: number,
  nextEnd: number,
  durations: number[],
  nextSpots: number[],
): boolean {
  let p = at;
  let q = nextAt;
  for (let k = 0; k < spots.length; k++) {
    const spot = spots[k]!;
    const len = spot - p;
    if (next.slice(q, q + len) !== text.slice(p, spot)) return false;
    const start = q + len;
    q = Math.min(digitsEnd(next, start), nextEnd);
    if (!isWhole(next, start, q)) return false;
    durations[k] = wholeValue(next, start, q);
    nextSpots[k] = start;
    p = digitsEnd(text, spot);
  }
  return nextEnd - q === end - p && next.slice(q, nextEnd) === text.slice(p, end);
}

/** A list's text parsed and checked as a room's entries; undefined when it is not JSON or an entry is malformed. */
export function readEntries(list: string, room: string): readonly ParticipantEntry[] | undefined {
  try {
    const parsed: unknown = JSON.parse(list);
    return Array.isArray(parsed) ? checkEntries(parsed, '*', room) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Where each entry of a list ends (its closing brace), when every entry's duration is its last
 * member, as Daily writes them; else undefined. `spots` from {@link durationSpots}: the k-th is the
 * k-th entry's own duration key, so a `}` right after its number closes that entry.
 */
export function entryEnds(text: string, spots: readonly number[]): number[] | undefined {
  const ends: number[] = [];
  for (let k = 0; k < spots.length; k++) {
    let i = digitsEnd(text, spots[k]!);
    while (isSpace(text.charCodeAt(i))) i++;
    if (text.charCodeAt(i) !== 0x7d /* } */) return undefined;
    ends.push(i);
  }
  return ends;
}

/** What the last {@link oldEntryAt} or {@link oldEntryBefore} that matched read: the new duration and where it is written. */
let matchedValue = 0;
let matchedSpot = 0;

/**
 * Whether two stretches of `len` characters (`text` at `a`, `next` at `b`) differ at their 13th
 * character (or their last): in an entry written id first that is inside the id, so most old
 * entries tried at a place that is not theirs are turned away by two character reads, where the
 * full comparison makes two substrings first.
 */
function differsAt(text: string, a: number, next: string, b: number, len: number): boolean {
  const i = len > 12 ? 12 : len - 1;
  return i >= 0 && text.charCodeAt(a + i) !== next.charCodeAt(b + i);
}

/**
 * Whether old entry (`text` from `start` to its `}` at `close`, its duration's digits at `spot`) is
 * written in `next` at `q`, unchanged but for a whole number for its duration, within `limit`:
 * where it ends there (just past its `}`), or -1.
 */
function oldEntryAt(text: string, start: number, spot: number, close: number, next: string, q: number, limit: number): number {
  const len = spot - start;
  if (q + len > limit || differsAt(text, start, next, q, len) || next.slice(q, q + len) !== text.slice(start, spot)) return -1;
  const digitsAt = q + len;
  const r = Math.min(digitsEnd(next, digitsAt), limit);
  if (!isWhole(next, digitsAt, r)) return -1;
  const p = digitsEnd(text, spot);
  const rest = close + 1 - p;
  if (r + rest > limit || next.slice(r, r + rest) !== text.slice(p, close + 1)) return -1;
  matchedValue = wholeValue(next, digitsAt, r);
  matchedSpot = digitsAt;
  return r + rest;
}

/** The same as {@link oldEntryAt}, backwards: whether that old entry ends in `next` just before `v`, beginning at or after `floor`: where it begins there, or -1. */
function oldEntryBefore(text: string, start: number, spot: number, close: number, next: string, v: number, floor: number): number {
  const p = digitsEnd(text, spot);
  const rest = close + 1 - p;
  const r = v - rest;
  if (r < floor || next.slice(r, v) !== text.slice(p, close + 1)) return -1;
  let d = r;
  while (d > floor && next.charCodeAt(d - 1) >= DIGIT_0 && next.charCodeAt(d - 1) <= DIGIT_9) d--;
  if (!isWhole(next, d, r)) return -1;
  const len = spot - start;
  if (d - len < floor || differsAt(text, start, next, d - len, len) || next.slice(d - len, d) !== text.slice(start, spot)) return -1;
  matchedValue = wholeValue(next, d, r);
  matchedSpot = d;
  return d - len;
}

/**
 * What {@link splitAgainst} found: the new list as a sequence of items, in its order, each one an
 * old entry kept as it was but for its duration, or a stretch of other entries (a middle) to be
 * parsed on its own. The items are in the caller's `plan`: an old entry's index (≥ 0), or -1 for
 * a middle; the old indexes increase along the plan. `planSpots` holds, at a kept entry's place in
 * the plan, where its duration is written in the new text; `middles` each middle's text, as
 * [from, to) pairs in the new text, in order. Old entries not kept left, or are in a middle
 * (moved or changed).
 */
export interface ListSplit {
  /** Items in the plan. */
  items: number;
  /** How many of them are kept old entries. */
  kept: number;
  /** How many are middles. */
  middles: number;
}

/**
 * What {@link splitAgainst} read from the end of a list, back to front, before it goes in the
 * plan: written from the start each time (an array written far past its end turns into a slow
 * dictionary, as one written at twice a large room's length would).
 */
const tailKept: number[] = [];
const tailSpots: number[] = [];

/**
 * How many `}` past the start of a stretch are tried as its end, and how many of the old entries
 * after the last one kept are tried after each (and at each place once a stretch was found): a
 * few, so that a list with many stretches costs no more than a few comparisons a place.
 */
const RESYNC_ENDS = 8;
const RESYNC_ENTRIES = 4;

/**
 * A list (`next` from `nextAt` to `nextEnd`) read against the last one (`text` from `at` to `end`,
 * whose entries end at `ends` and have their durations at `spots`): which old entries it holds
 * unchanged but for durations, and the text of what lies between them, each stretch to be parsed
 * on its own ({@link ListSplit}). `durations` gets the kept entries' new durations, at the old
 * indexes (old entry k's at k). Undefined when the list does not read that way.
 *
 * Read from the end first: old entries each after a comma, then `]`, as far back as they go (at
 * each place, the last old entry before the one taken after it that is written there). Then from
 * the start up to there, with the old entries before those: at each place, the first old entry
 * after the last one taken that is written there is the one (old entries may be missing between:
 * people who left). Where none is, a stretch begins, which runs to the first of its next few `}`
 * followed by a comma and one of the next few old entries (people who joined or changed between
 * others), else to where the part read from the end begins. So the commonest changes cost one
 * stretch or none: someone gone from between, someone new at the end or between two of the kept.
 * A stretch is tried only where old entries are left to find.
 *
 * Exact for the same reason as {@link sameButDurations}: each old entry's text from its `{` to its
 * `}` is one complete JSON object, so the same text with another whole number for its duration is
 * that object with that duration, wherever it stands as a value. The new list is `[`, its items
 * joined by commas, and `]`, each kept entry such an object, so JSON.parse of it is the items'
 * values in order whenever each stretch parses as a list of its own (a stretch cut inside a
 * string does not: its quotes do not pair up).
 */
export function splitAgainst(
  text: string,
  at: number,
  end: number,
  spots: readonly number[],
  ends: readonly number[],
  next: string,
  nextAt: number,
  nextEnd: number,
  durations: number[],
  plan: number[],
  planSpots: number[],
  middles: number[],
): ListSplit | undefined {
  const n = spots.length;
  // the start of each old entry: the first non-space after `[`, or after the comma after the last one
  const startOf = (k: number): number => {
    let i = k === 0 ? at + 1 : text.indexOf(',', ends[k - 1]!) + 1;
    while (isSpace(text.charCodeAt(i))) i++;
    return i;
  };
  const last = nextEnd - 1; // at `]`
  if (next.charCodeAt(last) !== 0x5d /* ] */) return undefined;
  let first = nextAt + 1; // past `[`
  while (isSpace(next.charCodeAt(first))) first++;

  // From the end first: old entries each after a comma, then `]`, kept back to front for now
  let e = last - 1;
  while (isSpace(next.charCodeAt(e))) e--;
  let u = e + 1; // where the part read from the end begins: at the comma before it (or past the last entry)
  let tail = 0;
  let low = n; // the lowest old index read from the end
  /** Whether what was read from the end reaches back to the list's start (nothing before it). */
  let whole = false;
  for (let lastOld = n - 1; lastOld >= 0; ) {
    let v = u; // past this entry's `}`: before the comma found last (and any space before it)
    while (v > first && isSpace(next.charCodeAt(v - 1))) v--;
    let s = -1;
    let found = lastOld;
    for (; found >= 0; found--) {
      s = oldEntryBefore(text, startOf(found), spots[found]!, ends[found]!, next, v, first);
      if (s >= 0) break;
    }
    if (s < 0) break;
    // before it: a comma, or the list's start
    let b = s - 1;
    while (b >= first && isSpace(next.charCodeAt(b))) b--;
    if (b >= first && next.charCodeAt(b) !== 0x2c /* , */) break;
    durations[found] = matchedValue;
    tailKept[tail] = found;
    tailSpots[tail] = matchedSpot;
    tail++;
    low = found;
    lastOld = found - 1;
    if (b < first) {
      whole = true;
      break;
    }
    u = b;
  }
  // the part before it ends at its comma, or at `]` when nothing was read from the end
  const stop = tail > 0 ? u : last;

  // Then from the start, up to there, with the old entries before those: at each place, the first
  // old entry written there is the one; where none is, a stretch begins, which runs to the first of
  // its next few `}` followed by a comma and an old entry (or to `stop`)
  let items = 0;
  let kept = 0;
  let middleCount = 0;
  let middleAt = -1; // where the stretch being read began (-1: none)
  let comma = -1; // the last comma before q
  let q = first;
  let k = 0; // the first old entry not yet passed
  /** Whether the last thing read from the start is an old entry that ends right at `stop`. */
  let atStop = false;
  if (!whole) {
    while (q < stop) {
      let r = -1;
      let found = k;
      // every old entry left is tried until the first stretch (people who left, however many);
      // after it a few, or a list with many stretches would cost its length each time
      const until = middleCount === 0 && middleAt < 0 ? low : Math.min(low, k + RESYNC_ENTRIES);
      for (; found < until; found++) {
        r = oldEntryAt(text, startOf(found), spots[found]!, ends[found]!, next, q, stop);
        if (r >= 0) break;
      }
      if (r >= 0) {
        while (isSpace(next.charCodeAt(r))) r++;
        if (r === stop || next.charCodeAt(r) === 0x2c /* , */) {
          if (middleAt >= 0) {
            if (!stretch(next, middleAt, comma, middles, middleCount)) return undefined;
            plan[items++] = -1;
            middleCount++;
            middleAt = -1;
          }
          durations[found] = matchedValue;
          plan[items] = found;
          planSpots[items++] = matchedSpot;
          kept++;
          k = found + 1;
          if (r === stop) {
            q = stop;
            atStop = true;
            break;
          }
          comma = r;
          q = r + 1;
          while (isSpace(next.charCodeAt(q))) q++;
          continue;
        }
      }
      // no old entry here: a stretch begins (or goes on)
      if (middleAt < 0) middleAt = q;
      // with no old entry left to find before `stop`, it runs to there
      if (k >= low) break;
      let b = q;
      let resumed = false;
      for (let t = 0; t < RESYNC_ENDS && !resumed; t++) {
        b = next.indexOf('}', b + 1);
        if (b < 0 || b >= stop) break;
        let c = b + 1;
        while (isSpace(next.charCodeAt(c))) c++;
        if (c >= stop || next.charCodeAt(c) !== 0x2c /* , */) continue;
        let s = c + 1;
        while (isSpace(next.charCodeAt(s))) s++;
        for (let j = k; j < low && j < k + RESYNC_ENTRIES; j++) {
          if (oldEntryAt(text, startOf(j), spots[j]!, ends[j]!, next, s, stop) >= 0) {
            // the stretch ends at that comma; the loop takes the old entry there
            comma = c;
            q = s;
            resumed = true;
            break;
          }
        }
      }
      if (!resumed) break;
    }
    // what is left before `stop` is the last stretch; with none, the last old entry read must end
    // right there (`[A,]`, `[A,,B]` and `[,B]` are not JSON)
    if (middleAt < 0 && q < stop) middleAt = q;
    if (middleAt >= 0) {
      if (!stretch(next, middleAt, stop === last ? e + 1 : stop, middles, middleCount)) return undefined;
      plan[items++] = -1;
      middleCount++;
    } else if (!atStop) return undefined;
  }
  // then what was read from the end, in the list's order
  for (let i = tail - 1; i >= 0; i--) {
    plan[items] = tailKept[i]!;
    planSpots[items++] = tailSpots[i]!;
  }
  return { items, kept: kept + tail, middles: middleCount };
}

/** Record a stretch of other entries (`next` from `from` to `to`) as middle number `m`, when there is something in it (`[A,,B]` is not JSON). */
function stretch(next: string, from: number, to: number, middles: number[], m: number): boolean {
  let i = from;
  while (i < to && isSpace(next.charCodeAt(i))) i++;
  if (i >= to) return false;
  middles[2 * m] = from;
  middles[2 * m + 1] = to;
  return true;
}

/**
 * GET /rooms/:name/presence as {@link parseRoomText} reads it: the list a piece at a time, or the
 * answer parsed whole when the pieces do not settle it.
 */
export interface RoomText {
  readonly room: string;
  /**
   * Whether `pieces` will try: the text is of the plain shape, and large enough for reading it a
   * piece at a time to pay (at least {@link PIECEWISE_MIN_CHARS}). When not, read it with `whole()`.
   */
  readonly piecewise: boolean;
  /**
   * Hand the list's entries to `fn` a piece at a time, in order, each piece parsed and checked just
   * before; then the answer's `total_count` (the entries' number when absent) and how many entries
   * there were. Undefined when the pieces cannot settle the answer: a piece that is not JSON or holds
   * a malformed entry (or the answer is not `piecewise`). The answer may still be valid then, or the
   * error may lie elsewhere: read it with `whole()`, and take back whatever was done with the pieces
   * handed out so far.
   */
  pieces(fn: (entries: readonly ParticipantEntry[]) => void): { totalCount: number; count: number } | undefined;
  /** The answer parsed whole, as `parseRoomEntries(room, JSON.parse(text))`, with its errors. */
  whole(): RoomEntries;
}

/** A checked room answer as a RoomText that is only ever read whole (what a custom `PresenceClient` answers). */
export function wholeRoomText(answer: RoomEntries): RoomText {
  return { room: answer.room, piecewise: false, pieces: () => undefined, whole: () => answer };
}

/**
 * GET /rooms/:name/presence from the answer's text, its list parsed a piece at a time as it is
 * read (`pieces`), so the whole parsed answer never exists.
 *
 * Why: at 100,000 people the parsed answer (~30 MB) is larger than Node 20's young generation, so
 * even JSON.parse alone pays scavenges that copy what it has parsed so far, and the diff's
 * allocations while it is live bring on more. Read a piece at a time, each piece is garbage once
 * walked. BENCHMARKS.md's profile notes have the measurements.
 *
 * Only a large answer is read so ({@link PIECEWISE_MIN_CHARS}): below that it did not pay.
 *
 * The plain shape: `{"total_count": N, "data": [ … ]}` (either order, `total_count` optional, a
 * non-negative integer written plainly, whitespace between the tokens allowed), nothing else at the
 * top level. The head must hold no `[`, so the list opens at the text's first `[`, and the tail no
 * `]`, so it closes at the last. The list is cut at the comma of a `},{` (or `}, {`, or with a line
 * break between), about every
 * {@link PIECE_CHARS} characters. Such a cut may fall inside a string (a user name can hold `},{`):
 * the piece then does not parse, and it is tried again running on to a later cut, at least twice as
 * long each time (so a list that is not JSON costs a few tries, not one per cut). When every piece
 * parses on its own, JSON.parse of the whole text gives exactly these entries in this order: each
 * piece is a complete run of values, and JSON is read left to right, so a piece reads the same
 * within the whole list as alone (and a list that closes before the last `]` would leave a piece
 * that does not parse). So `pieces` never reports an answer wrongly; anything it cannot settle, it
 * leaves to `whole()`, whose result or error is the one JSON.parse and parseRoomEntries give.
 */
export function parseRoomText(room: string, text: string, sizes: RoomTextSizes = {}): RoomText {
  checkRoomName('parseRoomText', room);
  if (text === undefined) throw new TypeError("parseRoomText(room, text): the text is missing: the room's name goes first, then the answer's text");
  if (typeof text !== 'string') throw notText('parseRoomText', text, 'parseRoomEntries');
  return new PiecewiseRoomText(room, text, sizes.minChars ?? PIECEWISE_MIN_CHARS, sizes.pieceChars ?? PIECE_CHARS);
}

/** {@link parseRoomText}'s sizes, in characters of the text (the defaults are what measured best). */
export interface RoomTextSizes {
  /** The smallest text read a piece at a time. Default {@link PIECEWISE_MIN_CHARS}. */
  minChars?: number;
  /** About how much of the list goes into one piece. Default {@link PIECE_CHARS}. */
  pieceChars?: number;
}

/** About how many characters of the list go into one piece (~200 entries as Daily writes them). */
export const PIECE_CHARS = 48 * 1024;

/**
 * The smallest answer read a piece at a time: ~50,000 people as Daily writes them. Below it the
 * parsed answer fits Node 20's young generation with room to spare, and the pieces' own cost (each
 * one copied to parse, and what undo needs kept) made the diff ~5–10% slower at 10,000 and 40,000
 * people; from 60,000 up they made it faster, ~20% at 100,000 (BENCHMARKS.md's profile notes).
 */
export const PIECEWISE_MIN_CHARS = 12 * 1024 * 1024;

const WS = '[ \\t\\n\\r]*';
const COUNT = `"total_count"${WS}:${WS}(0|[1-9][0-9]{0,14})`;
/** The head of a plain room answer, up to the list's `[`: `{`, maybe `total_count` and a comma, then `"data":`. */
const ROOM_HEAD = new RegExp(`${WS}\\{${WS}(?:${COUNT}${WS},${WS})?"data"${WS}:${WS}\\[`, 'y');
/** The tail from the list's `]`: maybe a comma and `total_count`, then `}` and the end of the text. */
const ROOM_TAIL = new RegExp(`\\]${WS}(?:,${WS}${COUNT}${WS})?\\}${WS}$`, 'y');

/**
 * A successful match whose subject is a string of its own. V8 keeps the subject of the last
 * successful match (for the legacy `RegExp.input`, `RegExp.$_`): after ROOM_TAIL's, that was the
 * whole answer (21 MB at 100,000 people), alive until the next poll's match, so the scavenge the
 * next answer brought on promoted it, and a mark-compact had to clear it.
 */
const FORGET_SUBJECT = /^/;

/** Where the list of a plain room answer is (`{"total_count": n, "data": [...]}`, either order), or undefined. */
function roomShape(text: string): { from: number; to: number; totalCount: number | undefined } | undefined {
  try {
    ROOM_HEAD.lastIndex = 0;
    const head = ROOM_HEAD.exec(text);
    if (head === null) return undefined;
    const to = text.lastIndexOf(']');
    if (to < ROOM_HEAD.lastIndex) return undefined;
    ROOM_TAIL.lastIndex = to;
    const tail = ROOM_TAIL.exec(text);
    if (tail === null) return undefined;
    // given twice, JSON.parse would keep the second: left to it
    if (head[1] !== undefined && tail[1] !== undefined) return undefined;
    const count = head[1] ?? tail[1];
    return { from: ROOM_HEAD.lastIndex, to, totalCount: count === undefined ? undefined : Number(count) };
  } finally {
    FORGET_SUBJECT.test('');
  }
}

class PiecewiseRoomText implements RoomText {
  readonly room: string;
  readonly piecewise: boolean = false;
  readonly #text: string;
  /** The list's content: from just after its `[` to its `]`; `from` is -1 when the text is not of the plain shape. */
  readonly #from: number = -1;
  readonly #to: number = -1;
  readonly #totalCount: number | undefined;
  readonly #pieceChars: number;

  constructor(room: string, text: string, minChars: number, pieceChars: number) {
    this.room = room;
    this.#text = text;
    this.#pieceChars = Math.max(1, pieceChars);
    if (text.length < minChars) return;
    const shape = roomShape(text);
    if (shape === undefined) return;
    this.#totalCount = shape.totalCount;
    this.#from = shape.from;
    this.#to = shape.to;
    this.piecewise = true;
  }

  pieces(fn: (entries: readonly ParticipantEntry[]) => void): { totalCount: number; count: number } | undefined {
    const text = this.#text;
    const end = this.#to;
    let pos = this.#from;
    if (pos < 0) return undefined;
    let count = 0;
    while (pos < end) {
      let cut = end;
      let list: unknown[] | undefined;
      // a piece that fails is tried again at least twice as long: a cut inside a string is mended
      // by the first retry, and text that is not JSON costs a few retries (each parse copies its
      // piece), not one per cut to the end of the list
      for (let from = pos + this.#pieceChars; list === undefined; from = cut + Math.max(this.#pieceChars, cut - pos)) {
        cut = from < end ? cutAfter(text, from, end) : end;
        try {
          list = JSON.parse('[' + text.slice(pos, cut) + ']') as unknown[];
        } catch {
          // a cut inside a string, or not JSON: run on to a later cut, or leave it to whole()
          if (cut === end) return undefined;
        }
      }
      try {
        checkEntries(list, this.room);
      } catch {
        return undefined;
      }
      if (list.length > 0) fn(list as ParticipantEntry[]);
      count += list.length;
      pos = cut + 1; // past the comma
    }
    return { totalCount: this.#totalCount ?? count, count };
  }

  whole(): RoomEntries {
    return parseRoomEntries(this.room, parseJson(this.room, this.#text));
  }
}

/**
 * Where to cut the list at or after `from`: the index of the comma in the first `}`, `,`, maybe
 * whitespace, `{` (compact, or spaced out as `}, {` or one entry a line), or `end` when there is none
 * before it.
 */
function cutAfter(text: string, from: number, end: number): number {
  for (let b = text.indexOf('},', from); b >= 0 && b < end; b = text.indexOf('},', b + 2)) {
    let j = b + 2;
    while (isSpace(text.charCodeAt(j))) j++;
    if (text.charCodeAt(j) === 0x7b /* { */) return b + 1;
  }
  return end;
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
  checkRoomName('parseRoomPresence', room);
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
      // one line each: they go into messages a person reads, --once's last line on stderr included
      if (typeof r.error === 'string') out.type = oneLine(r.error.slice(0, 100)).trim();
      if (typeof r.info === 'string') out.info = oneLine(r.info.slice(0, 300)).trim();
      return out;
    }
  } catch {
    // not JSON: Daily's error bodies are JSON, a proxy's may not be
  }
  return {};
}
