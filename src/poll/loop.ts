import pRetry from 'p-retry';
import { DailyApiError, targetName } from '../daily/errors.js';
import { sleep, timerDelay } from '../util/sleep.js';
import { deadline } from '../util/deadline.js';
import { formatDuration } from '../util/duration.js';

export interface TargetLoopOptions {
  /** Room name, or `*` for the whole domain. */
  target: string;
  intervalMs: number;
  /** Delay before the first poll. */
  initialDelayMs: number;
  /** First retry delay after a failed poll; doubles per failure (with jitter) up to backoffMaxMs. */
  backoffMinMs: number;
  backoffMaxMs: number;
  /** An attempt that has not completed in this long is aborted and retried (a hung connection, a stuck limiter). */
  watchdogMs: number;
  /**
   * Whether the attempt is still waiting for its turn in a limiter that cannot be stuck (the
   * watcher's own, paused for Daily's Retry-After or spacing polls under the budget): the watchdog
   * then waits another watchdogMs instead of aborting it.
   */
  waiting?: () => boolean;
  signal: AbortSignal;
  /** One poll: fetch, diff, emit. Throws on failure (a DailyApiError, or an abort). */
  poll(signal: AbortSignal): Promise<void>;
  /** Every failed attempt, before the retry wait. */
  onAttemptFailed(error: Error, attempt: number): void;
  /**
   * Whether a fatal error (the key refused: 401/403) ends the loop now, asked after onAttemptFailed
   * has seen it; when false it is retried as a 5xx is. Default: it always does.
   */
  stopsNow?: (error: DailyApiError) => boolean;
  /** A fatal error (the key was rejected): the loop has ended. */
  onFatal(error: DailyApiError): void;
}

/**
 * One target's fixed-delay loop: poll, wait the interval, poll again; never two polls of the same
 * target in flight. Failed polls are retried with exponential backoff and jitter (p-retry), or after
 * the server's Retry-After when it sent one. Non-retryable errors (404, 400) wait a whole interval.
 * Returns when the signal aborts or a fatal error stops it (stopsNow).
 */
export async function runTargetLoop(o: TargetLoopOptions): Promise<void> {
  const { signal } = o;
  try {
    await sleep(o.initialDelayMs, signal);
    while (!signal.aborted) {
      try {
        await pRetry(() => attemptWithWatchdog(o, signal), {
          retries: Number.POSITIVE_INFINITY,
          // p-retry's own setTimeout would run a step beyond ~24.8 days after 1 ms
          minTimeout: timerDelay(o.backoffMinMs),
          maxTimeout: timerDelay(Math.max(o.backoffMinMs, o.backoffMaxMs)),
          factor: 2,
          randomize: true,
          signal,
          onFailedAttempt: async ({ error, attemptNumber }) => {
            if (signal.aborted) return;
            o.onAttemptFailed(error, attemptNumber);
            const wait = error instanceof DailyApiError ? error.retryAfterMs : undefined;
            if (wait !== undefined && error instanceof DailyApiError && error.retryable) await sleep(wait, signal);
          },
          shouldRetry: ({ error }) => !signal.aborted && error instanceof DailyApiError && (error.retryable || (error.fatal && o.stopsNow?.(error) === false)),
          // a Retry-After wait replaces the backoff step instead of adding to it
          shouldConsumeRetry: ({ error }) => !(error instanceof DailyApiError && error.retryAfterMs !== undefined),
        });
      } catch (err) {
        if (signal.aborted) return;
        if (err instanceof DailyApiError && err.fatal && o.stopsNow?.(err) !== false) {
          o.onFatal(err);
          return;
        }
        // not retryable (404, 400, a bug): reported by onFailedAttempt; try again next interval
      }
      await sleep(o.intervalMs, signal);
    }
  } catch (err) {
    if (signal.aborted) return;
    throw err;
  }
}

/**
 * One attempt, aborted with a retryable error if it has not completed within `watchdogMs`. The
 * loop stops waiting when the signal fires even if the poll ignores it (a custom client that never
 * settles would otherwise hold the loop for good); a late answer is dropped by the poll itself,
 * which checks the signal once the client answers.
 */
async function attemptWithWatchdog(o: TargetLoopOptions, parent: AbortSignal): Promise<void> {
  const d = deadline(parent, o.watchdogMs, o.waiting);
  try {
    await untilAborted(o.poll(d.signal), d.signal);
  } catch (err) {
    if (d.expired && !parent.aborted) {
      throw new DailyApiError({
        target: o.target,
        code: 'DAILY_TIMEOUT',
        message: `watchdog: no poll of ${targetName(o.target)} completed within ${formatDuration(o.watchdogMs)}; aborted it and restarted the loop`,
      });
    }
    throw err;
  } finally {
    d.dispose();
  }
}

/** `p`, or a rejection with the signal's reason as soon as it aborts, whichever comes first. */
function untilAborted(p: Promise<void>, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      () => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}
