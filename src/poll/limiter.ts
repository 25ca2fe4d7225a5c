import type Bottleneck from 'bottleneck';
import { monotonicNow } from '../util/clock.js';
import { timerDelay } from '../util/sleep.js';
import { unknownOption } from '../util/options.js';
import { shownValue } from '../util/text.js';

export const DEFAULT_MAX_RPS = 5;
/** Daily's rate limit for a domain: 20 requests/s (100 per 5 s), shared with everything the customer runs. */
export const DAILY_MAX_RPS = 20;

export interface LimiterOptions {
  /** Requests per second at most. Default 5 (Daily allows 20, shared with the customer's other software). */
  maxRps?: number;
  /** Requests per 5-second window at most. Default 5 × maxRps (Daily allows 100). */
  maxPer5s?: number;
}

/** Anything that can hold a job until the budget allows it: our RateLimiter, or a shared Bottleneck. */
export type RequestLimiter = RateLimiter | Pick<Bottleneck, 'schedule'>;

interface Waiter {
  resolve: () => void;
  reject: (err: unknown) => void;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

/** The starts a limiter makes room for at first; a budget of more grows its buffer as it is used. */
const INITIAL_STARTS = 128;

/**
 * The one limiter all requests to the Daily API go through: at most `maxRps` request starts in any
 * 1 s and `maxPer5s` in any 5 s (sliding windows, so no burst at a window edge), FIFO, abortable.
 *
 * Written here rather than using Bottleneck for the default: Bottleneck's local datastore passes
 * every job through setTimeout(0) yields under serialising locks, which capped it near 340 jobs/s on
 * the benchmark machine (1,000 rooms at a 1 s interval need 1,000/s). This one admits a job
 * synchronously when the budget allows and keeps at most one timer. A Bottleneck shared with other
 * code can still be passed as `limiter`.
 */
export class RateLimiter {
  readonly maxRps: number;
  readonly maxPer5s: number;
  readonly #now: () => number;
  /**
   * Start times of the admitted jobs that can still hold one back, oldest first: a ring buffer of at
   * most `maxPer5s`, grown as it fills. Sized `maxPer5s` up front, a high budget (`--max-rps 1e9`,
   * meaning "no limit" against a local API) asked for gigabytes and failed with a RangeError.
   */
  #starts: Float64Array;
  /** How long a start limits others, ms: a start older than this is dropped when the buffer would grow. */
  readonly #horizon: number;
  /** Starts allowed within `#spacing` ms: maxRps per second, or one per 1/maxRps s below 1/s. */
  readonly #perSecond: number;
  readonly #spacing: number;
  #head = 0;
  #count = 0;
  #queue: Waiter[] = [];
  #qHead = 0;
  #timer: NodeJS.Timeout | undefined;
  #stopped: Error | undefined;
  /** No start before this time (on the limiter's clock): Daily answered 429 (the budget is shared with other software). */
  #pausedUntil = 0;

  constructor(opts: LimiterOptions = {}, now: () => number = monotonicNow) {
    const unknown = unknownOption(opts as Record<string, unknown>, ['maxRps', 'maxPer5s']);
    if (unknown) throw new TypeError(`RateLimiter: ${unknown}`);
    for (const k of ['maxRps', 'maxPer5s'] as const) {
      const v: unknown = opts[k];
      if (v !== undefined && typeof v !== 'number') throw new TypeError(`RateLimiter: ${k} must be a number, got ${shownValue(v)}`);
    }
    this.maxRps = opts.maxRps ?? DEFAULT_MAX_RPS;
    this.maxPer5s = opts.maxPer5s ?? Math.min(Number.MAX_SAFE_INTEGER, Math.max(1, Math.floor(this.maxRps * 5)));
    if (!(this.maxRps > 0) || !(this.maxPer5s >= 1)) throw new TypeError('RateLimiter: maxRps and maxPer5s must be positive');
    // Infinity or 1e400 (which JSON and YAML read as Infinity) would make every window check NaN;
    // a fractional maxPer5s left the ring buffer's arithmetic off the array, and its count unbounded
    if (!Number.isFinite(this.maxRps)) throw new TypeError(`RateLimiter: maxRps must be a finite number of requests/s, got ${this.maxRps}`);
    if (!Number.isSafeInteger(this.maxPer5s)) throw new TypeError(`RateLimiter: maxPer5s must be a whole number of requests, got ${this.maxPer5s}`);
    this.#now = now;
    this.#starts = new Float64Array(Math.min(this.maxPer5s, INITIAL_STARTS));
    this.#perSecond = Math.max(1, Math.floor(this.maxRps));
    this.#spacing = this.maxRps >= 1 ? 1000 : 1000 / this.maxRps; // below 1/s: one start per 1/maxRps s
    this.#horizon = Math.max(5000, this.#spacing);
  }

  /** Jobs waiting for budget. */
  get waiting(): number {
    return this.#queue.length - this.#qHead;
  }

