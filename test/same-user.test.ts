import { describe, expect, it } from 'vitest';
import { joinEvent, leaveEvent, updateEvent } from '../src/diff.js';
import type { Participant, PresenceEvent } from '../src/events.js';
import { LeaveGrace } from '../src/grace.js';
import { samePerson, SameUser } from '../src/same-user.js';

const AT = '2026-11-27T09:00:00.000Z';
const person = (id: string, userId: string | null, userName = 'Ann'): Participant => ({ id, userId, userName, mtgSessionId: null, joinTime: null, duration: 0 });
const join = (p: Participant, room = 'standup') => joinEvent(room, p, AT, false);
const leave = (p: Participant, room = 'standup') => leaveEvent(room, p, AT);
/** type:session(=sameUserAs) for each event */
const seen = (events: readonly PresenceEvent[]) =>
  events.map((e) => `${e.type}:${e.participant.id}${e.type !== 'update' && e.sameUserAs !== undefined ? `=${e.sameUserAs}` : ''}`);

describe('SameUser: joins and leaves of someone who stays in the room', () => {
  it('a second session of the same userId (reconnect before the old one timed out, or a second device) is marked, and so is the end of either while the other is there', () => {
    const s = new SameUser();
    const a1 = person('a1', 'u-ann');
    const a2 = person('a2', 'u-ann');
    expect(seen(s.mark([join(a1)]))).toEqual(['join:a1']);
    expect(seen(s.mark([join(a2)]))).toEqual(['join:a2=a1']);
    expect(seen(s.mark([leave(a1)]))).toEqual(['leave:a1=a2']);
    // the last session's end: the person leaves
    expect(seen(s.mark([leave(a2)]))).toEqual(['leave:a2']);
    expect(s.size).toBe(0);
  });

  it('both in one poll, in either order: both marked (one poll is one moment)', () => {
    const a1 = person('a1', 'u-ann');
    const a2 = person('a2', 'u-ann');
    for (const order of [[leave(a1), join(a2)], [join(a2), leave(a1)]]) {
      const s = new SameUser();
      s.mark([join(a1)]);
      expect(seen(s.mark(order)).sort()).toEqual(['join:a2=a1', 'leave:a1=a2']);
      expect(s.size).toBe(1);
    }
  });

  it('only the same userId in the same room: not a null userId, not another room, not the same name', () => {
    const s = new SameUser();
    s.mark([join(person('n1', null)), join(person('b1', 'u-bob')), join(person('c1', 'u-cy'), 'retro'), join(person('m1', 'u-m1', 'Margaret'))]);
    const events = [join(person('n2', null)), join(person('b2', 'u-bob'), 'retro'), join(person('c2', 'u-cy')), join(person('m2', 'u-m2', 'Margaret'))];
    const marked = s.mark(events);
    expect(seen(marked)).toEqual(['join:n2', 'join:b2', 'join:c2', 'join:m2']);
    // nothing marked: the very array, no copies
    expect(marked).toBe(events);
  });

  it('the events are new objects when marked; the others are passed as they are, in order', () => {
    const s = new SameUser();
    const a1 = person('a1', 'u-ann');
    s.mark([join(a1)]);
    const events = [join(person('x', null)), join(person('a2', 'u-ann')), join(person('y', 'u-y'))];
    const marked = s.mark(events);
    expect(marked[0]).toBe(events[0]);
    expect(marked[1]).not.toBe(events[1]);
    expect(events[1]).not.toHaveProperty('sameUserAs');
    expect(marked[1]).toEqual({ ...events[1], sameUserAs: 'a1' });
    expect(marked[2]).toBe(events[2]);
  });

  it('an update that changes the userId moves the session to its new user', () => {
    const s = new SameUser();
    const a1 = person('a1', 'u-guest');
    s.mark([join(a1)]);
    const renamed = person('a1', 'u-ann');
    expect(seen(s.mark([updateEvent('standup', renamed, { userId: { from: 'u-guest', to: 'u-ann' } }, AT)]))).toEqual(['update:a1']);
    expect(seen(s.mark([join(person('a2', 'u-ann')), join(person('g2', 'u-guest'))]))).toEqual(['join:a2=a1', 'join:g2']);
  });

  it('one person is the same userId and the same name: a token shared by many ("guest") or a blank userId pairs nobody', () => {
    const s = new SameUser();
    s.mark([join(person('g1', 'guest', 'Ann')), join(person('b1', '', 'Ann')), join(person('w1', ' ', 'Ann'))]);
    expect(seen(s.mark([join(person('g2', 'guest', 'Bo')), join(person('b2', '', 'Ann')), join(person('w2', ' ', 'Ann'))]))).toEqual(['join:g2', 'join:b2', 'join:w2']);
    expect(seen(s.mark([join(person('g3', 'guest', 'Ann'))]))).toEqual(['join:g3=g1']);
    expect(seen(s.mark([leave(person('g2', 'guest', 'Bo'))]))).toEqual(['leave:g2']);
  });

  it('a rename makes the session another person\'s, as far as pairing goes', () => {
    const s = new SameUser();
    s.mark([join(person('a1', 'u-ann', 'Ann'))]);
    const renamed = person('a1', 'u-ann', 'Ann (away)');
    s.mark([updateEvent('standup', renamed, { userName: { from: 'Ann', to: 'Ann (away)' } }, AT)]);
    expect(seen(s.mark([join(person('a2', 'u-ann', 'Ann')), join(person('a3', 'u-ann', 'Ann (away)'))]))).toEqual(['join:a2', 'join:a3=a1']);
  });

  it("the 'name' rule (rooms joined without tokens): the same non-blank userName, whatever the userId", () => {
    const s = new SameUser('name');
    s.mark([join(person('a1', null, 'Ann')), join(person('n1', null, ' ')), join(person('x1', null, null as unknown as string))]);
    const events = [join(person('a2', null, 'Ann')), join(person('b1', null, 'Bo')), join(person('n2', null, ' ')), join(person('x2', null, null as unknown as string)), join(person('a3', 'tok-9', 'Ann'))];
    expect(seen(s.mark(events))).toEqual(['join:a2=a1', 'join:b1', 'join:n2', 'join:x2', 'join:a3=a1']);
    expect(samePerson(person('a1', null, 'Ann'), person('a2', null, 'Ann'), 'name')).toBe(true);
    expect(samePerson(person('a1', null, 'Ann'), person('a2', null, 'Ann'))).toBe(false);
    expect(samePerson(person('a1', 'u', 'Ann'), person('a2', 'u', 'Ann'))).toBe(true);
  });

  it('seeded from a saved state: who was there already counts', () => {
    const s = new SameUser();
    s.seed('standup', [person('a1', 'u-ann'), person('n1', null)]);
    expect(seen(s.mark([join(person('a2', 'u-ann'))]))).toEqual(['join:a2=a1']);
    expect(s.size).toBe(1);
  });
});

