import { setMaxListeners } from 'node:events';
import { notEventError, type PresenceEvent } from '../events.js';
import type { Logger } from '../log.js';
import { RepeatedWarning } from '../util/repeated-warning.js';
import { unknownOption, type SameKeys } from '../util/options.js';
import { SafeEmitter, type ListenerError } from '../util/safe-emitter.js';
import { backoffDelay, sleep, timerDelay } from '../util/sleep.js';
import type { DeadLetter } from './dead-letter.js';
import { DeliveryError, type Sink } from './sink.js';
import { shownValue } from '../util/text.js';

export const DEFAULT_QUEUE_CAP = 10_000;
export const DEFAULT_MAX_ATTEMPTS = 10;
/** Batches given up on in a row, with no delivery between, that make a sink `failing`. */
export const FAILING_AFTER = 5;
/** Once a drain has begun, a sink's least interval between deliveries is at most this (Slack's ~1/s). */
export const DRAIN_GAP_MS = 1100;

export type DeliveryOutcome = 'delivered' | 'retried' | 'failed' | 'dropped' | 'dead_lettered';

/** How one batch's delivery ended: `stopped` means it was not confirmed and was not given up on (the queue closed, or the sink was disabled meanwhile). */
type Settled = { kind: 'delivered' } | { kind: 'stopped' } | { kind: 'failed'; reason: string } | { kind: 'disable'; message: string; status: number | undefined };
const DELIVERED: Settled = { kind: 'delivered' };
const STOPPED: Settled = { kind: 'stopped' };

/** One #run's deliveries: their shared stop, the people in flight, how many are out, and the first disabling refusal. */
interface Run {
  stop: AbortController;
  busy: Map<string, number> | undefined;
  flying: number;
  disabled: string | undefined;
}

/** How far past the first waiting event a queue looks for one whose person has nothing in flight. */
const LOOK_AHEAD = 1000;

/** Whose event it is: one person in one room, whose events must reach a receiver in order. */
function personKey(e: PresenceEvent): string {
  return `${e.room}\0${e.participant.id}`;
}

export interface DeliveryQueueEvents {
  /** Events the receiver confirmed, in order. */
  delivered: (events: PresenceEvent[]) => void;
  /** Events given up on (permanent error, attempts exhausted, queue full, sink disabled, shutdown). */
  abandoned: (events: PresenceEvent[], reason: string) => void;
  outcome: (outcome: DeliveryOutcome, count: number) => void;
  depth: (depth: number) => void;
  /** The sink was disabled (410 Gone, a closed stdout): nothing more will be sent to it. */
  disabled: (reason: string) => void;
}

const QUEUE_OPTIONS = ['sink', 'deadLetter', 'logger', 'cap', 'maxAttempts', 'backoffMinMs', 'backoffMaxMs', 'random'] as const;

export interface DeliveryQueueOptions {
  sink: Sink;
  deadLetter: DeadLetter;
  logger: Logger;
  /**
   * Most events held in memory; when full the oldest is dead-lettered. Default 10 000. Events pushed
   * together (in one synchronous run: one poll's) never push each other out, so one poll's events
   * are held whole even past the cap, and the cap applies when the next ones come.
   */
  cap?: number;
  /** Attempts per batch before it is dead-lettered. Default 10. */
  maxAttempts?: number;
  backoffMinMs?: number;
  backoffMaxMs?: number;
  random?: () => number;
}
const queueOptionsChecked: SameKeys<keyof DeliveryQueueOptions, (typeof QUEUE_OPTIONS)[number]> = true;
void queueOptionsChecked;

/** The events a queue emits: a listener for any other is refused (SafeEmitter). */
const QUEUE_EVENTS: Record<keyof DeliveryQueueEvents, true> = { delivered: true, abandoned: true, outcome: true, depth: true, disabled: true };

/**
 * The one delivery queue every sink sits behind: FIFO, one delivery in flight (or up to the sink's
 * `concurrency`, never two about the same person, so each person's events stay in order), bounded,
 * retries with exponential backoff and jitter, Retry-After honoured, and a dead-letter for what
 * cannot be delivered. push() never blocks: a slow sink never slows polling.
 */
