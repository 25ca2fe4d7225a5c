import type { PresenceEvent, PresenceEventType } from './events.js';
import type { DeliveryQueue } from './sinks/queue.js';

export interface SinkFilter {
  /** Only these event types. Default: all. */
  events?: PresenceEventType[];
  /** Only events in these rooms. Default: all. */
  rooms?: string[];
}

interface Route {
  queue: DeliveryQueue;
  types: Set<string> | undefined;
  rooms: Set<string> | undefined;
}

/**
 * Hands each event to every sink whose filter takes it. Each sink has its own queue, so a slow or
 * failing sink never delays another, nor polling.
 */
export class Dispatcher {
  readonly #routes: Route[] = [];

  add(queue: DeliveryQueue, filter: SinkFilter = {}): void {
    this.#routes.push({
      queue,
      types: filter.events?.length ? new Set(filter.events) : undefined,
      rooms: filter.rooms?.length ? new Set(filter.rooms) : undefined,
    });
  }

  get queues(): DeliveryQueue[] {
    return this.#routes.map((r) => r.queue);
  }

  /** The queues (sinks) whose filter takes this event. */
  routesFor(event: PresenceEvent): DeliveryQueue[] {
    return this.#routes
      .filter((r) => (!r.types || r.types.has(event.type)) && (!r.rooms || r.rooms.has(event.room)))
      .map((r) => r.queue);
  }

  /** Hand an event to every sink that takes it (the daemon, with an outbox, routes with routesFor itself). */
  dispatch(event: PresenceEvent): void {
    for (const q of this.routesFor(event)) q.push(event);
  }

  /** Wait for every queue to empty, up to `timeoutMs` in all. Returns the events left per sink. */
  async drain(timeoutMs: number): Promise<number> {
    const left = await Promise.all(this.queues.map((q) => q.drain(timeoutMs)));
    return left.reduce((a, b) => a + b, 0);
  }

  async close(): Promise<Map<DeliveryQueue, PresenceEvent[]>> {
    const out = new Map<DeliveryQueue, PresenceEvent[]>();
    for (const q of this.queues) out.set(q, await q.close());
    return out;
  }
}