describe('SameUser against a plain model, over many random polls', () => {
  it('marks exactly the joins and leaves of a person (userId and name) with another session in the room, as its table grows, empties and refills', () => {
    let seed = 7;
    const random = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
    const pick = <T>(xs: readonly T[]) => xs[Math.floor(random() * xs.length)]!;
    const s = new SameUser();
    // the model: room → sessions present; one person = the same non-blank userId and the same name
    const present = new Map<string, Map<string, Participant>>();
    const personOf = (p: Participant) => (p.userId === null || p.userId.trim() === '' ? undefined : `${p.userId}\u0000${p.userName}`);
    const rooms = ['a', 'b', 'c'];
    const users = [...Array.from({ length: 400 }, (_, i) => `u${i}`), null, '', ' '];
    const names = ['Ann', 'Bo', null];
    let next = 0;
    let marked = 0;
    for (let poll = 0; poll < 300; poll++) {
      const events: PresenceEvent[] = [];
      // grow for the first third, shrink in the second, then churn
      const joins = poll < 100 ? 40 : poll < 200 ? 2 : 15;
      const leaves = poll < 100 ? 2 : poll < 200 ? 40 : 15;
      const left = new Set<string>();
      for (let k = 0; k < leaves; k++) {
        const room = pick(rooms);
        const ids = [...(present.get(room)?.keys() ?? [])].filter((id) => !left.has(id));
        if (ids.length === 0) continue;
        const id = pick(ids);
        left.add(id);
        events.push(leave(present.get(room)!.get(id)!, room));
      }
      for (let k = 0; k < joins; k++) events.push(join(person(`s${next++}`, pick(users), pick(names) as string), pick(rooms)));
      // expected, from the model: one poll is one moment, its joins there before its leaves go
      // (joins in order, then leaves in order; of two sessions of one person both going, the first
      // is marked against the second and the second is the person's leave, so an arrival and a
      // departure are each told once)
      const now = new Map([...present].map(([r, m]) => [r, new Map(m)]));
      const inRoom = (room: string) => now.get(room) ?? now.set(room, new Map()).get(room)!;
      const another = (room: string, p: Participant) => personOf(p) !== undefined && [...inRoom(room)].some(([id, q]) => id !== p.id && personOf(q) === personOf(p));
      const expected: boolean[] = [];
      for (const [i, e] of events.entries()) {
        if (e.type !== 'join') continue;
        expected[i] = another(e.room, e.participant);
        inRoom(e.room).set(e.participant.id, e.participant);
      }
      const after = new Map([...now].map(([r, m]) => [r, new Map(m)]));
      for (const [i, e] of events.entries()) {
        if (e.type !== 'leave') continue;
        inRoom(e.room).delete(e.participant.id);
        expected[i] = another(e.room, e.participant);
      }
      const got = s.mark(events);
      expect(got.map((e) => e.sameUserAs !== undefined)).toEqual(expected);
      // and a mark names a session of that person in that room
      for (const e of got) {
        if (e.sameUserAs === undefined) continue;
        marked++;
        expect(personOf(after.get(e.room)!.get(e.sameUserAs)!)).toBe(personOf(e.participant));
      }
      present.clear();
      for (const [r, m] of now) present.set(r, m);
    }
    expect(marked).toBeGreaterThan(100);
    let held = 0;
    // a row per userId in a room, whatever names its sessions have
    for (const m of present.values()) held += new Set([...m.values()].filter((p) => personOf(p) !== undefined).map((p) => p.userId)).size;
    expect(s.size).toBe(held);
  });
});

