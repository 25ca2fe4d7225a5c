import type { PresenceEvent } from '../events.js';

/**
 * Where events go. A sink delivers a batch at a time, in order (or several at once: `concurrency`);
 * the shared DeliveryQueue in front of it does the queueing, retrying, backoff and dead-lettering,
 * so a sink file stays small.
 */
export interface Sink {
  /** Short kind: `stdout`, `webhook`, `slack`. */
  readonly kind: string;
  /** Unique, safe to log and to use as a metric label (never contains a URL's secret parts). */
  readonly name: string;
  /** Most events one deliver() call takes (1 for webhooks: one request per event). */
  readonly maxBatch: number;
  /** Least time between the starts of two deliveries (Slack: ~1 message/s per webhook). */
  readonly minIntervalMs: number;
  /**
   * Most deliveries in flight at once (default 1: one batch at a time, in order). Above 1, events
   * about different people may be confirmed out of order; one person's events (same room and
   * participant id) are never in flight together, so theirs arrive in order.
   */
  readonly concurrency?: number;
  /**
   * True for a sink that tells people what happened (Slack, text lines): it gets one line per
   * person arriving or leaving, so it is not handed the joins and leaves marked `sameUserAs` (a
   * session of someone who stays in the room: a reconnect, a second device).
   */
  readonly forPeople?: boolean;
  /**
   * Deliver `events` (in order). Resolve when the receiver confirmed; throw DeliveryError when it
   * did not. How many of the batch were accepted is all-or-nothing.
   */
  deliver(events: PresenceEvent[], signal: AbortSignal): Promise<void>;
  close?(): Promise<void>;
}

/** A sink's `name` option, when given, must be a non-empty string: it names the sink in logs and metrics. */
export function checkSinkName(owner: string, name: unknown): void {
  if (name !== undefined && !(typeof name === 'string' && name.trim() !== '')) throw new TypeError(`${owner}: name must be a non-empty string (it names the sink in logs and metrics)`);
}

/** What a failed delivery means for the queue: try again, give this batch up, or give the sink up. */
export type DeliveryFailure =
  /** Try again later (5xx, 429, timeouts, network). */
  | 'retry'
  /** This batch will never be accepted (400, 4xx): dead-letter it, go on with the next. */
  | 'permanent'
  /** The endpoint is gone (webhook 410, Slack channel archived): stop using the sink. */
  | 'disable';

/** What a sink's `deliver` throws: the failure decides what the queue does next; `retryAfterMs` is the receiver's Retry-After. */
export class DeliveryError extends Error {
  override name = 'DeliveryError';
  readonly code = 'DELIVERY_FAILED';
  constructor(
    message: string,
    readonly failure: DeliveryFailure,
    readonly status?: number,
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}
