import { REPEAT_LOG_EVERY_MS, type Logger } from '../log.js';
import { monotonicNow } from './clock.js';

/**
 * A warning (or error) about a condition that recurs while it lasts: a target's polls failing, a
 * sink's deliveries being retried, a queue or outbox full, an outbox that cannot be written. Said
 * when it starts, and at once when it changes (another `key`: another failure); the same again is
 * logged at debug and counted, with a warning at most every REPEAT_LOG_EVERY_MS saying how many went
 * unsaid. Counting by events instead (a line per 1,000) still wrote one every few seconds on a large
 * domain. `end()` tells the caller it is over, for a recovery line of its own; conditions that
 * hover at a cap (a full queue) never end, or they would say both over and over.
 */
export class RepeatedWarning {
  #key: string | undefined;
  #saidAt: number | undefined;
  #unsaid = 0;
  #hits = 0;
  #since: string | undefined;

  constructor(
    private readonly log: Logger,
    private readonly level: 'warn' | 'error' = 'warn',
    /** The wall clock the `since` of end() is read from. */
    private readonly wallNow: () => number = Date.now,
  ) {}

  /** It happened again (`count` times: events dropped at once, say); `key` tells one failure from another. */
  hit(fields: Record<string, unknown>, message: string, { key = '', count = 1 }: { key?: string; count?: number } = {}): void {
    const now = monotonicNow();
    this.#hits += count;
    this.#since ??= new Date(this.wallNow()).toISOString();
    const same = this.#saidAt !== undefined && this.#key === key;
    if (same && now - this.#saidAt! < REPEAT_LOG_EVERY_MS) {
      this.#unsaid += count;
      this.log.debug(fields, message);
      return;
    }
    const unsaid = same ? this.#unsaid : 0;
    this.#key = key;
    this.#saidAt = now;
    this.#unsaid = 0;
    this.log[this.level](
      { ...fields, ...(unsaid > 0 ? { repeated: unsaid } : {}) },
      unsaid > 0 ? `${message} (again; ${unsaid} more like it since it was last logged)` : message,
    );
  }

  /**
   * Say what went unsaid since the last line, if anything (`describe` words it, given how many): at
   * a stop, so a count logged at debug is not lost with the process.
   */
  flush(fields: Record<string, unknown>, describe: (unsaid: number) => string): void {
    const unsaid = this.#unsaid;
    if (unsaid === 0) return;
    this.#unsaid = 0;
    this.log[this.level]({ ...fields, repeated: unsaid }, describe(unsaid));
  }

  /** It is over: how many times it happened, and since when (wall time), or undefined when it had not. */
  end(): { hits: number; since: string } | undefined {
    const since = this.#since;
    const hits = this.#hits;
    this.#key = this.#saidAt = this.#since = undefined;
    this.#unsaid = this.#hits = 0;
    return since === undefined ? undefined : { hits, since };
  }
}
