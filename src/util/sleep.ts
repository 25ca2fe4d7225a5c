/**
 * The longest delay setTimeout takes (~24.8 days). Node runs a longer one after 1 ms, with only a
 * warning: a 9-day interval made the watchdog (3 intervals) abort every poll at once.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** `ms` as a delay setTimeout honours: at most MAX_TIMER_MS (for deadlines, where "in 24.8 days" is as good as later). */
export function timerDelay(ms: number): number {
  return Math.min(MAX_TIMER_MS, Math.max(0, ms));
}

/**
 * A timer that rejects with the signal's reason when aborted, and leaves no handle behind. Any
 * length: beyond MAX_TIMER_MS it waits in steps.
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    let left = Math.max(0, ms);
    let timer: NodeJS.Timeout;
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const step = () => {
      const chunk = timerDelay(left);
      left -= chunk;
      timer = setTimeout(() => {
        if (left > 0) return step();
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, chunk);
    };
    step();
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Exponential backoff with "full jitter" between 50% and 100% of the exponential step. */
export function backoffDelay(attempt: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const exp = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(exp / 2 + random() * (exp / 2));
}