export class DeliveryQueue extends SafeEmitter<DeliveryQueueEvents> {
  readonly sink: Sink;
  readonly #deadLetter: DeadLetter;
  readonly #log: Logger;
  readonly #cap: number;
  readonly #maxAttempts: number;
  readonly #backoffMinMs: number;
  readonly #backoffMaxMs: number;
  readonly #random: () => number;
  #queue: PresenceEvent[] = [];
  #head = 0;
  #running: Promise<void> | undefined;
  #abort = new AbortController();
  #disabled: string | undefined;
  #closed = false;
  #lastStart = -Infinity;
  /**
   * No delivery starts before this (performance.now()): the receiver's Retry-After, which asks the
   * sink to wait, not only the request it answered. With several deliveries out, the others went
   * on sending to a receiver that had asked for a pause.
   */
  #notBefore = -Infinity;
  /** A drain has begun: deliveries pace at most DRAIN_GAP_MS apart. */
  #draining = false;
  /** Wake the interval waits in progress (a drain shortens them). */
  readonly #paces = new Set<AbortController>();
  /** Events taken for a delivery and not yet landed: the first #inFlight of the queue, as #flights in order. */
  #inFlight = 0;
  /** The batches out, in the order they were taken. */
  #flights: PresenceEvent[][] = [];
  /** Wakes #run's loop, waiting for a place to free up (a delivery landed) or for events to take. */
  #wake: (() => void) | undefined;
  /**
   * Events pushed since the event loop last turned: one poll's events (the watcher emits them in
   * one synchronous run), or a restart's re-deliveries. They are the queue's last #burst entries.
   */
  #burst = 0;
  #burstOverCapSaid = false;
  readonly #full: RepeatedWarning;
  /** Batches given up on since the last delivery, and why the last one was. */
  #failedInARow = 0;
  #lastFailure = '';
  #idle: (() => void)[] = [];
  /**
   * Retries: the same failure again within REPEAT_LOG_EVERY_MS is logged at debug and counted (a
   * receiver down for an hour, with several deliveries in flight, warned a line per attempt each);
   * ended, with one line saying so, by the next delivery.
   */
  readonly #retrying: RepeatedWarning;

  constructor(o: DeliveryQueueOptions) {
    super({ owner: 'DeliveryQueue', names: QUEUE_EVENTS });
    if (typeof o?.sink?.deliver !== 'function') throw new TypeError('DeliveryQueue: sink must be a Sink (deliver, name, maxBatch, minIntervalMs), e.g. a WebhookSink');
    if (typeof o.deadLetter?.write !== 'function') throw new TypeError('DeliveryQueue: deadLetter must be a DeadLetter (write), e.g. a FileDeadLetter or LogDeadLetter');
    if (typeof o.logger?.child !== 'function') throw new TypeError('DeliveryQueue: logger must be a pino logger (createLogger())');
    // plain JavaScript has no type check: a misspelt option (capp) or a number as text would be
    // ignored, or compared as text, without a word
    const unknown = unknownOption(o as unknown as Record<string, unknown>, QUEUE_OPTIONS);
    if (unknown) throw new TypeError(`DeliveryQueue: ${unknown}`);
    for (const k of ['cap', 'maxAttempts', 'backoffMinMs', 'backoffMaxMs'] as const) {
      const v: unknown = o[k];
      if (v !== undefined && !(typeof v === 'number' && Number.isFinite(v) && v >= (k === 'backoffMinMs' || k === 'backoffMaxMs' ? 0 : 1))) {
        throw new TypeError(`DeliveryQueue: ${k} must be a number ≥ ${k.startsWith('backoff') ? 0 : 1}, got ${shownValue(v)}`);
      }
    }
    // a window of no batch would never take anything off the queue, and the loop would spin
    for (const [name, value] of [['concurrency', o.sink.concurrency ?? 1], ['maxBatch', o.sink.maxBatch]] as const) {
      if (!Number.isInteger(value) || value < 1) throw new TypeError(`DeliveryQueue: sink ${o.sink.name}: ${name} must be a whole number ≥ 1, got ${String(value)}`);
    }
    this.sink = o.sink;
    this.#deadLetter = o.deadLetter;
    this.#log = o.logger.child({ sink: o.sink.name });
    this.#full = new RepeatedWarning(this.#log);
    this.#retrying = new RepeatedWarning(this.#log);
    this.#cap = o.cap ?? DEFAULT_QUEUE_CAP;
    this.#maxAttempts = o.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
    this.#backoffMinMs = o.backoffMinMs ?? 500;
    this.#backoffMaxMs = o.backoffMaxMs ?? 60_000;
    this.#random = o.random ?? Math.random;
  }

