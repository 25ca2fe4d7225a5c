import { timerDelay } from './sleep.js';

/**
 * An AbortSignal that fires when `parent` aborts or `ms` pass, whichever is first. `expired` tells
 * which one it was; `dispose()` clears the timer and the listener (call it in a finally).
 * `extend`: asked when `ms` have passed; true gives another `ms`. Built on setTimeout, not
 * AbortSignal.timeout, so fake timers control it in tests.
 */
export function deadline(parent: AbortSignal | undefined, ms: number, extend?: () => boolean): { signal: AbortSignal; readonly expired: boolean; dispose(): void } {
  const controller = new AbortController();
  let expired = false;
  let timer: NodeJS.Timeout;
  const arm = () => {
    timer = setTimeout(() => {
      if (extend?.()) return arm();
      expired = true;
      controller.abort(new Error('deadline'));
    }, timerDelay(ms));
  };
  arm();
  const onAbort = () => controller.abort(parent!.reason);
  parent?.addEventListener('abort', onAbort, { once: true });
  return {
    signal: controller.signal,
    get expired() {
      return expired;
    },
    dispose() {
      clearTimeout(timer);
      parent?.removeEventListener('abort', onAbort);
    },
  };
}
