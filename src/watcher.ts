import { setMaxListeners } from 'node:events';
import { DailyClient, DEFAULT_API_URL, isDailyHost, normalizeApiKey, type PresenceClient } from './daily/client.js';
import { DailyApiError, targetName } from './daily/errors.js';
import { roomAsUrl } from './daily/room-name.js';
import { wholeRoomText } from './daily/parse.js';
import { checkClientDomainAnswer, checkClientRoomAnswer } from './daily/client-answer.js';
import { DomainTracker, lastListedAt, RoomTracker } from './tracker.js';
import type { Participant, PollInfo, PresenceEvent, PresenceWatcherEvents } from './events.js';
import { defaultLibraryLogger, secrets, type Logger } from './log.js';
import { createLimiter, DAILY_MAX_RPS, DEFAULT_MAX_RPS, RateLimiter, scheduleAbortable, type RequestLimiter } from './poll/limiter.js';
import { runTargetLoop } from './poll/loop.js';
import { monotonicNow } from './util/clock.js';
import { RepeatedWarning } from './util/repeated-warning.js';
import { didYouMean, unknownOption, type SameKeys } from './util/options.js';
import { ListenerError, SafeEmitter } from './util/safe-emitter.js';
import { LeaveGrace } from './grace.js';
import { SAME_PERSON_RULES, SameUser, type SamePersonRule } from './same-user.js';
import { checkSource, StateError, type SavedState, type StateStore } from './state/store.js';
import { savedStateProblem } from './state/file-store.js';
import { formatDuration } from './util/duration.js';
import { shownValue } from './util/text.js';
import { ownValue, setOwn } from './util/record.js';

/** The poll interval when none is given: Daily's data lags up to 15 s, so polling faster gains little. */
export const DEFAULT_INTERVAL_MS = 15_000;
/** How far behind Daily says GET /presence can be (said of the domain's; taken for a room's too). */
const DATA_LAG_MS = 15_000;
/** A room's partial snapshots are logged when they start and then at most this often. */
const PARTIAL_WARN_EVERY_MS = 60 * 60_000;
/** How many rooms a repeated participant id is warned of for, at most (one warning a room). */
const REPEATED_ID_ROOMS = 100;
/** How long every request waits after a 429 without Retry-After (Daily's windows are 1 s and 5 s). */
const RATE_LIMIT_PAUSE_MS = 1000;
/**
 * Once the key has worked (a poll succeeded), how many 401/403 answers in a row one target takes
 * before the watcher stops. A wrong key stops it at its first answer; a key that worked for hours
 * and is refused once (a gateway's glitch during an incident of Daily's) is retried with the
 * backoff (1 s, 2 s) instead of ending a daemon that may have no restart policy. A revoked key
 * still stops it within seconds, and a restart takes up a rotated one.
 */
export const KEY_REFUSALS_TO_STOP = 3;

/**
 * A resumed room's last answer before the save, on Daily's clock: its people's latest join time +
 * duration (a host clock off from Daily's cannot move it), or the save's time when it had nobody.
 */
function savedLine(people: readonly Participant[] | undefined, savedAt: number): number {
  return lastListedAt(people ?? []) ?? savedAt;
}

/** Whether an API base URL is Daily's own (not a simulator or a proxy of one), whose rate limit we know. */
function isDaily(apiUrl: unknown): boolean {
  try {
    return isDailyHost(new URL(String(apiUrl)).hostname);
  } catch {
    return false;
  }
}

/** Why `maxRps` is too high for Daily (over its limit a domain), or undefined. */
export function overDailyLimit(maxRps: number, apiUrl: string): string | undefined {
  if (!(maxRps > DAILY_MAX_RPS && isDaily(apiUrl))) return undefined;
  return `maxRps ${maxRps} is over Daily's limit of ${DAILY_MAX_RPS} requests/s a domain (shared with your other software): expect 429s, and each one holds every room's polls. Use allRooms (--all-rooms) to watch any number of rooms with one request per interval.`;
}

/**
 * Why `apiUrl` on Daily's API host is not its API base (`https://api.daily.co/v1`), or undefined:
 * without the /v1 every request answers 404, which reads as "room not found" for every room.
 */
export function notDailyBase(apiUrl: string): string | undefined {
  let u: URL;
  try {
    u = new URL(apiUrl);
  } catch {
    return undefined;
  }
  const path = u.pathname.replace(/\/+$/, '');
  // a domain's own host (acme.daily.co) serves its rooms' pages, not the API
  if (u.hostname !== 'api.daily.co' && isDailyHost(u.hostname)) {
    return `the API URL's host is ${u.hostname}, a domain's meeting host, not Daily's API: every domain's API is https://api.daily.co/v1 (the API key says which domain); expect web pages or 404s instead of presence; check apiUrl (--api-url, DAILY_API_URL)`;
  }
  if (u.hostname !== 'api.daily.co' || path === '/v1') return undefined;
  return `the API URL's path is "${path || '/'}", but Daily's API base is https://api.daily.co/v1: expect every request to answer 404 ("room not found"); check apiUrl (--api-url, DAILY_API_URL)`;
}

/** Daily's GET /presence lags by up to 15 s: why polling it faster spends requests for nothing, or undefined. */
export function fasterThanDomainData(intervalMs: number, apiUrl: string): string | undefined {
  if (!(intervalMs < DATA_LAG_MS && isDaily(apiUrl))) return undefined;
  return `polling GET /presence every ${formatDuration(intervalMs)}: Daily's domain-wide presence lags by up to 15 s and polling it more often gains nothing (an interval of 15s spends ${Math.round(DATA_LAG_MS / intervalMs)}× fewer requests of the budget your other software shares)`;
}

/** Why polling `rooms` rooms every `intervalMs` cannot keep to the interval within `maxRps`, or undefined. */
export function overBudget(rooms: number, intervalMs: number, maxRps: number): string | undefined {
  if (!(rooms * (1000 / intervalMs) > maxRps)) return undefined;
  return `watching ${rooms} room${rooms === 1 ? '' : 's'} every ${formatDuration(intervalMs)} needs ${(rooms / (intervalMs / 1000)).toFixed(1)} requests/s, over the budget of ${maxRps}/s: polls will be spaced out by the rate limiter. Use allRooms (--all-rooms) to watch any number of rooms with one request per interval.`;
}

/** The target name of the domain-wide poll (GET /presence) with `allRooms`: `PollInfo.target`, `watcher.targets`. */
export const DOMAIN_TARGET = '*';

/**
 * The daemon's `--once`: an option only it sets (a symbol, not exported from the package), for a
 * watcher that takes one snapshot and is stopped. What depends on the interval (the request
 * budget's warning, GET /presence polled faster than its lag) does not apply: a cron user's every
 * run warned "watching 100 rooms every 15s needs 6.7 requests/s".
 */
export const ONE_SHOT = Symbol('presence-watcher one snapshot');

/** A saved state's fields keyed by room: what room mode keeps of the rooms it does not watch. */
const BY_ROOM = ['rooms', 'updates', 'pendingLeaves', 'partialRooms'] as const;
type ByRoom = (typeof BY_ROOM)[number];

/** The events a watcher emits: a listener for any other is refused (SafeEmitter). */
const WATCHER_EVENTS: Record<keyof PresenceWatcherEvents, true> = { join: true, leave: true, update: true, event: true, error: true, ready: true, poll: true, stop: true };

/** The largest time a Date holds, ms either side of the epoch. */
const MAX_TIME_MS = 8.64e15;

/** A value as an error names it: NaN, "x" (quoted), undefined, an Invalid Date. */
function describeValue(v: unknown): string {
  if (v instanceof Date) return 'an Invalid Date';
  if (typeof v === 'string') return JSON.stringify(v);
  return String(v);
}