  /** Events held at most; a push beyond moves the oldest waiting one, pushed before it in an earlier run, to the dead-letter. */
  get cap(): number {
    return this.#cap;
  }

  get depth(): number {
    return this.#queue.length - this.#head;
  }

  get disabled(): boolean {
    return this.#disabled !== undefined;
  }

  /** Why the sink was disabled (`sink disabled: …`), or undefined while it is not. */
  get disabledReason(): string | undefined {
    return this.#disabled;
  }

  /**
   * Set while the last FAILING_AFTER (5) or more batches were all given up on (a permanent error,
   * or every attempt failed) with no delivery between: a receiver that refuses every event (a 400
   * for our payload) without being disabled. Cleared by the next delivery.
   */
  get failing(): string | undefined {
    return this.#failedInARow >= FAILING_AFTER ? `the last ${this.#failedInARow} deliveries all failed, the last with: ${this.#lastFailure}` : undefined;
  }

  push(event: PresenceEvent): void {
    // (a caller's slip found here, not inside a sink's delivery later: a webhook posted the body "null")
    const notEvent = notEventError('DeliveryQueue.push', 'the event', event);
    if (notEvent) throw notEvent;
    // (while the deliveries out when the sink was disabled come back, what comes joins what still
    // waits, which goes to the dead-letter whole once they are: in order, behind it)
    if ((this.#disabled !== undefined && this.depth === 0) || this.#closed) {
      this.#abandon([event], this.#disabled ?? 'shutting down');
      return;
    }
    // the oldest waiting event (not the batch in flight) goes to the dead-letter, never silently; but
    // never one that arrived with this one: a poll's events are pushed before the sink can take any,
    // so with a cap below one poll's events (the first snapshot of a domain of 10,000 people) even a
    // sink that keeps up with ease lost all but the last cap of them. The cap bounds what is still
    // waiting when the next events come; the events of one poll exist in memory anyway.
    const at = this.#head + this.#inFlight;
    // down to the cap (after a poll that went past it, the next one's first event makes all the
    // room at once: one splice, where one per event was quadratic in what went)
    const drop = Math.min(this.depth - this.#cap + 1, this.#queue.length - this.#burst - at);
    if (drop > 0) {
      const oldest = this.#queue.splice(at, drop);
      this.#abandon(oldest, `queue full (cap ${this.#cap})`, 'dropped');
      this.#full.hit({ cap: this.#cap }, 'delivery queue full: the oldest events are moved to the dead-letter (sink too slow or down)', { count: drop });
    }
    this.#queue.push(event);
    if (this.#burst++ === 0) queueMicrotask(() => this.#endBurst());
    this.safeEmit('depth', this.depth);
    this.#kick();
    // a loop with a place free and nothing to take was waiting for a delivery to land
    this.#wakeLoop();
  }

  #endBurst(): void {
    if (this.#burst > this.#cap && !this.#burstOverCapSaid) {
      this.#burstOverCapSaid = true;
      this.#log.info(
        { events: this.#burst, cap: this.#cap },
        `${this.#burst} events arrived at once (a poll's), more than the queue's cap of ${this.#cap}: all are held, as every poll's are; the cap applies to what is still waiting when the next ones come (raise it, --queue-cap, to hold more while a sink is down)`,
      );
    }
    this.#burst = 0;
  }

  #kick(): void {
    if (this.#running || this.#closed || this.#disabled !== undefined) return;
    this.#running = this.#run().finally(() => {
      this.#running = undefined;
      // what came while the run wound down after the sink was disabled (#run took what was there)
      if (this.#disabled !== undefined) this.#abandonRest(this.#disabled);
      if (this.depth > 0 && !this.#closed && this.#disabled === undefined) this.#kick();
      else this.#notifyIdle();
    });
  }

  /**
   * Wait until everything queued is delivered, or `timeoutMs` passes. Returns how many were left
   * (those are handed to `onLeft`, or dead-lettered).
   */
  async drain(timeoutMs: number): Promise<number> {
    this.#draining = true;
    for (const pace of this.#paces) pace.abort();
    if (this.depth > 0 && this.#running) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        new Promise<void>((r) => this.#idle.push(r)),
        new Promise<void>((r) => (timer = setTimeout(r, timerDelay(timeoutMs)))),
      ]);
      clearTimeout(timer);
    }
    return this.depth;
  }

  /** Stop delivering: abort the delivery in flight and return what was not delivered (in order). */
  async close(): Promise<PresenceEvent[]> {
    this.#closed = true;
    this.#abort.abort(new Error('queue closed'));
    await this.#running?.catch(() => undefined);
    const left = this.#queue.slice(this.#head);
    this.#queue = [];
    this.#head = 0;
    this.safeEmit('depth', 0);
    await this.sink.close?.();
    return left;
  }

  #notifyIdle(): void {
    for (const r of this.#idle.splice(0)) r();
  }

  #take(n: number): PresenceEvent[] {
    return this.#queue.slice(this.#head, this.#head + n);
  }

