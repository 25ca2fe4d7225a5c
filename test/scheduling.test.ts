import * as FakeTimers from '@sinonjs/fake-timers';

type InstalledClock = ReturnType<typeof FakeTimers.install>;
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DailyApiError } from '../src/daily/errors.js';
import type { Participant, PresenceEvent } from '../src/events.js';
import { PresenceWatcher } from '../src/watcher.js';
import { FakeClient } from './support/fake-client.js';
import { quietLogger } from './support/helpers.js';

let clock: InstalledClock;

beforeEach(() => {
  clock = FakeTimers.install({
    toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date', 'performance'],
    now: 1_700_000_000_000,
  });
});
afterEach(() => clock.uninstall());

function server503(): DailyApiError {
  return new DailyApiError({ code: 'DAILY_SERVER_ERROR', message: 'boom', target: 'a', status: 503 });
}

function make(client: FakeClient, extra: Record<string, unknown> = {}) {
  return new PresenceWatcher({
    client,
    rooms: ['a'],
    intervalMs: 1000,
    maxRps: 1000,
    backoffMinMs: 100,
    backoffMaxMs: 1600,
    logger: quietLogger,
    ...extra,
  } as never);
}

/** A watcher on `client` (make) with its error events and the reason it stopped recorded. */
function recorded(client: FakeClient) {
  const w = make(client);
  const errors: Error[] = [];
  const seen: { stopped?: Error | undefined } = {};
  w.on('error', (e) => errors.push(e));
  w.on('stop', (r) => (seen.stopped = r));
  return { w, errors, seen };
}

/** Stop, ticking the fake clock so any timer-based cleanup can run. */
async function stop(w: PresenceWatcher): Promise<void> {
  const p = w.stop();
  await clock.tickAsync(10);
  await p;
}

const gaps = (times: number[]) => times.slice(1).map((t, i) => t - times[i]!);
/** Tolerance for timer rounding (the limiter admits jobs on whole-millisecond timers). */
const LIMITER_SLACK = 10;
function near(actual: number | undefined, expected: number) {
  expect(actual).toBeGreaterThanOrEqual(expected);
  expect(actual).toBeLessThanOrEqual(expected + LIMITER_SLACK);
}

