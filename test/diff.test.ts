import { createHash } from 'node:crypto';
import murmur from 'murmurhash3js-revisited';
import { describe, expect, it } from 'vitest';
import { murmur3Id, murmur3IdPair } from '../src/util/murmur3.js';
import { applyEvents, diffDomain, diffRoom, eventId, joinAndLeaveIds, type RoomState } from '../src/diff.js';
import { TRACKED_FIELDS, type Participant } from '../src/events.js';
import { seededRandom } from '../src/simulator/random.js';
import { typeErrorOf } from './support/helpers.js';

const at = '2026-01-01T00:00:00.000Z';

function p(id: string, extra: Partial<Participant> = {}): Participant {
  return {
    id,
    userId: `u-${id}`,
    userName: `name-${id}`,
    mtgSessionId: 'mtg-1',
    joinTime: '2026-01-01T00:00:00.000Z',
    duration: 10,
    ...extra,
  };
}

function state(...ps: Participant[]): RoomState {
  return new Map(ps.map((x) => [x.id, x]));
}

describe('diffRoom', () => {
  it('a first snapshot is all joins, marked initial when asked', () => {
    const r = diffRoom(undefined, { room: 'a', participants: [p('1'), p('2')], complete: true }, { at, initial: true });
    expect(r.events.map((e) => [e.type, e.participant.id, 'initial' in e ? e.initial : undefined])).toEqual([
      ['join', '1', true],
      ['join', '2', true],
    ]);
    expect([...r.next.keys()]).toEqual(['1', '2']);
  });

  it('joins are not initial when not asked, or when there was a previous state', () => {
    const r1 = diffRoom(undefined, { room: 'a', participants: [p('1')], complete: true }, { at });
    expect('initial' in r1.events[0]!).toBe(false);
    const r2 = diffRoom(state(), { room: 'a', participants: [p('1')], complete: true }, { at, initial: true });
    expect('initial' in r2.events[0]!).toBe(false);
  });

  it('a vanished id is a leave carrying the last-seen participant', () => {
    const last = p('1', { userName: 'Last Name' });
    const r = diffRoom(state(last, p('2')), { room: 'a', participants: [p('2')], complete: true }, { at });
    expect(r.events).toHaveLength(1);
    expect(r.events[0]).toMatchObject({ type: 'leave', room: 'a', at, participant: last });
    expect([...r.next.keys()]).toEqual(['2']);
  });

  it('no change is no event, and duration ticking is never an update', () => {
    const r = diffRoom(state(p('1')), { room: 'a', participants: [p('1', { duration: 9999 })], complete: true }, { at });
    expect(r.events).toEqual([]);
    expect(r.next.get('1')!.duration).toBe(9999);
  });

  it.each(TRACKED_FIELDS)('a change of %s is an update with from/to', (field) => {
    const before = p('1');
    const after = p('1', { [field]: 'changed' });
    const r = diffRoom(state(before), { room: 'a', participants: [after], complete: true }, { at });
    expect(r.events).toEqual([
      {
        id: expect.any(String),
        type: 'update',
        room: 'a',
        at,
        participant: after,
        changes: { [field]: { from: before[field], to: 'changed' } },
      },
    ]);
  });

  it('several changed fields are one update', () => {
    const r = diffRoom(state(p('1')), { room: 'a', participants: [p('1', { userName: 'X', userId: null })], complete: true }, { at });
    expect(r.events).toHaveLength(1);
    const e = r.events[0]!;
    expect(e.type === 'update' && Object.keys(e.changes).sort()).toEqual(['userId', 'userName']);
  });

  it('a partial snapshot yields joins and updates but never leaves, and keeps the unseen', () => {
    const prev = state(p('1'), p('2'), p('3'));
    const r = diffRoom(prev, { room: 'a', participants: [p('2', { userName: 'new' }), p('4')], complete: false }, { at });
    expect(r.events.map((e) => `${e.type}:${e.participant.id}`).sort()).toEqual(['join:4', 'update:2']);
    expect([...r.next.keys()].sort()).toEqual(['1', '2', '3', '4']);
    expect(r.next.get('2')!.userName).toBe('new');
  });

  it('initialBefore: a later join of someone who joined before that time is marked initial (a partial answer had left them out); others are arrivals', () => {
    const prev = state(p('1'));
    const listed = [p('1'), p('2', { joinTime: '2026-01-01T09:59:59.000Z' }), p('3', { joinTime: '2026-01-01T10:00:00.000Z' }), p('4', { joinTime: null }), p('5', { joinTime: 'soon' })];
    const r = diffRoom(prev, { room: 'a', participants: listed, complete: true }, { at, initialBefore: Date.UTC(2026, 0, 1, 10) });
    expect(r.events.map((e) => `${e.participant.id}:${'initial' in e ? e.initial : '-'}`)).toEqual(['2:true', '3:-', '4:-', '5:-']);
    // without it, as before: every one an arrival
    expect(diffRoom(prev, { room: 'a', participants: listed, complete: true }, { at }).events.some((e) => 'initial' in e)).toBe(false);
    const domain = diffDomain(new Map([['a', prev]]), new Map([['a', listed]]), { at, initialBefore: Date.UTC(2026, 0, 1, 10) });
    expect(domain.events.map((e) => `${e.participant.id}:${'initial' in e ? e.initial : '-'}`)).toEqual(['2:true', '3:-', '4:-', '5:-']);
    for (const bad of ['2026-01-01', Number.NaN, Infinity]) {
      expect(() => diffRoom(prev, { room: 'a', participants: listed, complete: true }, { at, initialBefore: bad as number })).toThrow(/^diffRoom: opts\.initialBefore must be a time in ms since the epoch, not /);
    }
  });

  it('an id listed twice counts once', () => {
    const r = diffRoom(undefined, { room: 'a', participants: [p('1'), p('1', { userName: 'dup' })], complete: true }, { at });
    expect(r.events).toHaveLength(1);
    expect(r.next.get('1')!.userName).toBe('name-1');
  });

  it('does not mutate its inputs', () => {
    const prev = state(p('1'), p('2'));
    const participants = [p('2', { userName: 'x' }), p('3')];
    const copyPrev = structuredClone(prev);
    const copyNext = structuredClone(participants);
    diffRoom(prev, { room: 'a', participants, complete: true }, { at });
    expect(prev).toEqual(copyPrev);
    expect(participants).toEqual(copyNext);
  });
});