  /** Resolve when a request may start; rejects with the signal's reason if it aborts first. */
  acquire(signal?: AbortSignal): Promise<void> {
    if (this.#stopped) return Promise.reject(this.#stopped);
    signal?.throwIfAborted();
    if (this.waiting === 0 && this.#delay(this.#now()) <= 0) {
      this.#record(this.#now());
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const w: Waiter = { resolve, reject, signal, onAbort: undefined };
      if (signal) {
        w.onAbort = () => {
          const i = this.#queue.indexOf(w, this.#qHead);
          if (i >= 0) this.#queue.splice(i, 1);
          reject(signal.reason);
        };
        signal.addEventListener('abort', w.onAbort, { once: true });
      }
      this.#queue.push(w);
      this.#arm();
    });
  }

  /** Run `fn` when the budget allows (the Bottleneck-compatible form). */
  async schedule<T>(fn: () => Promise<T>): Promise<T> {
    await this.acquire();
    return fn();
  }

  /**
   * Hold every start for `ms` (a 429's Retry-After): Daily's limit is per domain, so when one request
   * is refused the others would be too, each adding to the overload. Extends, never shortens, a pause.
   */
  pauseFor(ms: number): void {
    const until = this.#now() + Math.max(0, ms);
    if (until <= this.#pausedUntil) return;
    this.#pausedUntil = until;
    // a timer armed for an earlier start must not admit anyone during the pause
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#arm();
  }

  /** Reject everything waiting and refuse new jobs. */
  stop(reason: Error = new Error('limiter stopped')): void {
    this.#stopped = reason;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    for (let i = this.#qHead; i < this.#queue.length; i++) {
      const w = this.#queue[i]!;
      if (w.onAbort) w.signal?.removeEventListener('abort', w.onAbort);
      w.reject(reason);
    }
    this.#queue = [];
    this.#qHead = 0;
  }

  /** Milliseconds until one more start fits both windows. */
  #delay(now: number): number {
    let wait = this.#pausedUntil - now;
    if (this.#count >= this.maxPer5s) wait = Math.max(wait, this.#startAt(this.#count - this.maxPer5s) + 5000 - now);
    if (this.#count >= this.#perSecond) wait = Math.max(wait, this.#startAt(this.#count - this.#perSecond) + this.#spacing - now);
    return wait;
  }

  #startAt(i: number): number {
    return this.#starts[(this.#head + i) % this.#starts.length]!;
  }

  #record(t: number): void {
    if (this.#count === this.maxPer5s) {
      // full at the budget (the buffer is maxPer5s long): the oldest start gives way
      this.#starts[this.#head] = t;
      this.#head = (this.#head + 1) % this.#starts.length;
      return;
    }
    if (this.#count === this.#starts.length) this.#makeRoom(t);
    this.#starts[(this.#head + this.#count) % this.#starts.length] = t;
    this.#count++;
  }

  /**
   * Room for one more start: first drop the starts older than `#horizon`, which hold nobody back (a
   * window check on one of them, or on an index before it, finds it already past), so the buffer holds
   * what the last 5 s admitted, not every start since the limiter was made; else double the buffer,
   * up to `maxPer5s`.
   */
  #makeRoom(now: number): void {
    while (this.#count > 0 && this.#startAt(0) <= now - this.#horizon) {
      this.#head = (this.#head + 1) % this.#starts.length;
      this.#count--;
    }
    if (this.#count < this.#starts.length) return;
    const grown = new Float64Array(Math.min(this.maxPer5s, this.#starts.length * 2));
    for (let i = 0; i < this.#count; i++) grown[i] = this.#startAt(i);
    this.#starts = grown;
    this.#head = 0;
  }

  #arm(): void {
    if (this.#timer || this.waiting === 0) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#admit();
    }, timerDelay(Math.ceil(this.#delay(this.#now()))));
  }

  #admit(): void {
    while (this.waiting > 0 && this.#delay(this.#now()) <= 0) {
      const w = this.#queue[this.#qHead++]!;
      if (w.onAbort) w.signal?.removeEventListener('abort', w.onAbort);
      this.#record(this.#now());
      w.resolve();
    }
    if (this.#qHead > 1024 && this.#qHead * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#qHead);
      this.#qHead = 0;
    }
    this.#arm();
  }
}

/** The default limiter for a watcher. */
export function createLimiter(opts: LimiterOptions = {}): RateLimiter {
  return new RateLimiter(opts);
}

/** Run `fn` through the limiter; a waiting job is abandoned (and never run) when `signal` aborts. */
export async function scheduleAbortable<T>(limiter: RequestLimiter, signal: AbortSignal, fn: () => Promise<T>): Promise<T> {
  signal.throwIfAborted();
  if (limiter instanceof RateLimiter) {
    await limiter.acquire(signal);
    return fn();
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    // The job's own promise is the answer, whatever schedule() resolves with: a limiter of the
    // caller's may answer without a promise, throw at once, or resolve without running the job
    let job: Promise<T> | undefined;
    Promise.resolve()
      .then(() =>
        limiter.schedule(() => {
          if (signal.aborted) return Promise.reject(signal.reason);
          return (job = fn());
        }),
      )
      .then(() => job ?? Promise.reject(new Error("the limiter's schedule() finished without running the request it was given: it must run the job and answer with its promise, as Bottleneck's does")))
      .then(resolve, reject)
      .finally(() => signal.removeEventListener('abort', onAbort));
  });
}