describe('scheduling (fake timers)', () => {
  it('polls once per interval, fixed delay', async () => {
    const client = new FakeClient();
    const w = make(client).start();
    await clock.tickAsync(5500);
    const t = client.calls.map((c) => c.at);
    expect(t.length).toBeGreaterThanOrEqual(5);
    for (const g of gaps(t)) near(g, 1000);
    await stop(w);
  });

  it('takes an interval and backoff beyond setTimeout\'s ~24.8-day limit (Node would fire them after 1 ms)', async () => {
    const DAY = 86_400_000;
    const client = new FakeClient();
    const errors: Error[] = [];
    // 30 days: the watchdog (3 intervals) and the backoff cap are past the limit too
    const w = make(client, { intervalMs: 30 * DAY, backoffMinMs: 30 * DAY, backoffMaxMs: 30 * DAY }).start();
    w.on('error', (e) => errors.push(e));
    await clock.tickAsync(1000);
    expect(client.calls).toHaveLength(1);
    await clock.tickAsync(29 * DAY);
    expect(client.calls).toHaveLength(1);
    await clock.tickAsync(DAY + 1000);
    expect(client.calls).toHaveLength(2);
    expect(errors).toEqual([]);
    // a failure waits out its backoff (capped at the timer limit) instead of retrying at once
    client.script = [server503()];
    await clock.tickAsync(30 * DAY + 1000);
    expect(client.calls).toHaveLength(3);
    await clock.tickAsync(DAY);
    expect(client.calls).toHaveLength(3);
    expect(errors.map((e) => e.message)).toEqual(['boom']);
    await stop(w);
  });

  it('a 429 holds every room\'s requests for its Retry-After, not only the refused one\'s (the limit is per domain)', async () => {
    const client = new FakeClient();
    client.script = [new DailyApiError({ code: 'DAILY_RATE_LIMITED', message: 'rate limited', target: 'a', status: 429, retryAfterMs: 5000 })];
    const w = make(client, { rooms: ['a', 'b', 'c'] }).start();
    await clock.tickAsync(4900);
    // only the refused request: b and c, due 1 and 2 ms later, wait with everyone else
    expect(client.calls.map((c) => c.target)).toEqual(['a']);
    await clock.tickAsync(200);
    expect(client.calls.map((c) => c.target).sort()).toEqual(['a', 'a', 'b', 'c']);
    for (const c of client.calls.slice(1)) expect(c.at - client.calls[0]!.at).toBeGreaterThanOrEqual(5000);
    await stop(w);
  });

  it('a Retry-After longer than the watchdog: the rooms waiting their turn wait it out, not aborted as stuck polls', async () => {
    const client = new FakeClient();
    client.script = [new DailyApiError({ code: 'DAILY_RATE_LIMITED', message: 'rate limited', target: 'a', status: 429, retryAfterMs: 40_000 })];
    // the watchdog's default here: 11 s (the request timeout + 1 s)
    const w = make(client, { rooms: ['a', 'b', 'c'] });
    const errors: Error[] = [];
    w.on('error', (e) => errors.push(e));
    w.start();
    await clock.tickAsync(39_000);
    expect(client.calls.map((c) => c.target)).toEqual(['a']);
    await clock.tickAsync(1_200);
    // each room once, as the pause ends; the only failure was the 429
    expect(client.calls.map((c) => c.target).sort()).toEqual(['a', 'a', 'b', 'c']);
    expect(errors.map((e) => e.message)).toEqual(['rate limited']);
    await stop(w);
  });

  it('a 429 without Retry-After holds every room for a second', async () => {
    const client = new FakeClient();
    client.script = [new DailyApiError({ code: 'DAILY_RATE_LIMITED', message: 'rate limited', target: 'a', status: 429 })];
    const w = make(client, { rooms: ['a', 'b'] }).start();
    await clock.tickAsync(900);
    expect(client.calls.map((c) => c.target)).toEqual(['a']);
    await clock.tickAsync(200);
    expect(client.calls.map((c) => c.target)).toContain('b');
    await stop(w);
  });

  it('never has two polls of the same room in flight', async () => {
    const client = new FakeClient();
    client.script = ['hang'];
    const w = make(client, { requestTimeoutMs: 100_000 }).start();
    await clock.tickAsync(20_000);
    expect(client.calls).toHaveLength(1);
    expect(client.maxInFlight).toBe(1);
    await stop(w);
    expect(client.calls[0]!.signal!.aborted).toBe(true);
  });

  it('backs off exponentially with jitter after failures, capped, and resets after success', async () => {
    const client = new FakeClient();
    client.script = Array.from({ length: 8 }, server503);
    const w = make(client).start();
    await clock.tickAsync(20_000);
    const t = client.calls.map((c) => c.at);
    const g = gaps(t).slice(0, 8);
    // attempt k waits between 1x and 2x of 100 * 2^(k-1), capped at 1600
    g.forEach((gap, i) => {
      const step = Math.min(1600, 100 * 2 ** i);
      expect(gap).toBeGreaterThanOrEqual(step);
      expect(gap).toBeLessThanOrEqual(Math.min(1600, 2 * step) + LIMITER_SLACK);
    });
    expect(g.at(-1)).toBeGreaterThan(4 * g[0]!);
    // after the 8 failures, success: back to the plain interval
    const after = gaps(t.slice(8));
    expect(after.length).toBeGreaterThan(2);
    for (const x of after) near(x, 1000);
    await stop(w);
  });

  it('waits exactly the Retry-After the server asked for, instead of the backoff', async () => {
    const client = new FakeClient();
    client.script = [
      new DailyApiError({ code: 'DAILY_RATE_LIMITED', message: '429', target: 'a', status: 429, retryAfterMs: 7000 }),
    ];
    const w = make(client).start();
    await clock.tickAsync(7500);
    const t = client.calls.map((c) => c.at);
    near(gaps(t)[0], 7000);
    await stop(w);
  });

  it('a failed poll emits error and poll{ok:false} but no events; polling goes on', async () => {
    const client = new FakeClient();
    const alice = { id: 'p1', userId: null, userName: 'Alice', mtgSessionId: null, joinTime: null, duration: 1 };
    client.script = [[alice], server503(), server503()];
    client.fallback = [alice];
    const w = make(client);
    const events: string[] = [];
    const errors: Error[] = [];
    const polls: boolean[] = [];
    w.on('event', (e) => events.push(`${e.type}:${e.participant.id}`));
    w.on('error', (e) => errors.push(e));
    w.on('poll', (p) => polls.push(p.ok));
    w.start();
    await clock.tickAsync(5000);
    expect(events).toEqual(['join:p1']);
    expect(errors).toHaveLength(2);
    expect(polls.slice(0, 4)).toEqual([true, false, false, true]);
    // a custom client's answers are its own: the watcher never clears them (it does its own
    // DailyClient's, which nobody else sees), so the same list answered twice still holds Alice
    expect(client.fallback).toEqual([alice]);
    await stop(w);
  });

  it('404 is reported and retried after a whole interval, not the backoff', async () => {
    const client = new FakeClient();
    client.script = [new DailyApiError({ code: 'DAILY_NOT_FOUND', message: 'room "a" not found', target: 'a', status: 404 })];
    const w = make(client).start();
    const errors: Error[] = [];
    w.on('error', (e) => errors.push(e));
    await clock.tickAsync(1500);
    near(gaps(client.calls.map((c) => c.at))[0], 1000);
    expect(w.isRunning).toBe(true);
    await stop(w);
  });

  it('401 emits a typed error, emits stop, and polls no more', async () => {
    const client = new FakeClient();
    client.fallback = new DailyApiError({ code: 'DAILY_AUTH_REJECTED', message: 'Daily rejected the API key', target: 'a', status: 401 });
    const { w, errors, seen } = recorded(client);
    w.start();
    await clock.tickAsync(10_000);
    expect(client.calls).toHaveLength(1);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(DailyApiError);
    expect((errors[0] as DailyApiError).code).toBe('DAILY_AUTH_REJECTED');
    expect(seen.stopped).toBe(errors[0]);
    expect(w.isRunning).toBe(false);
  });

  it('once the key has worked, a 401 or 403 is retried with the backoff: a passing refusal is an error event, not a stop; three in a row of one target stop the watcher', async () => {
    const refused = (status: 401 | 403 = 401) =>
      new DailyApiError({ code: status === 401 ? 'DAILY_AUTH_REJECTED' : 'DAILY_FORBIDDEN', message: `refused ${status}`, target: 'a', status });
    const client = new FakeClient();
    client.script = [[], refused(), []];
    const { w, errors, seen } = recorded(client);
    w.start();
    await clock.tickAsync(1500);
    // polled at 0 (ok), at 1000 (refused), again after the first backoff step (100–200 ms): ok
    expect(client.calls).toHaveLength(3);
    const t = client.calls.map((c) => c.at);
    expect(t[2]! - t[1]!).toBeGreaterThanOrEqual(100);
    expect(t[2]! - t[1]!).toBeLessThanOrEqual(200 + LIMITER_SLACK);
    expect(errors.map((e) => (e as DailyApiError).code)).toEqual(['DAILY_AUTH_REJECTED']);
    expect(seen.stopped).toBeUndefined();
    expect(w.isRunning).toBe(true);
    // two refusals, a 503 (the run of refusals ends), two more, then an answer: still running
    client.script = [refused(403), refused(), server503(), refused(), refused(403), []];
    await clock.tickAsync(8000);
    expect(errors.map((e) => (e as DailyApiError).status)).toEqual([401, 403, 401, 503, 401, 403]);
    expect(seen.stopped).toBeUndefined();
    expect(w.isRunning).toBe(true);
    // refused from now on: the third refusal in a row is the last request
    const before = client.calls.length;
    client.fallback = refused();
    await clock.tickAsync(20_000);
    expect(client.calls.length - before).toBe(3);
    expect(errors).toHaveLength(9);
    expect(seen.stopped).toBe(errors[8]);
    expect(w.isRunning).toBe(false);
  });

  it('spreads rooms so they do not all fire at once', async () => {
    const client = new FakeClient();
    const w = make(client, { rooms: ['a', 'b', 'c', 'd'], intervalMs: 4000, maxRps: 1000 }).start();
    await clock.tickAsync(3999);
    // step = min(interval / rooms, 1000 / maxRps): 1 ms here, so the first round is quick…
    expect(client.calls).toHaveLength(4);
    for (const g of gaps(client.calls.map((c) => c.at))) expect(g).toBeLessThanOrEqual(1 + LIMITER_SLACK);
    // …and the rooms never share a start time
    expect(new Set(client.calls.map((c) => c.at)).size).toBe(4);
    await stop(w);
    const c2 = new FakeClient();
    const w2 = make(c2, { rooms: ['a', 'b', 'c', 'd'], intervalMs: 4000, maxRps: 1 }).start();
    await clock.tickAsync(3999);
    // at 1 request/s the rooms go 1 s apart, and stay apart on later rounds
    expect(c2.calls).toHaveLength(4);
    for (const g of gaps(c2.calls.map((c) => c.at))) near(g, 1000);
    await clock.tickAsync(4000);
    for (const g of gaps(c2.calls.map((c) => c.at))) expect(g).toBeGreaterThanOrEqual(1000);
    await stop(w2);
  });

  it('stop() aborts in-flight requests and leaves no timer behind', async () => {
    const client = new FakeClient();
    client.script = ['hang'];
    const w = make(client, { rooms: ['a', 'b'] }).start();
    await clock.tickAsync(1200);
    expect(client.calls.length).toBeGreaterThanOrEqual(2);
    const p1 = w.stop();
    const p2 = w.stop();
    expect(p1).toBe(p2);
    await clock.tickAsync(10);
    await p1;
    expect(client.calls.every((c) => c.settled)).toBe(true);
    expect(client.calls[0]!.signal!.aborted).toBe(true);
    expect(clock.countTimers()).toBe(0);
    const before = client.calls.length;
    await clock.tickAsync(10_000);
    expect(client.calls.length).toBe(before);
  });

  describe('a leave pending at a restart: its grace goes on from when the person went missing', () => {
    const person = (id: string): Participant => ({ id, userId: null, userName: id, mtgSessionId: null, joinTime: null, duration: 0 });
    const seen = (events: PresenceEvent[]) => events.map((e) => `${e.type}:${e.participant.id}`);

    /** A watcher that sees x and y, then x alone for `missingMs` of a 10 s grace, and stops: its saved state. */
    async function stateWithPendingLeave(missingMs: number) {
      const client = new FakeClient();
      client.fallback = [person('x'), person('y')];
      const w = make(client, { leaveGraceMs: 10_000 }).start();
      await clock.tickAsync(1500);
      client.fallback = [person('x')];
      await clock.tickAsync(missingMs);
      const state = w.exportState();
      await stop(w);
      return state;
    }

    it('saved with the state: who, and since when (wall clock)', async () => {
      const missingFrom = Date.now() + 1500; // the poll at 2 s (polls every second from 0) is the first without y
      const state = await stateWithPendingLeave(1000);
      expect(state.rooms.a!.map((p) => p.id).sort()).toEqual(['x', 'y']);
      expect(Object.keys(state.pendingLeaves!.a!)).toEqual(['y']);
      const since = Date.parse(state.pendingLeaves!.a!.y!);
      expect(since).toBeGreaterThanOrEqual(missingFrom - 1000);
      expect(since).toBeLessThanOrEqual(missingFrom + 1000);
      const none = make(new FakeClient(), { leaveGraceMs: 10_000 }).exportState();
      expect(none.pendingLeaves).toBeUndefined();
    });

    it('restarted after the grace ran out (a --once run from cron): the first poll still lacking the person reports the leave', async () => {
      const state = await stateWithPendingLeave(3000);
      clock.setSystemTime(Date.now() + 60_000); // the next run, a minute later
      const client = new FakeClient();
      client.fallback = [person('x')];
      const w = make(client, { leaveGraceMs: 10_000, initialState: state }).start();
      const events: PresenceEvent[] = [];
      w.on('event', (e) => events.push(e));
      await clock.tickAsync(100); // the first poll
      expect(seen(events)).toEqual(['leave:y']);
      expect(w.exportState().pendingLeaves).toBeUndefined();
      await stop(w);
    });

    it('restarted within the grace: the leave comes when the rest of it has passed, not a whole grace later', async () => {
      const state = await stateWithPendingLeave(3000); // ~3 s of the 10 s gone
      const client = new FakeClient();
      client.fallback = [person('x')];
      const w = make(client, { leaveGraceMs: 10_000, initialState: state }).start();
      const events: PresenceEvent[] = [];
      w.on('event', (e) => events.push(e));
      await clock.tickAsync(5000);
      expect(seen(events)).toEqual([]);
      await clock.tickAsync(3000); // ~11 s since y went missing, 8 s since the restart
      expect(seen(events)).toEqual(['leave:y']);
      await stop(w);
    });

    it('restarted within the grace, the first answer partial: one that leaves the person out settles nothing (the grace goes on from when they went missing); one that lists them, they are back', async () => {
      for (const listed of [[person('x')], [person('y')]]) {
        const state = await stateWithPendingLeave(3000); // ~3 s of the 10 s gone
        const client = new FakeClient();
        client.fallback = listed;
        client.totalCount = 2; // Daily counts two, lists one
        const w = make(client, { leaveGraceMs: 10_000, initialState: state }).start();
        const events: PresenceEvent[] = [];
        w.on('event', (e) => events.push(e));
        await clock.tickAsync(100); // the partial first poll
        const carried = listed[0]!.id === 'x';
        expect(Object.keys(w.exportState().pendingLeaves?.a ?? {})).toEqual(carried ? ['y'] : []);
        client.fallback = [person('x')];
        client.totalCount = undefined; // whole answers from now on
        await clock.tickAsync(4900);
        expect(seen(events)).toEqual([]);
        await clock.tickAsync(3000); // ~11 s since y went missing, 8 s since the restart
        expect(seen(events)).toEqual(carried ? ['leave:y'] : []);
        await clock.tickAsync(3000); // listed at the restart, y was back: a whole grace from the next answer
        expect(seen(events)).toEqual(['leave:y']);
        await stop(w);
      }
    });

    it('back at the restart: no leave and no join, and nothing carried after', async () => {
      const state = await stateWithPendingLeave(3000);
      clock.setSystemTime(Date.now() + 60_000);
      const client = new FakeClient();
      client.fallback = [person('x'), person('y')];
      const w = make(client, { leaveGraceMs: 10_000, initialState: state }).start();
      const events: PresenceEvent[] = [];
      w.on('event', (e) => events.push(e));
      await clock.tickAsync(100);
      expect(w.exportState().pendingLeaves).toBeUndefined();
      client.fallback = [person('x')]; // gone again: a new absence, a whole grace
      await clock.tickAsync(9000);
      expect(seen(events)).toEqual([]);
      await clock.tickAsync(2000);
      expect(seen(events)).toEqual(['leave:y']);
      await stop(w);
    });
  });

  describe('a reconnect (Daily gives it a new session id; the same userId from a meeting token)', () => {
    // a session of someone with a userId is named after it: one person, one name
    const person = (id: string, userId: string | null): Participant => ({ id, userId, userName: userId ?? id, mtgSessionId: null, joinTime: null, duration: 0 });
    const seen = (events: PresenceEvent[]) => events.map((e) => `${e.type}:${e.participant.id}${e.sameUserAs ? `=${e.sameUserAs}` : ''}`);

    it('within the leave grace: the old session\'s leave and the new one\'s join come together at the join, marked, not the leave a grace later', async () => {
      const client = new FakeClient();
      client.fallback = [person('x', null), person('a1', 'u-ann')];
      const w = make(client, { leaveGraceMs: 10_000 }).start();
      const events: PresenceEvent[] = [];
      w.on('event', (e) => events.push(e));
      await clock.tickAsync(1500);
      client.fallback = [person('x', null)];
      await clock.tickAsync(3000); // gone for three polls: pending
      expect(seen(events)).toEqual(['join:x', 'join:a1']);
      client.fallback = [person('x', null), person('a2', 'u-ann')];
      await clock.tickAsync(1000);
      expect(seen(events)).toEqual(['join:x', 'join:a1', 'leave:a1=a2', 'join:a2=a1']);
      expect(w.exportState().pendingLeaves).toBeUndefined();
      await clock.tickAsync(20_000);
      expect(events).toHaveLength(4);
      await stop(w);
    });

    it('the old session still listed when the new one comes (Daily has not timed it out yet): both marked, with or without a grace', async () => {
      for (const leaveGraceMs of [0, 3000]) {
        const client = new FakeClient();
        client.fallback = [person('a1', 'u-ann')];
        const w = make(client, { leaveGraceMs }).start();
        const events: PresenceEvent[] = [];
        w.on('event', (e) => events.push(e));
        await clock.tickAsync(1500);
        client.fallback = [person('a1', 'u-ann'), person('a2', 'u-ann')];
        await clock.tickAsync(1000);
        client.fallback = [person('a2', 'u-ann')];
        await clock.tickAsync(5000);
        expect(seen(events)).toEqual(['join:a1', 'join:a2=a1', 'leave:a1=a2']);
        await stop(w);
      }
    });

    it('across a restart: a session the saved state lists (its leave pending) counts as present, so the first poll\'s new session of that user and the old one\'s end come at once, marked', async () => {
      const client = new FakeClient();
      client.fallback = [person('a1', 'u-ann'), person('b1', 'u-bob')];
      const w = make(client, { leaveGraceMs: 10_000 }).start();
      await clock.tickAsync(1500);
      client.fallback = [person('b1', 'u-bob')];
      await clock.tickAsync(2000);
      const state = w.exportState();
      await stop(w);
      expect(Object.keys(state.pendingLeaves!.a!)).toEqual(['a1']);

      const next = new FakeClient();
      next.fallback = [person('b1', 'u-bob'), person('a2', 'u-ann'), person('b2', 'u-bob')];
      const w2 = make(next, { leaveGraceMs: 10_000, initialState: state }).start();
      const events: PresenceEvent[] = [];
      w2.on('event', (e) => events.push(e));
      await clock.tickAsync(100);
      expect(seen(events).sort()).toEqual(['join:a2=a1', 'join:b2=b1', 'leave:a1=a2']);
      await stop(w2);
    });
  });

  describe('the wall clock stepping (NTP, a VM restored or resumed): timing runs on the monotonic clock', () => {
    const person = (id: string): Participant => ({ id, userId: null, userName: id, mtgSessionId: null, joinTime: null, duration: 0 });
    const seen = (events: PresenceEvent[]) => events.map((e) => `${e.type}:${e.participant.id}`);

    it('stepped back an hour: polling goes on at its interval, and a pending leave comes after its grace', async () => {
      const client = new FakeClient();
      client.fallback = [person('x'), person('y')];
      const w = make(client, { maxRps: 1, leaveGraceMs: 3000 }).start();
      const events: PresenceEvent[] = [];
      w.on('event', (e) => events.push(e));
      await clock.tickAsync(1500);
      client.fallback = [person('x')];
      await clock.tickAsync(1000); // y is missing: its leave waits out the grace
      expect(seen(events)).toEqual(['join:x', 'join:y']);
      const before = client.calls.length;
      clock.setSystemTime(Date.now() - 3_600_000);
      await clock.tickAsync(4000);
      expect(client.calls.length - before).toBeGreaterThanOrEqual(3);
      expect(seen(events)).toEqual(['join:x', 'join:y', 'leave:y']);
      await stop(w);
    });

    it('jumped forward an hour: a short absence is still no leave (the grace is not cut short)', async () => {
      const client = new FakeClient();
      client.fallback = [person('x'), person('y')];
      const w = make(client, { leaveGraceMs: 10_000 }).start();
      const events: PresenceEvent[] = [];
      w.on('event', (e) => events.push(e));
      await clock.tickAsync(1500);
      client.fallback = [person('x')];
      await clock.tickAsync(1000);
      clock.setSystemTime(Date.now() + 3_600_000);
      await clock.tickAsync(2000); // two more polls without y, 3 s into a 10 s grace
      client.fallback = [person('x'), person('y')];
      await clock.tickAsync(2000);
      expect(seen(events)).toEqual(['join:x', 'join:y']);
      await stop(w);
    });
  });
});
