import { spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { resolveConfig } from '../src/config.js';
import { sinkKeys, startDaemon } from '../src/daemon.js';
import { createLogger } from '../src/log.js';
import { eventId } from '../src/diff.js';
import type { PresenceEvent } from '../src/events.js';
import { DailySimulator } from '../src/simulator/simulator.js';
import { formatOwner } from '../src/state/lock.js';
import { Outbox } from '../src/state/outbox.js';
import { replay } from '../src/state/replay.js';
import { StateError, type SavedState } from '../src/state/store.js';
import { CliRun } from './support/cli.js';
import { capturingLogger, joinOf, quietLogger, waitFor } from './support/helpers.js';
import { Receiver } from './support/receiver.js';
import { tempDir } from './support/tmp.js';

const ev = joinOf;
const tmp = () => tempDir('outbox');

const leave = (n: number): PresenceEvent => ({ ...ev(n), id: eventId('r', `p${n}`, 'leave'), type: 'leave' });

describe('Outbox', () => {
  it('keeps what is not acknowledged across a reopen, in order, per sink', () => {
    const file = join(tmp(), 'o.ndjson');
    const o = new Outbox(file, quietLogger);
    for (let i = 1; i <= 5; i++) expect(o.record(ev(i), ['a'])).toEqual(['a']);
    expect(o.record(ev(1), ['a', 'b'])).toEqual(['b']); // already waiting for a
    o.ack('a', [ev(1), ev(3)]);
    o.covered(o.seq);
    o.close();
    const again = new Outbox(file, quietLogger, 6);
    expect(again.pending('a').map((e) => e.participant.id)).toEqual(['p2', 'p4', 'p5']);
    expect(again.pending('b').map((e) => e.participant.id)).toEqual(['p1']);
    expect(again.journal()).toEqual([]);
    // reopening compacted the log to the pending events
    expect(readFileSync(file, 'utf8').trim().split('\n')).toHaveLength(4);
    again.close();
  });

  it('restoreIfRemoved: a log removed, replaced or truncated is written again from memory and appended to; one left alone is "ok"', async () => {
    const dir = tmp();
    const file = join(dir, 'o.ndjson');
    const o = new Outbox(file, quietLogger, 0, { journalMemoryCap: 3 });
    o.record(ev(1), ['a']);
    o.record(ev(2), ['a']);
    o.ack('a', [ev(1)]);
    expect(o.restoreIfRemoved()).toBe('ok');
    rmSync(file);
    o.record(ev(3), ['a']); // appended to the removed file: only memory has it
    expect(o.restoreIfRemoved()).toBe('rewritten');
    o.record(ev(4), ['a']); // appended to the new one
    // replaced (another file moved over it): the daemon's memory wins
    writeFileSync(join(dir, 'other'), '');
    renameSync(join(dir, 'other'), file);
    expect(o.restoreIfRemoved()).toBe('rewritten');
    // truncated in place (`: > file`, logrotate's copytruncate): the same file, emptied
    writeFileSync(file, '');
    expect(o.restoreIfRemoved()).toBe('rewritten');
    // and once an append went on at the old offset, after a hole of NUL bytes (a restart read the
    // hole and the record after it as one line cut short: every event waiting was lost)
    writeFileSync(file, '');
    o.record(ev(5), ['a']);
    expect(readFileSync(file)[0]).toBe(0);
    expect(o.restoreIfRemoved()).toBe('rewritten');
    expect(readFileSync(file, 'utf8').startsWith('{')).toBe(true);
    expect(o.restoreIfRemoved()).toBe('ok');
    // the directory gone too
    rmSync(dir, { recursive: true });
    expect(o.restoreIfRemoved()).toBe('rewritten');
    o.close();
    const again = new Outbox(file, quietLogger, 0);
    expect(again.pending('a').map((e) => e.participant.id)).toEqual(['p2', 'p3', 'p4', 'p5']);
    expect(again.journal().map((e) => e.participant.id)).toEqual(['p1', 'p2', 'p3', 'p4', 'p5']);
    again.close();
    // past journalMemoryCap the journal lives in the log only: removed, it is gone, and that is said
    const spilled = new Outbox(join(tmp(), 'o.ndjson'), quietLogger, 0, { journalMemoryCap: 2 });
    for (let i = 1; i <= 4; i++) spilled.record(ev(i), ['a']);
    spilled.ack('a', [ev(1), ev(2), ev(3), ev(4)]);
    await Promise.resolve(); // the next poll's first event finds the journal past the cap
    spilled.record(ev(5), ['a']);
    expect(spilled.journalInMemory).toBe(0);
    rmSync(spilled.path);
    expect(spilled.restoreIfRemoved()).toBe('spilled');
    expect(spilled.restoreIfRemoved()).toBe('ok');
    spilled.close();
  });

  it('acknowledges a batch of any size at once (a full queue drops 100,000 in one go), each ack in the log', () => {
    const file = join(tmp(), 'o.ndjson');
    const o = new Outbox(file, quietLogger);
    const events = Array.from({ length: 150_000 }, (_, i) => ev(i + 1));
    for (const e of events) o.record(e, ['a']);
    o.ack('a', events.slice(0, 149_999));
    expect(o.size).toBe(1);
    o.close();
    const again = new Outbox(file, quietLogger);
    expect(again.pending('a').map((e) => e.participant.id)).toEqual(['p150000']);
    again.close();
  });

  it('journals every event, delivered or not, until a saved state covers it', () => {
    const file = join(tmp(), 'o.ndjson');
    const o = new Outbox(file, quietLogger, 10);
    o.record(ev(1), ['a']);
    o.record(ev(2), []); // filtered out by every sink: still a change of state
    expect(o.seq).toBe(12);
    o.covered(11); // a state including ev(1) was saved
    o.record(leave(2), ['a']);
    o.ack('a', [ev(1), leave(2)]); // delivered: not pending, but leave(2) is not in a saved state yet
    o.close();

    // a kill before the next save: the state on disk says journalSeq 11
    const again = new Outbox(file, quietLogger, 11);
    expect(again.journal().map((e) => `${e.type}:${e.participant.id}`)).toEqual(['join:p2', 'leave:p2']);
    expect(again.pending('a')).toEqual([]);
    expect(again.seq).toBe(13); // numbering goes on after the journal
    again.close();
    // opened against an older state (journalSeq 10, say the save of 11 never landed): from there
    const older = new Outbox(file, quietLogger, 10);
    expect(older.journal().map((e) => `${e.type}:${e.participant.id}`)).toEqual(['join:p2', 'leave:p2']); // ev(1) was compacted away as covered
    older.close();
  });

  it('while saves fail, the journal past its memory cap lives in the log only; nothing is lost, and it comes back once a save covers it', async () => {
    const file = join(tmp(), 'o.ndjson');
    const o = new Outbox(file, quietLogger, 0, { journalMemoryCap: 5 });
    for (let i = 1; i <= 5; i++) o.record(ev(i), ['a']);
    expect(o.journalInMemory).toBe(5);
    // no save covers any of it; each is delivered (acked), which would let the log be compacted
    // past 10,000 records if the journal were not in it only. One event a poll:
    const n = 6_000;
    for (let i = 6; i <= n; i++) {
      await Promise.resolve();
      o.record(ev(i), ['a']);
      o.ack('a', [ev(i)]);
    }
    o.ack('a', [1, 2, 3, 4, 5].map(ev));
    expect(o.journalInMemory).toBe(0);
    expect(o.size).toBe(0);
    // every journaled event is still there, from the log
    const ids = (events: PresenceEvent[]) => events.map((e) => e.participant.id);
    expect(ids(o.journal())).toEqual(Array.from({ length: n }, (_, i) => `p${i + 1}`));
    // a kill now: the restart replays them all onto the old state
    const copy = join(tmp(), 'copy.ndjson');
    writeFileSync(copy, readFileSync(file));
    const restarted = new Outbox(copy, quietLogger, 0, { journalMemoryCap: 5 });
    expect(restarted.journal()).toHaveLength(n);
    expect(restarted.journalInMemory).toBe(0); // over the cap on open too
    restarted.close();
    // a save finally lands, covering all but the last three (they came during the save): back in memory
    o.covered(n - 3);
    expect(o.journalInMemory).toBe(3);
    expect(ids(o.journal())).toEqual([`p${n - 2}`, `p${n - 1}`, `p${n}`]);
    o.record(ev(n + 1), ['a']);
    expect(o.journalInMemory).toBe(4);
    o.close();
    // and compaction works again: the covered part is gone from the log
    const again = new Outbox(file, quietLogger, n - 3, { journalMemoryCap: 5 });
    expect(ids(again.journal())).toEqual([`p${n - 2}`, `p${n - 1}`, `p${n}`, `p${n + 1}`]);
    expect(ids(again.pending('a'))).toEqual([`p${n + 1}`]);
    expect(readFileSync(file, 'utf8').trim().split('\n')).toHaveLength(4);
    again.close();
  });

  it("one poll's events are journaled in memory whole, past the cap: its state is saved after them, so they are no sign of failing saves; the next poll's first event spills it if no save came", async () => {
    const file = join(tmp(), 'o.ndjson');
    const { logger, lines } = capturingLogger('warn');
    const o = new Outbox(file, logger, 0, { journalMemoryCap: 5 });
    for (let i = 1; i <= 12; i++) o.record(ev(i), ['a']); // a first snapshot of 12
    expect(o.journalInMemory).toBe(12);
    await Promise.resolve();
    expect(lines).toEqual([]);
    // its save covers it: the next poll's find the journal under the cap again
    o.covered(12);
    expect(o.journalInMemory).toBe(0);
    for (let i = 13; i <= 20; i++) o.record(ev(i), ['a']);
    await Promise.resolve();
    expect(o.journalInMemory).toBe(8);
    // no save this time: the next poll spills
    o.record(ev(21), ['a']);
    expect(o.journalInMemory).toBe(0);
    expect(lines.map((l) => (JSON.parse(l) as { msg: string }).msg)).toEqual([
      'more than 5 events since the state was last saved (saves failing, or spaced out by --save-every): the outbox journal now lives in the log file only (compaction paused) until the next save',
    ]);
    expect(o.journal().map((e) => e.participant.id)).toEqual(Array.from({ length: 9 }, (_, i) => `p${i + 13}`));
    o.close();
  });

  it('a compaction that fails (the temp file cannot be made) leaves the log as it was, and appending goes on', () => {
    const file = join(tmp(), 'o.ndjson');
    const o = new Outbox(file, quietLogger);
    mkdirSync(`${file}.tmp`); // open(…, 'w') on it fails with EISDIR
    // 12,000 records, all delivered and covered: compaction is due, and fails
    for (let i = 1; i <= 6_000; i++) {
      o.record(ev(i), ['a']);
      expect(() => o.ack('a', [ev(i)])).not.toThrow();
    }
    expect(() => o.covered(o.seq)).not.toThrow();
    // the log still takes records: two more events, one delivered
    o.record(ev(6_001), ['a']);
    o.record(ev(6_002), ['a']);
    o.ack('a', [ev(6_001)]);
    o.close();
    expect(readFileSync(file, 'utf8').trim().split('\n').length).toBeGreaterThan(12_000); // not compacted
    rmdirSync(`${file}.tmp`);
    const again = new Outbox(file, quietLogger, 6_000);
    expect(again.pending('a').map((e) => e.participant.id)).toEqual(['p6002']);
    expect(again.journal().map((e) => e.participant.id)).toEqual(['p6001', 'p6002']);
    again.close();
  });

  it('numbers from the state when the log is empty, so a new event is never taken as covered', () => {
    const file = join(tmp(), 'o.ndjson');
    const o = new Outbox(file, quietLogger, 41);
    expect(o.record(ev(1), ['a'])).toEqual(['a']);
    expect(o.seq).toBe(42);
    o.close();
    expect(new Outbox(file, quietLogger, 41).journal()).toHaveLength(1);
  });

  it('rename moves what waits for one sink to another, in order, and it stays moved after a reopen', () => {
    const file = join(tmp(), 'o.ndjson');
    const o = new Outbox(file, quietLogger);
    for (let i = 1; i <= 3; i++) o.record(ev(i), ['old']);
    o.record(ev(2), ['new']); // already waiting there: kept once
    o.rename('old', 'new');
    expect(o.pendingSinks()).toEqual(['new']);
    expect(o.pending('new').map((e) => e.participant.id)).toEqual(['p2', 'p1', 'p3']);
    o.close();
    const again = new Outbox(file, quietLogger);
    expect(again.pendingSinks()).toEqual(['new']);
    expect(again.pending('new').map((e) => e.participant.id)).toEqual(['p2', 'p1', 'p3']);
    again.close();
  });

  it('ignores a last line cut short by a crash; a corrupt line elsewhere is an error', () => {
    const dir = tmp();
    const file = join(dir, 'o.ndjson');
    const o = new Outbox(file, quietLogger);
    o.record(ev(1), ['a']);
    o.close();
    appendFileSync(file, '{"op":"ev","seq":2,"ev');
    const again = new Outbox(file, quietLogger);
    expect(again.pending('a')).toHaveLength(1);
    again.close();
    const bad = join(dir, 'bad.ndjson');
    writeFileSync(bad, 'garbage\n' + JSON.stringify({ op: 'add', sink: 'a', event: ev(1) }) + '\n');
    expect(() => new Outbox(bad, quietLogger)).toThrow(StateError);
    expect(() => new Outbox(bad, quietLogger)).toThrow(/corrupt at line 1/);
    const wrong = join(dir, 'wrong.ndjson');
    writeFileSync(wrong, JSON.stringify({ op: 'ev', seq: 1, event: { id: 'x' }, sinks: [] }) + '\n' + JSON.stringify({ op: 'ack', sink: 'a', id: 'x' }) + '\n');
    expect(() => new Outbox(wrong, quietLogger)).toThrow(/corrupt at line 1: not an outbox record \(its event: its type is undefined, not join, leave or update\)/);
    // a record of ours whose event was edited by hand: what is wrong with the event, not only that the line is
    const edited = join(dir, 'edited.ndjson');
    writeFileSync(edited, JSON.stringify({ op: 'add', sink: 'a', event: { ...ev(1), participant: { ...ev(1).participant, userName: 42 } } }) + '\n');
    expect(() => new Outbox(edited, quietLogger)).toThrow(
      `outbox ${edited} is corrupt at line 1: not an outbox record (its event: participant.userName is 42, not a string or null) (move it away to start fresh; its events would be lost)`,
    );
    const noEvent = join(dir, 'no-event.ndjson');
    writeFileSync(noEvent, '{"op":"add","sink":"a"}\n');
    expect(() => new Outbox(noEvent, quietLogger)).toThrow(/corrupt at line 1: not an outbox record \(move it away/);
  });
});

describe('replay', () => {
  const p = (id: string, userName = id) => ({ id, userId: null, userName, mtgSessionId: null, joinTime: null, duration: 1 });
  it('applies joins, updates and leaves in order onto the saved rooms', () => {
    const state: SavedState = { version: 1, savedAt: 'x', mode: 'rooms', rooms: { r: [p('a'), p('b'), p('a', 'dup')], empty: [] }, journalSeq: 3 };
    const out = replay(state, [
      { id: '1', type: 'join', room: 'r', at: 'x', participant: p('c') },
      { id: '2', type: 'leave', room: 'r', at: 'x', participant: p('b') },
      { id: '3', type: 'update', room: 'r', at: 'x', participant: p('a', 'Ann'), changes: { userName: { from: 'a', to: 'Ann' } } },
      { id: '4', type: 'join', room: 's', at: 'x', participant: p('d') },
      { id: '5', type: 'leave', room: 's', at: 'x', participant: p('d') },
    ]);
    expect(out.rooms).toEqual({ r: [p('a', 'Ann'), p('c')], empty: [], s: [] });
    expect(out.journalSeq).toBe(3);
    expect(state.rooms.r).toHaveLength(3); // the input is not changed
  });

  it('rooms named like Object.prototype\'s properties: `constructor` not yet in the state is a new room (it was Object\'s function: "not iterable"), `__proto__` a key of its own', () => {
    const state: SavedState = { version: 1, savedAt: 'x', mode: 'rooms', rooms: {}, pendingLeaves: JSON.parse('{"__proto__": {"z": "2026-11-27T00:00:00.000Z", "y": "2026-11-27T00:00:00.000Z"}}') };
    const out = replay(state, [
      { id: '1', type: 'join', room: 'constructor', at: 'x', participant: p('a') },
      { id: '2', type: 'join', room: '__proto__', at: 'x', participant: p('b') },
      { id: '3', type: 'leave', room: '__proto__', at: 'x', participant: p('z') },
    ]);
    expect(JSON.parse(JSON.stringify(out.rooms))).toEqual({ constructor: [p('a')], ['__proto__']: [p('b')] });
    expect(Object.keys(out.rooms).sort()).toEqual(['__proto__', 'constructor']);
    expect(Object.keys(out.pendingLeaves!)).toEqual(['__proto__']);
    expect(Object.keys(out.pendingLeaves!['__proto__']!)).toEqual(['y']);
  });

  it('counts each journaled update of a person onto the saved counts (the next update\'s id includes it); a leave or a join starts them afresh', () => {
    const state: SavedState = { version: 1, savedAt: 'x', mode: 'rooms', rooms: { r: [p('a'), p('b')], s: [p('z')] }, updates: { r: { a: 2, b: 1 }, s: { z: 5 } } };
    const update = (id: string, room: string, who: string) => ({ id, type: 'update' as const, room, at: 'x', participant: p(who, 'N'), changes: { userName: { from: who, to: 'N' } } });
    const out = replay(state, [update('1', 'r', 'a'), update('2', 'r', 'a'), { id: '3', type: 'leave', room: 'r', at: 'x', participant: p('b') }, update('4', 't', 'c')]);
    expect(out.updates).toEqual({ r: { a: 4 }, s: { z: 5 }, t: { c: 1 } });
    expect(state.updates).toEqual({ r: { a: 2, b: 1 }, s: { z: 5 } }); // the input is not changed
    const none = replay({ ...state, updates: { r: { a: 1 } } }, [{ id: '5', type: 'leave', room: 'r', at: 'x', participant: p('a') }]);
    expect(none).not.toHaveProperty('updates');
  });

  it('a journaled event about someone whose leave was pending settles it; the others stay pending', () => {
    const pendingLeaves = { r: { a: '2026-11-27T00:00:00.000Z', b: '2026-11-27T00:00:01.000Z' }, s: { z: '2026-11-27T00:00:02.000Z' } };
    const state: SavedState = { version: 1, savedAt: 'x', mode: 'rooms', rooms: { r: [p('a'), p('b')], s: [p('z')] }, pendingLeaves };
    const left = replay(state, [{ id: '1', type: 'leave', room: 'r', at: 'x', participant: p('a') }]);
    expect(left.pendingLeaves).toEqual({ r: { b: '2026-11-27T00:00:01.000Z' }, s: { z: '2026-11-27T00:00:02.000Z' } });
    const all = replay(left, [
      { id: '2', type: 'leave', room: 'r', at: 'x', participant: p('b') },
      { id: '3', type: 'leave', room: 's', at: 'x', participant: p('z') },
    ]);
    expect(all.pendingLeaves).toBeUndefined();
    expect(state.pendingLeaves).toBe(pendingLeaves); // the input is not changed
  });
});

describe('at-least-once delivery across restarts (CLI)', () => {
  const cleanup: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const f of cleanup.splice(0).reverse()) await f();
  });

  /** A simulator with `people` in standup, a receiver that answers 503 until told otherwise, a state dir. */
  async function setup(people: string[]) {
    const sim = new DailySimulator({ rooms: ['standup'] });
    await sim.listen();
    cleanup.push(() => sim.close());
    const r = new Receiver({ status: 503 });
    await r.listen();
    cleanup.push(() => r.close());
    for (const userName of people) sim.join('standup', { userName });
    const dir = tmp();
    const env = { DAILY_API_KEY: sim.apiKey, DAILY_API_URL: sim.url };
    const start = (args: string[], extraEnv: Record<string, string> = {}, launcher: string[] = []) => {
      const run = new CliRun(['--room', 'standup', '--interval', '100ms', '--state', join(dir, 'state.json'), ...args], { ...env, ...extraEnv }, launcher);
      cleanup.push(() => void run.kill('SIGKILL'));
      return run;
    };
    /** A run whose webhook refuses everything, stopped before it could deliver: its events stay in the outbox. */
    const leaveInOutbox = async () => {
      const run = start(['--sink', `webhook:${r.url}`, '--drain-timeout', '200ms']);
      await waitFor(r, 'request', () => r.requests.length >= 1, 15_000);
      run.kill('SIGTERM');
      expect((await run.exit).code).toBe(0);
      expect(run.stderr).toContain('stay in the outbox');
    };
    return { sim, r, dir, start, leaveInOutbox };
  }

  it('events accepted but not delivered before kill -9 are delivered after restart, with the same ids', async () => {
    const { r, start } = await setup(['A', 'B', 'C']);
    const args = ['--max-rps', '100', '--sink', `webhook:${r.url}`];
    const first = start(args);
    await waitFor(r, 'request', () => r.requests.length >= 2, 15_000);
    first.kill('SIGKILL');
    await first.exit;
    const refused = new Set(r.requests.map((x) => JSON.parse(x.body).id));
    expect(r.accepted).toHaveLength(0);

    r.fallback = { status: 200 };
    const second = start(args);
    await waitFor(r, 'request', () => r.accepted.length >= 3, 15_000);
    second.kill('SIGTERM');
    expect((await second.exit).code).toBe(0);
    const delivered = r.accepted.map((x) => JSON.parse(x.body));
    expect(delivered.map((e) => e.participant.userName).sort()).toEqual(['A', 'B', 'C']);
    expect(delivered.every((e) => e.type === 'join')).toBe(true);
    for (const id of refused) expect(delivered.map((e) => e.id)).toContain(id);
    // each transition once: the restart's diff against the saved state produced no second join
    expect(new Set(delivered.map((e) => e.id)).size).toBe(3);
  });

  it('a clean shutdown that cannot drain in time leaves the rest in the outbox, delivered on the next start', async () => {
    const { r, dir, start } = await setup(['Late']);
    const deadLetter = join(dir, 'dead.ndjson');
    const args = ['--sink', `webhook:${r.url}`, '--drain-timeout', '200ms', '--dead-letter', deadLetter];
    const first = start(args);
    await waitFor(r, 'request', () => r.requests.length >= 1, 15_000);
    first.kill('SIGTERM');
    expect((await first.exit).code).toBe(0);
    expect(first.stderr).toContain('stay in the outbox');
    r.fallback = { status: 200 };
    const second = start(args);
    await waitFor(r, 'request', () => r.accepted.length >= 1, 15_000);
    second.kill('SIGTERM');
    expect((await second.exit).code).toBe(0);
    expect(JSON.parse(r.accepted[0]!.body).participant.userName).toBe('Late');
    expect(() => readFileSync(deadLetter)).toThrow(); // nothing was dead-lettered
  });

  it('events left for a sink that is no longer configured go to the dead-letter once, not clog the outbox', async () => {
    const { r, dir, start, leaveInOutbox } = await setup(['Orphan']);
    const deadLetter = join(dir, 'dead.ndjson');
    await leaveInOutbox();
    const [sink] = sinkKeys([{ type: 'webhook', url: r.url }]);
    expect(sink).toMatch(new RegExp(`^webhook\\(${new URL(r.url).host.replace(/\./g, '\\.')}\\)#[\\w-]{8}$`));
    // the webhook is gone from the config: only stdout now
    const second = start(['--sink', 'stdout', '--dead-letter', deadLetter]);
    await second.until(() => second.stderr.includes('no longer configured'));
    second.kill('SIGTERM');
    expect((await second.exit).code).toBe(0);
    expect(second.logs.some((l) => l.msg === `1 undelivered event(s) for ${sink}, which is no longer configured, went to the dead-letter`)).toBe(true);
    // and not, before that, that it would be delivered again
    expect(second.logs.filter((l) => /will be delivered again/.test(String(l.msg)))).toEqual([]);
    const lines = readFileSync(deadLetter, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ sink, reason: 'its sink is no longer configured (the sinks changed since the last run)', event: { type: 'join', participant: { userName: 'Orphan' } } });
    const box = new Outbox(join(dir, 'state.json.outbox.ndjson'), quietLogger);
    expect(box.pendingSinks()).toEqual([]);
    box.close();
  });

  it('a sink keeps its waiting events when sinks are added or reordered around it', async () => {
    const { r, dir, start, leaveInOutbox } = await setup(['Kept']);
    const deadLetter = join(dir, 'dead.ndjson');
    await leaveInOutbox();
    r.fallback = { status: 200 };
    // a stdout sink now comes first: the webhook is webhook-2 in the list, its key unchanged
    const second = start(['--sink', 'stdout', '--sink', `webhook:${r.url}`, '--dead-letter', deadLetter]);
    await waitFor(r, 'request', () => r.accepted.length >= 1, 15_000);
    second.kill('SIGTERM');
    expect((await second.exit).code).toBe(0);
    expect(JSON.parse(r.accepted[0]!.body).participant.userName).toBe('Kept');
    expect(second.stderr).not.toContain('no longer configured');
    expect(() => readFileSync(deadLetter)).toThrow(); // nothing dead-lettered
  });

  it("an outbox from before sink keys: a sink's events waiting under its display name are delivered to it", async () => {
    const { r, dir, start } = await setup([]);
    r.fallback = { status: 200 };
    const e = { ...joinOf(1), room: 'standup' };
    writeFileSync(join(dir, 'state.json.outbox.ndjson'), JSON.stringify({ op: 'add', sink: `webhook-1(${new URL(r.url).host})`, event: e }) + '\n');
    const run = start(['--sink', `webhook:${r.url}`]);
    await waitFor(r, 'request', () => r.accepted.length >= 1, 15_000);
    run.kill('SIGTERM');
    expect((await run.exit).code).toBe(0);
    expect(JSON.parse(r.accepted[0]!.body).id).toBe(e.id);
    const box = new Outbox(join(dir, 'state.json.outbox.ndjson'), quietLogger);
    expect(box.pendingSinks()).toEqual([]);
    box.close();
  });

  it('the state file and outbox removed under a running daemon (a cleaner of old files) are written again at its next heartbeat: a kill -9 after loses nothing, and the restart is no first start', async () => {
    // before, the outbox went on being appended to a removed file, and the state file came back only
    // when something changed: after kill -9, the restart found neither, its undelivered events were
    // lost and everyone present was a join "already there when watching started"
    const { sim, r, dir, start } = await setup(['A', 'B']);
    const state = join(dir, 'state.json');
    const outboxFile = join(dir, 'state.json.outbox.ndjson');
    const first = start(['--max-rps', '100', '--sink', `webhook:${r.url}`, '--log-format', 'json', '--log-level', 'debug'], { PRESENCE_LOCK_HEARTBEAT_MS: '100' });
    await waitFor(r, 'request', () => r.requests.length >= 2, 15_000); // both joins refused (503): waiting in the outbox
    await first.until(() => existsSync(state) && JSON.parse(readFileSync(state, 'utf8')).rooms.standup?.length === 2, 15_000, 'the first save');
    rmSync(state);
    rmSync(outboxFile);
    await first.until(() => first.logs.some((l) => String(l.msg).startsWith('the state file') && String(l.msg).includes('was removed while this daemon ran')), 15_000, 'the state file noticed');
    await first.until(() => first.logs.some((l) => String(l.msg).startsWith('the outbox') && String(l.msg).includes('written again from memory (2 undelivered event(s))')), 15_000, 'the outbox noticed');
    await first.until(() => existsSync(state) && existsSync(outboxFile), 15_000, 'both written again');
    first.kill('SIGKILL');
    await first.exit;
    const joins = new Set(r.requests.map((x) => JSON.parse(x.body).id));
    expect(joins.size).toBe(2);

    sim.join('standup', { userName: 'C' });
    r.fallback = { status: 200 };
    const second = start(['--max-rps', '100', '--sink', `webhook:${r.url}`, '--log-format', 'json']);
    await waitFor(r, 'request', () => r.accepted.length >= 3, 15_000);
    second.kill('SIGTERM');
    expect((await second.exit).code).toBe(0);
    const delivered = r.accepted.map((x) => JSON.parse(x.body) as PresenceEvent);
    // A's and B's joins again, same ids; C's a plain join: the restart diffed against the saved state
    expect(new Set(delivered.filter((e) => joins.has(e.id)).map((e) => e.id))).toEqual(joins);
    const fresh = delivered.filter((e) => !joins.has(e.id));
    expect(fresh.map((e) => [e.type, e.participant.userName, e.type === 'join' && e.initial === true])).toEqual([['join', 'C', false]]);
    expect(second.logs.map((l) => l.msg)).not.toContain('no saved state: first start');
  });

  it('one daemon per state file: a second one exits 2; a stale lock from kill -9 is taken over', async () => {
    const { start } = await setup([]);
    const ready = (run: CliRun) => run.until(() => run.logs.some((l) => String(l.msg).startsWith('first snapshot taken')));
    const first = start([]);
    await ready(first);
    const second = start([]);
    expect((await second.exit).code).toBe(2);
    expect(second.stderr).toMatch(/state file is in use by another presence-watcher \(pid \d+/);
    first.kill('SIGKILL');
    await first.exit;
    const third = start([]);
    await ready(third);
    third.kill('SIGTERM');
    expect((await third.exit).code).toBe(0);
  });

  it('a daemon whose lock another one took over (it judged this one gone) stops with exit 1 saying so, and leaves the other\'s lock in place', async () => {
    const { dir, start } = await setup([]);
    const first = start([], { PRESENCE_LOCK_HEARTBEAT_MS: '100' });
    await first.until(() => first.logs.some((l) => String(l.msg).startsWith('first snapshot taken')));
    const other = formatOwner({ pid: 4242, boot: 'another-boot', start: '7', pidns: 'pid:[4026531836]' });
    writeFileSync(join(dir, 'state.json.lock'), other);
    expect((await first.exit).code).toBe(1);
    expect(first.stderr).toMatch(/fatal: another presence-watcher \(pid 4242\) took over the state file's lock .*state\.json\.lock, judging this daemon gone \(its lock went untouched for 300ms: was this process paused, or the volume unreachable\?\); stopping, so that one daemon writes the state and outbox/);
    expect(readFileSync(join(dir, 'state.json.lock'), 'utf8')).toBe(other);
  });

  it('a daemon that finds its lock taken over writes neither the state nor the outbox from then on (they are the other one\'s now), not even at its stop', async () => {
    const { dir, start } = await setup(['A']);
    const state = join(dir, 'state.json');
    const outboxFile = join(dir, 'state.json.outbox.ndjson');
    const first = start(['--sink', 'stdout', '--log-level', 'debug', '--log-format', 'json'], { PRESENCE_LOCK_HEARTBEAT_MS: '200' });
    // A's join journaled and the first state written
    await first.until(() => existsSync(state) && JSON.parse(readFileSync(state, 'utf8')).rooms.standup?.length === 1, 15_000, 'the first save');
    // another daemon takes the lock over, and writes its own state and outbox
    writeFileSync(join(dir, 'state.json.lock'), formatOwner({ pid: 4242, boot: 'another-boot', start: '7', pidns: 'pid:[4026531836]' }));
    const theirs = JSON.stringify({ version: 1, savedAt: '2026-01-01T00:00:00.000Z', mode: 'rooms', rooms: { standup: [] }, journalSeq: 0 });
    writeFileSync(state, theirs);
    writeFileSync(outboxFile, '');
    // (nobody comes or goes meanwhile: until its heartbeat notices, this one would still save a change,
    // a window no lock closes; what is tested is what it does once it knows, its stop's save included)
    expect((await first.exit).code).toBe(1);
    expect(first.stderr).toContain('took over the state file');
    expect(readFileSync(state, 'utf8')).toBe(theirs);
    expect(readFileSync(outboxFile, 'utf8')).toBe('');
  });

  it('a daemon paused past the lock\'s staleness and resumed looks at the lock before it writes: taken over, it stops, its next poll\'s events kept out of the outbox and its state unsaved, without waiting for a heartbeat', async () => {
    const { sim, dir, start } = await setup(['A']);
    const state = join(dir, 'state.json');
    const outboxFile = join(dir, 'state.json.outbox.ndjson');
    // the default heartbeat, every 10 s: none comes within this test
    const first = start(['--sink', 'stdout', '--log-level', 'debug', '--log-format', 'json']);
    await first.until(() => existsSync(state) && JSON.parse(readFileSync(state, 'utf8')).rooms.standup?.length === 1, 15_000, 'the first save');
    // what the daemon finds when it resumes: another one holds the lock, with its own state and outbox
    writeFileSync(join(dir, 'state.json.lock'), formatOwner({ pid: 4242, boot: 'another-boot', start: '7', pidns: 'pid:[4026531836]' }));
    const theirs = JSON.stringify({ version: 1, savedAt: '2026-01-01T00:00:00.000Z', mode: 'rooms', rooms: { standup: [] }, journalSeq: 0 });
    writeFileSync(state, theirs);
    writeFileSync(outboxFile, '');
    // and a change to poll: an event, then a save
    sim.join('standup', { userName: 'B' });
    expect((await first.exit).code).toBe(1);
    expect(first.stderr).toContain('took over the state file');
    expect(readFileSync(state, 'utf8')).toBe(theirs);
    expect(readFileSync(outboxFile, 'utf8')).toBe('');
  });

  // what a container runtime does: the daemon runs as pid 1 of a pid namespace of its own
  const ownNamespace = ['unshare', '--pid', '--fork', '--mount-proc', '--kill-child'];
  const canUnshare = spawnSync(ownNamespace[0]!, [...ownNamespace.slice(1), 'true']).status === 0;

  it('a stop asked for while the daemon waits on another container\'s lock ends the wait: exit 0, the lock and the state left as they were', async () => {
    const { dir, start } = await setup([]);
    const lockPath = join(dir, 'state.json.lock');
    const other = formatOwner({ pid: 1, pidns: 'pid:[4026531999]' }); // touched just now: a live holder as far as anyone can tell for 30 s
    writeFileSync(lockPath, other);
    const run = start([]);
    // up to 30 s from the lock's last touch: a start slowed by a loaded machine finds it older
    const waiting = await run.until(() => run.logs.map((l) => /^the state file's lock names pid 1 of another pid namespace .*waiting up to (\d+)s for its heartbeat/.exec(String(l.msg))).find((m) => m !== null));
    expect(Number(waiting[1])).toBeGreaterThanOrEqual(20);
    expect(Number(waiting[1])).toBeLessThanOrEqual(30);
    run.kill('SIGTERM');
    expect((await run.exit).code).toBe(0);
    expect(run.logs.map((l) => l.msg)).toContain('stopped before it started (SIGTERM during start-up)');
    expect(readFileSync(lockPath, 'utf8')).toBe(other);
    expect(existsSync(join(dir, 'state.json'))).toBe(false);
  });

  it.runIf(canUnshare)('across pid namespaces (two containers on one volume): the second sees the first\'s heartbeat and exits 2; once the first is killed, its lock is taken when stale', async () => {
    const { dir, start } = await setup([]);
    const ready = (run: CliRun) => run.until(() => run.logs.some((l) => String(l.msg).startsWith('first snapshot taken')));
    const beat = { PRESENCE_LOCK_HEARTBEAT_MS: '200' }; // the test aid: stale after 600 ms instead of 30 s
    const first = start([], beat);
    await ready(first);
    const second = start([], beat, ownNamespace);
    expect((await second.exit).code).toBe(2);
    expect(second.logs.map((l) => l.msg)).toContainEqual(expect.stringMatching(/^the state file's lock names pid \d+ of another pid namespace \(another container\?\), which this process cannot see: waiting up to/));
    expect(second.stderr).toMatch(new RegExp(`state file is in use by another presence-watcher \\(pid ${first.child.pid} in another pid namespace, e\\.g\\. another container`));
    first.kill('SIGKILL');
    await first.exit;
    const third = start([], beat, ownNamespace);
    await ready(third); // the lock went stale: taken over
    expect(readFileSync(join(dir, 'state.json.lock'), 'utf8')).toMatch(/^1\n/); // pid 1 of its own namespace, as in a container
    third.kill('SIGKILL');
    await third.exit;
  });

  it('bounded: past --outbox-cap new events go to the dead-letter, counted; the events of one poll are admitted whole', async () => {
    const { sim, r, dir, start } = await setup(['A', 'B']);
    const deadLetter = join(dir, 'dead.ndjson');
    const run = start(['--sink', `webhook:${r.url}`, '--outbox-cap', '1', '--dead-letter', deadLetter, '--drain-timeout', '200ms']);
    // the first snapshot's two joins are one poll's: both admitted, though the cap is 1
    await run.until(() => run.logs.some((l) => String(l.msg).startsWith('first snapshot taken')));
    expect(run.stderr).not.toContain('outbox full');
    // a later poll's events find it full (the receiver answers 503 to everything)
    sim.join('standup', { userName: 'C' });
    sim.join('standup', { userName: 'D' });
    await run.until(() => run.stderr.includes('outbox full'));
    run.kill('SIGTERM');
    await run.exit;
    const lines = readFileSync(deadLetter, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    // (C and D were refused; A and B stayed in the outbox at the stop)
    expect(lines.map((l) => l.event.participant.userName)).toEqual(['C', 'D']);
    expect(lines[0].reason).toBe('outbox full (cap 1)');
  });

  it('a full outbox makes /healthz 503 while it lasts', async () => {
    const { sim, r, start } = await setup(['A']);
    const run = start(['--sink', `webhook:${r.url}`, '--outbox-cap', '1', '--health', '127.0.0.1:0', '--drain-timeout', '200ms']);
    const url = await run.until(() => run.logs.find((l) => typeof l.healthz === 'string')?.healthz as string | undefined);
    await run.until(() => run.logs.some((l) => String(l.msg).startsWith('first snapshot taken')));
    sim.join('standup', { userName: 'B' });
    await run.until(() => run.stderr.includes('outbox full'));
    const res = await fetch(url);
    expect(res.status).toBe(503);
    const reasons = ((await res.json()) as { reasons: string[] }).reasons;
    expect(reasons).toContain('outbox full (cap 1): new events go to the dead-letter until deliveries catch up');
    run.kill('SIGTERM');
    await run.exit;
  });

  it('a kill between delivering a join and saving the state: the restart still sends the leave', async () => {
    // the files exactly as such a kill leaves them: the join journaled and delivered (acknowledged),
    // the state file still from before it; meanwhile the person left
    const { sim, dir, start } = await setup([]);
    const x = { id: 'x-session', userId: null, userName: 'X', mtgSessionId: null, joinTime: null, duration: 5 };
    const join_ = { id: eventId('standup', x.id, 'join'), type: 'join', room: 'standup', at: '2026-01-01T00:00:00.000Z', participant: x };
    writeFileSync(join(dir, 'state.json'), JSON.stringify({ version: 1, savedAt: '2026-01-01T00:00:00.000Z', mode: 'rooms', rooms: { standup: [] }, journalSeq: 7 }));
    writeFileSync(join(dir, 'state.json.outbox.ndjson'), JSON.stringify({ op: 'ev', seq: 8, event: join_, sinks: [] }) + '\n');
    const run = start(['--sink', 'stdout']);
    const line = await run.until(() => run.lines.find((l) => l.includes('"leave"')));
    expect(JSON.parse(line)).toMatchObject({ type: 'leave', room: 'standup', id: eventId('standup', x.id, 'leave'), participant: { id: x.id } });
    expect(run.stderr).toContain('brought the saved state up to 1 event(s)');
    run.kill('SIGTERM');
    expect((await run.exit).code).toBe(0);
    // the state saved on the way out includes the replayed join and the leave: nothing left to replay
    const saved = JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8'));
    expect(saved.rooms.standup).toEqual([]);
    expect(saved.journalSeq).toBe(9);
    const reopened = new Outbox(join(dir, 'state.json.outbox.ndjson'), quietLogger, saved.journalSeq);
    expect(reopened.journal()).toEqual([]);
    reopened.close();
    expect(sim.presence('standup')).toEqual([]);
  });

  it('--save-every: the state file lags what was sent, and a kill -9 between saves repeats and loses nothing (the journal brings the restart up to it)', async () => {
    const { sim, dir, start } = await setup(['A']);
    const args = ['--sink', 'stdout', '--save-every', '1h', '--log-level', 'debug', '--log-format', 'json'];
    const polls = (run: CliRun) => run.logs.filter((l) => String(l.msg).startsWith('polled room')).length;
    const first = start(args);
    await first.until(() => first.lines.some((l) => l.includes('"userName":"A"')));
    const b = sim.join('standup', { userName: 'B' });
    await first.until(() => first.lines.some((l) => l.includes('"userName":"B"')));
    // a few polls more: time for a save, had B's join not had to wait an hour for it
    const seen = polls(first);
    await first.until(() => polls(first) >= seen + 3);
    first.kill('SIGKILL');
    await first.exit;
    const state = () => JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')) as { rooms: Record<string, { userName: string }[]> };
    expect(state().rooms.standup!.map((x) => x.userName)).toEqual(['A']); // saved at the first poll only
    expect(first.lines.map((l) => JSON.parse(l).type)).toEqual(['join', 'join']);

    sim.leave('standup', b.id);
    const second = start(args);
    await second.until(() => second.lines.length >= 1 && polls(second) >= 2);
    expect(second.stderr).toContain('brought the saved state up to 1 event(s)');
    // B's leave, and no second join for A or B
    expect(second.lines.map((l) => JSON.parse(l))).toMatchObject([{ type: 'leave', participant: { userName: 'B' } }]);
    second.kill('SIGTERM');
    expect((await second.exit).code).toBe(0);
    expect(state().rooms.standup!.map((x) => x.userName)).toEqual(['A']); // saved at the stop
  });

  it('when the outbox cannot be written (disk full), events are still delivered and the failure is logged', async () => {
    const { sim, dir } = await setup(['A', 'B']);
    const spy = vi.spyOn(Outbox.prototype, 'record').mockImplementation(() => {
      throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    });
    cleanup.push(() => void spy.mockRestore());
    const stdout = new PassThrough();
    const lines: string[] = [];
    stdout.on('data', (d: Buffer) => lines.push(...d.toString().split('\n').filter(Boolean)));
    const logs = new PassThrough();
    let logText = '';
    logs.on('data', (d: Buffer) => (logText += d.toString()));
    const cfg = resolveConfig({}, { rooms: ['standup'], interval: 100, state: join(dir, 'state.json') }, { DAILY_API_KEY: sim.apiKey, DAILY_API_URL: sim.url });
    const daemon = await startDaemon(cfg, { stdout, logger: createLogger({ level: 'info', destination: logs }), version: 'test' });
    cleanup.push(async () => void (await daemon.shutdown()));
    await waitFor(stdout, 'data', () => lines.length >= 2, 10_000, 'two events on stdout');
    expect(lines.map((l) => JSON.parse(l).participant.userName).sort()).toEqual(['A', 'B']);
    expect(spy).toHaveBeenCalled();
    expect(logText).toContain('cannot write the outbox (ENOSPC)');
    expect(logText.match(/cannot write the outbox/g)).toHaveLength(1); // once, not per event
  });
});
