import { EventEmitter } from 'eventemitter3';

interface Listener {
  fn: (...args: unknown[]) => unknown;
  context: unknown;
  once: boolean;
}

/** A listener threw or its promise rejected. The poll loop goes on. */
export class ListenerError extends Error {
  override name = 'ListenerError';
  readonly code = 'LISTENER_FAILED';
  constructor(
    readonly event: string,
    cause: unknown,
  ) {
    super(`a "${event}" listener failed: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}

/**
 * An eventemitter3 emitter whose emits are isolated per listener: one listener that throws or
 * rejects does not stop the others, nor the code that emitted. Failures go to `onListenerError`.
 */
export class SafeEmitter<Events extends EventEmitter.ValidEventTypes> extends EventEmitter<Events> {
  protected onListenerError(_error: ListenerError): void {}

  protected safeEmit<K extends EventEmitter.EventNames<Events>>(
    event: K,
    ...args: EventEmitter.EventArgs<Events, K>
  ): boolean {
    const store = (this as unknown as { _events: Record<string, Listener | Listener[] | undefined> })._events;
    const key = String(event);
    const entry = store[key] ?? store[`~${key}`];
    if (!entry) return false;
    const list = Array.isArray(entry) ? entry.slice() : [entry];
    for (const l of list) {
      if (l.once) this.removeListener(event, l.fn as never, undefined, true);
      try {
        const result = l.fn.apply(l.context, args);
        if (result && typeof (result as Promise<unknown>).then === 'function') {
          (result as Promise<unknown>).then(undefined, (err: unknown) => this.#fail(key, err));
        }
      } catch (err) {
        this.#fail(key, err);
      }
    }
    return true;
  }

  #fail(event: string, err: unknown): void {
    try {
      this.onListenerError(new ListenerError(event, err));
    } catch {
      // the error handler itself failed; nothing safe is left to do
    }
  }
}
