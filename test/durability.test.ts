import { existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, statSync, symlinkSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EventEmitter } from 'node:events';
import * as FakeTimers from '@sinonjs/fake-timers';
import { afterEach, describe, expect, it } from 'vitest';
import { DailyApiError, httpError } from '../src/daily/errors.js';
import { diffRoom } from '../src/diff.js';
import type { Participant, PresenceEvent, UpdateEvent } from '../src/events.js';
import { LeaveGrace } from '../src/grace.js';
// the public entry point: library users get the file store from there
import { FileStateStore } from '../src/index.js';
import { StateError, type SavedState } from '../src/state/store.js';
import { PresenceWatcher } from '../src/watcher.js';
import { FakeClient } from './support/fake-client.js';
import { capturingLogger, firstSnapshotEvents, polls, quickOptions, quietLogger, startHarness, waitFor, type Harness } from './support/helpers.js';
import { runCli } from './support/cli.js';
import { DailySimulator } from '../src/simulator/simulator.js';
import { HealthServer, LIVENESS_WINDOW_MIN_MS } from '../src/health.js';
import { Metrics } from '../src/metrics.js';
import { FileDeadLetter } from '../src/sinks/dead-letter.js';
import { LOCK_HEARTBEAT_MS, LOCK_STALE_MS, LOCK_WATCH_MS, StateLock, formatOwner, parseOwner, startTime } from '../src/state/lock.js';
import { spawn } from 'node:child_process';
import { Outbox } from '../src/state/outbox.js';
import { makeDirs, makeDirsSync } from '../src/util/dirs.js';
import { DeliveryQueue } from '../src/sinks/queue.js';
import { LogDeadLetter } from '../src/sinks/dead-letter.js';
import { tempDir } from './support/tmp.js';

const at = '2026-01-01T00:00:00.000Z';
const p = (id: string, userName = id): Participant => ({ id, userId: null, userName, mtgSessionId: null, joinTime: null, duration: 0 });
type FakeClock = ReturnType<typeof FakeTimers.install>;
const tmp = () => tempDir('dur');

