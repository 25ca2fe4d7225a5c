import { EVENT_TYPES, type Participant, type PresenceEvent, type PresenceEventType } from './events.js';
import type { DeliveryQueue } from './sinks/queue.js';
import { didYouMean, unknownOption, type SameKeys } from './util/options.js';

const FILTER_NAMES = ['events', 'rooms', 'ignoreUsers'] as const;
const filterNamesMatch: SameKeys<keyof SinkFilter, (typeof FILTER_NAMES)[number]> = true;
void filterNamesMatch;

/**
 * Why a filter would not do what it says, or undefined. A plain-JavaScript caller's slip, such as
 * `events: ['joined']` (a sink that never gets an event) or `room: [...]` (ignored, so every room),
 * is otherwise silent.
 */
function filterProblem(filter: SinkFilter): string | undefined {
  if (!filter || typeof filter !== 'object') return 'the filter must be an object';
  const unknown = unknownOption(filter as Record<string, unknown>, FILTER_NAMES);
  if (unknown) return unknown;
  for (const name of FILTER_NAMES) {
    const list: unknown = filter[name];
    if (list === undefined) continue;
    if (!Array.isArray(list) || !list.every((x) => typeof x === 'string' && x !== '')) return `${name} must be a list of non-empty strings`;
    if (name === 'events') {
      const wrong = list.find((t) => !(EVENT_TYPES as readonly string[]).includes(t as string));
      if (wrong !== undefined) return `events: ${JSON.stringify(wrong)} is not an event type (${EVENT_TYPES.join(', ')})${didYouMean(wrong as string, EVENT_TYPES)}`;
    }
  }
  return undefined;
}

export interface SinkFilter {
  /** Only these event types. Default: all. */
  events?: PresenceEventType[];
  /**
   * Only events in these rooms. Default: all. A `*` in an entry matches any run of characters
   * (none included), so `interview-*` takes every room whose name starts with `interview-`; every
   * other character stands for itself.
   */
  rooms?: string[];
  /**
   * Not the events of people whose `userName` or `userId` is one of these (names, or patterns with
   * `*` as in `rooms`): a bot of your own, a recorder, an AI agent in every call. Case counts.
   */
  ignoreUsers?: string[];
}

/**
 * Whether a name is one a filter lists: as it is, or by a pattern with `*` (useful when watching
 * every room of a domain, whose room names nobody lists ahead of time).
 */
export function nameFilter(entries: readonly string[]): (name: string) => boolean {
  const names = new Set<string>();
  const patterns: string[][] = [];
  for (const e of entries) {
    if (e.includes('*')) patterns.push(e.split('*'));
    else names.add(e);
  }
  if (patterns.length === 0) return (name) => names.has(name);
  return (name) => names.has(name) || patterns.some((parts) => matchesParts(name, parts));
}

/**
 * Whether `name` is `parts` joined by runs of any characters. Each literal part is taken at its
 * first place after the last: a later place never leaves more room for the rest, so nothing is
 * tried twice however many stars there are (a regular expression with several `.*` can backtrack
 * through every way of splitting the name).
 */
function matchesParts(name: string, parts: readonly string[]): boolean {
  const first = parts[0]!;
  const last = parts[parts.length - 1]!;
  if (name.length < first.length + last.length || !name.startsWith(first) || !name.endsWith(last)) return false;
  let at = first.length;
  const end = name.length - last.length;
  for (let i = 1; i < parts.length - 1; i++) {
    const found = name.indexOf(parts[i]!, at);
    if (found < 0 || found + parts[i]!.length > end) return false;
    at = found + parts[i]!.length;
  }
  return true;
}

interface Route {
  queue: DeliveryQueue;
  types: Set<string> | undefined;
  rooms: ((room: string) => boolean) | undefined;
  ignored: ((p: Participant) => boolean) | undefined;
  /** The sink is for people: not the joins and leaves of someone who stays in the room. */
  forPeople: boolean;
}

/**
 * For an ignoreUsers list: given a person it does not match, the entry and the value (their
 * userName or userId) it would match but for case, or undefined. Case counts in the list, and a
 * "notetaker" written for a bot shown as "Notetaker" let every event about it through with
 * nothing to say why; the daemon warns with this.
 */
export function ignoreCaseMiss(entries: readonly string[]): (p: Participant) => { entry: string; value: string } | undefined {
  const exact = userFilter(entries);
  const lower = entries.map((e) => e.toLowerCase());
  const loose = nameFilter(lower);
  return (p) => {
    if (exact(p)) return undefined;
    for (const value of [p.userName, p.userId]) {
      if (value === null || !loose(value.toLowerCase())) continue;
      const i = lower.findIndex((e) => nameFilter([e])(value.toLowerCase()));
      return { entry: entries[i]!, value };
    }
    return undefined;
  };
}

function userFilter(entries: readonly string[]): (p: Participant) => boolean {
  const listed = nameFilter(entries);
  return (p) => (p.userName !== null && listed(p.userName)) || (p.userId !== null && listed(p.userId));
}

/**
 * Hands each event to every sink whose filter takes it. Each sink has its own queue, so a slow or
 * failing sink never delays another, nor polling.
 */
export class Dispatcher {
  readonly #routes: Route[] = [];

  add(queue: DeliveryQueue, filter: SinkFilter = {}): void {
    if (typeof (queue as { push?: unknown } | null)?.push !== 'function' || typeof (queue as { sink?: unknown }).sink !== 'object') {
      throw new TypeError('Dispatcher.add: the first argument must be a DeliveryQueue (new DeliveryQueue({ sink, deadLetter, logger })), not the sink itself');
    }
    const problem = filterProblem(filter);
    if (problem) throw new TypeError(`Dispatcher.add: ${problem}`);
    this.#routes.push({
      queue,
      types: filter.events?.length ? new Set(filter.events) : undefined,
      rooms: filter.rooms?.length ? nameFilter(filter.rooms) : undefined,
      ignored: filter.ignoreUsers?.length ? userFilter(filter.ignoreUsers) : undefined,
      forPeople: queue.sink.forPeople === true,
    });
  }

  get queues(): DeliveryQueue[] {
    return this.#routes.map((r) => r.queue);
  }

  /** The queues (sinks) whose filter takes this event. */
  routesFor(event: PresenceEvent): DeliveryQueue[] {
    return this.#routes
      .filter(
        (r) =>
          (!r.types || r.types.has(event.type)) &&
          (!r.rooms || r.rooms(event.room)) &&
          (!r.ignored || !r.ignored(event.participant)) &&
          !(r.forPeople && event.sameUserAs !== undefined),
      )
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