interface CommonOptions {
  /** Daily API key. Required unless `client` is given. */
  apiKey?: string;
  /** Default https://api.daily.co/v1. */
  apiUrl?: string;
  /** Delay between the end of one poll of a target and the start of the next, ms. Default 15 000. */
  intervalMs?: number;
  /** No joins for people already present in the first snapshot (chokidar's ignoreInitial). */
  ignoreInitial?: boolean;
  /** Room mode only (an error with allRooms): `limit` query parameter sent to Daily. Unset by default (Daily's default applies). */
  limit?: number;
  /** Request budget for the Daily API, requests per second. Default 5. Ignored when `limiter` is given. */
  maxRps?: number;
  /** Request budget per 5 s window. Default 5 × maxRps. */
  maxPer5s?: number;
  /** Share a limiter (a RateLimiter, or a Bottleneck) with other code that calls the same Daily domain. */
  limiter?: RequestLimiter;
  /** Per-request deadline, ms. Default 10 000. */
  requestTimeoutMs?: number;
  /** Largest response accepted, bytes. Default 32 MiB. */
  maxBodyBytes?: number;
  /** First retry delay after a failed poll, ms. Default 1 000; doubles per failure with jitter. */
  backoffMinMs?: number;
  /** Longest retry delay, ms. Default max(interval, 60 000). */
  backoffMaxMs?: number;
  /** A pino logger. Default: warnings and errors as JSON on stderr. */
  logger?: Logger;
  /** Replace the HTTP client (tests, or a custom transport). */
  client?: PresenceClient;
  /**
   * Wall clock for event timestamps, the saved state's `savedAt` and `stateSavedAt`. Default Date.now. Waits (the
   * rate limit, leave grace, retrying a failed save) are timed on a monotonic clock instead, so a
   * wall clock stepped by NTP or a restored VM neither holds them nor cuts them short.
   */
  now?: () => number;
  /**
   * Report a leave only once the participant has been absent this long, ms (default 0). A person
   * back within it produces neither leave nor join.
   */
  leaveGraceMs?: number;
  /**
   * What makes two sessions one person's, for marking reconnects and second devices `sameUserAs`:
   * `'userId'` (default: the same userId, set through a meeting token, and the same name) or
   * `'name'` (the same userName: for rooms joined without tokens; two people of one name in a room
   * are then one).
   */
  samePerson?: SamePersonRule;
  /** Persist snapshots after each successful poll; on start, diff against the saved ones. */
  stateStore?: StateStore;
  /**
   * Save the state at most this often, ms (default 0: after every poll that changed it). A change
   * made meanwhile is saved once this long has passed since the last save began, and at stop. For a
   * large domain, where the whole state (~200 B a person) is rewritten nearly every poll. The cost:
   * after a crash the state can be this far behind what listeners were told, so a restart reports
   * those joins and leaves again (the daemon's outbox journal replays them instead, and repeats nothing).
   * A save that failed is tried again on the same spacing. At most a day.
   */
  saveEveryMs?: number;
  /** Saved state already loaded (the CLI loads it first to report a corrupt file). */
  initialState?: SavedState;
  /** Abort and restart a target's poll that has not completed within this long. Default max(3 × interval, request timeout + 1 s). */
  watchdogMs?: number;
}

export interface RoomsOptions extends CommonOptions {
  /** Watch these rooms, one request per room per interval. */
  rooms: string[];
  allRooms?: false;
}

export interface AllRoomsOptions extends CommonOptions {
  /** Watch every room of the domain with GET /presence: one request per interval, whatever the room count. */
  allRooms: true;
  rooms?: undefined;
}

/** What a PresenceWatcher watches and how: `rooms` by name, or `allRooms: true` for the whole domain. */
export type PresenceWatcherOptions = RoomsOptions | AllRoomsOptions;

/** A mistake in the options passed to PresenceWatcher. */
export class WatcherOptionsError extends TypeError {
  override name = 'WatcherOptionsError';
  readonly code = 'WATCHER_INVALID_OPTIONS';
}

/**
 * What `events({ maxBuffered })` throws, once, after handing out the events it held, when its
 * reader left more than `maxBuffered` unread: the iterator stopped taking events at `firstMissed`,
 * so from there on this reader has not seen them. To carry on without a gap, take `snapshot()`
 * as the truth and call `events()` again.
 */
export class EventsOverflowError extends Error {
  override name = 'EventsOverflowError';
  readonly code = 'EVENTS_OVERFLOW';
  constructor(
    readonly maxBuffered: number,
    /** The id of the first event this reader did not get. */
    readonly firstMissed: string,
  ) {
    super(
      `events(): more than ${maxBuffered} events waited unread (maxBuffered), so this iterator stopped taking them at event ${firstMissed}: ` +
        'read faster, raise maxBuffered, or take snapshot() as the truth and call events() again',
    );
  }
}

/** The longest saveEveryMs: a day. */
export const MAX_SAVE_EVERY_MS = 86_400_000;

/** Every option PresenceWatcher reads (PresenceWatcherOptions' keys). */
const OPTION_NAMES = [
  'apiKey', 'apiUrl', 'intervalMs', 'ignoreInitial', 'limit', 'maxRps', 'maxPer5s', 'limiter', 'requestTimeoutMs', 'maxBodyBytes',
  'backoffMinMs', 'backoffMaxMs', 'logger', 'client', 'now', 'leaveGraceMs', 'samePerson', 'stateStore', 'saveEveryMs', 'initialState', 'watchdogMs', 'rooms', 'allRooms',
] as const;
const optionNamesMatch: SameKeys<keyof CommonOptions | 'rooms' | 'allRooms', (typeof OPTION_NAMES)[number]> = true;
void optionNamesMatch;

/** Reject an option PresenceWatcher does not know (src/util/options.ts says why). */
function checkOptionNames(o: Record<string, unknown>): void {
  const unknown = unknownOption(o, OPTION_NAMES);
  if (unknown !== undefined) throw new WatcherOptionsError(`PresenceWatcher: ${unknown}`);
}

function optNumber(
  o: Record<string, unknown>,
  name: string,
  fallback: number,
  { min = 0, integer = false }: { min?: number; integer?: boolean } = {},
): number {
  const v = o[name];
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || (integer && !Number.isSafeInteger(v))) {
    throw new WatcherOptionsError(
      `PresenceWatcher: ${name} must be ${integer ? 'an integer' : 'a number'} ≥ ${min}, got ${shownValue(v)}`,
    );
  }
  return v;
}

/**
 * ignoreInitial: a target's first snapshot yields nothing; later ones lose only joins marked
 * initial (people in a room a restored state never watched). The same array when there is none.
 */
function withoutInitial(events: PresenceEvent[], first: boolean): PresenceEvent[] {
  if (first) return [];
  for (const e of events) if (e.type === 'join' && e.initial) return events.filter((x) => !(x.type === 'join' && x.initial));
  return events;
}

/**
 * Watches presence in Daily rooms and emits `join`, `leave` and `update` events.
 *
 * A failed poll never produces events: the previous snapshot stays the baseline, so a network error
 * or a 5xx can never invent a leave.
 */