/** Run `fn` under fake timers (Date and performance too), uninstalled after whatever happens. */
async function underFakeClock(fn: (clock: FakeClock) => Promise<void>, now = 0): Promise<void> {
  const clock = FakeTimers.install({ now, toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date', 'performance'] });
  try {
    await fn(clock);
  } finally {
    clock.uninstall();
  }
}

/** Stop a watcher whose timers are fake. */
async function stopUnder(clock: FakeClock, w: PresenceWatcher): Promise<void> {
  const stopped = w.stop();
  await clock.tickAsync(10);
  await stopped;
}

const kinds = (events: PresenceEvent[]) => events.map((e) => `${e.type}:${e.participant.id}`);

function step(prev: Map<string, Participant> | undefined, people: Participant[]) {
  return diffRoom(prev, { room: 'r', participants: people, complete: true }, { at });
}

describe('LeaveGrace', () => {
  it('holds a leave until the person has been absent for the grace period', () => {
    const g = new LeaveGrace(30_000);
    const s1 = step(undefined, [p('a'), p('b')]);
    expect(kinds(g.process(s1.events, 0, () => true))).toEqual(['join:a', 'join:b']);
    const s2 = step(s1.next, [p('a')]);
    expect(g.process(s2.events, 10_000, () => true)).toEqual([]);
    expect(g.pending('r').map((x) => x.id)).toEqual(['b']);
    expect(g.process([], 39_999, () => true)).toEqual([]);
    const out = g.process([], 40_000, () => true);
    expect(kinds(out)).toEqual(['leave:b']);
    expect(g.size).toBe(0);
  });

  it('a person back within the grace period produces neither leave nor join', () => {
    const g = new LeaveGrace(30_000);
    const s1 = step(undefined, [p('a')]);
    g.process(s1.events, 0, () => true);
    const s2 = step(s1.next, []);
    expect(g.process(s2.events, 1_000, () => true)).toEqual([]);
    const s3 = step(s2.next, [p('a')]);
    expect(g.process(s3.events, 20_000, () => true)).toEqual([]);
    expect(g.process([], 100_000, () => true)).toEqual([]);
  });

  it('back with a new name within the grace period: one update', () => {
    const g = new LeaveGrace(30_000);
    const s1 = step(undefined, [p('a', 'Ann')]);
    g.process(s1.events, 0, () => true);
    const s2 = step(s1.next, []);
    g.process(s2.events, 1_000, () => true);
    const s3 = step(s2.next, [p('a', 'Anna')]);
    const out = g.process(s3.events, 2_000, () => true);
    expect(out).toHaveLength(1);
    expect(out[0]).toMatchObject({ type: 'update', changes: { userName: { from: 'Ann', to: 'Anna' } } });
  });

  it('only rooms covered by a successful poll can expire (failed polls never confirm an absence)', () => {
    const g = new LeaveGrace(1_000);
    const s1 = diffRoom(new Map([['a', p('a')]]), { room: 'x', participants: [], complete: true }, { at });
    g.process(s1.events, 0, () => true);
    // polls of other rooms only, long after the grace: x has not been observed again
    expect(g.process([], 60_000, (room) => room === 'y')).toEqual([]);
    expect(kinds(g.process([], 60_001, (room) => room === 'x'))).toEqual(['leave:a']);
  });

  it('a grace no longer than a poll holds a leave for exactly one more poll, whatever its length (what the note on a grace in milliseconds says)', () => {
    for (const grace of [1, 30, 15_000]) {
      const g = new LeaveGrace(grace);
      const s1 = step(undefined, [p('a'), p('b')]);
      g.process(s1.events, 0, () => true);
      // polls every 15 s: b is missing from the second, and still from the third
      const s2 = step(s1.next, [p('a')]);
      expect(g.process(s2.events, 15_000, () => true)).toEqual([]);
      expect(kinds(g.process([], 30_000, () => true))).toEqual(['leave:b']);
    }
  });

  it('a carried leave outlasts a partial answer that left the person out, and ends at one that listed them', () => {
    const g = new LeaveGrace(30_000);
    g.carry('r', 'a', 20_000, 100_000); // a and b missing for 20 s at the save
    g.carry('r', 'b', 20_000, 100_000);
    // a partial answer lists b, not a: a's leave is still carried, from when a went missing
    expect(g.process([], 101_000, () => true, (_room, id) => id === 'a')).toEqual([]);
    expect([...g.missingSince(0, 101_000).get('r')!]).toEqual([['a', -21_000]]);
    // a whole answer lacks a (the tracker's leave): pending from then, so the grace is up at once
    const leave = diffRoom(new Map([['a', p('a')]]), { room: 'r', participants: [], complete: true }, { at }).events;
    expect(kinds(g.process(leave, 111_000, () => true))).toEqual(['leave:a']);
    expect(g.missingSince(0, 111_000).size).toBe(0);
  });

  it('0 disables it', () => {
    const g = new LeaveGrace(0);
    const s = step(new Map([['a', p('a')]]), []);
    expect(kinds(g.process(s.events, 0, () => true))).toEqual(['leave:a']);
  });
});

describe('FileStateStore', () => {
  it('a missing file is a first start; save then load round-trips; writes are atomic', async () => {
    const dir = tmp();
    const store = new FileStateStore(join(dir, 'sub', 'state.json'));
    expect(await store.load()).toBeUndefined();
    const state = { version: 1 as const, savedAt: at, mode: 'rooms' as const, rooms: { r: [p('a')], empty: [] } };
    await Promise.all([store.save({ ...state, rooms: {} }), store.save(state)]);
    expect(await store.load()).toEqual(state);
    expect(readdirSync(join(dir, 'sub'))).toEqual(['state.json']); // no temp file left
    writeFileSync(store.path, JSON.stringify({ ...state, source: 42 }));
    await expect(store.load()).rejects.toThrow(/is corrupt: "source" must be a string/);
    for (const partialRooms of [{ r: 1 }, ['r'], null]) {
      writeFileSync(store.path, JSON.stringify({ ...state, partialRooms }));
      await expect(store.load()).rejects.toThrow(/is corrupt: "partialRooms" must map room names to true/);
    }
    writeFileSync(store.path, JSON.stringify({ ...state, partialRooms: { r: true } }));
    expect(await store.load()).toEqual({ ...state, partialRooms: { r: true } });
  });

  it('a state file that is a symbolic link is written where it points, the link kept (a dangling one creates its target)', async () => {
    const dir = tmp();
    mkdirSync(join(dir, 'real'));
    symlinkSync('real/state.json', join(dir, 'link.json'));
    const store = new FileStateStore(join(dir, 'link.json'));
    const state = { version: 1 as const, savedAt: at, mode: 'rooms' as const, rooms: { r: [p('a')] } };
    await store.save(state);
    await store.save({ ...state, rooms: { r: [p('b')] } });
    expect(lstatSync(join(dir, 'link.json')).isSymbolicLink()).toBe(true);
    expect(JSON.parse(readFileSync(join(dir, 'real', 'state.json'), 'utf8')).rooms).toEqual({ r: [p('b')] });
    expect(readdirSync(join(dir, 'real'))).toEqual(['state.json']); // no temp file left
    expect(await store.load()).toEqual({ ...state, rooms: { r: [p('b')] } });
  });

  it('a save that fails part way (here the state cannot be written; on a full disk, ENOSPC) leaves no temp file and the old state', async () => {
    const dir = tmp();
    const store = new FileStateStore(join(dir, 'state.json'));
    const state = { version: 1 as const, savedAt: at, mode: 'rooms' as const, rooms: { r: [p('a')] } };
    await store.save(state);
    const unwritable = { ...state, rooms: { r: [{ ...p('b'), duration: 1n as unknown as number }] } };
    await expect(store.save(unwritable)).rejects.toThrow(/BigInt/);
    expect(readdirSync(dir)).toEqual(['state.json']);
    expect(await store.load()).toEqual(state);
  });

  it.each([
    ['not JSON', '{"version":1,', /not valid JSON/],
    // a later version's file is no corruption: moving it away would lose what a rollback could keep
    ['a later version', '{"version":7,"mode":"rooms","rooms":{}}', /was written by a newer presence-watcher \(state version 7; this one reads version 1\): run that version or a later one, or move the file away to start fresh$/],
    ['no version', '{"mode":"rooms","rooms":{}}', /is corrupt: unknown version undefined/],
    ['version 0', '{"version":0,"mode":"rooms","rooms":{}}', /is corrupt: unknown version 0/],
    ['bad rooms', '{"version":1,"mode":"rooms","rooms":{"r":[{"nope":1}]}}', /room "r" is not a list of participants/],
    ['not an object', '[1,2]', /not a JSON object/],
    ['bad pendingLeaves', '{"version":1,"mode":"rooms","rooms":{"r":[]},"pendingLeaves":{"r":{"a":"yesterday"}}}', /"pendingLeaves" of room "r" must map participant ids to times/],
    ['bad updates', '{"version":1,"mode":"rooms","rooms":{"r":[]},"updates":{"r":{"a":"2"}}}', /"updates" of room "r" must map participant ids to counts/],
    ['updates not an object', '{"version":1,"mode":"rooms","rooms":{"r":[]},"updates":[]}', /"updates" must be an object/],
  ])('a corrupt file (%s) is a clear error', async (_n, text, msg) => {
    const file = join(tmp(), 'state.json');
    writeFileSync(file, text);
    const err = await new FileStateStore(file).load().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StateError);
    expect((err as Error).message).toMatch(msg);
    expect((err as Error).message).toContain(file);
  });
});

describe('resume from state (watcher against the simulator)', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  it('a change back and forth after a restart gets a new update id: the state file keeps how many updates each person had', async () => {
    for (const mode of [{ rooms: ['r'] }, { allRooms: true as const }]) {
      const file = join(tmp(), 'state.json');
      h = await startHarness({ rooms: ['r'] }, { ...mode, stateStore: new FileStateStore(file) });
      const ann = h.sim.join('r', { userName: 'Ann' });
      h.watcher.start();
      await waitFor(h.watcher, 'ready', () => h!.watcher.isReady);
      const updates: UpdateEvent[] = [];
      h.watcher.on('update', (e) => updates.push(e));
      h.sim.rename('r', ann.id, 'Ann (away)');
      await waitFor(h.watcher, 'update', () => updates.length >= 1);
      h.sim.rename('r', ann.id, 'Ann');
      await waitFor(h.watcher, 'update', () => updates.length >= 2);
      await h.watcher.stop(); // saves the state
      expect(JSON.parse(readFileSync(file, 'utf8')).updates).toEqual({ r: { [ann.id]: 2 } });

      // the same change as the first update, after the restart: a new id (it repeated the first's, which a receiver that dedupes dropped)
      const again = new PresenceWatcher({ ...quickOptions(h.sim), ...mode, stateStore: new FileStateStore(file) });
      const later: UpdateEvent[] = [];
      again.on('update', (e) => later.push(e));
      again.start();
      await waitFor(again, 'ready', () => again.isReady);
      h.sim.rename('r', ann.id, 'Ann (away)');
      await waitFor(again, 'update', () => later.length >= 1);
      await again.stop();
      expect(later[0]!.changes).toEqual(updates[0]!.changes);
      expect(new Set([...updates, ...later].map((e) => e.id)).size).toBe(3);
      expect(JSON.parse(readFileSync(file, 'utf8')).updates).toEqual({ r: { [ann.id]: 3 } });
      await h.close();
      h = undefined;
    }
  });

  it("a custom store's load() that answers something that is no state, or throws at once, stops the watcher with an error naming it (no request, no crash); null or undefined is a fresh start", async () => {
    h = await startHarness({ rooms: ['a'] }, {});
    h.sim.join('a', { userName: 'Ann' });
    const cases: [() => unknown, string | undefined][] = [
      [() => Promise.resolve('abc'), 'stateStore.load() answered something that is no saved state: not a JSON object'],
      [() => Promise.resolve({ version: 2, mode: 'rooms', rooms: {} }), 'stateStore.load() answered something that is no saved state: unknown version 2'],
      [() => Promise.resolve({ version: 1, mode: 'rooms', rooms: { a: 'Ann' } }), 'stateStore.load() answered something that is no saved state: room "a" is not a list of participants'],
      [() => { throw new Error('the disk is gone'); }, 'the disk is gone'],
      [() => Promise.resolve(null), undefined],
      [() => Promise.resolve(undefined), undefined],
    ];
    for (const [load, why] of cases) {
      const requests = h.sim.requests.length;
      const w = new PresenceWatcher({ ...quickOptions(h.sim), rooms: ['a'], stateStore: { load: load as never, save: async () => {} } });
      const errors: Error[] = [];
      const events: PresenceEvent[] = [];
      w.on('error', (e) => errors.push(e));
      w.on('event', (e) => events.push(e));
      if (why === undefined) {
        w.start();
        await waitFor(w, 'event', () => events.length > 0);
        await w.stop();
        expect(errors).toEqual([]);
        expect(events.map((e) => `${e.type}:${e.room}:${e.participant.userName}`)).toEqual(['join:a:Ann']);
        continue;
      }
      const stopped = new Promise<Error | undefined>((r) => w.once('stop', r));
      w.start();
      expect((await stopped)?.message).toBe(why);
      expect(errors.map((e) => e.message)).toEqual([why]);
      expect(events).toEqual([]);
      expect(h.sim.requests.length).toBe(requests);
    }
  });

  it('a custom store may be synchronous: a load that answers at once and a save that returns nothing work, and a save that throws is a failed save (an error, stateSaveError), never a stop() that rejects', async () => {
    h = await startHarness({ rooms: ['a'] }, {});
    const ann = h.sim.join('a', { userName: 'Ann' });
    const file = join(tmp(), 'sync.json');
    const syncStore = {
      load: () => (existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : undefined),
      save: (state: unknown) => writeFileSync(file, JSON.stringify(state)),
    };
    const opts = { ...quickOptions(h.sim), rooms: ['a'] };
    const first = new PresenceWatcher({ ...opts, stateStore: syncStore });
    const errors: Error[] = [];
    first.on('error', (e) => errors.push(e));
    first.start();
    await waitFor(first, 'ready', () => first.isReady);
    await first.stop();
    expect(errors).toEqual([]);
    expect(JSON.parse(readFileSync(file, 'utf8')).rooms.a.map((p: Participant) => p.id)).toEqual([ann.id]);
    // resumed from it: Ann was there already, so nothing to report until she leaves
    const events: PresenceEvent[] = [];
    const second = new PresenceWatcher({ ...opts, stateStore: syncStore });
    second.on('event', (e) => events.push(e));
    second.start();
    await waitFor(second, 'ready', () => second.isReady);
    h.sim.leave('a', ann.id);
    await waitFor(second, 'event', () => events.length > 0);
    await second.stop();
    expect(kinds(events)).toEqual([`leave:${ann.id}`]);

    const failing = new PresenceWatcher({ ...opts, stateStore: { load: () => undefined, save: () => { throw new Error('read-only file system'); } } });
    const failed: Error[] = [];
    failing.on('error', (e) => failed.push(e));
    failing.start();
    await waitFor(failing, 'error', () => failed.length > 0);
    expect(failing.stateSaveError).toBe('read-only file system');
    await expect(failing.stop()).resolves.toBeUndefined();
    expect(failed.map((e) => e.message)).toContain('read-only file system');
  });

  it('people who stayed get no join, leavers while down get a leave, arrivals a non-initial join', async () => {
    const file = join(tmp(), 'state.json');
    h = await startHarness({ rooms: ['a'] }, { stateStore: new FileStateStore(file) });
    const stay = h.sim.join('a', { userName: 'Stay' });
    const go = h.sim.join('a', { userName: 'Go' });
    h.watcher.start();
    await waitFor(h.watcher, 'ready', () => h!.watcher.isReady);
    await h.watcher.stop();
    const saved = JSON.parse(readFileSync(file, 'utf8'));
    expect(saved.rooms.a.map((x: Participant) => x.id).sort()).toEqual([go.id, stay.id].sort());

    // while "down": one leaves, one arrives
    h.sim.leave('a', go.id);
    const come = h.sim.join('a', { userName: 'Come' });
    const events = await firstSnapshotEvents({ ...quickOptions(h.sim), rooms: ['a'], stateStore: new FileStateStore(file) });
    expect(events.map((e) => `${e.type}:${e.participant.userName}`).sort()).toEqual(['join:Come', 'leave:Go']);
    expect(events.find((e) => e.participant.id === come.id)).not.toHaveProperty('initial');
  });

  it.each(['malformed', 'truncated', 'bad-entry'] as const)(
    'a room whose first answer was bad (%s) is not saved as an empty room: after a restart, the people already in it are initial, not arrivals',
    async (kind) => {
      const file = join(tmp(), 'state.json');
      h = await startHarness({ rooms: ['a', 'b'] }, { stateStore: new FileStateStore(file) });
      const ann = h.sim.join('a', { userName: 'Ann' });
      h.sim.join('b', { userName: 'Bo' });
      // a's first answer is bad, and a fails from then on; b answers, and its first snapshot is saved
      h.sim.inject({ fault: { kind }, on: 'a' });
      h.sim.inject({ fault: { kind: 'status', status: 503 }, on: 'a', times: 1_000 });
      const failed: string[] = [];
      h.watcher.on('poll', (p) => void (p.target === 'a' && !p.ok && failed.push((p.error as DailyApiError).code)));
      h.watcher.start();
      await waitFor(h.watcher, 'poll', () => failed.length >= 2 && h!.watcher.snapshot('b').length === 1);
      await h.watcher.stop(); // saves the state
      expect(failed[0]).toBe('DAILY_INVALID_RESPONSE');
      expect(Object.keys(JSON.parse(readFileSync(file, 'utf8')).rooms)).toEqual(['b']);

      // restarted, a answers: Ann was there all along
      h.sim.clearFaults();
      const events = await firstSnapshotEvents({ ...quickOptions(h.sim), rooms: ['a', 'b'], stateStore: new FileStateStore(file) });
      expect(events).toEqual([expect.objectContaining({ type: 'join', room: 'a', initial: true, participant: expect.objectContaining({ id: ann.id }) })]);
    },
  );

  it('from --room to --all-rooms on the same state: whom a partial room answer left out was there already (initial), as it would be in room mode; who joined since is an arrival', async () => {
    const file = join(tmp(), 'state.json');
    h = await startHarness({ rooms: ['a', 'b'] }, { rooms: ['a', 'b'], stateStore: new FileStateStore(file) });
    const long = Date.now() - 10 * 60_000;
    const listed = h.sim.join('a', { userName: 'Listed', joinTimeMs: long });
    const leftOut = h.sim.join('a', { userName: 'Left out', joinTimeMs: long + 1000 });
    h.sim.join('b', { userName: 'Bo', joinTimeMs: long });
    h.sim.inject({ fault: { kind: 'partial' }, on: 'a', times: 1_000 }); // Daily lists 1 of 2, always
    h.watcher.start();
    await waitFor(h.watcher, 'ready', () => h!.watcher.isReady);
    await h.watcher.stop();
    expect(h.events.filter((e) => e.room === 'a').map((e) => e.participant.id)).toEqual([listed.id]);
    expect(JSON.parse(readFileSync(file, 'utf8')).partialRooms).toEqual({ a: true });

    // restarted over the whole domain, whose answer lists everyone
    h.sim.clearFaults();
    const arrival = h.sim.join('a', { userName: 'Arrival' });
    const events = await firstSnapshotEvents({ ...quickOptions(h.sim), allRooms: true, stateStore: new FileStateStore(file) });
    expect(events.map((e) => `${e.type}:${e.participant.userName}${'initial' in e ? ' (initial)' : ''}`)).toEqual(['join:Left out (initial)', 'join:Arrival']);
    expect(events.map((e) => e.participant.id)).toEqual([leftOut.id, arrival.id]);
    // the domain's state keeps no flag: GET /presence lists everyone
    expect(JSON.parse(readFileSync(file, 'utf8')).partialRooms).toBeUndefined();
  });

  it('allRooms: exportState() before the first answer is applied says what the watcher knows, nothing or the state it resumed from, not a domain where nobody was', async () => {
    h = await startHarness({ rooms: ['a', 'b'] }, { rooms: ['a'] });
    const ann = h.sim.join('a', { userName: 'Ann', joinTimeMs: Date.now() - 60_000 });
    h.sim.join('b', { userName: 'Bo' });
    h.sim.inject({ fault: { kind: 'status', status: 503 }, on: 'any', times: 1_000 });
    const resumed: SavedState = { version: 1, savedAt: new Date().toISOString(), mode: 'rooms', rooms: { a: [] }, partialRooms: { a: true } };
    const exported: SavedState[] = [];
    for (const initialState of [undefined, resumed]) {
      const w = new PresenceWatcher({ ...quickOptions(h.sim), allRooms: true, backoffMinMs: 20, backoffMaxMs: 100, ...(initialState ? { initialState } : {}) });
      w.on('error', () => {});
      let failed = 0;
      w.on('poll', (p) => void (p.ok || failed++));
      w.start();
      await waitFor(w, 'poll', () => failed >= 2);
      exported.push(w.exportState());
      await w.stop();
    }
    expect(exported[0]).toMatchObject({ mode: 'rooms', rooms: {} });
    expect(exported[1]).toEqual({ ...resumed, source: h.sim.url });

    // resumed from either once Daily answers: Ann (and Bo) were there already
    h.sim.clearFaults();
    for (const state of exported) {
      const w = new PresenceWatcher({ ...quickOptions(h.sim), allRooms: true, initialState: state });
      const events: PresenceEvent[] = [];
      w.on('event', (e) => events.push(e));
      w.start();
      await waitFor(w, 'ready', () => w.isReady);
      await w.stop();
      const seen = events.map((e) => `${e.type}:${e.participant.userName}${'initial' in e ? ' (initial)' : ''}`);
      // a was watched, and is flagged partial: Ann joined before its line (the save), so initial either way
      expect(seen).toEqual(['join:Ann (initial)', 'join:Bo (initial)']);
      expect(events[0]!.participant.id).toBe(ann.id);
      // once an answer is applied, the state is the domain's
      expect(w.exportState()).toMatchObject({ mode: 'domain', rooms: { a: [expect.objectContaining({ id: ann.id })] } });
    }
  });

  it.each([false, true])(
    'from --room to --all-rooms on the same state (ignoreInitial %s): people in rooms it never watched are initial, not fresh joins',
    async (ignoreInitial) => {
      const file = join(tmp(), 'state.json');
      h = await startHarness({ rooms: ['a', 'b'] }, { rooms: ['a'], stateStore: new FileStateStore(file) });
      const stay = h.sim.join('a', { userName: 'Stay' });
      h.sim.join('b', { userName: 'Unwatched' });
      h.watcher.start();
      await waitFor(h.watcher, 'ready', () => h!.watcher.isReady);
      await h.watcher.stop();

      // restarted over the whole domain: b was never watched, so its people were already there
      const come = h.sim.join('a', { userName: 'Come' });
      const w2 = new PresenceWatcher({ ...quickOptions(h.sim), allRooms: true, ignoreInitial, stateStore: new FileStateStore(file) });
      const events: PresenceEvent[] = [];
      w2.on('event', (e) => events.push(e));
      w2.start();
      await waitFor(w2, 'ready', () => w2.isReady);
      // a later arrival in b is a fresh join
      const late = h.sim.join('b', { userName: 'Late' });
      await waitFor(w2, 'event', () => events.some((e) => e.participant.id === late.id));
      await w2.stop();
      const seen = events.map((e) => `${e.type}:${e.participant.userName}${'initial' in e ? ' (initial)' : ''}`);
      expect(seen).toEqual(ignoreInitial ? ['join:Come', 'join:Late'] : ['join:Come', 'join:Unwatched (initial)', 'join:Late']);
      expect(events.some((e) => e.participant.id === stay.id)).toBe(false);
      expect(events.find((e) => e.participant.id === come.id)).not.toHaveProperty('initial');
    },
  );

  it('a corrupt state file stops the watcher with a clear error', async () => {
    const file = join(tmp(), 'state.json');
    writeFileSync(file, 'garbage');
    h = await startHarness({ rooms: ['a'] }, { stateStore: new FileStateStore(file) });
    const stopped = new Promise<Error | undefined>((r) => h!.watcher.once('stop', r));
    h.watcher.start();
    expect((await stopped)?.message).toMatch(/state file .* is corrupt/);
    expect(h.sim.requests).toHaveLength(0);
  });

  it('CLI: a corrupt state file exits 2 naming it', async () => {
    const sim = new DailySimulator({ rooms: ['a'] });
    await sim.listen();
    const file = join(tmp(), 'state.json');
    writeFileSync(file, '{"version": 1, "mode": "rooms", "rooms": 3}');
    const r = await runCli(['--room', 'a', '--state', file], { DAILY_API_KEY: sim.apiKey, DAILY_API_URL: sim.url });
    await sim.close();
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^presence-watcher: state file .*state\.json is corrupt: "rooms" must be an object/);
  });

  it('a state polled from another API is refused (no request, no event), by the store and as initialState; the same API with a trailing slash, or a state recording no source, resumes', async () => {
    const file = join(tmp(), 'state.json');
    h = await startHarness({ rooms: ['a'] }, { stateStore: new FileStateStore(file) });
    const stay = h.sim.join('a', { userName: 'Stay' });
    h.watcher.start();
    await waitFor(h.watcher, 'ready', () => h!.watcher.isReady);
    await h.watcher.stop();
    const saved = JSON.parse(readFileSync(file, 'utf8'));
    expect(saved.source).toBe(h.sim.url.replace(/\/+$/, ''));

    // another simulator: its room "a" has someone else in it
    const other = new DailySimulator({ rooms: ['a'] });
    await other.listen();
    try {
      other.join('a', { userName: 'Elsewhere' });
      const opts = { apiKey: other.apiKey, apiUrl: other.url, rooms: ['a'], intervalMs: 50, maxRps: 1000, logger: quietLogger };
      const w = new PresenceWatcher({ ...opts, stateStore: new FileStateStore(file) });
      const events: PresenceEvent[] = [];
      w.on('event', (e) => events.push(e));
      const errors: Error[] = [];
      w.on('error', (e) => errors.push(e));
      const stopped = new Promise<Error | undefined>((r) => w.once('stop', r));
      w.start();
      const why = (await stopped)?.message;
      expect(why).toContain(`holds presence polled from ${saved.source}, but this watcher polls ${other.url.replace(/\/+$/, '')}`);
      expect(why).not.toContain(other.apiKey);
      expect(errors.map((e) => e.message)).toEqual([why]);
      expect(events).toEqual([]);
      expect(other.requests).toHaveLength(0);
      expect(() => new PresenceWatcher({ ...opts, initialState: saved })).toThrow(/^PresenceWatcher: initialState holds presence polled from/);
    } finally {
      await other.close();
    }

    // the same API written with a trailing slash: the same source
    const events = await firstSnapshotEvents({ apiKey: h.sim.apiKey, apiUrl: `${h.sim.url}/`, rooms: ['a'], intervalMs: 50, maxRps: 1000, logger: quietLogger, initialState: saved });
    expect(events).toEqual([]);

    // a state saved before sources were recorded: taken as it is, and saved again with one
    writeFileSync(file, JSON.stringify({ ...saved, source: undefined }));
    const w3 = new PresenceWatcher({ ...quickOptions(h.sim), rooms: ['a'], stateStore: new FileStateStore(file) });
    w3.on('event', (e) => events.push(e));
    w3.start();
    await waitFor(w3, 'ready', () => w3.isReady);
    h.sim.leave('a', stay.id);
    await waitFor(w3, 'event', () => events.length > 0);
    await w3.stop();
    expect(kinds(events)).toEqual([`leave:${stay.id}`]);
    expect(JSON.parse(readFileSync(file, 'utf8')).source).toBe(saved.source);
  });

  it('CLI: a state file polled from another --api-url exits 2 before anything is sent, its files untouched; --check-config says the same', async () => {
    const one = new DailySimulator({ rooms: ['a'] });
    const two = new DailySimulator({ rooms: ['a'] });
    await Promise.all([one.listen(), two.listen()]);
    try {
      one.join('a', { userName: 'Ann' });
      two.join('a', { userName: 'Bob' });
      const dir = tmp();
      const file = join(dir, 'state.json');
      const env = (sim: DailySimulator) => ({ DAILY_API_KEY: sim.apiKey, DAILY_API_URL: sim.url });
      const first = await runCli(['--room', 'a', '--state', file, '--once', '--sink', 'stdout:text'], env(one));
      expect(first.code).toBe(0);
      expect(first.stdout).toMatch(/Ann is in a \(already there when watching started\)/);
      const files = () => readdirSync(dir).sort().map((f) => [f, readFileSync(join(dir, f), 'utf8')]);
      const before = files();
      expect(before.map(([f]) => f)).toContain('state.json');

      const r = await runCli(['--room', 'a', '--state', file, '--once', '--sink', 'stdout:text'], env(two));
      expect(r.code).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(/^presence-watcher: state file .*state\.json holds presence polled from http:\/\/127\.0\.0\.1:\d+\/v1, but this watcher polls http:\/\/127\.0\.0\.1:\d+\/v1: .*seem to leave\. Give each API its own state file/);
      expect(two.requests).toHaveLength(0);
      expect(files()).toEqual(before); // the lock released, nothing written

      const check = await runCli(['--room', 'a', '--state', file, '--check-config'], env(two));
      expect(check.code).toBe(2);
      expect(check.stderr).toMatch(/holds presence polled from .*, but this watcher polls /);
    } finally {
      await Promise.all([one.close(), two.close()]);
    }
  });

  it('leave grace over HTTP: a short absence is invisible, a long one is a leave', async () => {
    h = await startHarness({ rooms: ['a'] }, { leaveGraceMs: 400 });
    h.sim.join('a', { userName: 'Anchor' }); // keeps the meeting session (mtgSessionId) alive
    const x = h.sim.join('a', { id: 'flappy', userName: 'X' });
    h.watcher.start();
    await waitFor(h.watcher, 'ready', () => h!.watcher.isReady);
    h.sim.leave('a', x.id);
    await polls(h.watcher, 2);
    h.sim.join('a', { id: 'flappy', userName: 'X', userId: x.userId, joinTimeMs: x.joinTimeMs });
    await polls(h.watcher, 12); // ≥ 600 ms of polls: well past the grace
    const flappy = () => h!.events.filter((e) => e.participant.id === 'flappy').map((e) => e.type);
    expect(flappy()).toEqual(['join']);
    h.sim.leave('a', 'flappy');
    await waitFor(h.watcher, 'poll', () => flappy().length >= 2, 5000);
    expect(flappy()).toEqual(['join', 'leave']);
  });
});