describe('event ids', () => {
  it('are deterministic for the same transition', () => {
    const a = diffRoom(state(p('1')), { room: 'r', participants: [p('2')], complete: true }, { at });
    const b = diffRoom(state(p('1')), { room: 'r', participants: [p('2')], complete: true }, { at: '2030-01-01T00:00:00.000Z' });
    expect(a.events.map((e) => e.id)).toEqual(b.events.map((e) => e.id));
  });

  it('differ by room, participant, type and changed values', () => {
    const ids = new Set([
      eventId('r', '1', 'join'),
      eventId('r', '1', 'leave'),
      eventId('r2', '1', 'join'),
      eventId('r', '2', 'join'),
      diffRoom(state(p('1')), { room: 'r', participants: [p('1', { userName: 'A' })], complete: true }, { at }).events[0]!.id,
      diffRoom(state(p('1')), { room: 'r', participants: [p('1', { userName: 'B' })], complete: true }, { at }).events[0]!.id,
      // the separator keeps ("ab","c") apart from ("a","bc")
      eventId('ab', 'c', 'join'),
      eventId('a', 'bc', 'join'),
    ]);
    expect(ids.size).toBe(8);
  });

  it('a change back and forth gets a new update id each time (the count of the session\'s updates is part of it from the second on), the same id again for the same state and counts', () => {
    const names = ['Ann', 'Ann (away)', 'Ann', 'Ann (away)', 'Ann'];
    const counts = new Map<string, number>();
    let prev = state(p('1', { userName: names[0] }));
    const ids: string[] = [];
    for (const name of names.slice(1)) {
      const before = new Map(counts);
      const r = diffRoom(prev, { room: 'r', participants: [p('1', { userName: name })], complete: true }, { at }, counts);
      // derived again from the same state and counts (a restart whose state lagged): the same id, for receivers to dedupe
      expect(diffRoom(prev, { room: 'r', participants: [p('1', { userName: name })], complete: true }, { at }, before).events[0]!.id).toBe(r.events[0]!.id);
      ids.push(r.events[0]!.id);
      prev = r.next;
    }
    // before, the third and fourth repeated the first and second: a receiver deduping by id dropped them
    expect(new Set(ids).size).toBe(4);
    expect(counts).toEqual(new Map([['1', 4]]));
    // the first update of a session keeps the id it had without a count (state files and receivers from before agree)
    expect(ids[0]).toBe(eventId('r', '1', 'update', 'userName\u0000Ann\u0000Ann (away)\u0000'));
    expect(ids[2]).toBe(eventId('r', '1', 'update', 'userName\u0000Ann\u0000Ann (away)\u0000#2'));
    // a leave drops the count; without counts every update is counted as the first
    diffRoom(prev, { room: 'r', participants: [], complete: true }, { at }, counts);
    expect(counts.size).toBe(0);
    const domainCounts = new Map([['r', new Map([['1', 3]])], ['gone', new Map([['9', 1]])]]);
    const d = diffDomain(new Map([['r', state(p('1', { userName: 'A' }))], ['gone', state(p('9'))]]), new Map([['r', [p('1', { userName: 'B' })]]]), { at }, domainCounts);
    expect(d.events.find((e) => e.type === 'update')!.id).toBe(eventId('r', '1', 'update', 'userName\u0000A\u0000B\u0000#3'));
    expect(domainCounts).toEqual(new Map([['r', new Map([['1', 4]])]]));
  });

  it('are evt_ + 22 base64url characters; joins and leaves use MurmurHash3 x86_128, updates SHA-256', () => {
    const join = eventId('room', 'id', 'join');
    expect(join).toMatch(/^evt_[A-Za-z0-9_-]{22}$/);
    // the documented construction, recomputed with an independent MurmurHash3 implementation
    const hex = murmur.x86.hash128(new Uint8Array(Buffer.from('room\u0000id\u0000join', 'utf16le')), 0);
    const digest = Buffer.from(hex, 'hex');
    for (let i = 0; i < 16; i += 4) digest.subarray(i, i + 4).reverse(); // words little-endian, as the C reference stores them
    expect(join).toBe(`evt_${digest.toString('base64url')}`);
    const update = eventId('room', 'id', 'update', 'userName\u0000a\u0000b\u0000');
    expect(update).toBe(`evt_${createHash('sha256').update('room\u0000id\u0000update\u0000userName\u0000a\u0000b\u0000').digest('base64url').slice(0, 22)}`);
  });

  it('our MurmurHash3 matches an independent implementation on any input (odd lengths, surrogates, empty parts, several blocks in a part)', () => {
    const random = seededRandom(99);
    const str = () => String.fromCharCode(...Array.from({ length: Math.floor(random() * 80) }, () => Math.floor(random() * 65536)));
    for (let i = 0; i < 500; i++) {
      const parts = [str(), str(), str()] as const;
      const hex = murmur.x86.hash128(new Uint8Array(Buffer.from(parts.join('\u0000'), 'utf16le')), 0);
      const digest = Buffer.from(hex, 'hex');
      for (let w = 0; w < 16; w += 4) digest.subarray(w, w + 4).reverse();
      expect(murmur3Id(...parts)).toBe(`evt_${digest.toString('base64url')}`);
    }
  });

  it('a join and leave id pair, computed together, equals the two computed apart (any prefix length and parity)', () => {
    const random = seededRandom(11);
    const str = () => String.fromCharCode(...Array.from({ length: Math.floor(random() * 60) }, () => Math.floor(random() * 65536)));
    for (let i = 0; i < 500; i++) {
      const [a, b, c, d] = [str(), str(), str(), str()];
      expect(murmur3IdPair(a, b, c, d)).toEqual([murmur3Id(a, b, c), murmur3Id(a, b, d)]);
    }
    expect(joinAndLeaveIds('room', 'id')).toEqual([eventId('room', 'id', 'join'), eventId('room', 'id', 'leave')]);
  });

  it('are unique across a long random run', () => {
    const random = seededRandom(7);
    let prev: RoomState | undefined;
    const seen = new Set<string>();
    let n = 0;
    let counter = 0;
    let people: Participant[] = [];
    for (let round = 0; round < 300; round++) {
      people = people.filter(() => random() > 0.1);
      people = people.map((x) => (random() < 0.05 ? { ...x, userName: `n${counter++}` } : x));
      for (let i = 0; i < 3; i++) people.push(p(`id${counter++}`));
      const r = diffRoom(prev, { room: 'r', participants: people, complete: true }, { at });
      for (const e of r.events) {
        expect(seen.has(e.id)).toBe(false);
        seen.add(e.id);
        n++;
      }
      prev = r.next;
    }
    expect(n).toBeGreaterThan(900);
  });
});