export class PresenceWatcher extends SafeEmitter<PresenceWatcherEvents> {
  readonly #rooms: string[] | undefined;
  readonly #intervalMs: number;
  readonly #ignoreInitial: boolean;
  readonly #limit: number | undefined;
  readonly #backoffMinMs: number;
  readonly #backoffMaxMs: number;
  readonly #client: PresenceClient;
  /**
   * The client when the watcher created it (it closes it, and its answers are the watcher's to give
   * away): GET /presence is then read room by room, and a large room's answer a piece at a time.
   */
  readonly #daily: DailyClient | undefined;
  readonly #limiter: RequestLimiter;
  readonly #ownsLimiter: boolean;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #maxRps: number;
  /** {@link ONE_SHOT}: one snapshot, then stopped (the daemon's --once). */
  readonly #oneShot: boolean;

  /** Room mode: one tracker per room, kept once its first answer is applied (or from a saved state). */
  #roomState = new Map<string, RoomTracker>();
  /** The names `snapshot(room)` was asked for that no target polls, each warned about once. */
  readonly #unwatchedAsked = new Set<string>();
  /** Domain mode: created by the first snapshot (or by a saved state). */
  #domainState: DomainTracker | undefined;
  /**
   * Domain mode, until its first answer is applied: the state it resumed from, as exportState()
   * gives it back meanwhile (what the tracker holds then says nothing of which rooms it watched
   * or which were partial).
   */
  #resumedFrom: SavedState | undefined;
  #seen = new Set<string>();
  /** Room mode: the rooms a saved state listed (so they answered Daily once), for #roomGone. */
  #listedInState = new Set<string>();
  /**
   * Room mode: what the saved state held of rooms this watcher does not watch (a room taken off the
   * list for a while, a state from --all-rooms), saved again as it was. Dropped, a room put back on
   * the list was a first snapshot again: everyone there announced again as already there, and no
   * leave for who had left meanwhile.
   */
  #unwatched: Pick<SavedState, ByRoom> | undefined;
  /**
   * Room mode resumed from a state of the whole domain (--all-rooms): saved as one again, since with
   * the other rooms kept it still says every room's last-known people (a room it lacks was empty).
   * Saved as `rooms`, a room empty then and occupied by the next --all-rooms run read as never seen:
   * its people announced as already there when watching started.
   */
  #keepsDomain = false;
  #ready = false;
  #started = false;
  #abort = new AbortController();
  #loops: Promise<void>[] = [];
  #stopping: Promise<void> | undefined;
  #iterators = new Set<(e: PresenceEvent | null) => void>();
  readonly #grace: LeaveGrace;
  readonly #sameUser: SameUser;
  readonly #store: StateStore | undefined;
  #initialState: SavedState | undefined;
  /** Targets whose polls are failing, each with its warning (said when it starts or changes, then every 10 minutes). */
  readonly #failing = new Map<string, RepeatedWarning>();
  /** Whether a poll has succeeded: until then a 401/403 stops the watcher at once (a wrong key). */
  #keyWorked = false;
  /** Per target, the 401/403 answers in a row since it last answered or failed otherwise. */
  readonly #refusals = new Map<string, number>();
  /** Rooms whose last snapshot was partial (`partialRooms`), and when that was last logged (monotonic ms). */
  readonly #partialWarnedAt = new Map<string, number>();
  /**
   * Room mode: each room's line for initial joins, when this run took its first snapshot or when
   * it was last listed before the state it resumed from was saved (ms, on Daily's clock as its
   * people's join times and durations give it: a host clock off from Daily's cannot move the line),
   * and whether any answer of the room was partial since. Someone a partial answer left out shows up later with a
   * joinTime from more than Daily's lag (15 s) before then: a whole answer would have listed them,
   * so they were there all along and the join is marked initial. Who joined in those 15 s is an
   * arrival, as in a room whose answers are whole (Daily may not have listed them yet); so is who
   * joined while the daemon was stopped.
   */
  readonly #initialLine = new Map<string, { at: number; partial: boolean }>();
  /** Rooms whose answer named a participant id twice, warned of once each (#noteRepeatedIds). */
  readonly #repeatedIdWarned = new Set<string>();
  readonly #watchdogMs: number;
  /**
   * Targets whose poll waits for its turn in the limiter (not yet sent), each with its attempt's
   * token: an earlier attempt the watchdog gave up on, settling late, must not clear a later one's.
   */
  readonly #waitingForTurn = new Map<string, object>();
  /** The message of the last save, when it failed (cleared by one that succeeds). */
  #saveError: string | undefined;
  /** While saves fail: when to try again without a change (one interval after the last failure; monotonic clock). */
  #saveRetryAt = 0;
  #saving: Promise<void> | undefined;
  #saveAgain = false;
  /** When the last save succeeded (the wall clock, `now`). */
  #savedAt: number | undefined;
  readonly #saveEveryMs: number;
  /** When the last save began (monotonic clock), for saveEveryMs. */
  #lastSaveAt = -Infinity;
  /** A save put off by saveEveryMs, due when this fires. */
  #saveTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(options: PresenceWatcherOptions) {
    super({ owner: 'PresenceWatcher', names: WATCHER_EVENTS });
    // every target loop listens on the one stop signal: 1000 rooms means 1000 listeners, by design
    setMaxListeners(0, this.#abort.signal);
    if (!options || typeof options !== 'object') {
      throw new WatcherOptionsError('PresenceWatcher: options must be an object with apiKey and rooms or allRooms');
    }
    const o = options as unknown as Record<string, unknown>;
    checkOptionNames(o);
    // a flag from the environment arrives as text: 'true' was read as not set, 'false' as false
    for (const flag of ['allRooms', 'ignoreInitial'] as const) {
      const v: unknown = o[flag];
      if (v !== undefined && typeof v !== 'boolean') throw new WatcherOptionsError(`PresenceWatcher: ${flag} must be true or false, got ${shownValue(v)}`);
    }
    if (options.allRooms === true) {
      if (options.rooms !== undefined) {
        throw new WatcherOptionsError('PresenceWatcher: give either rooms or allRooms: true, not both');
      }
      if (options.limit !== undefined) {
        throw new WatcherOptionsError('PresenceWatcher: limit applies to rooms only: GET /presence (allRooms) takes no parameters');
      }
      this.#rooms = undefined;
    } else {
      const rooms = options.rooms;
      if (!Array.isArray(rooms) || rooms.length === 0) {
        throw new WatcherOptionsError('PresenceWatcher: rooms must be a non-empty array of room names (or set allRooms: true)');
      }
      for (const r of rooms) {
        if (typeof r !== 'string' || r === '') {
          throw new WatcherOptionsError(`PresenceWatcher: every room must be a non-empty string, got ${shownValue(r)}`);
        }
        // "*" names GET /presence in errors, health and metrics; and nobody means a room by it
        if (r === DOMAIN_TARGET) throw new WatcherOptionsError('PresenceWatcher: "*" is not a room name: to watch every room of the domain, set allRooms: true');
        const url = roomAsUrl(r);
        if (url) {
          throw new WatcherOptionsError(`PresenceWatcher: rooms: "${url.shown}" is a room's URL, not its name: give ${url.name === undefined ? 'the name, the last part of its URL' : `"${url.name}"`}`);
        }
      }
      this.#rooms = [...new Set(rooms)];
    }
    this.#intervalMs = optNumber(o, 'intervalMs', DEFAULT_INTERVAL_MS, { min: 10 });
    this.#ignoreInitial = options.ignoreInitial === true;
    this.#limit = options.limit === undefined ? undefined : optNumber(o, 'limit', 0, { min: 1, integer: true });
    this.#backoffMinMs = optNumber(o, 'backoffMinMs', 1000, { min: 1 });
    this.#backoffMaxMs = optNumber(o, 'backoffMaxMs', Math.max(this.#intervalMs, 60_000), { min: 1 });
    this.#maxRps = optNumber(o, 'maxRps', DEFAULT_MAX_RPS, { min: 0.01 });
    this.#oneShot = (options as { [ONE_SHOT]?: unknown })[ONE_SHOT] === true;
    const maxPer5s = options.maxPer5s === undefined ? undefined : optNumber(o, 'maxPer5s', 0, { min: 1, integer: true });
    const rule = options.samePerson ?? 'userId';
    if (!(SAME_PERSON_RULES as readonly unknown[]).includes(rule)) {
      const hint = typeof rule === 'string' ? didYouMean(rule, SAME_PERSON_RULES) : '';
      throw new WatcherOptionsError(`PresenceWatcher: samePerson must be one of ${SAME_PERSON_RULES.map((r) => `'${r}'`).join(', ')}, got ${shownValue(rule)}${hint}`);
    }
    this.#sameUser = new SameUser(rule);
    this.#grace = new LeaveGrace(optNumber(o, 'leaveGraceMs', 0), rule);
    // a plain-JavaScript caller's object without the methods would fail only at start, or at
    // every poll: say so now
    const lacking = (what: string, o: unknown, methods: readonly string[]) => {
      const missing = methods.filter((m) => typeof (o as Record<string, unknown> | null)?.[m] !== 'function');
      if (missing.length > 0) throw new WatcherOptionsError(`PresenceWatcher: ${what} must have the method${missing.length > 1 ? 's' : ''} ${missing.join(', ')}`);
    };
    if (options.stateStore !== undefined) lacking('stateStore', options.stateStore, ['load', 'save']);
    if (options.client !== undefined) lacking('client', options.client, ['getRoomEntries', 'getDomainEntries', 'close']);
    if (options.limiter !== undefined && !(options.limiter instanceof RateLimiter)) lacking('limiter (a RateLimiter, or a Bottleneck)', options.limiter, ['schedule']);
    const stateProblem = options.initialState === undefined ? undefined : savedStateProblem(options.initialState);
    if (stateProblem !== undefined) throw new WatcherOptionsError(`PresenceWatcher: initialState: ${stateProblem}`);
    this.#store = options.stateStore;
    this.#saveEveryMs = optNumber(o, 'saveEveryMs', 0);
    if (this.#saveEveryMs > MAX_SAVE_EVERY_MS) throw new WatcherOptionsError(`PresenceWatcher: saveEveryMs must be at most ${MAX_SAVE_EVERY_MS} (a day), got ${this.#saveEveryMs}`);
    if (this.#saveEveryMs > 0 && !this.#store) throw new WatcherOptionsError('PresenceWatcher: saveEveryMs applies with a stateStore only: without one nothing is saved');
    this.#initialState = options.initialState;
    const requestTimeoutMs = optNumber(o, 'requestTimeoutMs', 10_000, { min: 1 });
    const watchdogMs = options.watchdogMs === undefined ? undefined : optNumber(o, 'watchdogMs', 0, { min: 1 });
    if (options.logger !== undefined) lacking('logger', options.logger, ['debug', 'info', 'warn', 'error']);
    this.#log = options.logger ?? defaultLibraryLogger();
    if (options.now !== undefined) {
      // every event's time and every saved state's come from it: a clock that answers no time made
      // each poll fail on its first event, and the failure's own report with it, without a word
      if (typeof options.now !== 'function') throw new WatcherOptionsError(`PresenceWatcher: now must be a function returning the time in ms since the epoch, as Date.now does`);
      const t: unknown = options.now();
      // (a Date reads as its time, as it did before this check)
      const ms = typeof t === 'number' || t instanceof Date ? Number(t) : NaN;
      if (!Number.isFinite(ms) || Math.abs(ms) > MAX_TIME_MS) {
        throw new WatcherOptionsError(`PresenceWatcher: now() must return the time in ms since the epoch (a number, as Date.now() does), but returned ${describeValue(t)}`);
      }
    }
    const now = options.now;
    this.#now = now === undefined ? Date.now : () => Number(now());

    if (options.client) {
      this.#client = options.client;
      this.#daily = undefined;
    } else {
      if (typeof options.apiKey !== 'string' || options.apiKey.trim() === '') {
        throw new WatcherOptionsError('PresenceWatcher: apiKey is required (a Daily API key; the CLI reads DAILY_API_KEY)');
      }
      let apiKey: string;
      try {
        apiKey = normalizeApiKey(options.apiKey);
      } catch (err) {
        throw new WatcherOptionsError(`PresenceWatcher: apiKey: ${(err as Error).message}`);
      }
      secrets.add(apiKey);
      const apiUrl = options.apiUrl ?? DEFAULT_API_URL;
      const notBase = notDailyBase(apiUrl);
      if (notBase) this.#log.warn(notBase);
      const overDaily = overDailyLimit(this.#maxRps, apiUrl);
      if (overDaily) this.#log.warn({ maxRps: this.#maxRps }, overDaily);
      const tooFast = this.#rooms || this.#oneShot ? undefined : fasterThanDomainData(this.#intervalMs, apiUrl);
      if (tooFast) this.#log.info({ intervalMs: this.#intervalMs }, tooFast);
      try {
        this.#client = this.#daily = new DailyClient({
          // enough keep-alive connections for the request budget (4 for the default 5/s)
          connections: Math.min(64, Math.max(4, Math.ceil(this.#maxRps / 20))),
          apiKey,
          apiUrl,
          timeoutMs: options.requestTimeoutMs,
          maxBodyBytes: options.maxBodyBytes,
        });
      } catch (err) {
        // a bad option, as every other one is reported: the watcher's own error, named for its option
        throw new WatcherOptionsError(`PresenceWatcher: ${(err as Error).message.replace(/^DailyClient: /, '').replace(/^timeoutMs/, 'requestTimeoutMs')}`);
      }
    }
    if (this.#initialState) {
      try {
        checkSource(this.#initialState, this.#client.source, 'initialState');
      } catch (err) {
        throw new WatcherOptionsError(`PresenceWatcher: ${(err as Error).message}`);
      }
    }
    if (options.limiter) {
      this.#limiter = options.limiter;
      this.#ownsLimiter = false;
    } else {
      this.#limiter = createLimiter({ maxRps: this.#maxRps, maxPer5s });
      this.#ownsLimiter = true;
    }
    // 3 periods, not 3 intervals: an attempt includes its wait for the limiter, and when the budget
    // cannot poll every room each interval a room waits up to a whole period (rooms ÷ rate) for its
    // turn. Judged by the interval, such polls were aborted as stuck while they only waited, over
    // and over (10 rooms at 1 s and 2/s: a watchdog warning every few seconds)
    this.#watchdogMs = watchdogMs ?? Math.max(3 * this.pollPeriodMs, requestTimeoutMs + 1000);
  }

  /** Whether the first snapshot of every target has been taken. */
  get isReady(): boolean {
    return this.#ready;
  }

  get isRunning(): boolean {
    return this.#started && this.#stopping === undefined;
  }

  /** The targets polled: room names, or `['*']` in all-rooms mode. */
  get targets(): string[] {
    return this.#rooms ? [...this.#rooms] : [DOMAIN_TARGET];
  }

  get intervalMs(): number {
    return this.#intervalMs;
  }

  /**
   * How often each target is polled at best: the interval, or longer when the request budget cannot
   * poll every room once an interval (rooms ÷ the limiter's rate: 100 rooms at 5 requests/s, every
   * 20 s). Health checks judge a target's last poll against it. A limiter of the caller's own
   * (`limiter`) has a rate the watcher does not know: the interval then.
   */
  get pollPeriodMs(): number {
    if (!(this.#limiter instanceof RateLimiter)) return this.#intervalMs;
    const perSecond = Math.min(this.#limiter.maxRps, this.#limiter.maxPer5s / 5);
    return Math.max(this.#intervalMs, ((this.#rooms?.length ?? 1) * 1000) / perSecond);
  }

  /**
   * Why the last state save failed, while saves keep failing; undefined once one succeeds (and
   * without a state store). Health checks report it: until a save succeeds, a restart would resume
   * from an older state, and the daemon's outbox journal keeps every event since.
   */
  get stateSaveError(): string | undefined {
    return this.#saveError;
  }

  /**
   * When the state was last saved (ms since the epoch, by the `now` option's clock), undefined before the first
   * save; null without a state store. With `saveEveryMs`, up to that long behind by design.
   */
  get stateSavedAt(): number | undefined | null {
    return this.#store ? this.#savedAt : null;
  }

  /** The rooms whose last snapshot was partial: Daily listed fewer people than its total_count, so no leaves are seen for the rest. */
  get partialRooms(): string[] {
    return [...this.#partialWarnedAt.keys()];
  }

  /** Start polling. Resolves at once; listen for `ready` to know the first snapshots are in. */
  start(): this {
    if (this.#stopping) throw new WatcherOptionsError('PresenceWatcher: cannot start after stop(); create a new watcher');
    if (this.#started) return this;
    this.#started = true;
    if (this.#store && !this.#initialState) {
      // (a custom store's load() may throw instead of rejecting, or answer something that is no state)
      const checked = Promise.resolve()
        .then(() => this.#store!.load())
        .then((state: unknown) => {
          if (state === undefined || state === null) return undefined;
          const problem = savedStateProblem(state);
          if (problem !== undefined) throw new StateError(`stateStore.load() answered something that is no saved state: ${problem}`);
          checkSource(state as SavedState, this.#client.source, 'the saved state');
          return state as SavedState;
        });
      // (what the restore throws stops the watcher as a failed load does, never an unhandled rejection)
      checked
        .then((state) => {
          if (this.#abort.signal.aborted) return;
          if (state) this.#restore(state);
          this.#launch();
        })
        .catch((err: unknown) => {
          const error = err instanceof Error ? err : new Error(String(err));
          this.#log.error({ err: error }, error.message);
          this.safeEmit('error', error);
          this.#stopping ??= this.#doStop(error);
        });
    } else {
      if (this.#initialState) this.#restore(this.#initialState);
      this.#launch();
    }
    return this;
  }

  #restore(state: SavedState): void {
    this.#initialState = undefined;
    // leaves pending at the save: their grace goes on from when the person went missing
    const wallNow = this.#now();
    const now = monotonicNow();
    for (const [room, ids] of Object.entries(state.pendingLeaves ?? {})) {
      if (this.#rooms && !this.#rooms.includes(room)) continue; // a room no longer watched
      for (const [id, at] of Object.entries(ids)) this.#grace.carry(room, id, wallNow - Date.parse(at), now);
    }
    if (this.#rooms) {
      const watched = new Set(this.#rooms);
      const savedAt = Date.parse(state.savedAt);
      const kept: Pick<SavedState, ByRoom> = { rooms: {} };
      for (const key of BY_ROOM) {
        for (const [room, value] of Object.entries(state[key] ?? {})) if (!watched.has(room)) setOwn((kept[key] ??= {}) as Record<string, unknown>, room, value);
      }
      const names = Object.keys(kept.rooms);
      this.#keepsDomain = state.mode === 'domain';
      if (names.length > 0) {
        this.#unwatched = kept;
        this.#log.info(
          { rooms: names.length },
          `the saved state holds ${names.length} room(s) not watched now (${names.slice(0, 5).join(', ')}${names.length > 5 ? ', …' : ''}): kept as they were, so that watching one again reports what changed since`,
        );
      }
      for (const room of this.#rooms) {
        const list = ownValue(state.rooms, room);
        if (list) {
          this.#listedInState.add(room);
          this.#sameUser.seed(room, list);
        }
        // in domain mode an absent room was empty; in room mode it was never seen
        if (list || state.mode === 'domain') {
          const tracker = new RoomTracker(room, list ?? [], ownValue(state.updates, room));
          this.#roomState.set(room, tracker);
          // someone a partial list left out before the stop, listed after it, joined before the room's last answer then
          const line = savedLine(list, savedAt);
          if (!Number.isNaN(line)) this.#initialLine.set(room, { at: line, partial: ownValue(state.partialRooms, room) === true });
        }
      }
    } else {
      // a state taken room by room says nothing of the domain's other rooms: their people were there
      // already. In a room whose answers were partial, whom they left out was there before its last
      // answer (as in room mode: #initialLine); GET /presence lists them all now
      const lines: Record<string, number> = {};
      const savedAt = Date.parse(state.savedAt);
      for (const room of Object.keys(state.partialRooms ?? {})) {
        const line = savedLine(ownValue(state.rooms, room), savedAt);
        if (!Number.isNaN(line)) setOwn(lines, room, line - DATA_LAG_MS);
      }
      this.#domainState = new DomainTracker(Object.entries(state.rooms), state.mode === 'rooms' ? Object.keys(state.rooms) : undefined, state.updates, lines);
      this.#resumedFrom = state; // copied only if exported: a large domain's state is megabytes
      for (const [room, list] of Object.entries(state.rooms)) this.#sameUser.seed(room, list);
    }
    this.#log.info({ savedAt: state.savedAt, rooms: Object.keys(state.rooms).length }, 'resuming from saved state');
  }

  /** Last-known presence by room (new objects). Room mode: every room that has answered (or a saved state listed), empty ones too. */
  #presence(): Map<string, Participant[]> {
    if (this.#domainState) return this.#domainState.rooms();
    const out = new Map<string, Participant[]>();
    for (const [room, t] of this.#roomState) out.set(room, t.participants());
    return out;
  }

  /** How many updates each tracked person has had, by room and id (those who had any): saved, so that an update after a restart gets a new id. */
  #updateCounts(): Record<string, Record<string, number>> {
    if (this.#domainState) return this.#domainState.updateCounts();
    const out: Record<string, Record<string, number>> = {};
    for (const [room, t] of this.#roomState) {
      const counts = t.updateCounts();
      if (Object.keys(counts).length > 0) setOwn(out, room, counts);
    }
    return out;
  }

  /** The state to persist: last snapshots plus people whose leave is still pending (so a restart cannot lose it). */
  exportState(): SavedState {
    // domain mode before its first answer: what it resumed from, or a state that has seen nothing
    // (one of the domain with no room listed would make everyone there an arrival at a restart)
    if (!this.#rooms && !this.#seen.has(DOMAIN_TARGET)) {
      const unchanged: SavedState = this.#resumedFrom ? structuredClone(this.#resumedFrom) : { version: 1, savedAt: new Date(this.#now()).toISOString(), mode: 'rooms', rooms: {} };
      if (this.#client.source !== undefined) unchanged.source = this.#client.source;
      return unchanged;
    }
    const rooms: Record<string, Participant[]> = {};
    for (const [room, list] of this.#presence()) setOwn(rooms, room, list);
    for (const room of this.#grace.rooms) setOwn(rooms, room, [...(ownValue(rooms, room) ?? []), ...this.#grace.pending(room)]);
    const wallNow = this.#now();
    const state: SavedState = { version: 1, savedAt: new Date(wallNow).toISOString(), mode: this.#rooms && !this.#keepsDomain ? 'rooms' : 'domain', rooms };
    if (this.#client.source !== undefined) state.source = this.#client.source;
    const updates = this.#updateCounts();
    if (Object.keys(updates).length > 0) state.updates = updates;
    for (const [room, line] of this.#initialLine) if (line.partial) setOwn((state.partialRooms ??= {}), room, true);
    const missing = this.#grace.missingSince(wallNow, monotonicNow());
    if (missing.size > 0) {
      state.pendingLeaves = {};
      for (const [room, ids] of missing) setOwn(state.pendingLeaves, room, Object.fromEntries([...ids].map(([id, at]) => [id, new Date(at).toISOString()])));
    }
    // rooms not watched now, as the state held them (never one this watcher polls: the restore kept only others)
    const kept = this.#unwatched;
    if (kept) {
      for (const key of BY_ROOM) {
        for (const [room, value] of Object.entries(kept[key] ?? {})) setOwn((state[key] ??= {}) as Record<string, unknown>, room, value);
      }
    }
    return state;
  }

  /**
   * Ask for the state to be saved. At most one save runs at a time and requests made meanwhile
   * coalesce into one more, whose state is built when it starts: a burst of polls costs one
   * exportState(), not one per poll.
   */
  #requestSave(): void {
    if (!this.#store) return;
    if (this.#saving) {
      this.#saveAgain = true;
      return;
    }
    // saveEveryMs: too soon after the last save, this one waits (requests meanwhile join it)
    const wait = this.#lastSaveAt + this.#saveEveryMs - monotonicNow();
    if (wait > 0) {
      this.#saveTimer ??= setTimeout(() => {
        this.#saveTimer = undefined;
        if (!this.#abort.signal.aborted) this.#requestSave();
      }, wait);
      return;
    }
    this.#lastSaveAt = monotonicNow();
    this.#saving = this.#save().finally(() => {
      this.#saving = undefined;
      if (this.#saveAgain) {
        this.#saveAgain = false;
        this.#requestSave();
      }
    });
  }

  #save(): Promise<void> {
    if (!this.#store) return Promise.resolve();
    // the state as of now; a store may save synchronously, and its throw is a failed save (a
    // TypeError from calling .then on its undefined once made every save fail, and stop() reject)
    let saving: Promise<void>;
    try {
      saving = Promise.resolve(this.#store.save(this.exportState()));
    } catch (err) {
      saving = Promise.reject(err);
    }
    return saving.then(
      () => {
        this.#savedAt = this.#now();
        if (this.#saveError !== undefined) this.#log.info('state saved again');
        this.#saveError = undefined;
      },
      (err: unknown) => {
        const message = err instanceof Error ? err.message : String(err);
        if (this.#saveError === undefined) this.#log.error({ err }, `cannot save state: ${message}`);
        this.#saveError = message;
        this.#saveRetryAt = monotonicNow() + this.#intervalMs;
        this.safeEmit('error', err instanceof Error ? err : new Error(String(err)));
      },
    );
  }

  #launch(): void {
    const signal = this.#abort.signal;
    const targets = this.targets;
    const step = Math.min(this.#intervalMs / targets.length, 1000 / this.#maxRps);
    const over = this.#rooms && !this.#oneShot ? overBudget(this.#rooms.length, this.#intervalMs, this.#maxRps) : undefined;
    if (over) this.#log.warn({ rooms: this.#rooms!.length, intervalMs: this.#intervalMs, maxRps: this.#maxRps }, over);
    targets.forEach((target, i) => {
      const loop = runTargetLoop({
        target,
        intervalMs: this.#intervalMs,
        initialDelayMs: Math.floor(i * step),
        backoffMinMs: this.#backoffMinMs,
        backoffMaxMs: this.#backoffMaxMs,
        watchdogMs: this.#watchdogMs,
        // our own limiter cannot be stuck: a poll waiting for its turn (a 429's pause, the budget's
        // spacing) is not a hung one, and aborting it only sent it to the back of the queue
        waiting: () => this.#limiter instanceof RateLimiter && this.#waitingForTurn.has(target),
        signal,
        poll: (s) => this.#pollOnce(target, s),
        onAttemptFailed: (error, attempt) => this.#onAttemptFailed(target, error, attempt),
        stopsNow: () => this.#stopsNow(target),
        onFatal: (error) => this.#onFatal(error),
      }).catch((err: unknown) => {
        // a bug, not an API failure: report it rather than let the loop die silently
        this.#log.error({ err, target }, 'poll loop crashed');
        this.safeEmit('error', err instanceof Error ? err : new Error(String(err)));
      });
      this.#loops.push(loop);
    });
  }

  /**
   * Stop polling: aborts in-flight requests and timers, then resolves. Idempotent; every call
   * returns the same promise.
   */
  stop(): Promise<void> {
    this.#stopping ??= this.#doStop(undefined);
    return this.#stopping;
  }

  async #doStop(reason: Error | undefined): Promise<void> {
    this.#abort.abort(reason ?? new Error('watcher stopped'));
    // a save put off by saveEveryMs is the final save's
    clearTimeout(this.#saveTimer);
    this.#saveTimer = undefined;
    await Promise.allSettled(this.#loops);
    // failures counted at debug since a target's last warning are said, not lost with the process
    // (a line the logger cannot take must not keep stop() from finishing its work)
    try {
      for (const [target, failing] of this.#failing) {
        failing.flush({ target }, (n) => `${targetName(target)}: ${n} more failed attempt(s) since its last warning; still failing at the stop`);
      }
    } catch {
      // the logger threw: nothing else to say it with
    }
    if (this.#store && this.#seen.size > 0) {
      this.#saveAgain = false;
      await this.#saving;
      await this.#save();
    }
    if (this.#ownsLimiter && this.#limiter instanceof RateLimiter) this.#limiter.stop();
    await this.#daily?.close();
    for (const push of this.#iterators) push(null);
    this.#iterators.clear();
    this.safeEmit('stop', reason);
  }

  /**
   * Current presence as last seen. With a room: its participants. Without: every room with anyone
   * in it, keyed by name.
   */
  snapshot(): Record<string, Participant[]>;
  snapshot(room: string): Participant[];
  snapshot(room?: string): Participant[] | Record<string, Participant[]> {
    if (room !== undefined && !this.#domainState) {
      const tracker = this.#roomState.get(room);
      if (tracker === undefined) this.#askedUnwatched(room);
      return tracker?.participants() ?? [];
    }
    const presence = this.#presence();
    if (room !== undefined) return presence.get(room) ?? [];
    const out: Record<string, Participant[]> = {};
    for (const [name, list] of presence) if (list.length > 0) setOwn(out, name, list);
    return out;
  }

  /**
   * `snapshot(room)` of a room this watcher does not poll (room mode): always empty, which reads like
   * an empty room. Warned once per name (a few hundred at most), naming the watched room it is
   * closest to: a misspelt name would otherwise look like nobody there, forever.
   */
  #askedUnwatched(room: string): void {
    const rooms = this.#rooms;
    if (rooms === undefined || this.#unwatchedAsked.has(room) || this.#unwatchedAsked.size >= 256 || rooms.includes(room)) return;
    this.#unwatchedAsked.add(room);
    const hint = typeof room === 'string' ? didYouMean(room, rooms) : '';
    this.#log.warn({ room }, `snapshot(${JSON.stringify(room)}): not one of the rooms this watcher polls${hint}, so it is always empty`);
  }

  /**
   * Every event as an async iterator, ending when the watcher stops or `signal` aborts. Events are
   * buffered until consumed: without a bound by default; with `maxBuffered`, a reader that leaves
   * more than that many unread is cut off (see {@link EventsOverflowError}) rather than let the
   * buffer grow for as long as it lags.
   */
  events(opts: { signal?: AbortSignal; maxBuffered?: number } = {}): AsyncIterableIterator<PresenceEvent> {
    // (a misspelt option, maxBuffer or signall, would leave the buffer unbounded or the loop unending)
    const unknown = unknownOption(opts as Record<string, unknown>, ['signal', 'maxBuffered']);
    if (unknown) throw new WatcherOptionsError(`events(): ${unknown}`);
    const max = opts.maxBuffered ?? Infinity;
    if (opts.maxBuffered !== undefined && !(Number.isInteger(max) && max >= 1)) {
      throw new WatcherOptionsError(`events(): maxBuffered must be a whole number ≥ 1, got ${String(opts.maxBuffered)}`);
    }
    // read from a head index: Array#shift moves every element left once the array is large (a first
    // snapshot of 100,000 people buffered whole took ~2.5 s to read out, 140,000 ~6 s, blocking)
    let buffer: PresenceEvent[] = [];
    let head = 0;
    let done = this.#stopping !== undefined || opts.signal?.aborted === true;
    let overflow: EventsOverflowError | undefined;
    let wake: (() => void) | undefined;
    const push = (e: PresenceEvent | null) => {
      if (e === null) done = true;
      else if (buffer.length - head < max) buffer.push(e);
      else {
        // what is buffered is still handed out; then the error, where the next event would have been
        overflow = new EventsOverflowError(max, e.id);
        this.#log.warn({ maxBuffered: max, firstMissed: e.id }, overflow.message);
        detach();
      }
      wake?.();
    };
    /** No more events for this reader. */
    const detach = () => {
      this.#iterators.delete(push);
      opts.signal?.removeEventListener('abort', onAbort);
    };
    const finish = () => {
      done = true;
      detach();
      wake?.();
    };
    const onAbort = () => finish();
    if (!done) {
      this.#iterators.add(push);
      opts.signal?.addEventListener('abort', onAbort, { once: true });
    }
    const iterator: AsyncIterableIterator<PresenceEvent> = {
      [Symbol.asyncIterator]: () => iterator,
      next: async () => {
        while (head === buffer.length && !done && overflow === undefined) {
          await new Promise<void>((r) => (wake = r));
          wake = undefined;
        }
        if (head < buffer.length) {
          const value = buffer[head]!;
          buffer[head++] = undefined!; // let it go as soon as it is read
          if (head === buffer.length) {
            buffer.length = 0;
            head = 0;
          } else if (head >= 1024 && head * 2 >= buffer.length) {
            buffer = buffer.slice(head);
            head = 0;
          }
          return { value, done: false };
        }
        finish();
        if (overflow !== undefined) {
          const error = overflow;
          overflow = undefined; // thrown once; the iterator is done after it
          throw error;
        }
        return { value: undefined, done: true };
      },
      return: async () => {
        finish();
        buffer = [];
        head = 0;
        overflow = undefined;
        return { value: undefined, done: true };
      },
    };
    return iterator;
  }

  protected override onListenerError(error: ListenerError): void {
    this.#log.error({ err: error.cause, event: error.event }, error.message);
    if (error.event !== 'error') this.safeEmit('error', error);
  }

  async #pollOnce(target: string, signal: AbortSignal): Promise<void> {
    const started = performance.now();
    try {
      await this.#pollAndEmit(target, signal, started);
    } catch (err) {
      const error = this.#roomGone(target, err instanceof Error ? err : new Error(String(err)));
      if (!signal.aborted) this.safeEmit('poll', { target, ok: false, participants: 0, rooms: 0, durationMs: performance.now() - started, events: 0, error });
      throw error;
    }
  }

  /**
   * A 404 for a room that has answered before (in this run, or in the saved state) is not a
   * misspelt name: the room was deleted, or expired, in Daily. "Check the room name" sent people
   * looking for a typo; this says what is known, and that its people are kept as present, since a
   * 404 is no snapshot and would be the only ground for their leaves.
   */
  #roomGone(target: string, error: Error): Error {
    if (!(error instanceof DailyApiError) || error.code !== 'DAILY_NOT_FOUND' || target === DOMAIN_TARGET) return error;
    // answered in this run, or listed by a saved state (a state from --all-rooms primes every
    // watched room, listed or not: one it never listed may be a misspelt name)
    if (!this.#seen.has(target) && !this.#listedInState.has(target)) return error;
    const n = this.#roomState.get(target)?.size ?? 0;
    const kept = n === 0 ? 'Nobody was in it' : `The ${n === 1 ? 'person' : `${n} people`} last seen in it ${n === 1 ? 'is' : 'are'} kept as present (a 404 is no snapshot: no leave is made from it)`;
    return new DailyApiError({
      code: error.code,
      target,
      ...(error.status !== undefined ? { status: error.status } : {}),
      ...(error.type !== undefined ? { type: error.type } : {}),
      ...(error.info !== undefined ? { info: error.info } : {}),
      message: `room "${target}" not found (HTTP 404${error.type ? ` ${error.type}` : ''}), though it answered before: deleted or expired in Daily? ${kept}; take it off --room (rooms) if it is gone for good`,
    });
  }

  /** `fn` once the limiter gives `target` its turn; until then the watchdog knows it only waits. */
  async #inTurn<T>(target: string, signal: AbortSignal, fn: () => Promise<T>): Promise<T> {
    const attempt = {};
    const done = () => {
      if (this.#waitingForTurn.get(target) === attempt) this.#waitingForTurn.delete(target);
    };
    this.#waitingForTurn.set(target, attempt);
    try {
      return await scheduleAbortable(this.#limiter, signal, () => {
        done();
        return fn();
      });
    } finally {
      done();
    }
  }

  async #pollAndEmit(target: string, signal: AbortSignal, started: number): Promise<void> {
    const wall = this.#now();
    const at = new Date(wall).toISOString();
    let events: PresenceEvent[];
    /** Whether the baseline changed beyond durations: only then is there anything new to save. */
    let changed: boolean;
    let participants = 0;
    let rooms = 0;
    let partial = false;
    /** For a partial room answer: whether it left this person out (still tracked, not listed). */
    let leftOut: ((room: string, id: string) => boolean) | undefined;
    if (target === DOMAIN_TARGET) {
      const daily = this.#daily;
      const presence = await this.#inTurn(target, signal, () =>
        daily ? daily.getDomainEntriesDeferred({ signal }) : this.#client.getDomainEntries({ signal }).then(checkClientDomainAnswer),
      );
      signal.throwIfAborted();
      const tracker = (this.#domainState ??= new DomainTracker());
      // unprimed until a snapshot is applied whole (one that throws part way is undone)
      const first = !tracker.primed;
      // a deferred answer that turns out bad throws here, the tracker undone: a failed poll, as before
      const all = this.#sameUser.mark(tracker.apply(presence, { at, initial: true, consume: daily !== undefined }));
      ({ participants, rooms } = tracker.listed);
      this.#noteRepeatedIds(tracker.repeatedIdRooms);
      changed = first || all.length > 0;
      events = this.#ignoreInitial ? withoutInitial(all, first) : all;
    } else {
      const daily = this.#daily;
      const query = { signal, ...(this.#limit ? { limit: this.#limit } : {}) };
      const answer = await this.#inTurn(target, signal, async () =>
        daily ? daily.getRoomText(target, query) : wholeRoomText(checkClientRoomAnswer(await this.#client.getRoomEntries(target, query), target)),
      );
      signal.throwIfAborted();
      const known = this.#roomState.get(target);
      const tracker = known ?? new RoomTracker(target);
      // unprimed until a snapshot is applied (an answer read from its text that turns out bad throws
      // in applyText, the tracker as before it: a failed poll, as before)
      const first = !tracker.primed;
      const line = this.#initialLine.get(target);
      const applied = tracker.applyText(answer, { at, initial: true, consume: daily !== undefined, ...(line?.partial ? { initialBefore: line.at - DATA_LAG_MS } : {}) });
      // kept only once an answer is applied: a room whose first answer was bad is not one seen
      // empty (a save meanwhile wrote it so, and a restart then took its people for arrivals)
      if (!known) this.#roomState.set(target, tracker);
      const all = this.#sameUser.mark(applied.events);
      this.#noteRepeatedIds(tracker.repeatedIdRooms);
      changed = first || all.length > 0;
      events = this.#ignoreInitial ? withoutInitial(all, first) : all;
      participants = applied.count;
      rooms = participants > 0 ? 1 : 0;
      partial = !applied.complete;
      if (partial) leftOut = (_room, id) => !tracker.listed(id);
      // the line on Daily's clock (its answer's people: join time + duration), on the host's when it listed nobody
      if (first) this.#initialLine.set(target, { at: tracker.lastListedAt() ?? wall, partial });
      else if (partial && line) line.partial = true;
      this.#notePartial(target, partial, participants, applied.totalCount);
    }
    this.#seen.add(target);
    if (target === DOMAIN_TARGET) this.#resumedFrom = undefined;
    events = this.#grace.process(events, monotonicNow(), target === DOMAIN_TARGET ? () => true : (room) => room === target, leftOut);
    // events reach the sinks (and the daemon's outbox) before the state that implies them is saved
    for (const e of events) this.#emitEvent(e);
    // events after grace: an expired pending leave changes the saved state too. A save that failed
    // is tried again once an interval has passed, changed or not: in a quiet room nothing else would
    if (changed || events.length > 0 || (this.#saveError !== undefined && monotonicNow() >= this.#saveRetryAt)) this.#requestSave();
    this.#keyWorked = true;
    this.#refusals.delete(target);
    this.#logRecovery(target);
    const durationMs = performance.now() - started;
    // (--log-level debug: what each poll found, for "why did no event come?")
    this.#log.debug(
      { target, participants, rooms, events: events.length, durationMs: Math.round(durationMs), ...(partial ? { partial } : {}) },
      `polled ${targetName(target)}: ${participants} ${participants === 1 ? 'person' : 'people'}, ${events.length} event(s)`,
    );
    this.safeEmit('poll', {
      target,
      ok: true,
      participants,
      rooms,
      durationMs,
      events: events.length,
      ...(partial ? { partial: true as const } : {}),
    } satisfies PollInfo);
    if (!this.#ready && this.#seen.size === (this.#rooms?.length ?? 1)) {
      this.#ready = true;
      this.safeEmit('ready');
    }
  }

  /**
   * A room whose answer lists fewer people than Daily's total_count: said when it starts, again at
   * most once an hour while it lasts (a warning every poll would bury the log), and when it ends.
   */
  #notePartial(room: string, partial: boolean, listed: number, total: number): void {
    const since = this.#partialWarnedAt.get(room);
    if (!partial) {
      if (since === undefined) return;
      this.#partialWarnedAt.delete(room);
      this.#log.info({ room, returned: listed }, `Daily lists everyone in room "${room}" again: leaves are detected again`);
      return;
    }
    const now = monotonicNow();
    if (since !== undefined && now - since < PARTIAL_WARN_EVERY_MS) return;
    this.#partialWarnedAt.set(room, now);
    this.#log.warn(
      { room, totalCount: total, returned: listed },
      `Daily returned ${listed} of ${total} participants in room "${room}": leaves cannot be detected for the rest until it lists everyone (${this.#limit ? 'raise limit (--limit)' : 'Daily caps the list'}); said again hourly while it lasts`,
    );
  }

  /**
   * Rooms whose answer named a participant id twice: the first listing counts and the second is
   * passed over, which is right if they are one person, but Daily is not known to do it, so it is
   * said (once a room, for at most REPEATED_ID_ROOMS rooms) rather than passed over in silence.
   */
  #noteRepeatedIds(rooms: readonly string[]): void {
    for (const room of rooms) {
      if (this.#repeatedIdWarned.has(room) || this.#repeatedIdWarned.size >= REPEATED_ID_ROOMS) continue;
      this.#repeatedIdWarned.add(room);
      this.#log.warn(
        { room },
        `Daily listed a participant id twice in one answer for room "${room}": the first listing counts and the second is passed over (no event for it). Daily is not known to do this: if it goes on, please report it; said once a room`,
      );
    }
  }

  #emitEvent(e: PresenceEvent): void {
    this.safeEmit(e.type, e as never);
    this.safeEmit('event', e);
    for (const push of this.#iterators) push(e);
  }

  #onAttemptFailed(target: string, error: Error, attempt: number): void {
    if (error instanceof DailyApiError && error.code === 'DAILY_RATE_LIMITED' && this.#limiter instanceof RateLimiter) {
      // the limit is Daily's, per domain: every target waits, not only the one that was refused
      this.#limiter.pauseFor(error.retryAfterMs ?? RATE_LIMIT_PAUSE_MS);
    }
    const refused = error instanceof DailyApiError && error.fatal;
    const refusals = refused ? (this.#refusals.get(target) ?? 0) + 1 : 0;
    if (refused) this.#refusals.set(target, refusals);
    else this.#refusals.delete(target);
    // the last one is said by the stop (#onFatal): the error event once, then 'stop'
    const final = refused && this.#stopsNow(target);
    try {
      if (final) this.#log.error({ target, attempt, err: error }, error.message);
      else if (refused) {
        this.#log.error(
          { target, attempt, refusals, err: error },
          `${error.message}; the key worked until now, so this is retried: the watcher stops if ${targetName(target)} is refused ${KEY_REFUSALS_TO_STOP} times in a row (${refusals} so far)`,
        );
      } else this.#logFailure(target, error, attempt);
    } finally {
      // (the error event, even when the log could not take the line)
      if (!final) this.safeEmit('error', error);
    }
  }

  /** Whether a 401/403 of `target` (counted in #refusals) stops the watcher, or is retried. */
  #stopsNow(target: string): boolean {
    return !this.#keyWorked || (this.#refusals.get(target) ?? 0) >= KEY_REFUSALS_TO_STOP;
  }

  /**
   * A failed poll at warn level, unless it is the same failure as the one last said for this target
   * within REPEAT_LOG_EVERY_MS: then at debug, counted, and the next warning says how many. A
   * room name Daily does not know fails every interval until someone fixes it; a warning each time
   * (240 an hour at 15 s) buries everything else, while `/healthz`, the metrics and the `error`
   * event still see every one.
   */
  #logFailure(target: string, error: Error, attempt: number): void {
    // what the failure is, not its wording: Daily's `info` is debug text that may differ from one
    // answer to the next (a request id), and a 429's message names the wait Daily asked for
    const key = error instanceof DailyApiError ? `${error.code}|${error.status ?? ''}|${error.type ?? ''}` : `${error.name}|${error.message}`;
    let failing = this.#failing.get(target);
    if (!failing) this.#failing.set(target, (failing = new RepeatedWarning(this.#log, 'warn', this.#now)));
    failing.hit({ target, attempt, err: error }, error.message, { key });
  }

  /** A target polls again after failing: say so once, with how long and how often it failed. */
  #logRecovery(target: string): void {
    const last = this.#failing.get(target)?.end();
    if (!last) return;
    this.#failing.delete(target);
    this.#log.info({ target, failures: last.hits, since: last.since }, `${targetName(target)} polled successfully again, after ${last.hits} failed attempt(s) since ${last.since}`);
  }

  #onFatal(error: DailyApiError): void {
    this.safeEmit('error', error);
    this.#stopping ??= this.#doStop(error);
  }
}
