import * as FakeTimers from '@sinonjs/fake-timers';
import Bottleneck from 'bottleneck';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RateLimiter, scheduleAbortable } from '../src/poll/limiter.js';
import { seededRandom } from '../src/simulator/random.js';

let clock: ReturnType<typeof FakeTimers.install>;
beforeEach(() => {
  clock = FakeTimers.install({ toFake: ['setTimeout', 'clearTimeout', 'Date', 'performance'], now: 0 });
});
afterEach(() => clock.uninstall());

async function startsOver(limiter: RateLimiter, jobs: number, ms: number): Promise<number[]> {
  const starts: number[] = [];
  for (let i = 0; i < jobs; i++) void limiter.acquire().then(() => starts.push(Date.now()));
  await clock.tickAsync(ms);
  return starts;
}

describe('RateLimiter (fake timers)', () => {
  it("names a caller's slip in its options: a misspelt one, a number given as text, none that is positive", () => {
    expect(() => new RateLimiter({ maxRPS: 5 } as never)).toThrow(/^RateLimiter: unknown option "maxRPS" \(did you mean maxRps\?\)$/);
    expect(() => new RateLimiter({ maxRps: '5' } as never)).toThrow(/^RateLimiter: maxRps must be a number, got "5"$/);
    expect(() => new RateLimiter({ maxRps: 0 })).toThrow(/^RateLimiter: maxRps and maxPer5s must be positive$/);
    expect(new RateLimiter({ maxRps: 2, maxPer5s: undefined }).maxPer5s).toBe(10);
  });

  it('counts its windows on the monotonic clock: the wall clock stepped back an hour (NTP, a VM restored) holds nobody', async () => {
    const l = new RateLimiter({ maxRps: 1, maxPer5s: 5 });
    const starts: number[] = [];
    const take = () => void l.acquire().then(() => starts.push(performance.now()));
    take();
    take();
    await clock.tickAsync(1000);
    expect(starts).toEqual([0, 1000]);
    clock.setSystemTime(Date.now() - 3_600_000);
    take();
    await clock.tickAsync(1000);
    expect(starts).toEqual([0, 1000, 2000]);
    // and a Retry-After pause lasts what it says, whatever the wall clock does meanwhile
    l.pauseFor(3000);
    take();
    clock.setSystemTime(Date.now() + 3_600_000);
    await clock.tickAsync(2900);
    expect(starts).toHaveLength(3);
    await clock.tickAsync(200);
    expect(starts).toEqual([0, 1000, 2000, 5000]);
  });

  it('admits at most maxRps starts in any second, immediately while under budget', async () => {
    const starts = await startsOver(new RateLimiter({ maxRps: 5, maxPer5s: 100 }), 12, 2500);
    expect(starts).toEqual([0, 0, 0, 0, 0, 1000, 1000, 1000, 1000, 1000, 2000, 2000]);
  });

  it('and at most maxPer5s in any 5 s', async () => {
    const starts = await startsOver(new RateLimiter({ maxRps: 10, maxPer5s: 12 }), 14, 6000);
    expect(starts.filter((t) => t < 5000)).toHaveLength(12);
    expect(starts.slice(12)).toEqual([5000, 5000]);
  });

  it('a budget above 128 starts in 5 s keeps both windows exactly, while its buffer grows and old starts are dropped', async () => {
    // The spec, not the implementation: with FIFO admission, job k starts at the earliest time its
    // request, the job before it and both windows allow. Bursts of 1–400 jobs and streams of 40–100 a
    // second, at random moments, make each new limiter grow its buffer (128 at first, then 256, then
    // 300) and drop starts older than 5 s as it fills: a stream at 60–64/s fills 256 with starts 4–5 s
    // old, which still count in the 5 s window (a 5 s budget under 5 × maxRps, so both windows bind).
    const random = seededRandom(34);
    let total = 0;
    for (let trial = 0; trial < 24; trial++) {
      const l = new RateLimiter({ maxRps: 100, maxPer5s: 300 });
      const requested: number[] = [];
      const starts: number[] = [];
      const request = (jobs: number) => {
        for (let i = 0; i < jobs; i++) {
          requested.push(Date.now());
          void l.acquire().then(() => starts.push(Date.now()));
        }
      };
      for (let step = 0; step < 8; step++) {
        if (random() < 0.3) request(1 + Math.floor(random() ** 2 * 400));
        else {
          const perSecond = 40 + Math.floor(random() * 60);
          for (let s = 0; s < 3 + random() * 10; s++) {
            request(perSecond);
            await clock.tickAsync(1000);
          }
        }
        await clock.tickAsync(Math.floor(random() * 8000));
      }
      await clock.tickAsync(600_000);
      expect(starts).toHaveLength(requested.length);
      const expected: number[] = [];
      for (let k = 0; k < requested.length; k++) {
        expected.push(Math.max(requested[k]!, expected[k - 1] ?? 0, (expected[k - 100] ?? -Infinity) + 1000, (expected[k - 300] ?? -Infinity) + 5000));
      }
      expect(starts, `trial ${trial}`).toEqual(expected);
      total += requested.length;
    }
    expect(total).toBeGreaterThan(20_000);
  });

  it('a budget far above any use ("no limit", against a local API) admits at once and allocates for what it admits, not for the budget', async () => {
    // sized for the budget up front, 1e9 requests/s asked for a 40 GB buffer and threw a RangeError,
    // which the CLI reported as an internal error; 1e6 took 40 MB
    const before = process.memoryUsage().arrayBuffers;
    const l = new RateLimiter({ maxRps: 1e9 });
    const lots = new RateLimiter({ maxRps: 1e6 });
    let started = 0;
    for (let i = 0; i < 10_000; i++) void l.acquire().then(() => started++);
    await clock.tickAsync(0);
    expect(started).toBe(10_000);
    // an hour at 100 requests/s: what the last 5 s admitted is kept, not every start since
    for (let s = 0; s < 3600; s++) {
      for (let i = 0; i < 100; i++) await lots.acquire();
      clock.tick(1000);
    }
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(1 << 20);
  });

  it('refuses budgets that are no number of requests: Infinity, a fractional maxPer5s', () => {
    expect(() => new RateLimiter({ maxRps: Infinity })).toThrow(/^RateLimiter: maxRps must be a finite number of requests\/s, got Infinity$/);
    expect(() => new RateLimiter({ maxRps: 5, maxPer5s: 2.5 })).toThrow(/^RateLimiter: maxPer5s must be a whole number of requests, got 2.5$/);
  });

  it('below 1/s, spaces starts by 1/maxRps seconds', async () => {
    const starts = await startsOver(new RateLimiter({ maxRps: 0.5, maxPer5s: 10 }), 3, 4500);
    expect(starts).toEqual([0, 2000, 4000]);
  });

  it('pauseFor holds every start, queued or new, and only ever extends the pause', async () => {
    const l = new RateLimiter({ maxRps: 5, maxPer5s: 100 });
    const starts: number[] = [];
    void l.acquire().then(() => starts.push(Date.now())); // under budget: at once
    await clock.tickAsync(0);
    l.pauseFor(3000);
    for (let i = 0; i < 2; i++) void l.acquire().then(() => starts.push(Date.now()));
    await clock.tickAsync(1000);
    l.pauseFor(500); // shorter than what is left: no change
    void l.acquire().then(() => starts.push(Date.now()));
    await clock.tickAsync(2500);
    expect(starts).toEqual([0, 3000, 3000, 3000]);
  });

  it('is FIFO, and an aborted waiter never runs and frees its place', async () => {
    const l = new RateLimiter({ maxRps: 1, maxPer5s: 10 });
    const order: string[] = [];
    await l.acquire();
    const ac = new AbortController();
    const a = l.acquire(ac.signal).then(() => order.push('a'), () => order.push('a aborted'));
    const b = l.acquire().then(() => order.push('b'));
    ac.abort();
    await clock.tickAsync(1000);
    await Promise.all([a, b]);
    expect(order).toEqual(['a aborted', 'b']);
  });

  it('stop() rejects the waiting and leaves no timer', async () => {
    const l = new RateLimiter({ maxRps: 1 });
    await l.acquire();
    const p = l.acquire();
    expect(clock.countTimers()).toBe(1);
    l.stop(new Error('bye'));
    await expect(p).rejects.toThrow('bye');
    expect(clock.countTimers()).toBe(0);
    await expect(l.acquire()).rejects.toThrow('bye');
  });

  it('a shared Bottleneck works through the same entry point', async () => {
    clock.uninstall();
    const b = new Bottleneck({ maxConcurrent: 1 });
    const ac = new AbortController();
    await expect(scheduleAbortable(b, ac.signal, async () => 42)).resolves.toBe(42);
    ac.abort(new Error('gone'));
    await expect(scheduleAbortable(b, ac.signal, async () => 1)).rejects.toThrow('gone');
    await b.disconnect();
    clock = FakeTimers.install({ toFake: ['setTimeout'] });
  });

  it("a limiter of the caller's that answers without a promise, throws at once, or never runs the job: the job's own answer, or an error naming the slip", async () => {
    const signal = new AbortController().signal;
    await expect(scheduleAbortable({ schedule: ((job: () => Promise<number>) => void job()) as never }, signal, async () => 7)).resolves.toBe(7);
    await expect(scheduleAbortable({ schedule: (() => { throw new Error('limiter broke'); }) as never }, signal, async () => 7)).rejects.toThrow('limiter broke');
    await expect(scheduleAbortable({ schedule: (() => Promise.resolve(5)) as never }, signal, async () => 7)).rejects.toThrow(
      "the limiter's schedule() finished without running the request it was given: it must run the job and answer with its promise, as Bottleneck's does",
    );
  });
});