describe('property: applying the events to the previous state yields the next snapshot', () => {
  const view = (s: RoomState) =>
    [...s.values()].map((x) => [x.id, ...TRACKED_FIELDS.map((f) => x[f])]).sort((a, b) => String(a[0]).localeCompare(String(b[0])));

  for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
    it(`seed ${seed}`, () => {
      const random = seededRandom(seed);
      const pick = <T,>(xs: T[]) => xs[Math.floor(random() * xs.length)]!;
      let prev: RoomState = new Map();
      for (let round = 0; round < 200; round++) {
        const next: Participant[] = [];
        for (const x of prev.values()) {
          const r = random();
          if (r < 0.15) continue; // left
          if (r < 0.3) next.push({ ...x, [pick([...TRACKED_FIELDS])]: random() < 0.2 ? null : `v${Math.floor(random() * 5)}` });
          else next.push({ ...x, duration: (x.duration ?? 0) + 15 });
        }
        const joins = Math.floor(random() * 4);
        for (let i = 0; i < joins; i++) next.push(p(`s${seed}-${round}-${i}`));
        // shuffle: order must not matter
        next.sort(() => random() - 0.5);
        const r = diffRoom(prev, { room: 'room', participants: next, complete: true }, { at });
        expect(view(applyEvents(prev, r.events))).toEqual(view(new Map(next.map((x) => [x.id, x]))));
        expect(view(r.next)).toEqual(view(new Map(next.map((x) => [x.id, x]))));
        prev = r.next;
      }
    });
  }
});

