import Bottleneck from 'bottleneck';

export const DEFAULT_MAX_RPS = 5;
export const DEFAULT_MAX_PER_5S = 25;

export interface LimiterOptions {
  /** Requests per second at most. Default 5 (Daily allows 20, shared with the customer's other software). */
  maxRps?: number;
  /** Requests per 5-second window at most. Default 25 (Daily allows 100). */
  maxPer5s?: number;
}

/** The one limiter all requests to the Daily API go through. */
export function createLimiter(opts: LimiterOptions = {}): Bottleneck {
  const maxRps = opts.maxRps ?? DEFAULT_MAX_RPS;
  const maxPer5s = opts.maxPer5s ?? Math.max(1, Math.floor(maxRps * 5));
  return new Bottleneck({
    // timers have 1 ms resolution: above 200/s spacing would cap the rate, so only the window limits
    minTime: maxRps > 200 ? 0 : Math.ceil(1000 / maxRps),
    reservoir: maxPer5s,
    reservoirRefreshAmount: maxPer5s,
    reservoirRefreshInterval: 5000,
  });
}

/** Run `fn` through the limiter; a waiting job is abandoned (and never run) when `signal` aborts. */
export function scheduleAbortable<T>(limiter: Bottleneck, signal: AbortSignal, fn: () => Promise<T>): Promise<T> {
  signal.throwIfAborted();
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    limiter
      .schedule(() => {
        if (signal.aborted) return Promise.reject(signal.reason);
        return fn();
      })
      .then(resolve, reject)
      .finally(() => signal.removeEventListener('abort', onAbort));
  });
}