describe('watchdog (fake timers)', () => {
  it('moves on from a poll that ignores its abort signal, and drops its late answer', async () => {
    const clock = FakeTimers.install({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date', 'performance'] });
    try {
      const client = new FakeClient();
      // the first call answers only after 10 s, abort or not (a custom client that ignores its signal)
      client.script = [{ lateMs: 10_000, answer: [p('ghost')] }];
      client.fallback = [p('x')];
      const w = new PresenceWatcher({ client, rooms: ['a'], intervalMs: 1000, watchdogMs: 3000, maxRps: 1000, backoffMinMs: 100, logger: quietLogger });
      const errors: Error[] = [];
      const events: PresenceEvent[] = [];
      w.on('error', (e) => errors.push(e));
      w.on('event', (e) => events.push(e));
      w.start();
      await clock.tickAsync(3500);
      // the watchdog fired and the loop polled again without waiting for the deaf call
      expect(errors[0]!.message).toMatch(/watchdog: no poll of room "a" completed within 3s/);
      expect(client.calls.length).toBeGreaterThanOrEqual(2);
      expect(events.map((e) => `${e.type}:${e.participant.id}`)).toEqual(['join:x']);
      // the deaf call's answer arrives long after: it is not applied (no join of ghost, no leave of x)
      await clock.tickAsync(10_000);
      expect(client.calls[0]!.settled).toBe(true);
      expect(events.map((e) => `${e.type}:${e.participant.id}`)).toEqual(['join:x']);
      expect(w.snapshot('a').map((x) => x.id)).toEqual(['x']);
      await stopUnder(clock, w);
    } finally {
      clock.uninstall();
    }
  });

  it('does not take a poll waiting for its turn under the request budget for a stuck one (10 rooms at 1 s and 2/s: each waits ~4 s, past 3 intervals)', () =>
    underFakeClock(async (clock) => {
      const client = new FakeClient(); // answers at once
      const rooms = Array.from({ length: 10 }, (_, i) => `r${i}`);
      const w = new PresenceWatcher({ client, rooms, intervalMs: 1000, maxRps: 2, requestTimeoutMs: 2000, logger: quietLogger });
      const errors: Error[] = [];
      w.on('error', (e) => errors.push(e));
      w.start();
      await clock.tickAsync(60_000);
      expect(errors.map((e) => e.message)).toEqual([]);
      // the budget's 2 a second, shared by the ten: each polled about every 5 s
      const per = rooms.map((r) => client.calls.filter((c) => c.target === r).length);
      for (const n of per) expect(n).toBeGreaterThanOrEqual(10);
      expect(client.calls.length).toBeLessThanOrEqual(121);
      await stopUnder(clock, w);
    }));

  it('aborts a poll that does not complete within the watchdog time and polls again', async () => {
    const clock = FakeTimers.install({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date', 'performance'] });
    try {
      const client = new FakeClient();
      client.script = ['hang'];
      const w = new PresenceWatcher({ client, rooms: ['a'], intervalMs: 1000, watchdogMs: 3000, maxRps: 1000, backoffMinMs: 100, logger: quietLogger });
      const errors: Error[] = [];
      w.on('error', (e) => errors.push(e));
      w.start();
      await clock.tickAsync(2999);
      expect(client.calls).toHaveLength(1);
      expect(errors).toHaveLength(0);
      await clock.tickAsync(500);
      expect(client.calls[0]!.signal!.aborted).toBe(true);
      expect(errors[0]).toBeInstanceOf(DailyApiError);
      expect(errors[0]!.message).toMatch(/watchdog: no poll of room "a" completed within 3s/);
      expect(client.calls.length).toBeGreaterThanOrEqual(2);
      expect(w.isRunning).toBe(true);
      await stopUnder(clock, w);
    } finally {
      clock.uninstall();
    }
  });
});

describe('failed polls in the log (fake timers)', () => {
  it('the same failure is logged when it starts and then every 10 minutes (with how many went unsaid), a new failure at once, and the recovery once; every one is still an error event', async () => {
    await underFakeClock(async (clock) => {
      const notFound = new DailyApiError({ code: 'DAILY_NOT_FOUND', message: 'room "a" not found (HTTP 404): check the room name', target: 'a', status: 404 });
      const client = new FakeClient();
      client.fallback = notFound;
      const { logger, lines } = capturingLogger('info');
      const w = new PresenceWatcher({ client, rooms: ['a'], intervalMs: 1000, maxRps: 1000, backoffMinMs: 100, backoffMaxMs: 100, logger });
      const errors: Error[] = [];
      w.on('error', (e) => errors.push(e));
      const warnings = () => lines.map((l) => JSON.parse(l) as { level: number; msg: string; repeated?: number }).filter((l) => l.level === 40);
      w.start();
      await clock.tickAsync(30_500);
      expect(errors.length).toBeGreaterThanOrEqual(30);
      expect(warnings().map((l) => l.msg)).toEqual([notFound.message]);
      await clock.tickAsync(10 * 60_000);
      const again = warnings();
      expect(again).toHaveLength(2);
      expect(again[1]!.msg).toMatch(/^room "a" not found \(HTTP 404\): check the room name \(again; \d+ more like it since it was last logged\)$/);
      expect(again[1]!.repeated).toBeGreaterThanOrEqual(590);
      // another failure is said at once
      client.fallback = new DailyApiError({ code: 'DAILY_SERVER_ERROR', message: 'Daily answered HTTP 503', target: 'a', status: 503 });
      await clock.tickAsync(1000);
      expect(warnings().at(-1)!.msg).toBe('Daily answered HTTP 503');
      const failures = errors.length;
      // polls work again: said once, with the count
      client.fallback = [p('x')];
      await clock.tickAsync(3000);
      const back = lines.filter((l) => l.includes('polled successfully again'));
      expect(back).toHaveLength(1);
      expect(JSON.parse(back[0]!)).toMatchObject({ level: 30, target: 'a', failures, msg: expect.stringMatching(new RegExp(`^room "a" polled successfully again, after ${failures} failed attempt\\(s\\) since 1970-01-01T00:00:00\\.000Z$`)) }); // the first failure's time (the fake clock starts at 0)
      // and a failure after that is said at once, even the first one again (now for a room that
      // answered: deleted or expired in Daily since, not a misspelt name)
      const said = warnings().length;
      client.fallback = notFound;
      await clock.tickAsync(1000);
      expect(warnings()).toHaveLength(said + 1);
      expect(warnings().at(-1)!.msg).toBe(
        'room "a" not found (HTTP 404), though it answered before: deleted or expired in Daily? The person last seen in it is kept as present (a 404 is no snapshot: no leave is made from it); take it off --room (rooms) if it is gone for good',
      );
      await stopUnder(clock, w);
    });
  });

  it('a stop while a target still fails says how many failures went unsaid since its last warning (none: nothing)', async () => {
    await underFakeClock(async (clock) => {
      const client = new FakeClient();
      client.fallback = new DailyApiError({ code: 'DAILY_SERVER_ERROR', message: 'Daily answered HTTP 503', target: '*', status: 503 });
      const { logger, lines } = capturingLogger('info');
      const w = new PresenceWatcher({ client, allRooms: true, intervalMs: 1000, maxRps: 1000, backoffMinMs: 100, backoffMaxMs: 100, logger });
      const errors: Error[] = [];
      w.on('error', (e) => errors.push(e));
      const warnings = () => lines.map((l) => JSON.parse(l) as { level: number; msg: string; repeated?: number }).filter((l) => l.level === 40);
      w.start();
      await clock.tickAsync(20_500);
      expect(warnings().map((l) => l.msg)).toEqual(['Daily answered HTTP 503']);
      await stopUnder(clock, w);
      expect(warnings().slice(1)).toMatchObject([
        { target: '*', repeated: errors.length - 1, msg: `GET /presence: ${errors.length - 1} more failed attempt(s) since its last warning; still failing at the stop` },
      ]);

      // one failure, said when it happened: nothing more to say at the stop
      const quiet = capturingLogger('info');
      const once = new FakeClient();
      once.fallback = new DailyApiError({ code: 'DAILY_SERVER_ERROR', message: 'Daily answered HTTP 503', target: 'a', status: 503 });
      const w2 = new PresenceWatcher({ client: once, rooms: ['a'], intervalMs: 60_000, maxRps: 1000, backoffMinMs: 50_000, backoffMaxMs: 50_000, logger: quiet.logger });
      w2.on('error', () => {});
      w2.start();
      await clock.tickAsync(10);
      await stopUnder(clock, w2);
      expect(quiet.lines.map((l) => JSON.parse(l).msg)).toEqual(['Daily answered HTTP 503']);
    });
  });

  it('a failure is the same one when only Daily\'s debug text or the asked-for wait differs (an outage does not warn every attempt)', async () => {
    await underFakeClock(async (clock) => {
      const client = new FakeClient();
      client.script = Array.from({ length: 15 }, (_, i) => httpError('a', 503, { type: 'server-error', info: `request ${i + 1} failed` }, undefined));
      client.fallback = [];
      const { logger, lines } = capturingLogger('info');
      const w = new PresenceWatcher({ client, rooms: ['a'], intervalMs: 1000, maxRps: 1000, backoffMinMs: 100, backoffMaxMs: 100, logger });
      const errors: Error[] = [];
      w.on('error', (e) => errors.push(e));
      const warnings = () => lines.map((l) => JSON.parse(l) as { level: number; msg: string }).filter((l) => l.level === 40).map((l) => l.msg);
      w.start();
      await clock.tickAsync(10_000);
      expect(errors).toHaveLength(15);
      expect(new Set(errors.map((e) => e.message)).size).toBe(15);
      expect(warnings()).toEqual(['Daily server error polling room "a" (HTTP 503 server-error "request 1 failed")']);
      client.script = Array.from({ length: 6 }, (_, i) => httpError('a', 429, { type: 'rate-limit-error' }, 1000 * (i % 3 + 1)));
      await clock.tickAsync(30_000);
      expect(errors).toHaveLength(21);
      expect(warnings()).toHaveLength(2);
      expect(warnings()[1]).toBe('rate limited by Daily polling room "a" (HTTP 429 rate-limit-error); Daily asked to wait 1s');
      await stopUnder(clock, w);
    });
  });
});

describe('delivery delay metric (fake timers)', () => {
  it('counts from the event\'s time to the sink\'s confirmation, retries included', async () => {
    await underFakeClock(async (clock) => {
      let calls = 0;
      // the first try fails after 1 s, the second takes 1 s more
      const sink = {
        kind: 'webhook',
        name: 'webhook-1(h.example)',
        maxBatch: 1,
        minIntervalMs: 0,
        deliver: () =>
          new Promise<void>((resolve, reject) => setTimeout(() => (++calls === 1 ? reject(new Error('HTTP 503')) : resolve()), 1000)),
      };
      const q = new DeliveryQueue({ sink: sink as never, deadLetter: new LogDeadLetter(quietLogger), logger: quietLogger, backoffMinMs: 500, backoffMaxMs: 500, random: () => 0.5 });
      const metrics = new Metrics();
      metrics.observeQueue(q);
      q.push({ id: 'evt_1', type: 'join', room: 'r', at: new Date().toISOString(), participant: p('a') });
      await clock.tickAsync(5000);
      expect(calls).toBe(2);
      const text = await metrics.registry.metrics();
      const bucket = (le: string) => Number(new RegExp(`^presence_watcher_delivery_delay_seconds_bucket\\{le="${le}",sink="webhook-1\\(h\\.example\\)"\\} (\\d+)$`, 'm').exec(text)?.[1]);
      expect(bucket('1')).toBe(0);
      expect(bucket('2.5')).toBe(1);
      const sum = Number(/^presence_watcher_delivery_delay_seconds_sum\{sink="webhook-1\(h\.example\)"\} (\S+)$/m.exec(text)?.[1]);
      expect(sum).toBeGreaterThanOrEqual(2);
      expect(sum).toBeLessThan(2.6); // 1 s, a backoff of at most 500 ms, 1 s
      await q.close();
    }, Date.parse('2026-11-26T09:00:00.000Z'));
  });
});

describe('partial snapshots (fake timers)', () => {
  it('a room Daily lists only in part: said when it starts, hourly while it lasts, and when it ends; shown in /healthz, the metric and the poll event; no leave for who is left out', async () => {
    await underFakeClock(async (clock) => {
      const client = new FakeClient();
      client.fallback = [p('x'), p('y')];
      client.totalCount = 3;
      const { logger, lines } = capturingLogger('info');
      const w = new PresenceWatcher({ client, rooms: ['a'], intervalMs: 1000, maxRps: 1000, logger });
      const metrics = new Metrics();
      metrics.observeWatcher(w, false);
      const health = new HealthServer({ watcher: w, metrics, queues: [], host: '127.0.0.1', port: 0 });
      const gauge = async () => (await metrics.registry.metrics()).match(/^presence_watcher_partial_rooms (\d+)$/m)?.[1];
      const polled: (true | undefined)[] = [];
      w.on('poll', (info) => polled.push(info.partial));
      const leaves: string[] = [];
      w.on('leave', (e) => leaves.push(e.participant.id));
      const said = (text: string) => lines.filter((l) => l.includes(text)).length;
      const partialLine = 'Daily returned 2 of 3 participants in room \\"a\\"';
      w.start();
      await clock.tickAsync(10_500);
      expect(polled.length).toBeGreaterThanOrEqual(10);
      expect(polled.every((x) => x === true)).toBe(true);
      expect(said(partialLine)).toBe(1); // not once a poll
      expect(w.partialRooms).toEqual(['a']);
      expect(health.report().targets.a).toMatchObject({ partial: true });
      expect(health.report().status).toBe('ok'); // the watcher works; Daily leaves people out
      expect(await gauge()).toBe('1');
      // y is no longer listed, but the list is partial: y may be among those left out
      client.fallback = [p('x')];
      await clock.tickAsync(60 * 60_000);
      expect(leaves).toEqual([]);
      expect(said('Daily returned 1 of 3 participants in room \\"a\\"')).toBe(1); // an hour on, once more
      // listed in full again: said, and y's leave now comes
      client.totalCount = undefined;
      await clock.tickAsync(1000);
      expect(said('Daily lists everyone in room \\"a\\" again')).toBe(1);
      expect(leaves).toEqual(['y']);
      expect(polled.at(-1)).toBeUndefined();
      expect(w.partialRooms).toEqual([]);
      expect(health.report().targets.a).toMatchObject({ partial: false });
      expect(await gauge()).toBe('0');
      await stopUnder(clock, w);
    });
  });
});

describe('state saving (fake timers)', () => {
  it('a failing save makes /healthz unhealthy and sets the metric; it is tried again each interval, changed or not, until it succeeds', async () => {
    const clock = FakeTimers.install({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date', 'performance'] });
    try {
      let failWith: string | undefined = 'EACCES: permission denied, open \'/state/presence.json.tmp\'';
      const saved: string[][] = [];
      const store = {
        load: async () => undefined,
        save: async (st: { rooms: Record<string, Participant[]> }) => {
          if (failWith) throw new Error(failWith);
          saved.push((st.rooms.a ?? []).map((x) => x.id));
        },
      };
      const client = new FakeClient();
      client.fallback = [p('x')];
      const w = new PresenceWatcher({ client, rooms: ['a'], intervalMs: 1000, maxRps: 1000, logger: quietLogger, stateStore: store as never });
      w.on('error', () => {}); // a failed save is also an 'error' event
      const metrics = new Metrics();
      metrics.observeWatcher(w, false);
      const health = new HealthServer({ watcher: w, metrics, queues: [], host: '127.0.0.1', port: 0 });
      const gauge = async () => (await metrics.registry.metrics()).match(/^presence_watcher_state_save_failing (\d)$/m)?.[1];
      const savedAt = async () => (await metrics.registry.metrics()).match(/^presence_watcher_state_saved_timestamp_seconds (\S+)$/m)?.[1];
      expect(w.stateSaveError).toBeUndefined();
      expect(w.stateSavedAt).toBeUndefined();
      expect(await savedAt()).toBe('0');
      w.start();
      await clock.tickAsync(1500);
      expect(w.stateSaveError).toContain('EACCES');
      expect(health.report().status).toBe('unhealthy');
      expect(health.report().reasons).toEqual([`cannot save state: ${failWith}`]);
      expect(await gauge()).toBe('1');
      // the disk is writable again: with nothing changed, the save is tried again within an interval
      expect(await savedAt()).toBe('0'); // nothing written yet
      failWith = undefined;
      await clock.tickAsync(1000);
      expect(saved).toEqual([['x']]);
      expect(w.stateSaveError).toBeUndefined();
      const at = w.stateSavedAt!;
      expect(Date.now() - at).toBeGreaterThanOrEqual(0);
      expect(Date.now() - at).toBeLessThan(1000);
      expect(Number(await savedAt())).toBe(at / 1000);
      // a watcher without a state store has no such metric
      const plain = new Metrics();
      plain.observeWatcher(new PresenceWatcher({ client: new FakeClient(), rooms: ['a'], logger: quietLogger }), false);
      expect(await plain.registry.metrics()).not.toContain('presence_watcher_state_saved_timestamp_seconds');
      expect(health.report()).toMatchObject({ status: 'ok', reasons: [] });
      expect(await gauge()).toBe('0');
      await stopUnder(clock, w);
    } finally {
      clock.uninstall();
    }
  });


  it('saves when the baseline changed, not on every poll', async () => {
    const clock = FakeTimers.install({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date', 'performance'] });
    try {
      const saved: string[][] = [];
      const store = { load: async () => undefined, save: async (st: { rooms: Record<string, Participant[]> }) => void saved.push((st.rooms.a ?? []).map((x) => x.id)) };
      const client = new FakeClient();
      client.fallback = [p('x')];
      const w = new PresenceWatcher({ client, rooms: ['a'], intervalMs: 1000, maxRps: 1000, logger: quietLogger, stateStore: store as never });
      w.start();
      await clock.tickAsync(4500); // 5 polls, one snapshot
      expect(client.calls.length).toBeGreaterThanOrEqual(5);
      expect(saved).toEqual([['x']]);
      client.fallback = [p('x'), p('y')];
      await clock.tickAsync(1000);
      expect(saved).toEqual([['x'], ['x', 'y']]);
      await stopUnder(clock, w);
      expect(saved.at(-1)).toEqual(['x', 'y']); // and once more at stop
    } finally {
      clock.uninstall();
    }
  });

  it('saveEveryMs: a change within it of the last save is saved once it has passed (the latest state, once), one after it at once, and at stop whatever is due; nothing changed, nothing saved', async () => {
    const clock = FakeTimers.install({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date', 'performance'] });
    try {
      const saved: { at: number; ids: string[] }[] = [];
      const store = { load: async () => undefined, save: async (st: { rooms: Record<string, Participant[]> }) => void saved.push({ at: performance.now(), ids: (st.rooms.a ?? []).map((x) => x.id) }) };
      const ids = () => saved.map((x) => x.ids);
      const client = new FakeClient();
      client.fallback = [p('x')];
      const w = new PresenceWatcher({ client, rooms: ['a'], intervalMs: 1000, maxRps: 1000, logger: quietLogger, stateStore: store as never, saveEveryMs: 10_000 });
      w.start();
      await clock.tickAsync(500); // the first poll: saved at once
      expect(ids()).toEqual([['x']]);
      // 30 polls without a change: nothing written
      await clock.tickAsync(30_000);
      expect(saved).toHaveLength(1);
      // a change long after the last save: saved at once
      client.fallback = [p('x'), p('y')];
      await clock.tickAsync(1000);
      expect(ids()).toEqual([['x'], ['x', 'y']]);
      const second = saved[1]!.at;
      // two more within 10 s of it: not saved yet
      client.fallback = [p('y')];
      await clock.tickAsync(2000);
      client.fallback = [p('y'), p('z')];
      await clock.tickAsync(2000);
      expect(saved).toHaveLength(2);
      // 10 s after that save: one save, of the state as it is then
      await clock.tickAsync(second + 10_000 - performance.now() - 1);
      expect(saved).toHaveLength(2);
      await clock.tickAsync(1);
      expect(ids()).toEqual([['x'], ['x', 'y'], ['y', 'z']]);
      expect(saved[2]!.at - second).toBe(10_000);
      // a change, then a stop before its save is due: saved at the stop, and not again after it
      client.fallback = [p('z')];
      await clock.tickAsync(1000);
      expect(saved).toHaveLength(3);
      await stopUnder(clock, w);
      expect(ids()).toEqual([['x'], ['x', 'y'], ['y', 'z'], ['z']]);
      await clock.tickAsync(60_000);
      expect(saved).toHaveLength(4);
    } finally {
      clock.uninstall();
    }
  });

  it('stateSavedAt is read from the watcher\'s wall clock (the now option), as the saved state\'s savedAt is', async () => {
    const clock = FakeTimers.install({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date', 'performance'] });
    try {
      const saved: string[] = [];
      const store = { load: async () => undefined, save: async (st: { savedAt: string }) => void saved.push(st.savedAt) };
      const client = new FakeClient();
      client.fallback = [p('x')];
      const wall = Date.parse('2030-06-01T12:00:00.000Z');
      const w = new PresenceWatcher({ client, rooms: ['a'], intervalMs: 1000, maxRps: 1000, logger: quietLogger, stateStore: store as never, now: () => wall });
      w.start();
      await clock.tickAsync(500);
      expect(saved).toEqual(['2030-06-01T12:00:00.000Z']);
      expect(w.stateSavedAt).toBe(wall);
      await stopUnder(clock, w);
    } finally {
      clock.uninstall();
    }
  });

  it('saveEveryMs is checked: a number from 0 to a day, and only with a stateStore', () => {
    const store = { load: async () => undefined, save: async () => {} };
    const base = { client: new FakeClient(), rooms: ['a'], logger: quietLogger };
    expect(() => new PresenceWatcher({ ...base, saveEveryMs: 60_000 })).toThrow(/^PresenceWatcher: saveEveryMs applies with a stateStore only/);
    expect(() => new PresenceWatcher({ ...base, stateStore: store, saveEveryMs: -1 })).toThrow(/saveEveryMs must be a number ≥ 0, got -1/);
    expect(() => new PresenceWatcher({ ...base, stateStore: store, saveEveryMs: 86_400_001 })).toThrow(/saveEveryMs must be at most 86400000 \(a day\), got 86400001/);
    expect(() => new PresenceWatcher({ ...base, stateStore: store, saveEveryMs: 86_400_000 })).not.toThrow();
    expect(() => new PresenceWatcher({ ...base, saveEveryMs: 0 })).not.toThrow();
  });
});

describe('files on disk', () => {
  it('directories are made with their parents, and a path no directory can be made at fails with its errno instead of spinning (procfs answers ENOENT, on which Node\'s recursive mkdir loops for ever)', async () => {
    const dir = tmp();
    makeDirsSync(join(dir, 'a', 'b', 'c'));
    await makeDirs(join(dir, 'x', 'y'));
    expect(statSync(join(dir, 'a', 'b', 'c')).isDirectory()).toBe(true);
    expect(statSync(join(dir, 'x', 'y')).isDirectory()).toBe(true);
    makeDirsSync(join(dir, 'a', 'b')); // already there
    await makeDirs(join(dir, 'x'));
    writeFileSync(join(dir, 'file'), '');
    expect(() => makeDirsSync(join(dir, 'file'))).toThrow(expect.objectContaining({ code: 'ENOTDIR' }));
    await expect(makeDirs(join(dir, 'file', 'sub'))).rejects.toMatchObject({ code: 'ENOTDIR' });
    if (existsSync('/proc/self')) {
      expect(() => makeDirsSync('/proc/no-such/dir')).toThrow(expect.objectContaining({ code: 'ENOENT' }));
      await expect(makeDirs('/proc/no-such/dir')).rejects.toMatchObject({ code: 'ENOENT' });
    }
  });

  it('every file that holds people\'s names and ids is readable by its owner only: state, lock, outbox, dead-letter', async () => {
    const before = process.umask(0o022); // the usual umask, under which a file is created world-readable
    try {
      const dir = tmp();
      const ev: PresenceEvent = { id: 'evt_1', type: 'join', room: 'r', at, participant: p('a', 'Ada Lovelace') };
      await new FileStateStore(join(dir, 'state.json')).save({ version: 1, savedAt: at, mode: 'rooms', rooms: { r: [p('a')] } });
      const lock = new StateLock(join(dir, 'state.json'));
      await lock.acquire();
      const outbox = new Outbox(join(dir, 'state.json.outbox.ndjson'), quietLogger);
      outbox.record(ev, ['stdout']);
      new FileDeadLetter(join(dir, 'dead.ndjson'), quietLogger).write('webhook-1(x)', 'HTTP 400', [ev]);
      const modes = Object.fromEntries(readdirSync(dir).map((f) => [f, (statSync(join(dir, f)).mode & 0o777).toString(8)]));
      expect(modes).toEqual({ 'state.json': '600', 'state.json.lock': '600', 'state.json.outbox.ndjson': '600', 'dead.ndjson': '600' });
      outbox.close();
      lock.release();
    } finally {
      process.umask(before);
    }
  });
});

describe('the state lock', () => {
  const linux = startTime(process.pid) !== undefined;
  const ours = linux ? { boot: readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim(), pidns: readlinkSync('/proc/self/ns/pid') } : {};
  /** A live process that is not a presence-watcher, as a reused pid would be. */
  async function otherProcess() {
    const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
    await new Promise((resolve, reject) => child.once('spawn', resolve).once('error', reject));
    return child;
  }

  it('names its owner by pid, boot, start time and pid namespace, and reads a lock of the pid alone (written before them)', async () => {
    const dir = tmp();
    const lock = new StateLock(join(dir, 'state.json'));
    await lock.acquire();
    const owner = lock.owner();
    expect(owner).toMatchObject({ pid: process.pid });
    if (linux) expect(owner).toEqual({ pid: process.pid, ...ours, start: startTime(process.pid) });
    expect(lock.heldByAnother()).toBeUndefined(); // ourselves
    lock.release();
    expect(lock.owner()).toBe('gone');
    expect(parseOwner('4242\n')).toEqual({ pid: 4242 });
    expect(parseOwner('')).toBeUndefined();
    expect(parseOwner(formatOwner({ pid: 7, boot: 'b', start: '99', pidns: 'pid:[1]' }))).toEqual({ pid: 7, boot: 'b', start: '99', pidns: 'pid:[1]' });
  });

  it('refuses a lock whose owner runs, and takes over one whose pid now belongs to another process (another boot, or a reused pid)', async () => {
    const child = await otherProcess();
    try {
      const pid = child.pid!;
      const state = join(tmp(), 'state.json');
      const lock = new StateLock(state);
      // the owner as it would have written the lock itself: it runs, so the lock holds
      const own = { pid, ...ours, ...(linux ? { start: startTime(pid)! } : {}) };
      writeFileSync(lock.path, formatOwner(own));
      await expect(lock.acquire()).rejects.toThrow(new RegExp(`in use by another presence-watcher \\(pid ${pid}, lock .*if no daemon runs with this state file, remove the lock`));
      expect(lock.heldByAnother()).toEqual(own);
      // a lock of the pid alone: nothing tells it from a reused pid, so it holds too
      writeFileSync(lock.path, `${pid}\n`);
      await expect(lock.acquire()).rejects.toThrow(StateError);
      if (!linux) return;
      // the same pid, started at another time: the pid was reused after its owner died
      writeFileSync(lock.path, formatOwner({ ...own, start: String(Number(own.start) + 1) }));
      expect(lock.heldByAnother()).toBeUndefined();
      await lock.acquire();
      expect(lock.owner()).toMatchObject({ pid: process.pid });
      lock.release();
      // written in an earlier boot: stale whatever runs under that pid now
      writeFileSync(lock.path, formatOwner({ ...own, boot: 'an-earlier-boot' }));
      await lock.acquire();
      expect(lock.owner()).toMatchObject({ pid: process.pid });
      lock.release();
    } finally {
      child.kill();
    }
  });

  it('takes over an empty lock (a kill between creating it and writing it) and one of a dead process', async () => {
    const child = await otherProcess();
    const pid = child.pid!;
    child.kill();
    await new Promise((resolve) => child.once('exit', resolve));
    const lock = new StateLock(join(tmp(), 'state.json'));
    writeFileSync(lock.path, '');
    await lock.acquire();
    lock.release();
    writeFileSync(lock.path, formatOwner({ pid, ...ours }));
    await lock.acquire();
    expect(lock.owner()).toMatchObject({ pid: process.pid });
    lock.release();
  });

  it.runIf(startTime(process.pid) !== undefined)('takes over the lock of a killed process its parent has not reaped yet (a zombie: its pid still answers signals)', async () => {
    // the backgrounded sleep's parent becomes the exec'd sleep, which never waits for its children
    const parent = spawn('sh', ['-c', 'sleep 60 & echo $!; exec sleep 60'], { stdio: ['ignore', 'pipe', 'ignore'] });
    try {
      const pid = Number(await new Promise<string>((resolve) => parent.stdout!.once('data', (d: Buffer) => resolve(String(d).trim()))));
      // the echo comes before the exec: until then the zombie's parent is the shell, which may reap
      // it (under load it did: the pid was gone, ESRCH, between seeing it a zombie and signalling it)
      const execd = () => readFileSync(`/proc/${parent.pid}/comm`, 'utf8').trim() === 'sleep';
      for (let i = 0; i < 100_000 && !execd(); i++) await new Promise((resolve) => setImmediate(resolve));
      expect(execd()).toBe(true);
      const state = join(tmp(), 'state.json');
      const lock = new StateLock(state);
      writeFileSync(lock.path, formatOwner({ pid, ...ours, start: startTime(pid)! }));
      expect(lock.heldByAnother()).toMatchObject({ pid });
      process.kill(pid, 'SIGKILL');
      const zombie = () => {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
      };
      for (let i = 0; i < 100_000 && !zombie(); i++) await new Promise((resolve) => setImmediate(resolve));
      expect(zombie()).toBe(true);
      expect(() => process.kill(pid, 0)).not.toThrow(); // what the pid check alone goes by
      expect(lock.heldByAnother()).toBeUndefined();
      await lock.acquire();
      expect(lock.owner()).toMatchObject({ pid: process.pid });
      lock.release();
    } finally {
      parent.kill('SIGKILL');
    }
  });

  it('is created whole, in one step (a draft linked into place): no draft is left beside it, and release removes it', async () => {
    const dir = tmp();
    const lock = new StateLock(join(dir, 'state.json'));
    await lock.acquire();
    expect(readdirSync(dir)).toEqual(['state.json.lock']);
    expect(parseOwner(readFileSync(lock.path, 'utf8'))).toMatchObject({ pid: process.pid });
    lock.release();
    expect(readdirSync(dir)).toEqual([]);
  });

  /** A lock acquired in a new directory, with what its onLost and onRestored were called with. */
  async function watchedLock() {
    const dir = tmp();
    const lock = new StateLock(join(dir, 'state.json'));
    const calls = { lost: [] as unknown[], restored: 0 };
    await lock.acquire({ onLost: (owner) => calls.lost.push(owner), onRestored: () => calls.restored++ });
    return { dir, lock, calls };
  }

  it('its heartbeat notices a lock taken over by another process (onLost, once; release leaves the other\'s lock alone) and writes again one removed meanwhile (onRestored)', async () => {
    await underFakeClock(async (clock) => {
      const { dir, lock, calls } = await watchedLock();
      const { lost } = calls;
      const mine = readFileSync(lock.path, 'utf8');
      // removed by hand (or by a cleaner of old files): written again at the next beat, ours still
      unlinkSync(lock.path);
      await clock.tickAsync(LOCK_HEARTBEAT_MS);
      expect(calls.restored).toBe(1);
      expect(readFileSync(lock.path, 'utf8')).toBe(mine);
      expect(readdirSync(dir)).toEqual(['state.json.lock']);
      // another daemon judged it stale (this process was paused) and took it over
      const other = formatOwner({ pid: 4242, boot: 'b', start: '7', pidns: 'pid:[9]' });
      writeFileSync(lock.path, other);
      const touched = statSync(lock.path).mtimeMs;
      await clock.tickAsync(LOCK_HEARTBEAT_MS);
      expect(lost).toEqual([{ pid: 4242, boot: 'b', start: '7', pidns: 'pid:[9]' }]);
      await clock.tickAsync(3 * LOCK_HEARTBEAT_MS);
      expect(lost).toHaveLength(1);
      expect(statSync(lock.path).mtimeMs).toBe(touched); // its heartbeat stopped: no longer touching another's lock
      lock.release();
      expect(readFileSync(lock.path, 'utf8')).toBe(other);
      expect(calls.restored).toBe(1);
    }, Date.now());
  });

  it('confirm() looks now, as a heartbeat would: true while it names this process (and after writing again one removed), false once another took it over (onLost, once, heartbeat or not), false after release', async () => {
    await underFakeClock(async (clock) => {
      const { lock, calls } = await watchedLock();
      const { lost } = calls;
      expect(lock.confirm()).toBe(true);
      unlinkSync(lock.path);
      expect(lock.confirm()).toBe(true);
      expect(calls.restored).toBe(1);
      const other = formatOwner({ pid: 4242, boot: 'b', start: '7', pidns: 'pid:[9]' });
      writeFileSync(lock.path, other);
      expect(lock.confirm()).toBe(false);
      expect(lost).toEqual([{ pid: 4242, boot: 'b', start: '7', pidns: 'pid:[9]' }]);
      expect(lock.confirm()).toBe(false);
      await clock.tickAsync(3 * LOCK_HEARTBEAT_MS); // the heartbeat stopped: no second onLost
      expect(lost).toHaveLength(1);
      lock.release();
      expect(readFileSync(lock.path, 'utf8')).toBe(other);
      const again = new StateLock(join(tmp(), 'state.json'));
      await again.acquire();
      again.release();
      expect(again.confirm()).toBe(false);
    }, Date.now());
  });

  describe.runIf(linux)('a lock from another pid namespace (another container on the same volume), by its heartbeat (fake timers)', () => {
    /** pid 1 of a namespace that is not ours, as the other container would write it. */
    const foreign = () => ({ ...ours, pid: 1, start: '12345', pidns: 'pid:[1]' });

    it('holds while its holder touches it: acquire waits, saying so, and refuses once it sees a touch', async () => {
      await underFakeClock(async (clock) => {
        const lock = new StateLock(join(tmp(), 'state.json'));
        writeFileSync(lock.path, formatOwner(foreign()));
        // the other container's heartbeat
        const beat = setInterval(() => utimesSync(lock.path, new Date(), new Date()), LOCK_HEARTBEAT_MS);
        const waits: number[] = [];
        const taking = lock.acquire({ onWait: (_owner, ms) => waits.push(ms) });
        const outcome = taking.then(() => 'acquired', (err: Error) => err.message);
        expect(lock.heldByAnother()).toMatchObject({ pid: 1, pidns: 'pid:[1]' });
        await clock.tickAsync(LOCK_HEARTBEAT_MS + 1000);
        expect(await outcome).toMatch(/^state file is in use by another presence-watcher \(pid 1 in another pid namespace, e\.g\. another container, lock .*\)/);
        expect(waits).toHaveLength(1);
        expect(waits[0]).toBeGreaterThan(LOCK_STALE_MS - 1000);
        clearInterval(beat);
      }, Date.now());
    });

    it('the wait gives up when its signal is aborted (a stop asked for during start-up), leaving the lock as it was', async () => {
      await underFakeClock(async (clock) => {
        const lock = new StateLock(join(tmp(), 'state.json'));
        const text = formatOwner(foreign());
        writeFileSync(lock.path, text);
        const stop = new AbortController();
        const outcome = lock.acquire({ signal: stop.signal }).then(() => 'acquired', (err: unknown) => err);
        await clock.tickAsync(2500);
        stop.abort('SIGTERM');
        await clock.tickAsync(0);
        expect(await outcome).toBe('SIGTERM');
        expect(readFileSync(lock.path, 'utf8')).toBe(text);
        await clock.tickAsync(LOCK_STALE_MS * 2);
        expect(readFileSync(lock.path, 'utf8')).toBe(text); // nothing goes on waiting and takes it later
      }, Date.now());
    });

    it('taken over once untouched for LOCK_STALE_MS (its container is gone), and at once when removed meanwhile', async () => {
      await underFakeClock(async (clock) => {
        const lock = new StateLock(join(tmp(), 'state.json'));
        writeFileSync(lock.path, formatOwner(foreign()));
        let done = false;
        const taking = lock.acquire().then(() => (done = true));
        await clock.tickAsync(LOCK_STALE_MS - 2000);
        expect(done).toBe(false);
        await clock.tickAsync(3000);
        await taking;
        expect(lock.owner()).toMatchObject({ pid: process.pid });
        // ours now beats: the file is touched every LOCK_HEARTBEAT_MS
        const before = statSync(lock.path).mtimeMs;
        await clock.tickAsync(LOCK_HEARTBEAT_MS);
        expect(statSync(lock.path).mtimeMs).toBeGreaterThanOrEqual(before + LOCK_HEARTBEAT_MS - 1);
        lock.release();
        // one whose time says an hour old (its holder's clock may be behind ours): still watched for
        // a heartbeat and a half before it is taken
        writeFileSync(lock.path, formatOwner(foreign()));
        utimesSync(lock.path, new Date(Date.now() - 3_600_000), new Date(Date.now() - 3_600_000));
        let old = false;
        const older = lock.acquire().then(() => (old = true));
        await clock.tickAsync(LOCK_WATCH_MS - 1000);
        expect(old).toBe(false);
        await clock.tickAsync(2000);
        await older;
        lock.release();
        // another one, removed by its holder while we wait: no need to wait out the rest
        writeFileSync(lock.path, formatOwner(foreign()));
        let second = false;
        const again = lock.acquire().then(() => (second = true));
        await clock.tickAsync(1000);
        unlinkSync(lock.path);
        await clock.tickAsync(1000);
        await again;
        expect(second).toBe(true);
        lock.release();
      }, Date.now());
    });
  });
});

describe('liveness (/livez)', () => {
  /** The little of a watcher that HealthServer reads, with polls emitted by hand. */
  function stubWatcher(intervalMs: number) {
    return Object.assign(new EventEmitter(), { isRunning: true, targets: ['a'], intervalMs, pollPeriodMs: intervalMs, stateSaveError: undefined as string | undefined, partialRooms: [] as string[] });
  }

  it('judges each room against the period the request budget allows when it cannot poll every room each interval (10 rooms at 2/s: every 5 s, not every 1 s)', async () => {
    let now = 0;
    const rooms = Array.from({ length: 10 }, (_, i) => `r${i}`);
    const w = new PresenceWatcher({ apiKey: 'k', rooms, intervalMs: 1000, maxRps: 2, logger: quietLogger });
    const roomy = new PresenceWatcher({ apiKey: 'k', rooms, intervalMs: 15_000, logger: quietLogger });
    try {
      expect(w.pollPeriodMs).toBe(5000);
      expect(roomy.pollPeriodMs).toBe(15_000); // 10 rooms at 5/s fit in 15 s
      const health = new HealthServer({ watcher: w, metrics: new Metrics(), queues: [], host: '127.0.0.1', port: 0, now: () => now });
      for (const target of rooms) w.emit('poll', { target, ok: true, participants: 0, rooms: 0, durationMs: 1, events: 0 });
      const stale = () => health.report().reasons.filter((r) => /no successful poll/.test(r));
      now = 14_000; // every room polled once in the last 5 s, as the budget allows: healthy
      expect(stale()).toEqual([]);
      now = 16_000; // 3 periods without one
      expect(stale()).toEqual(rooms.map((r) => `room "${r}": no successful poll for 16s`));
    } finally {
      await Promise.all([w.stop(), roomy.stop()]);
    }
  });

  it('alive while polls keep finishing, failed ones included; stuck after 20 quiet minutes or once stopped', async () => {
    let now = 1_000_000;
    const w = stubWatcher(15_000);
    const health = new HealthServer({ watcher: w as never, metrics: new Metrics(), queues: [], host: '127.0.0.1', port: 0, now: () => now });
    const url = await health.listen();
    try {
      const livez = async () => {
        const res = await fetch(`${url}/livez`);
        return { code: res.status, body: await res.json() };
      };
      expect(await livez()).toEqual({ code: 200, body: { status: 'alive' } });
      // Daily down for 19 minutes: every poll fails, /healthz says so, /livez stays 200 (a restart fixes nothing)
      for (let t = 0; t < 19 * 60; t += 60) {
        now += 60_000;
        w.emit('poll', { target: 'a', ok: false, error: new Error('Daily server error'), participants: 0, rooms: 0, durationMs: 1, events: 0 });
      }
      expect(health.report().status).toBe('unhealthy');
      expect(await livez()).toEqual({ code: 200, body: { status: 'alive' } });
      // then nothing at all finishes: the loop is stuck
      now += LIVENESS_WINDOW_MIN_MS - 1000;
      expect((await livez()).code).toBe(200);
      now += 2000;
      expect(await livez()).toEqual({ code: 503, body: { status: 'stuck', reason: 'no poll has finished, successfully or not, for 1201s' } });
      // one poll finishing makes it alive again
      w.emit('poll', { target: 'a', ok: true, participants: 0, rooms: 0, durationMs: 1, events: 0 });
      expect((await livez()).code).toBe(200);
      w.isRunning = false;
      expect(await livez()).toEqual({ code: 503, body: { status: 'stuck', reason: 'the watcher is not running' } });
    } finally {
      await health.close();
    }
  });

  it('measures ages on the monotonic clock: a wall clock stepped an hour either way neither stales a fresh poll nor freshens a stale one', () => {
    const clock = FakeTimers.install({ toFake: ['Date', 'performance'], now: 1_700_000_000_000 });
    try {
      const w = stubWatcher(15_000);
      const health = new HealthServer({ watcher: w as never, metrics: new Metrics(), queues: [], host: '127.0.0.1', port: 0 });
      w.emit('poll', { target: 'a', ok: true, participants: 0, rooms: 0, durationMs: 1, events: 0 });
      // a VM resumed, or NTP corrected a slow clock: the wall clock jumps an hour ahead
      clock.setSystemTime(Date.now() + 3_600_000);
      clock.tick(1000);
      expect(health.report()).toMatchObject({ status: 'ok', targets: { a: { lastSuccess: new Date(1_700_000_000_000).toISOString() } } });
      expect(health.liveness()).toEqual({ status: 'alive' });
      // and back two hours, while 50 s pass with no successful poll (3 intervals are 45 s)
      clock.setSystemTime(Date.now() - 7_200_000);
      clock.tick(49_000);
      expect(health.report().reasons).toEqual(['room "a": no successful poll for 50s']);
    } finally {
      clock.uninstall();
    }
  });

  it('a room named `__proto__` is a target of its own in /healthz (assigned, it became the report\'s prototype)', () => {
    const w = Object.assign(stubWatcher(15_000), { targets: ['__proto__', 'constructor'] });
    const health = new HealthServer({ watcher: w as never, metrics: new Metrics(), queues: [], host: '127.0.0.1', port: 0 });
    w.emit('poll', { target: '__proto__', ok: true, participants: 0, rooms: 0, durationMs: 1, events: 0 });
    const targets = JSON.parse(JSON.stringify(health.report().targets)) as Record<string, { lastSuccess: string | null }>;
    expect(Object.keys(targets).sort()).toEqual(['__proto__', 'constructor']);
    expect(targets['__proto__']!.lastSuccess).not.toBeNull();
    expect(targets['constructor']!.lastSuccess).toBeNull();
  });

  it('with a long interval, waits five intervals before calling it stuck', () => {
    let now = 0;
    const w = stubWatcher(60 * 60_000);
    const health = new HealthServer({ watcher: w as never, metrics: new Metrics(), queues: [], host: '127.0.0.1', port: 0, now: () => now });
    now = 4.9 * 60 * 60_000;
    expect(health.liveness()).toEqual({ status: 'alive' });
    now = 5.1 * 60 * 60_000;
    expect(health.liveness().status).toBe('stuck');
  });
});
