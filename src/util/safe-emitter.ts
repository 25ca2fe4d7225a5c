import { EventEmitter } from 'eventemitter3';
import { didYouMean } from './options.js';

/** eventemitter3 keys its listeners by the name itself, or by "~" and the name where objects without a prototype are missing. */
const PREFIX = EventEmitter.prefixed as string | false;

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
  /** Who emits (for the error) and every event name it emits, when listeners' names are checked. */
  readonly #known: { owner: string; names: readonly string[] } | undefined;

  /**
   * With `known`, a listener for an event the emitter never emits (`on('joined', …)`) is a TypeError
   * naming it and the closest name: plain JavaScript has no type check, and it would wait forever.
   * `names` from a `Record<keyof Events, true>`, so the compiler holds it to the events.
   */
  constructor(known?: { owner: string; names: Record<EventEmitter.EventNames<Events> & string, true> }) {
    super();
    this.#known = known && { owner: known.owner, names: Object.keys(known.names) };
  }

  #check(event: unknown): void {
    const known = this.#known;
    if (known === undefined || (typeof event === 'string' && known.names.includes(event))) return;
    const hint = typeof event === 'string' ? didYouMean(event, known.names) : '';
    throw new TypeError(`${known.owner}: no event ${typeof event === 'string' ? JSON.stringify(event) : String(event)}${hint}; its events are ${known.names.join(', ')}`);
  }

  override on<T extends EventEmitter.EventNames<Events>>(event: T, fn: EventEmitter.EventListener<Events, T>, context?: unknown): this {
    this.#check(event);
    return super.on(event, fn, context);
  }

  override addListener<T extends EventEmitter.EventNames<Events>>(event: T, fn: EventEmitter.EventListener<Events, T>, context?: unknown): this {
    this.#check(event);
    return super.addListener(event, fn, context);
  }

  override once<T extends EventEmitter.EventNames<Events>>(event: T, fn: EventEmitter.EventListener<Events, T>, context?: unknown): this {
    this.#check(event);
    return super.once(event, fn, context);
  }

  protected onListenerError(_error: ListenerError): void {}

  // @ts-expect-error TS cannot tell that every event's arguments fit the three the implementation takes (none here has more than two)
  protected safeEmit<K extends EventEmitter.EventNames<Events>>(event: K, ...args: EventEmitter.EventArgs<Events, K>): boolean;
  // (explicit parameters, not a rest array, and no array for a lone listener: the watcher emits
  // twice an event, 20,000 times a poll on GET /presence at 10% churn, and these were ~2 MB of
  // its young-generation allocation a poll, with the "~name" key built for each event type
  // nobody listens to)
  protected safeEmit(event: string | symbol, a?: unknown, b?: unknown, c?: unknown): boolean {
    const store = (this as unknown as { _events: Record<string | symbol, Listener | Listener[] | undefined> })._events;
    const entry = store[PREFIX === false ? event : typeof event === 'string' ? PREFIX + event : event];
    if (entry === undefined) return false;
    const n = arguments.length - 1;
    if (!Array.isArray(entry)) {
      this.#call(event, entry, n, a, b, c);
      return true;
    }
    // a copy: a listener that adds or removes listeners does not change who hears this emit
    const list = entry.slice();
    for (let i = 0; i < list.length; i++) this.#call(event, list[i]!, n, a, b, c);
    return true;
  }

  #call(event: string | symbol, l: Listener, n: number, a: unknown, b: unknown, c: unknown): void {
    if (l.once) this.removeListener(event as never, l.fn as never, undefined, true);
    try {
      // a listener gets as many arguments as were emitted, as from eventemitter3's own emit
      const result = n === 1 ? l.fn.call(l.context, a) : n === 0 ? l.fn.call(l.context) : n === 2 ? l.fn.call(l.context, a, b) : l.fn.call(l.context, a, b, c);
      if (result && typeof (result as Promise<unknown>).then === 'function') {
        (result as Promise<unknown>).then(undefined, (err: unknown) => this.#fail(String(event), err));
      }
    } catch (err) {
      this.#fail(String(event), err);
    }
  }

  #fail(event: string, err: unknown): void {
    try {
      this.onListenerError(new ListenerError(event, err));
    } catch {
      // the error handler itself failed; nothing safe is left to do
    }
  }
}