describe('LeaveGrace: a reconnect within the grace (new session, same userId)', () => {
  const all = () => true;

  it('the pending leave comes at the new join, the leave first, each marked with the other; no later leave', () => {
    const g = new LeaveGrace(30_000);
    const a1 = person('a1', 'u-ann');
    const a2 = person('a2', 'u-ann');
    expect(g.process([leave(a1)], 0, all)).toEqual([]);
    expect(g.size).toBe(1);
    expect(seen(g.process([join(a2)], 5000, all))).toEqual(['leave:a1=a2', 'join:a2=a1']);
    expect(g.size).toBe(0);
    expect(g.process([], 60_000, all)).toEqual([]);
  });

  it('in the same poll as the leave', () => {
    const g = new LeaveGrace(30_000);
    expect(seen(g.process([leave(person('a1', 'u-ann')), join(person('a2', 'u-ann'))], 0, all))).toEqual(['leave:a1=a2', 'join:a2=a1']);
  });

  it('one old session for one new: a second new session of the same user is a plain join (SameUser marks it against the first)', () => {
    const g = new LeaveGrace(30_000);
    g.process([leave(person('a1', 'u-ann'))], 0, all);
    expect(seen(g.process([join(person('a2', 'u-ann')), join(person('a3', 'u-ann'))], 1000, all))).toEqual(['leave:a1=a2', 'join:a2=a1', 'join:a3']);
  });

  it('no match: a null userId, another user, another room, or after the grace', () => {
    const g = new LeaveGrace(30_000);
    g.process([leave(person('n1', null)), leave(person('b1', 'u-bob')), leave(person('c1', 'u-cy'), 'retro')], 0, all);
    expect(seen(g.process([join(person('n2', null)), join(person('b2', 'u-bea')), join(person('c2', 'u-cy'))], 1000, all))).toEqual([
      'join:n2',
      'join:b2',
      'join:c2',
    ]);
    expect(seen(g.process([], 30_000, all))).toEqual(['leave:n1', 'leave:b1', 'leave:c1']);
    g.process([leave(person('d1', 'u-dee'))], 30_000, all);
    expect(seen(g.process([], 60_000, all))).toEqual(['leave:d1']);
    expect(seen(g.process([join(person('d2', 'u-dee'))], 61_000, all))).toEqual(['join:d2']);
  });

  it("the 'name' rule pairs a pending leave with a new session of that name, no userId needed", () => {
    const g = new LeaveGrace(30_000, 'name');
    g.process([leave(person('a1', null, 'Ann')), leave(person('b1', null, 'Bo'))], 0, all);
    expect(seen(g.process([join(person('a2', null, 'Ann')), join(person('c1', null, 'Cy'))], 1000, all))).toEqual(['leave:a1=a2', 'join:a2=a1', 'join:c1']);
    expect(seen(new LeaveGrace(30_000).process([leave(person('a1', null, 'Ann')), join(person('a2', null, 'Ann'))], 0, all))).toEqual(['join:a2']);
  });

  it('the same userId under another name is another person (one token given to many): no pairing', () => {
    const g = new LeaveGrace(30_000);
    g.process([leave(person('g1', 'guest', 'Ann'))], 0, all);
    expect(seen(g.process([join(person('g2', 'guest', 'Bo'))], 1000, all))).toEqual(['join:g2']);
    expect(seen(g.process([join(person('g3', 'guest', 'Ann'))], 2000, all))).toEqual(['leave:g1=g3', 'join:g3=g1']);
  });

  it('a leave SameUser marked (a session of theirs is there) is no absence: it comes at once', () => {
    const g = new LeaveGrace(30_000);
    const marked = { ...leave(person('a1', 'u-ann')), sameUserAs: 'a2' };
    expect(seen(g.process([marked], 0, all))).toEqual(['leave:a1=a2']);
    expect(g.size).toBe(0);
  });

  it('a join SameUser marked already (a session of theirs is there) takes no pending leave', () => {
    const g = new LeaveGrace(30_000);
    g.process([leave(person('a1', 'u-ann'))], 0, all);
    const marked = { ...join(person('a3', 'u-ann')), sameUserAs: 'a2' };
    expect(seen(g.process([marked], 1000, all))).toEqual(['join:a3=a2']);
    expect(g.size).toBe(1);
  });

  it('a pending leave taken back by its own id earlier in the poll is not paired again', () => {
    const g = new LeaveGrace(30_000);
    const a1 = person('a1', 'u-ann');
    g.process([leave(a1)], 0, all);
    // c2's join looks the room's pending leaves up by user first; then a1 is back; then a2 joins
    expect(seen(g.process([join(person('c2', 'u-cy')), join(a1), join(person('a2', 'u-ann'))], 1000, all))).toEqual(['join:c2', 'join:a2']);
    expect(g.size).toBe(0);
  });

  it('the same session back is still neither leave nor join', () => {
    const g = new LeaveGrace(30_000);
    const a1 = person('a1', 'u-ann');
    g.process([leave(a1)], 0, all);
    expect(g.process([join(a1)], 1000, all)).toEqual([]);
    expect(g.size).toBe(0);
  });

  it('no grace: nothing held, nothing paired', () => {
    const g = new LeaveGrace(0);
    const events = [leave(person('a1', 'u-ann')), join(person('a2', 'u-ann'))];
    expect(g.process(events, 0, all)).toBe(events);
  });
});