describe('diffDomain', () => {
  it('a room that vanishes from GET /presence means everyone in it left', () => {
    const prev = new Map([
      ['a', state(p('1'), p('2'))],
      ['b', state(p('3'))],
    ]);
    const r = diffDomain(prev, new Map([['b', [p('3')]]]), { at });
    expect(r.events.map((e) => `${e.type}:${e.room}:${e.participant.id}`).sort()).toEqual(['leave:a:1', 'leave:a:2']);
    expect([...r.next.keys()]).toEqual(['b']);
  });

  it('first domain snapshot: initial joins; later a new room: plain joins', () => {
    const r1 = diffDomain(undefined, new Map([['a', [p('1')]]]), { at, initial: true });
    expect(r1.events[0]).toMatchObject({ type: 'join', room: 'a', initial: true });
    const r2 = diffDomain(r1.next, new Map([['a', [p('1')]], ['b', [p('2')]]]), { at, initial: true });
    expect(r2.events).toHaveLength(1);
    expect(r2.events[0]).toMatchObject({ type: 'join', room: 'b' });
    expect('initial' in r2.events[0]!).toBe(false);
  });

  it('the same person in two rooms is tracked per room', () => {
    const r = diffDomain(new Map([['a', state(p('1'))]]), new Map([['b', [p('1')]]]), { at });
    expect(r.events.map((e) => `${e.type}:${e.room}`).sort()).toEqual(['join:b', 'leave:a']);
  });
});

