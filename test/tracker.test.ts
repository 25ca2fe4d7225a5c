import { describe, expect, it } from 'vitest';
import type { ParticipantEntry } from '../src/daily/parse.js';
import { diffDomain, diffRoom, type DomainState, type RoomState } from '../src/diff.js';
import type { Participant, PresenceEvent } from '../src/events.js';
import { seededRandom } from '../src/simulator/random.js';
import { DomainTracker, RoomTracker } from '../src/tracker.js';
import { parseDomainText, parseJson, parseRoomEntries, parseRoomText, toParticipant, type DomainEntries, type DomainLists, type RoomText } from '../src/daily/parse.js';
import { DailyApiError } from '../src/daily/errors.js';
import { typeErrorOf } from './support/helpers.js';

// The watcher runs on RoomTracker/DomainTracker; diffRoom/diffDomain are the pure reference. These
// tests drive both with the same random snapshot sequences and require identical events (ids,
// order, payloads) and identical state after every snapshot.

const at = '2026-01-01T00:00:00.000Z';

function makeWorld(seed: number) {
  const random = seededRandom(seed);
  const int = (n: number) => Math.floor(random() * n);
  const pool = Array.from({ length: 40 }, (_, i) => `p-${i}`);
  const fields = () => ({
    userId: random() < 0.2 ? null : random() < 0.05 ? 42 : `u-${int(3)}`,
    userName: random() < 0.1 ? undefined : `name-${int(4)}`,
    mtgSessionId: random() < 0.05 ? null : `m-${int(2)}`,
    // times before and after the initialBefore the tests give, and text that is no time
    joinTime: random() < 0.05 ? { not: 'a string' } : random() < 0.3 ? `t-${int(2)}` : new Date(Date.UTC(2026, 0, 1, 0, int(4))).toISOString(),
  });
  const people = new Map<string, Record<string, unknown>>(pool.map((id) => [id, { id, ...fields() }]));
  let order: string[] = [];
  /** The next raw snapshot: people join and leave, some change fields, durations tick, the order mostly holds. */
  return function snapshot(): { entries: ParticipantEntry[]; complete: boolean } {
    order = order.filter(() => random() > 0.15);
    for (const id of pool) if (!order.includes(id) && random() < 0.1) order.splice(int(order.length + 1), 0, id);
    if (random() < 0.2 && order.length > 1) {
      const i = int(order.length);
      const j = int(order.length);
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    if (random() < 0.1) order.reverse();
    const entries: ParticipantEntry[] = order.map((id) => {
      if (random() < 0.15) people.set(id, { ...people.get(id)!, ...fields() });
      const d = random();
      return { ...people.get(id)!, id, room: 'r', duration: d < 0.1 ? 'NaN' : d < 0.15 ? Infinity : int(1000) } as ParticipantEntry;
    });
    // an id listed twice, with different fields: the first one counts
    if (random() < 0.1 && entries.length) entries.splice(int(entries.length + 1), 0, { ...entries[int(entries.length)]!, userName: 'dup', duration: 1 });
    const complete = random() > 0.15;
    return { entries: complete ? entries : entries.slice(0, int(entries.length + 1)), complete };
  };
}

describe('RoomTracker', () => {
  it.each([1, 2, 3, 4, 5, 6, 7, 8])('gives exactly the events and state of diffRoom over random snapshots (seed %i)', (seed) => {
    const next = makeWorld(seed);
    const tracker = new RoomTracker('r');
    // the same snapshots, each list given away (`consume`): the same events, and the list emptied
    const consuming = new RoomTracker('r');
    let state: RoomState | undefined;
    const counts = new Map<string, number>();
    let events = 0;
    let laterInitial = 0;
    for (let poll = 0; poll < 300; poll++) {
      const { entries, complete } = next();
      // every third poll, as the watcher after a partial answer: joins of people there before 00:02 are initial
      const opts = { at: `${at}#${poll}`, initial: true, ...(poll % 3 === 2 ? { initialBefore: Date.UTC(2026, 0, 1, 0, 2) } : {}) };
      const expected = diffRoom(state, { room: 'r', participants: entries.map(toParticipant), complete }, opts, counts);
      const given = [...entries];
      const got = tracker.apply(entries, complete, opts);
      expect(got).toEqual(expected.events);
      expect(consuming.apply(given, complete, { ...opts, consume: true })).toEqual(got);
      expect(given.every((e) => e === undefined)).toBe(true);
      expect(given).toHaveLength(entries.length);
      expect(consuming.participants()).toEqual(tracker.participants());
      state = expected.next;
      expect(tracker.participants()).toEqual([...state.values()]);
      expect(tracker.size).toBe(state.size);
      expect(tracker.updateCounts()).toEqual(Object.fromEntries(counts));
      events += got.length;
      if (poll > 0) laterInitial += got.filter((e) => e.type === 'join' && e.initial).length;
    }
    expect(events).toBeGreaterThan(300); // the sequence really exercised joins, leaves and updates
    expect(laterInitial).toBeGreaterThan(5); // and joins after the first snapshot marked initial by their joinTime
    expect(Math.max(...counts.values())).toBeGreaterThan(1); // and people updated more than once
  });

  it("lastListedAt: Daily's clock when the people tracked were last listed (the latest join time + duration), undefined with nobody or no readable time", () => {
    const t = new RoomTracker('r');
    expect(t.lastListedAt()).toBeUndefined();
    t.apply([{ id: 'a', joinTime: '2026-01-01T10:00:00.000Z', duration: 90 }, { id: 'b', joinTime: '2026-01-01T10:01:00.000Z', duration: 45 }, { id: 'c', joinTime: 'soon', duration: 5 }, { id: 'd', joinTime: '2026-01-01T11:00:00.000Z', duration: null }], true, { at });
    expect(t.lastListedAt()).toBe(Date.UTC(2026, 0, 1, 10, 1, 45));
    // a later answer's durations move it on; a saved state gives it back
    t.apply([{ id: 'a', joinTime: '2026-01-01T10:00:00.000Z', duration: 200 }], true, { at });
    expect(t.lastListedAt()).toBe(Date.UTC(2026, 0, 1, 10, 3, 20));
    expect(new RoomTracker('r', t.participants()).lastListedAt()).toBe(Date.UTC(2026, 0, 1, 10, 3, 20));
    t.apply([], true, { at });
    expect(t.lastListedAt()).toBeUndefined();
  });

  it('listed: whether the last answer listed someone (not one a partial answer left out, nor one gone, nor one only restored)', () => {
    const t = new RoomTracker('r', [toParticipant({ id: 'saved' })]);
    expect(t.listed('saved')).toBe(false);
    t.apply([{ id: 'a' }, { id: 'b' }, { id: 'saved' }], true, { at });
    expect(['a', 'b', 'saved', 'nobody'].map((id) => t.listed(id))).toEqual([true, true, true, false]);
    t.apply([{ id: 'a' }], false, { at }); // partial: b and saved are kept, not listed
    expect(['a', 'b', 'saved'].map((id) => t.listed(id))).toEqual([true, false, false]);
    expect(t.size).toBe(3);
    t.apply([{ id: 'b' }], true, { at }); // whole: a and saved left
    expect(['a', 'b', 'saved'].map((id) => t.listed(id))).toEqual([false, true, false]);
  });

  it('resumes from a saved state like diffRoom from that state', () => {
    const saved: Participant[] = [toParticipant({ id: 'a', userName: 'A' }), toParticipant({ id: 'b', userName: 'B' })];
    const tracker = new RoomTracker('r', saved);
    expect(tracker.primed).toBe(true);
    const entries = [{ id: 'b', userName: 'B2' }, { id: 'c' }];
    const got = tracker.apply(entries, true, { at, initial: true });
    const expected = diffRoom(new Map(saved.map((p) => [p.id, p])), { room: 'r', participants: entries.map(toParticipant), complete: true }, { at, initial: true });
    expect(got).toEqual(expected.events);
    expect(got.map((e) => `${e.type}:${e.participant.id}`)).toEqual(['update:b', 'join:c', 'leave:a']);
    expect('initial' in got[1]!).toBe(false);
  });

  it('repeatedIdRooms names the rooms whose last snapshot listed an id twice (the first listing counted), and is empty after one that did not', () => {
    const room = new RoomTracker('r');
    expect(room.repeatedIdRooms).toEqual([]);
    const twice = [{ id: 'a', userName: 'A' }, { id: 'b' }, { id: 'a', userName: 'A again' }];
    expect(room.apply(twice, true, { at }).map((e) => `${e.type}:${e.participant.userName}`)).toEqual(['join:A', 'join:null']);
    expect(room.repeatedIdRooms).toEqual(['r']);
    room.apply(twice.slice(0, 2), true, { at });
    expect(room.repeatedIdRooms).toEqual([]);
    const domain = new DomainTracker();
    const text = JSON.stringify({ x: [{ id: 'a' }], y: [{ id: 'b' }, { id: 'b' }], z: [{ id: 'c' }, { id: 'c' }] });
    domain.apply(parseDomainText(text), { at });
    expect(domain.repeatedIdRooms).toEqual(['y', 'z']);
    domain.apply(parseDomainText(JSON.stringify({ x: [{ id: 'a' }] })), { at });
    expect(domain.repeatedIdRooms).toEqual([]);
  });

  it('counts each person\'s updates, so a change back and forth gets new ids; resumed with updateCounts() it goes on counting', () => {
    const tracker = new RoomTracker('r');
    const name = (userName: string) => [{ id: 'a', userName }, { id: 'b', userName: 'B' }];
    tracker.apply(name('Ann'), true, { at });
    const ids = ['Ann (away)', 'Ann', 'Ann (away)'].map((n) => tracker.apply(name(n), true, { at })[0]!.id);
    expect(new Set(ids).size).toBe(3);
    expect(tracker.updateCounts()).toEqual({ a: 3 });
    // a tracker resumed from the saved people and counts gives the id the running one gives
    const resumed = new RoomTracker('r', tracker.participants(), tracker.updateCounts());
    const next = tracker.apply(name('Ann'), true, { at });
    expect(resumed.apply(name('Ann'), true, { at })).toEqual(next);
    expect(next[0]!.id).not.toBe(ids[1]); // Ann (away) → Ann, the second time
    // a saved count that is not one (a hand-edited file) counts as none
    expect(new RoomTracker('r', tracker.participants(), { a: -2, b: 1.5 }).updateCounts()).toEqual({});
    const domain = new DomainTracker([['r', tracker.participants()], ['__proto__', [toParticipant({ id: 'z' })]]], undefined, JSON.parse('{"r": {"a": 4}, "__proto__": {"z": 2}}'));
    expect(domain.updateCounts()).toEqual(JSON.parse('{"r": {"a": 4}, "__proto__": {"z": 2}}'));
    expect(Object.keys(domain.updateCounts())).toEqual(['r', '__proto__']);
  });

  it("a caller's slip (the answer instead of its entries, options missing or misspelt) is a TypeError naming it, before anything changes", () => {
    const tracker = new RoomTracker('r');
    const answer = parseRoomEntries('r', { total_count: 1, data: [{ id: 'a' }] });
    const call = typeErrorOf;
    const t = tracker as unknown as { apply: (...args: unknown[]) => unknown; applyText: (...args: unknown[]) => unknown };
    // before: "Cannot read properties of undefined (reading 'initial')" from inside, or a string walked as a list
    expect(call(() => t.apply(answer, { at }))).toMatch(/entries must be an array of checked entries, not an object \(an answer of parseRoomEntries\? give its \.entries and \.complete\)/);
    expect(call(() => t.apply(answer.entries, { at }))).toMatch(/complete must be true or false/);
    expect(call(() => t.apply(answer.entries, true))).toMatch(/RoomTracker\.apply: options must be \{ at, initial\?, consume\? \}/);
    expect(call(() => t.apply(answer.entries, true, { now: 1 }))).toBe('RoomTracker.apply: unknown option "now"');
    expect(call(() => t.apply(answer.entries, true, { at: Date.now() }))).toMatch(/options\.at must be the ISO time .* not a number/);
    expect(call(() => t.apply(answer.entries, true, { at, initial: 'yes' }))).toMatch(/options\.initial must be true or false/);
    expect(call(() => t.apply(answer.entries, true, { at, initialBefore: '2026-01-01T00:00:00Z' }))).toBe('RoomTracker.apply: options.initialBefore must be a time in ms since the epoch, not the string "2026-01-01T00:00:00Z"');
    expect(call(() => t.applyText('{"data":[]}', { at }))).toMatch(/answer must be what parseRoomText .* returns/);
    const d = new DomainTracker() as unknown as { apply: (...args: unknown[]) => unknown };
    expect(call(() => d.apply({ a: [] }, { at }))).toMatch(/snapshot must be GET \/presence's answer checked .* \(the parsed body\? give parseDomainEntries\(body\)\)/);
    expect(call(() => d.apply(new Map([['a', [{ id: 'x' }]]])))).toMatch(/DomainTracker\.apply: options must be/);
    expect(tracker.primed).toBe(false);
    expect(tracker.apply(answer.entries, answer.complete, { at })).toHaveLength(1);
    // the constructors' saved state: before, a Record where pairs go was "saved is not iterable" from inside, and counts in a Map were taken as none
    const R = RoomTracker as unknown as new (...args: unknown[]) => RoomTracker;
    const D = DomainTracker as unknown as new (...args: unknown[]) => DomainTracker;
    expect(call(() => new R(['r']))).toBe("RoomTracker: room must be the room's name, not an array");
    expect(call(() => new R('r', { a: 1 }))).toMatch(/RoomTracker: saved must be its people/);
    expect(call(() => new R('r', [], new Map([['a', 1]])))).toMatch(/updates must be an object of participant id → count .* not a Map \(give Object\.fromEntries\(map\)\)/);
    expect(call(() => new D({ r: [] }))).toMatch(/\(a saved state's rooms\? give Object\.entries\(state\.rooms\)\)/);
    expect(call(() => new D([['r', []]], undefined, [1]))).toMatch(/DomainTracker: updates must be an object of room → participant id → count .* not an array/);
  });

  it('marks the joins of a first snapshot initial only when asked', () => {
    expect(new RoomTracker('r').apply([{ id: 'a' }], true, { at, initial: true })[0]).toMatchObject({ initial: true });
    expect(new RoomTracker('r').apply([{ id: 'a' }], true, { at })[0]).not.toHaveProperty('initial');
  });

  it('events carry their own participant objects: later polls never change an emitted event', () => {
    const tracker = new RoomTracker('r');
    const [join] = tracker.apply([{ id: 'a', userName: 'A', duration: 1 }], true, { at });
    const frozen = structuredClone(join);
    tracker.apply([{ id: 'a', userName: 'B', duration: 2 }], true, { at });
    tracker.apply([], true, { at });
    expect(join).toEqual(frozen);
  });

  it("a leave's participant never changes afterwards, even when its slot is reused or the same id comes back", () => {
    const tracker = new RoomTracker('r');
    tracker.apply([{ id: 'a', userName: 'A', duration: 1 }], true, { at });
    const [leave] = tracker.apply([], true, { at });
    expect(leave).toMatchObject({ type: 'leave', participant: { id: 'a', userName: 'A', duration: 1 } });
    const frozen = structuredClone(leave);
    tracker.apply([{ id: 'b', userName: 'B', duration: 5 }], true, { at }); // takes the freed slot
    tracker.apply([{ id: 'b', userName: 'B2', duration: 6 }, { id: 'a', userName: 'A2', duration: 7 }], true, { at });
    tracker.apply([{ id: 'a', userName: 'A3', duration: 8 }], true, { at });
    expect(leave).toEqual(frozen);
    expect(Object.keys(leave!.participant)).toEqual(['id', 'userId', 'userName', 'mtgSessionId', 'joinTime', 'duration']);
  });

  // DailyClient.getRoomText reads a large room's answer a piece of the list at a time: a piece that
  // is not JSON, or a malformed entry, surfaces after earlier pieces were walked. The tracker must
  // then undo them and read the answer whole: its events, or its error with the tracker as before
  it.each([31, 32, 33, 34])('applyText gives the events and state of apply on the answer parsed whole, broken answers included (seed %i)', (seed) => {
    const next = makeWorld(seed);
    const random = seededRandom(seed);
    const plain = new RoomTracker('r'); // each answer parsed whole
    const piecewise = new RoomTracker('r'); // the same answers read a piece at a time
    const undone = new Map<string, number>();
    for (let poll = 0; poll < 200; poll++) {
      const { entries, complete } = next();
      const list: unknown[] = [...entries];
      const where = Math.floor(random() * (list.length + 1));
      // a malformed entry; a piece that is not JSON; a valid answer with another member after the
      // list (the last piece then fails: read whole, it is fine); a `},{` in a name (cut there, mended)
      const kind = random() < 0.6 ? 'good' : (['entry', 'json', 'other', 'name'] as const)[Math.floor(random() * 4)]!;
      if (kind === 'entry') list.splice(where, 0, { ID: 'no id' });
      if (kind === 'json') list.splice(where, 0, { id: 'BROKEN' });
      if (kind === 'name' && where < list.length) list[where] = { ...(list[where] as object), userName: 'a},{"id":"x"},{b' };
      let text = JSON.stringify({ total_count: complete ? list.length : list.length + 3, data: list });
      if (kind === 'json') text = text.replace('"id":"BROKEN"}', '"id":"BROKEN",}');
      if (kind === 'other') text = `${text.slice(0, -1)},"other":[1]}`;
      const opts = { at: `${at}#${poll}`, initial: true };

      let want: PresenceEvent[] | Error;
      let wantComplete = false;
      try {
        const r = parseRoomEntries('r', parseJson('r', text));
        wantComplete = r.complete;
        want = plain.apply(r.entries, r.complete, opts);
      } catch (err) {
        want = err as Error;
      }
      const answer = parseRoomText('r', text, { minChars: 0, pieceChars: [1, 40, 300][poll % 3]! });
      let walked = 0;
      let declined = false;
      const counted: RoomText = {
        room: 'r',
        piecewise: answer.piecewise,
        pieces: (fn) => {
          const read = answer.pieces((l) => (walked++, fn(l)));
          declined = read === undefined;
          return read;
        },
        whole: () => answer.whole(),
      };
      if (want instanceof Error) {
        expect(() => piecewise.applyText(counted, { ...opts, consume: true })).toThrow(want.message);
      } else {
        const got = piecewise.applyText(counted, { ...opts, consume: true });
        expect(got.events).toEqual(want);
        expect(got.complete).toBe(wantComplete);
        expect(got.count).toBe(list.length);
      }
      expect(piecewise.participants()).toEqual(plain.participants());
      expect(piecewise.primed).toBe(plain.primed);
      if (declined && walked > 0) undone.set(kind, (undone.get(kind) ?? 0) + 1);
    }
    // snapshots were undone after pieces had been walked, for each way an answer can fail part way
    expect(undone.get('entry')).toBeGreaterThanOrEqual(3);
    expect(undone.get('json')).toBeGreaterThanOrEqual(3);
    expect(undone.get('other')).toBeGreaterThanOrEqual(3);
    expect(undone.has('name')).toBe(false); // a cut inside a name is mended, never undone
  });

  it('applyText: a RoomText whose pieces() throws part way leaves the tracker as before it', () => {
    const tracker = new RoomTracker('r');
    tracker.apply([{ id: 'a', userName: 'A', duration: 1 }, { id: 'b', duration: 1 }], true, { at });
    const before = tracker.participants();
    const broken: RoomText = {
      room: 'r',
      piecewise: true,
      pieces: (fn) => {
        fn([{ id: 'a', userName: 'A2', duration: 2 }, { id: 'c', duration: 2 }]);
        throw new Error('source broke');
      },
      whole: () => {
        throw new Error('not reached');
      },
    };
    expect(() => tracker.applyText(broken, { at })).toThrow('source broke');
    expect(tracker.participants()).toEqual(before);
    // and the next snapshot sees the same changes as new: c joins, a is renamed, b leaves
    const next = tracker.apply([{ id: 'a', userName: 'A2', duration: 3 }, { id: 'c', duration: 3 }], true, { at });
    expect(next.map((e) => `${e.type}:${e.participant.id}`)).toEqual(['update:a', 'join:c', 'leave:b']);
  });

  it('a leave carries the last-seen duration', () => {
    const tracker = new RoomTracker('r');
    tracker.apply([{ id: 'a', duration: 1 }], true, { at });
    tracker.apply([{ id: 'a', duration: 75 }], true, { at });
    expect(tracker.apply([], true, { at })[0]).toMatchObject({ type: 'leave', participant: { id: 'a', duration: 75 } });
  });
});

describe('DomainTracker', () => {
  const byRoom = (events: PresenceEvent[]) => {
    const out = new Map<string, PresenceEvent[]>();
    for (const e of events) out.set(e.room, [...(out.get(e.room) ?? []), e]);
    return out;
  };

  it.each(['a Map', 'its text'])('initialBefore by room, from the constructor: at the first snapshot only, a join in such a room of someone who joined before its time is initial (read from %s)', (form) => {
    const entry = (id: string, minutes: number): ParticipantEntry => ({ id, joinTime: new Date(Date.UTC(2026, 0, 1, 10, minutes)).toISOString(), duration: 5 });
    const line = Date.UTC(2026, 0, 1, 10, 30);
    const read = (body: Record<string, ParticipantEntry[]>): DomainEntries => (form === 'a Map' ? new Map(Object.entries(body)) : parseDomainText(JSON.stringify(body)));
    const tracker = new DomainTracker([['a', [toParticipant(entry('kept', 0))]], ['b', []]], ['a', 'b'], undefined, { a: line });
    const first = tracker.apply(read({ a: [entry('kept', 0), entry('before', 10), entry('after', 40)], b: [entry('b-before', 10)], c: [entry('c', 40)] }), { at, initial: true });
    // b has no time of its own, c was not watched (initial whatever its join time)
    expect(first.map((e) => `${e.room}/${e.participant.id}${'initial' in e ? ' (initial)' : ''}`)).toEqual(['a/before (initial)', 'a/after', 'b/b-before', 'c/c (initial)']);
    const second = tracker.apply(read({ a: [entry('kept', 0), entry('before', 10), entry('after', 40), entry('later-before', 5)], b: [entry('b-before', 10)], c: [entry('c', 40)] }), { at, initial: true });
    expect(second.map((e) => `${e.participant.id}${'initial' in e ? ' (initial)' : ''}`)).toEqual(['later-before']);
    const D = DomainTracker as unknown as new (...args: unknown[]) => DomainTracker;
    expect(typeErrorOf(() => new D([], undefined, undefined, { a: 'noon' }))).toBe('DomainTracker: initialBefore of room "a" must be a time in ms since the epoch, not the string "noon"');
    expect(typeErrorOf(() => new D([], undefined, undefined, new Map([['a', line]])))).toBe('DomainTracker: initialBefore must be an object of room → time in ms since the epoch, not a Map (give Object.fromEntries(map))');
  });

  // every room draws from the same ids (p-0 … p-39): the same id in two rooms is two people
  it.each([11, 12, 13, 14])('gives the events and state of diffDomain over random snapshots, per room in the same order (seed %i)', (seed) => {
    const rooms = ['a', 'b', 'c', 'd'].map((r, i) => [r, makeWorld(seed * 10 + i)] as const);
    const random = seededRandom(seed);
    const tracker = new DomainTracker();
    const consuming = new DomainTracker();
    let state: DomainState | undefined;
    const counts = new Map<string, Map<string, number>>();
    for (let poll = 0; poll < 200; poll++) {
      const snap = new Map<string, ParticipantEntry[]>();
      // GET /presence lists complete rooms and leaves out empty ones; the room order varies
      for (const [room, world] of random() < 0.5 ? rooms : [...rooms].reverse()) {
        const { entries } = world();
        if (entries.length && random() > 0.1) snap.set(room, entries);
      }
      const opts = { at: `${at}#${poll}`, initial: true };
      const expected = diffDomain(state, new Map([...snap].map(([r, es]) => [r, es.map(toParticipant)])), opts, counts);
      const given = new Map([...snap].map(([r, es]) => [r, [...es]]));
      const got = tracker.apply(snap, opts);
      expect(consuming.apply(given, { ...opts, consume: true })).toEqual(got);
      expect([...given.values()].every((es) => es.every((e) => e === undefined))).toBe(true);
      expect(consuming.rooms()).toEqual(tracker.rooms());
      expect(got).toHaveLength(expected.events.length);
      expect(byRoom(got)).toEqual(byRoom(expected.events));
      // across rooms: every join and update first, then every leave
      const firstLeave = got.findIndex((e) => e.type === 'leave');
      if (firstLeave >= 0) expect(got.slice(firstLeave).every((e) => e.type === 'leave')).toBe(true);
      state = expected.next;
      expect(tracker.rooms()).toEqual(new Map([...state].map(([r, s]) => [r, [...s.values()]])));
      expect(tracker.updateCounts()).toEqual(Object.fromEntries([...counts].map(([r, c]) => [r, Object.fromEntries(c)])));
    }
    expect(Math.max(...[...counts.values()].flatMap((c) => [...c.values()]))).toBeGreaterThan(1);
  });

  // DailyClient.getDomainEntriesDeferred parses GET /presence a room at a time, so a list that is not
  // JSON, or a malformed entry, surfaces part way through the walk: the tracker must undo what it did
  it.each([21, 22, 23, 24])('a snapshot that throws part way is undone: events and state as if it never came (seed %i)', (seed) => {
    const rooms = ['a', 'b', 'c', 'd'].map((r, i) => [r, makeWorld(seed * 10 + i)] as const);
    const random = seededRandom(seed);
    const snapshot = () => {
      const snap = new Map<string, ParticipantEntry[]>();
      for (const [room, world] of random() < 0.5 ? rooms : [...rooms].reverse()) {
        const { entries } = world();
        if (entries.length && random() > 0.1) snap.set(room, entries);
      }
      return snap;
    };
    const asText = (snap: Map<string, ParticipantEntry[]>) => JSON.stringify(Object.fromEntries(snap));
    const plain = new DomainTracker(); // sees only the good snapshots, as Maps
    const undoing = new DomainTracker(); // sees them as text read room by room, and broken ones between
    const kinds = new Map<string, number>();
    for (let poll = 0; poll < 150; poll++) {
      const opts = { at: `${at}#${poll}`, initial: true };
      if (random() < 0.4) {
        // a broken snapshot: room k's list has a bad entry, is not JSON, or the source throws there
        const broken = snapshot();
        const names = [...broken.keys()];
        if (names.length === 0) continue;
        const k = Math.floor(random() * names.length);
        const kind = ['entry', 'json', 'throw'][Math.floor(random() * 3)]!;
        kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
        let source: DomainEntries;
        if (kind === 'throw') {
          source = {
            size: broken.size,
            forEach: (fn) => {
              let i = 0;
              broken.forEach((list, room) => {
                if (i++ === k) throw new DailyApiError({ target: '*', code: 'DAILY_INVALID_RESPONSE', message: 'broken' });
                fn(list, room);
              });
            },
          };
        } else {
          const list = broken.get(names[k]!)!;
          list.splice(Math.floor(random() * (list.length + 1)), 0, { id: 'BROKEN', userName: 'x' });
          let text = asText(broken);
          text = kind === 'entry' ? text.replace('"id":"BROKEN"', '"ID":"BROKEN"') : text.replace('"userName":"x"}', '"userName":"x",}');
          source = parseDomainText(text);
          expect(source.constructor.name).toBe('DeferredDomainEntries'); // the error comes from the walk, not up front
        }
        expect(() => undoing.apply(source, { ...opts, consume: true })).toThrow(DailyApiError);
        expect(undoing.rooms()).toEqual(plain.rooms());
        expect(undoing.updateCounts()).toEqual(plain.updateCounts());
        expect(undoing.primed).toBe(plain.primed);
        continue;
      }
      const snap = snapshot();
      const got = undoing.apply(parseDomainText(asText(snap)), { ...opts, consume: true });
      expect(got).toEqual(plain.apply(snap, opts));
      expect(undoing.rooms()).toEqual(plain.rooms());
      expect(undoing.updateCounts()).toEqual(plain.updateCounts());
    }
    expect([...kinds.values()].every((n) => n >= 5)).toBe(true);
    expect(Object.keys(plain.updateCounts()).length).toBeGreaterThan(0);
  });

  // A room whose list reads as last time but for durations is not parsed (sameButDurations): its
  // people just take the new durations. Driven against a tracker given the same answers as Maps,
  // with the things that must stop that shortcut: a list that changed, an id listed twice or a
  // duration that is not a number (the room is then walked, and its next list must not be compared
  // with one from before), rooms listed in another order, an answer that fails part way (undone),
  // and an answer from a client that gives no text.
  it.each([41, 42, 43, 44])('a room listed as last time but for durations is not parsed, and ends as a walk would (seed %i)', (seed) => {
    const random = seededRandom(seed);
    const int = (n: number) => Math.floor(random() * n);
    const pick = <T,>(xs: readonly T[]): T => xs[int(xs.length)]!;
    const roomNames = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'];
    let seq = 0;
    type Person = { room: string; id: string; userName: string; duration?: unknown; extra?: unknown };
    const person = (room: string): Person => {
      const p: Person = { room, id: `${room}-${seq++}`, userName: `n-${int(5)}`, duration: int(2000) };
      // now and then someone with no duration, or with another "duration" nested in a field of theirs
      const v = random();
      if (v < 0.02) delete p.duration;
      else if (v < 0.04) p.extra = { duration: int(2000) };
      return p;
    };
    const tick = (p: Person): Person => (typeof p.duration === 'number' ? { ...p, duration: p.duration + (random() < 0.97 ? 15 : 100_000) } : p);
    const world = new Map<string, Person[]>(roomNames.map((r) => [r, Array.from({ length: 1 + int(4) }, () => person(r))]));
    let order = [...roomNames];
    const evolve = () => {
      if (random() < 0.1) order = [...order].sort(() => random() - 0.5);
      for (const r of roomNames) {
        let list = world.get(r)!.map(tick);
        const x = random();
        if (x < 0.04) list.push(person(r));
        else if (x < 0.08 && list.length) list.splice(int(list.length), 1);
        else if (x < 0.11 && list.length) {
          const k = int(list.length);
          list[k] = { ...list[k]!, userName: pick(['n-1', 'n-2', 'back\\slash', '"duration":1', 'n-3']) };
        } else if (x < 0.13 && list.length > 1) {
          const k = int(list.length - 1);
          [list[k], list[k + 1]] = [list[k + 1]!, list[k]!];
        } else if (x < 0.145) list = [];
        else if (x < 0.155 && list.length) list.push({ ...list[0]!, userName: 'listed twice' }); // until it leaves
        else if (x < 0.3 && !list.length) list = [person(r)];
        world.set(r, list);
      }
    };
    /**
     * What Daily lists: the world, now and then with something in one room for this answer only: an
     * id twice or a duration that is not a number, and as often someone renamed as well (the room
     * is back as before at the next answer, but for durations: it must not be compared with then).
     */
    const answer = () => {
      const body: Record<string, Person[]> = {};
      for (const r of order) {
        let list = world.get(r)!;
        const y = random();
        if (y < 0.06 && list.length) {
          const twice = { ...list[int(list.length)]!, userName: 'twice' };
          list = y < 0.015 ? [...list, twice] : y < 0.03 ? [twice, ...list] : list.map((p, i) => (i === 0 ? { ...p, duration: pick(['15', null, 1.5]) } : p));
          if (random() < 0.5) list = list.map((p, i) => (i === list.length - 1 ? { ...p, userName: 'for one answer' } : p));
        }
        if (list.length || random() < 0.1) body[r] = list;
      }
      return body;
    };
    const spaced = seed % 2 === 0; // Daily writes its answers one way: compact, or spaced out
    const write = (body: Record<string, Person[]>) => JSON.stringify(body, null, spaced ? 1 : undefined);
    const asMap = (text: string) => new Map(Object.entries(JSON.parse(text) as Record<string, ParticipantEntry[]>));

    const plain = new DomainTracker(); // every good answer, as a Map
    const texts = new DomainTracker(); // the same answers read from their text, and the broken ones between
    let listedRooms = 0;
    let parsedRooms = 0;
    let failed = 0;
    let fastAfterFailure = 0;
    let partly = 0;
    let lastFailed = false;
    for (let poll = 0; poll < 200; poll++) {
      evolve();
      const opts = { at: `${at}#${poll}`, initial: true };
      const body = answer();
      if (random() < 0.12 && Object.keys(body).length) {
        // a broken answer: one room's list has a bad entry or is not JSON; the world moves on
        const rooms = Object.keys(body);
        const k = int(rooms.length);
        body[rooms[k]!] = [...body[rooms[k]!]!, { room: rooms[k]!, id: 'BROKEN', userName: 'x', duration: 1 }];
        const text = write(body).replace(/"id": ?"BROKEN"/, random() < 0.5 ? '"ID":"BROKEN"' : '"id":"BROKEN",,');
        expect(() => texts.apply(parseDomainText(text), opts)).toThrow(DailyApiError);
        expect(texts.rooms()).toEqual(plain.rooms());
        failed++;
        lastFailed = true;
        continue;
      }
      const text = write(body);
      const want = plain.apply(asMap(text), opts);
      let got: PresenceEvent[];
      if (random() < 0.05) got = texts.apply(asMap(text), opts); // a client that gives no text
      else {
        const snapshot = parseDomainText(text);
        expect(snapshot.constructor.name).toBe('DeferredDomainEntries');
        const read = (snapshot as unknown as DomainLists).readList.bind(snapshot);
        let parsedNow = 0;
        const parsedWhole = new Set<string>();
        Object.assign(snapshot, { readList: (at: number, end: number, room: string) => (parsedNow++, parsedWhole.add(room), read(at, end, room)) });
        got = texts.apply(snapshot, opts);
        // a room with joins or updates that was not parsed whole: only what changed was
        for (const room of new Set(got.filter((e) => e.type !== 'leave').map((e) => e.room))) if (!parsedWhole.has(room)) partly++;
        const listed = [...asMap(text).values()].filter((l) => l.length > 0).length;
        listedRooms += listed;
        parsedRooms += parsedNow;
        if (lastFailed && parsedNow < listed) fastAfterFailure++;
      }
      lastFailed = false;
      expect(got).toEqual(want);
      expect(texts.rooms()).toEqual(plain.rooms()); // durations included
      expect(texts.listed).toEqual(plain.listed);
    }
    // the shortcut was taken for most rooms, and right after failed answers too
    expect(parsedRooms).toBeLessThan(listedRooms * 0.6);
    expect(failed).toBeGreaterThan(10);
    expect(fastAfterFailure).toBeGreaterThan(5);
    // and a room that changed was often read as its old head and tail and only the rest parsed
    expect(partly).toBeGreaterThan(15);
  });

  // The same for large rooms, where a changed room's middle is checked for the ids of the people
  // kept around it through the index (comparing every pair was quadratic): people leave from
  // between and join at the end or between, and now and then someone already listed is listed
  // again, renamed, for one answer, before their own entry: the walk takes the first one listed,
  // so a room whose middle holds someone of its tail must be walked whole.
  it.each([51, 52])('a large room that changed is read as its kept people and a middle, and ends as a walk would (seed %i)', (seed) => {
    const random = seededRandom(seed);
    const int = (n: number) => Math.floor(random() * n);
    let seq = 0;
    const person = () => ({ id: `p-${seq++}`, userName: `n-${int(5)}`, duration: int(2000) });
    let big = Array.from({ length: 100 }, person);
    const plain = new DomainTracker();
    const texts = new DomainTracker();
    let twice = 0;
    let partly = 0;
    for (let poll = 0; poll < 150; poll++) {
      big = big.map((p) => ({ ...p, duration: p.duration + 15 }));
      for (let k = int(4); k > 0 && big.length > 1; k--) big.splice(int(big.length), 1);
      for (let k = int(4); k > 0; k--) big.splice(random() < 0.6 ? big.length : int(big.length), 0, person());
      if (random() < 0.1) big[int(big.length)]!.userName = 'renamed';
      let listed = big;
      if (random() < 0.3) {
        // someone listed twice, for this answer only, with a newcomer or two: the copy earlier in the list than they are
        const who = big.length - 1 - int(Math.min(10, big.length));
        const where = int(who + 1);
        const copy = { ...big[who]!, userName: 'twice' };
        listed = [...big.slice(0, where), ...Array.from({ length: 1 + int(2) }, person), copy, ...big.slice(where)];
        twice++;
      }
      const text = JSON.stringify({ small: [{ id: 's', duration: poll }], big: listed });
      const opts = { at: `${at}#${poll}` };
      const want = plain.apply(new Map(Object.entries(JSON.parse(text) as Record<string, ParticipantEntry[]>)), opts);
      const snapshot = parseDomainText(text);
      const read = (snapshot as unknown as DomainLists).readList.bind(snapshot);
      let parsedBig = false;
      Object.assign(snapshot, { readList: (from: number, to: number, room: string) => ((parsedBig ||= room === 'big'), read(from, to, room)) });
      expect(texts.apply(snapshot, opts)).toEqual(want);
      expect(texts.rooms()).toEqual(plain.rooms());
      if (!parsedBig && poll > 0) partly++;
    }
    expect(twice).toBeGreaterThan(30);
    // most answers were read against the last one, not parsed whole
    expect(partly).toBeGreaterThan(50);
  });

  it('durations are read from the text only where every entry has exactly one: not from a nested one, not for someone with none', () => {
    const tracker = new DomainTracker();
    const text = (own: number) => `{"x":[{"id":"a","extra":{"duration":5},"duration":${own}},{"id":"b"}],"y":[{"id":"c","duration":1}]}`;
    tracker.apply(parseDomainText(text(6)), { at });
    expect(tracker.apply(parseDomainText(text(21)), { at })).toEqual([]);
    expect(tracker.rooms().get('x')!.map((p) => p.duration)).toEqual([21, null]);
  });

  it('a room that listed someone twice is walked again, not read as durations: nobody of the next room is taken for them', () => {
    const tracker = new DomainTracker();
    const text = (d: number) => `{"x":[{"id":"a","duration":${d}},{"id":"a","duration":${d}},{"id":"b","duration":${d}}],"y":[{"id":"c","duration":${d}}],"z":[{"id":"e","duration":${d}}]}`;
    tracker.apply(parseDomainText(text(1)), { at });
    expect(tracker.apply(parseDomainText(text(16)), { at })).toEqual([]);
    expect([...tracker.rooms()].map(([room, people]) => [room, people.map((p) => [p.id, p.duration])])).toEqual([
      ['x', [['a', 16], ['b', 16]]],
      ['y', [['c', 16]]],
      ['z', [['e', 16]]],
    ]);
  });

  it('a room first seen after the first snapshot has plain joins; a vanished room is all leaves', () => {
    const tracker = new DomainTracker();
    const first = tracker.apply(new Map([['a', [{ id: '1' }]]]), { at, initial: true });
    expect(first[0]).toMatchObject({ type: 'join', initial: true });
    const second = tracker.apply(new Map([['b', [{ id: '2' }]]]), { at, initial: true });
    expect(second.map((e) => [e.type, e.room, 'initial' in e])).toEqual([
      ['join', 'b', false],
      ['leave', 'a', false],
    ]);
  });
});
