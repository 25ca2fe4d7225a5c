import { REPEAT_LOG_EVERY_MS, type Logger } from '../log.js';
import { monotonicNow } from './clock.js';

/**
 * A warning (or error) about a condition that recurs on every event while it lasts (an outbox or a
 * queue that is full, an outbox that cannot be written): said when it starts, then at most once
 * every REPEAT_LOG_EVERY_MS, saying how many times it came back unsaid (those go to debug).
 * Counting by events instead (a line per 1,000) still wrote one every few seconds on a large
 * domain. There is no "it ended": a queue or outbox that hovers at its cap would then say both,
 * over and over; /healthz says whether it lasts.
 */
export class RepeatedWarning {
  #saidAt: number | undefined;
  #unsaid = 0;

  constructor(
    private readonly log: Logger,
    private readonly level: 'warn' | 'error' = 'warn',
  ) {}

  /** The condition happened again (`count` times). */
  hit(fields: Record<string, unknown>, message: string, count = 1): void {
    const now = monotonicNow();
    if (this.#saidAt !== undefined && now - this.#saidAt < REPEAT_LOG_EVERY_MS) {
      this.#unsaid += count;
      this.log.debug(fields, message);
      return;
    }
    const unsaid = this.#unsaid;
    this.#saidAt = now;
    this.#unsaid = 0;
    this.log[this.level]({ ...fields, ...(unsaid > 0 ? { repeated: unsaid } : {}) }, unsaid > 0 ? `${message} (${unsaid} more since this was last logged)` : message);
  }
}