describe("the reference diff and the room parsers name a caller's slip", () => {
  const call = typeErrorOf;
  const room = { room: 'r', participants: [p('a')], complete: true };

  it('diffRoom, diffDomain and applyEvents, each argument', () => {
    const anyRoom = diffRoom as unknown as (...a: unknown[]) => unknown;
    const anyDomain = diffDomain as unknown as (...a: unknown[]) => unknown;
    const anyApply = applyEvents as unknown as (...a: unknown[]) => unknown;
    // before: events stamped `at: undefined`, "prev.get is not a function", "snapshot is not iterable"
    expect(call(() => anyRoom(undefined, room, {}))).toBe('diffRoom: opts must be { at, initial? }, at the ISO time the events are stamped with (new Date().toISOString()); at is undefined');
    expect(call(() => anyRoom(undefined, room, { at: Date.now() }))).toMatch(/; at is a number$/);
    expect(call(() => anyRoom({ a: p('a') }, room, { at }))).toBe('diffRoom: prev must be the last result\'s next (a Map) or undefined for a first snapshot, not an object');
    expect(call(() => anyRoom(undefined, [p('a')], { at }))).toMatch(/^diffRoom: snapshot must be \{ room, participants, complete \} .* not an array \(the participants alone\?\)$/);
    expect(call(() => anyRoom(undefined, { room: 'r', participants: [] }, { at }))).toMatch(/snapshot must be \{ room, participants, complete \}/);
    expect(call(() => anyRoom(undefined, room, { at }, { a: 1 }))).toBe('diffRoom: updates must be a Map of update counts (kept in place), or left out, not an object');
    expect(call(() => anyDomain(undefined, { r: [p('a')] }, { at }))).toMatch(/^diffDomain: snapshot must be a Map of room name → participants, not an object \(a parsed body\?/);
    expect(call(() => anyDomain(new Map(), new Map(), undefined))).toMatch(/^diffDomain: opts must be/);
    expect(call(() => anyApply({}, []))).toMatch(/^applyEvents: state must be a room's state \(a Map of participant id → participant\), not an object$/);
    expect(call(() => anyApply(new Map(), new Map()))).toBe('applyEvents: events must be an array of events, not a Map');
    // an entry that is no event: "Cannot read properties of null (reading 'type')" before
    expect(call(() => anyApply(new Map(), [null]))).toBe('applyEvents: events[0] must be a presence event (as the watcher emits), not null');
    expect(call(() => anyApply(new Map(), [{ type: 'leave', id: 'evt_1', room: 'r', at, participant: { id: 'a' } }, { type: 'join', participant: p('b') }]))).toBe(
      'applyEvents: events[1] must be a presence event (as the watcher emits): its id is undefined, not a string',
    );
    // right, they run as before
    expect(diffRoom(undefined, room, { at }).events).toHaveLength(1);
    expect(diffDomain(undefined, new Map([['r', [p('a')]]]), { at }).events).toHaveLength(1);
  });

  it('eventId, toParticipant, encodeRoomSegment and parseDomainText, each given something else', async () => {
    const { toParticipant, parseDomainText } = await import('../src/daily/parse.js');
    const { encodeRoomSegment } = await import('../src/daily/client.js');
    const any = (f: unknown) => f as (...a: unknown[]) => unknown;
    // before: "s.charCodeAt is not a function", "Cannot read properties of null (reading 'id')",
    // "Cannot read properties of null (reading 'size')"
    expect(call(() => any(eventId)('r', 42, 'join'))).toBe('eventId(room, participantId, type, detail?): participantId must be a string, not a number');
    expect(call(() => any(eventId)('r', 'a', 'update', { userName: 'x' }))).toBe('eventId(room, participantId, type, detail?): detail must be a string, not an object');
    expect(call(() => any(toParticipant)(null))).toBe("toParticipant: the entry must be a participant entry of Daily's answer (an object with an id), not null");
    expect(call(() => any(encodeRoomSegment)(7))).toBe('encodeRoomSegment: room must be a string, not a number');
    expect(call(() => any(parseDomainText)('{}', {}))).toBe('parseDomainText(text, names?): names must be a Map (kept from one answer to the next), not an object');
    // right, as before
    expect(eventId('r', 'a', 'join')).toMatch(/^evt_[\w-]{22}$/);
    expect(toParticipant({ id: 'a' })).toEqual({ id: 'a', userId: null, userName: null, mtgSessionId: null, joinTime: null, duration: null });
    expect(encodeRoomSegment('..')).toBe('%2E%2E');
    expect([...parseDomainText('{}', new Map())]).toEqual([]);
  });

  it('parseRoomEntries, parseRoomPresence and parseRoomText given the body first', async () => {
    const { parseRoomEntries, parseRoomPresence, parseRoomText } = await import('../src/daily/parse.js');
    const body = { total_count: 0, data: [] };
    // before: 'invalid response from Daily for room "[object Object]": body is not a JSON object', blaming Daily
    const anyEntries = parseRoomEntries as unknown as (...a: unknown[]) => unknown;
    const anyPresence = parseRoomPresence as unknown as (...a: unknown[]) => unknown;
    const anyText = parseRoomText as unknown as (...a: unknown[]) => unknown;
    expect(call(() => anyEntries(body))).toBe("parseRoomEntries(room, …): room must be the room's name, not an object (the answer goes second)");
    expect(call(() => anyPresence(body))).toBe("parseRoomPresence(room, …): room must be the room's name, not an object (the answer goes second)");
    expect(call(() => anyText('{"data":[]}'))).toBe("parseRoomText(room, text): the text is missing: the room's name goes first, then the answer's text");
    expect(call(() => anyText({ data: [] }, '{"data":[]}'))).toBe("parseRoomText(room, …): room must be the room's name, not an object (the answer goes second)");
    expect(parseRoomPresence('r', body).participants).toEqual([]);
  });
});