  /** Take the first n events off the queue (they were delivered, or given up on). */
  #consume(n: number): void {
    this.#head += n;
    // compact once the consumed prefix dominates, keeping push/shift amortised O(1)
    if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
    this.safeEmit('depth', this.depth);
  }

  /**
   * Wait out the sink's least interval since the last delivery started: at most DRAIN_GAP_MS of it
   * once a drain has begun (a Slack sink sending a message a minute must not sit on its last
   * events through a shutdown). False when the queue is closed meanwhile.
   */
  async #paced(signal: AbortSignal): Promise<boolean> {
    for (;;) {
      const wait = this.#gapLeft();
      if (wait <= 0) return true;
      const pace = new AbortController();
      this.#paces.add(pace);
      try {
        await sleep(wait, AbortSignal.any([signal, pace.signal]));
      } catch {
        if (signal.aborted) return false;
        // woken by a drain: wait again, with its shorter gap
      } finally {
        this.#paces.delete(pace);
      }
    }
  }

  /** How long until the sink may be called again, ms (≤ 0: now): its least interval, or a Retry-After. */
  #gapLeft(): number {
    const gap = this.#draining ? Math.min(this.sink.minIntervalMs, DRAIN_GAP_MS) : this.sink.minIntervalMs;
    return Math.max(this.#lastStart + gap, this.#notBefore) - performance.now();
  }

  async #run(): Promise<void> {
    const signal = this.#abort.signal;
    // the rest of the synchronous burst that woke an idle queue first: a poll pushes all its
    // events in one go, and a Slack sink's first message held the first of them alone, the
    // other 169 coming a message interval later. One microtask: no timer, no added latency.
    await undefined;
    const most = this.sink.concurrency ?? 1;
    // a sink disabled by one delivery stops the others (one may be waiting out a backoff)
    const stop = new AbortController();
    // each delivery listens on it a few times over (its deadline, the request, a backoff)
    setMaxListeners(10 + 8 * most, stop.signal);
    const onAbort = () => stop.abort(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    if (signal.aborted) onAbort();
    /** The people with an event in flight, and how many: none of their later events starts until these land. */
    const busy = most > 1 ? new Map<string, number>() : undefined;
    const run: Run = { stop, busy, flying: 0, disabled: undefined };
    try {
      // a delivery starts whenever one of the `concurrency` places is free, not once the whole
      // window is back: with windows, one batch waiting out a retry's backoff held the other three
      // places empty, and a receiver failing one request in a hundred cut a webhook's rate 16-fold
      while (!stop.signal.aborted) {
        if (run.flying < most && this.depth > this.#inFlight) {
          // the batch is chosen once the interval is over, so what arrived meanwhile goes with it (a
          // Slack sink's burst of polls becomes one message, not one now and the rest after the gap)
          if (this.#gapLeft() > 0 && !(await this.#paced(stop.signal))) break;
          const batch = this.#nextBatch(busy);
          if (batch) {
            void this.#fly(batch, run).catch((err: unknown) => {
              // not expected (#deliver settles every failure): the batch is not lost, it counts as
              // out until this run of the queue ends, then waits at the head to go again
              this.#log.error({ err }, 'a delivery ended with an error of its own; its events stay queued');
              this.#wakeLoop();
            });
            continue;
          }
        }
        if (run.flying === 0) break;
        await new Promise<void>((resolve) => (this.#wake = resolve));
      }
      while (run.flying > 0) await new Promise<void>((resolve) => (this.#wake = resolve));
    } finally {
      signal.removeEventListener('abort', onAbort);
      this.#wake = undefined;
    }
    // what was stopped (the queue closing, or the sink disabled meanwhile) was not confirmed: it
    // waits at the head again, in the queue's order
    this.#flights = [];
    this.#inFlight = 0;
    if (run.disabled !== undefined) {
      this.#abandonRest(run.disabled);
      this.safeEmit('disabled', run.disabled);
    }
  }

  /**
   * The next batch to start: up to the sink's `maxBatch` events from the first not yet taken, cut
   * before the first about someone with an event in flight (`busy`), so that one person's events
   * are never in flight at once and reach the receiver in order. When the first waiting events are
   * all such, the first about anyone else (within LOOK_AHEAD) is moved ahead of them and goes: a
   * person whose event is being retried (a receiver that keeps failing on it: minutes of backoff)
   * holds back their own later events, not everyone's queued behind them. Undefined when none can go.
   */
  #nextBatch(busy: Map<string, number> | undefined): PresenceEvent[] | undefined {
    const from = this.#head + this.#inFlight;
    const q = this.#queue;
    let to = Math.min(q.length, from + this.sink.maxBatch);
    if (busy && busy.size > 0) {
      // what it passes is all about people out, so nobody's order changes: theirs wait, in order
      const end = Math.min(q.length, from + LOOK_AHEAD);
      let i = from;
      while (i < end && busy.has(personKey(q[i]!))) i++;
      if (i === end) return undefined;
      if (i > from) {
        const e = q[i]!;
        for (let k = i; k > from; k--) q[k] = q[k - 1]!;
        q[from] = e;
      }
      for (let k = from + 1; k < to; k++) {
        if (busy.has(personKey(q[k]!))) {
          to = k;
          break;
        }
      }
    }
    return to > from ? q.slice(from, to) : undefined;
  }

  /** Deliver one batch taken from the queue, then take it off (unless stopped) and tell the listeners. */
  async #fly(batch: PresenceEvent[], run: Run): Promise<void> {
    this.#flights.push(batch);
    this.#inFlight += batch.length;
    run.flying++;
    const keys = run.busy ? batch.map(personKey) : undefined;
    if (keys) for (const k of keys) run.busy!.set(k, (run.busy!.get(k) ?? 0) + 1);
    let s: Settled;
    try {
      s = await this.#deliver(batch, run.stop.signal);
    } finally {
      run.flying--;
      if (keys) {
        for (const k of keys) {
          const n = run.busy!.get(k)! - 1;
          if (n === 0) run.busy!.delete(k);
          else run.busy!.set(k, n);
        }
      }
    }
    if (s.kind !== 'stopped') this.#land(batch);
    if (s.kind === 'delivered') {
      this.#failedInARow = 0;
      this.#logRecovery();
      this.#log.debug({ events: batch.length }, `delivered ${batch.length} event(s)`);
      this.safeEmit('outcome', 'delivered', batch.length);
      this.safeEmit('delivered', batch);
    } else if (s.kind === 'failed') {
      this.#failedInARow++;
      this.#lastFailure = s.reason;
      this.safeEmit('outcome', 'failed', batch.length);
      this.#abandon(batch, s.reason);
    } else if (s.kind === 'disable') {
      // said once, however many deliveries in flight were refused the same way
      if (run.disabled === undefined) {
        this.#log.error({ status: s.status }, `${s.message}: sink disabled; its events go to the dead-letter from now on`);
        run.disabled = this.#disabled = `sink disabled: ${s.message}`;
        run.stop.abort(new Error('sink disabled'));
      }
      this.#abandon(batch, run.disabled);
    }
    this.#wakeLoop();
  }

  /**
   * Take a flight that landed off the queue. The flights still out keep their places before it,
   * moved up by its length (the flights are the first #inFlight events, in the order they were taken).
   */
  #land(flight: PresenceEvent[]): void {
    const i = this.#flights.indexOf(flight);
    const n = flight.length;
    let start = this.#head;
    for (let j = 0; j < i; j++) start += this.#flights[j]!.length;
    for (let k = start - 1; k >= this.#head; k--) this.#queue[k + n] = this.#queue[k]!;
    this.#flights.splice(i, 1);
    this.#inFlight -= n;
    this.#consume(n);
  }

  /** Everything still queued to the dead-letter, in order. */
  #abandonRest(reason: string): void {
    const rest = this.#take(this.depth);
    this.#consume(rest.length);
    this.#abandon(rest, reason);
  }

  #wakeLoop(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  /** One batch, attempted until delivered, given up on, or stopped; each attempt's retry logged. */
  async #deliver(batch: PresenceEvent[], signal: AbortSignal): Promise<Settled> {
    let attempt = 0;
    for (;;) {
      if (attempt > 0 && this.#gapLeft() > 0 && !(await this.#paced(signal))) return STOPPED;
      attempt++;
      this.#lastStart = performance.now();
      let failure: unknown;
      try {
        await this.sink.deliver(batch, signal);
        // only the delivery is in the try: the listeners are called by #fly, outside it (one
        // that threw here once re-sent the batch, then skipped as many events that were never sent)
        return DELIVERED;
      } catch (err) {
        failure = err;
      }
      if (signal.aborted) return STOPPED;
      const e = failure instanceof DeliveryError ? failure : new DeliveryError(failure instanceof Error ? failure.message : String(failure), 'retry');
      if (e.failure === 'disable') return { kind: 'disable', message: e.message, status: e.status };
      if (e.failure === 'permanent' || attempt >= this.#maxAttempts) {
        const reason = e.failure === 'permanent' ? `permanent error: ${e.message}` : `gave up after ${attempt} attempts: ${e.message}`;
        this.#log.error({ status: e.status, events: batch.length }, reason);
        return { kind: 'failed', reason };
      }
      const delay = e.retryAfterMs ?? backoffDelay(attempt, this.#backoffMinMs, this.#backoffMaxMs, this.#random);
      if (e.retryAfterMs !== undefined) this.#notBefore = Math.max(this.#notBefore, performance.now() + e.retryAfterMs);
      this.#logRetry(e, attempt, delay);
      this.safeEmit('outcome', 'retried', batch.length);
      try {
        await sleep(delay, signal);
      } catch {
        return STOPPED;
      }
    }
  }

  #logRetry(e: DeliveryError, attempt: number, delay: number): void {
    this.#retrying.hit({ status: e.status, attempt, retryInMs: delay }, `delivery failed, will retry: ${e.message}`, { key: e.message });
  }

  #logRecovery(): void {
    const last = this.#retrying.end();
    if (last) this.#log.info({ failures: last.hits, since: last.since }, `delivering again, after ${last.hits} failed attempt(s) since ${last.since}`);
  }

  #abandon(events: PresenceEvent[], reason: string, outcome: DeliveryOutcome = 'dead_lettered'): void {
    if (events.length === 0) return;
    try {
      this.#deadLetter.write(this.sink.name, reason, events);
    } catch (err) {
      // a dead-letter of the embedder's own that throws: the log is the last place they can go
      this.#log.error({ err, reason, events }, `the dead-letter failed; ${events.length} undeliverable event(s) logged instead`);
    }
    this.safeEmit('outcome', outcome, events.length);
    this.safeEmit('abandoned', events, reason);
  }

  /**
   * Listeners (the daemon's outbox ack, metrics) are called through safeEmit, one at a time: one
   * that throws never reaches the delivery loop, where it once turned a confirmed delivery into a
   * failure (the batch re-sent, as many unsent events skipped) or escaped as an unhandled rejection.
   */
  protected override onListenerError(error: ListenerError): void {
    this.#log.error({ err: error.cause }, error.message);
  }
}
