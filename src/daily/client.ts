import type { Transform } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import type { Dispatcher } from 'undici';
import { redirectOrigin } from '../util/url.js';
import { formatSize } from '../util/size.js';
import { networkFailure, originDispatcher, proxyNote } from '../util/http-agent.js';
import { parseRetryAfter } from '../util/retry-after.js';
import { deadline } from '../util/deadline.js';
import { unknownOption, type SameKeys } from '../util/options.js';
import { kindOf, NOT_EXPANDED_WHERE, oneLine, UNEXPANDED, shownValue } from '../util/text.js';
import { DailyApiError, httpError, invalidResponse, targetName } from './errors.js';
import {
  parseDomainEntries,
  parseDomainText,
  parseErrorBody,
  parseJson,
  parseRoomEntries,
  parseRoomText,
  toDomainPresence,
  toRoomPresence,
  type DomainEntries,
  type DomainPresence,
  type RoomEntries,
  type RoomPresence,
  type RoomText,
} from './parse.js';
import { formatDuration } from '../util/duration.js';

/** Daily's REST API, where a DailyClient goes unless given `apiUrl` (the simulator's, a proxy). */
export const DEFAULT_API_URL = 'https://api.daily.co/v1';
export const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;
export const DEFAULT_MAX_BODY_BYTES = 32 * 1024 * 1024;

export interface DailyClientOptions {
  apiKey: string;
  /** Base URL including the version path. Default https://api.daily.co/v1. */
  apiUrl?: string;
  /** Whole-request deadline (connect, headers and body), ms. Default 10 s. */
  timeoutMs?: number;
  /** Largest response body accepted, bytes. Default 32 MiB. */
  maxBodyBytes?: number;
  /** Keep-alive connections to the API origin. Default 4. */
  connections?: number;
  userAgent?: string;
}

const CLIENT_OPTION_NAMES = ['apiKey', 'apiUrl', 'timeoutMs', 'maxBodyBytes', 'connections', 'userAgent'] as const;
const clientNamesMatch: SameKeys<keyof DailyClientOptions, (typeof CLIENT_OPTION_NAMES)[number]> = true;
void clientNamesMatch;

export interface RoomPresenceOptions {
  limit?: number;
  userId?: string;
  userName?: string;
  signal?: AbortSignal;
}

const ROOM_QUERY_OPTIONS = ['limit', 'userId', 'userName', 'signal'] as const;
const roomQueryChecked: SameKeys<keyof RoomPresenceOptions, (typeof ROOM_QUERY_OPTIONS)[number]> = true;
void roomQueryChecked;

/**
 * What the watcher needs from a presence source; DailyClient is the real one. Answers are checked
 * (every entry an object with a non-empty string id) but need not be copied into typed
 * participants: the watcher reads only the entries whose people joined or changed. Typed
 * `Participant` objects are valid entries.
 */
export interface PresenceClient {
  /**
   * Where the answers come from (DailyClient: its API URL's origin and path). A watcher records it
   * in the state it saves and refuses a saved state recorded from another source, whose rooms
   * would otherwise all seem to empty. Optional: without it, no such check.
   */
  readonly source?: string;
  getRoomEntries(room: string, opts?: RoomPresenceOptions): Promise<RoomEntries>;
  getDomainEntries(opts?: { signal?: AbortSignal }): Promise<DomainEntries>;
  close(): Promise<void>;
}

/**
 * The API key as sent: surrounding whitespace trimmed (a key read from a secret file or an
 * `--env-file` often ends with a line break, which made every request fail as a "network error").
 * Throws a TypeError, without the key, if what is left is empty or holds a character no HTTP header
 * can carry.
 */
export function normalizeApiKey(raw: unknown): string {
  if (typeof raw !== 'string' || raw.trim() === '') throw new TypeError('the Daily API key is empty');
  const key = raw.trim();
  // three ways a right key arrives wrong, each a 401 from Daily that would read as a bad key. (Which
  // characters a key may hold is not documented; quotes, or a name or scheme in front, are slips.)
  if (/^(["'`]).*\1$/s.test(key)) {
    throw new TypeError("the Daily API key is wrapped in quotes, which are not part of it: docker run's --env-file, among others, keeps quotes as written: write the line as DAILY_API_KEY=<key>, without them");
  }
  if (UNEXPANDED.test(key)) throw new TypeError(`the Daily API key is a variable's reference ($NAME or \${NAME}) that was never expanded: ${NOT_EXPANDED_WHERE}; give the key itself`);
  if (/^bearer\s/i.test(key)) throw new TypeError('the Daily API key starts with "Bearer ": give the key alone (the watcher sends it as a Bearer token itself)');
  if (/^DAILY_API_KEY\s*=/.test(key)) throw new TypeError('the Daily API key starts with "DAILY_API_KEY=": give the value alone, not the whole line');
  if (!/^[\x21-\x7e]+$/.test(key)) {
    throw new TypeError('the Daily API key contains a space, a line break or a non-ASCII character inside it: copy it again from the dashboard');
  }
  return key;
}

/** Encode a room name as one path segment; `.` and `..` are encoded too so no server can resolve them. */
export function encodeRoomSegment(room: string): string {
  if (typeof room !== 'string') throw new TypeError(`encodeRoomSegment: room must be a string, not ${kindOf(room)}`);
  const enc = encodeURIComponent(room);
  return enc.replace(/\./g, '%2E');
}

/**
 * An API URL as a saved state records its source: origin and path, without a trailing slash, and
 * without the user:password@ or query it may carry.
 */
export function apiSource(apiUrl: URL): string {
  return `${apiUrl.origin}${apiUrl.pathname.replace(/\/+$/, '')}`;
}

/**
 * A small client for Daily's presence endpoints: one keep-alive pool per API origin, a whole-request
 * timeout, a body-size cap and validated, typed answers. Every failure is a DailyApiError.
 */
export class DailyClient implements PresenceClient {
  /** The API's origin and path (`apiSource`), e.g. `https://api.daily.co/v1`. */
  readonly source: string;
  readonly #pool: Dispatcher;
  readonly #basePath: string;
  readonly #origin: string;
  readonly #proxyNote: string;
  readonly #headers: Record<string, string>;
  readonly #timeoutMs: number;
  readonly #maxBodyBytes: number;
  /** GET /presence's room names from one answer to the next (parseDomainText's `names`). */
  readonly #roomNames = new Map<string, string>();
  #closing: Promise<void> | undefined;

  constructor(options: DailyClientOptions) {
    const unknown = unknownOption(options, CLIENT_OPTION_NAMES);
    if (unknown !== undefined) throw new TypeError(`DailyClient: ${unknown}`);
    let apiKey: string;
    try {
      apiKey = normalizeApiKey(options.apiKey);
    } catch (err) {
      throw new TypeError(`DailyClient: apiKey: ${(err as Error).message} (set DAILY_API_KEY)`);
    }
    let url: URL;
    try {
      url = new URL(options.apiUrl ?? DEFAULT_API_URL);
    } catch {
      // the text given is not quoted: an API URL may carry credentials (a proxy's user:password@)
      throw new TypeError(`DailyClient: apiUrl is not a URL: give the whole address, https:// included (Daily's is ${DEFAULT_API_URL})`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new TypeError(`DailyClient: apiUrl must be http or https, got ${url.protocol}`);
    }
    const inClear = dailyInClear(url);
    if (inClear) throw new TypeError(`DailyClient: apiUrl: ${inClear}`);
    this.#timeoutMs = positive(options.timeoutMs, DEFAULT_REQUEST_TIMEOUT_MS, 'timeoutMs');
    this.#maxBodyBytes = positive(options.maxBodyBytes, DEFAULT_MAX_BODY_BYTES, 'maxBodyBytes');
    this.#basePath = url.pathname.replace(/\/+$/, '');
    this.#origin = url.origin;
    this.#proxyNote = proxyNote(url.href);
    this.source = apiSource(url);
    this.#headers = {
      authorization: `Bearer ${apiKey}`,
      accept: 'application/json',
      // a domain's GET /presence is ~220 bytes a person (11 MB at 50,000), and JSON this repetitive
      // compresses several-fold (the benchmark's to 1.2 MB): if Daily (or a proxy) compresses, far
      // less to download every interval
      'accept-encoding': 'gzip',
      'user-agent': options.userAgent ?? 'daily-presence-watcher',
    };
    this.#pool = originDispatcher(url.origin, positive(options.connections, 4, 'connections'));
  }

  /** GET /rooms/:name/presence as typed participants. */
  async getRoomPresence(room: string, opts: RoomPresenceOptions = {}): Promise<RoomPresence> {
    return toRoomPresence(await this.getRoomEntries(room, opts));
  }

  /** GET /presence as typed participants, room name → participants. */
  async getDomainPresence(opts: { signal?: AbortSignal } = {}): Promise<DomainPresence> {
    return toDomainPresence(await this.getDomainEntries(opts));
  }

  async getRoomEntries(room: string, opts: RoomPresenceOptions = {}): Promise<RoomEntries> {
    return parseRoomEntries(room, await this.#getJson(this.#roomPath(room, opts), room, opts.signal));
  }

  /**
   * GET /rooms/:name/presence as its text, to be read a piece at a time ({@link parseRoomText} says
   * how and why): a `RoomTracker` applies it with `applyText`. Network and HTTP failures throw here;
   * an answer that is not JSON or not a valid presence list throws only when read whole. What the
   * watcher uses with its own client.
   */
  async getRoomText(room: string, opts: RoomPresenceOptions = {}): Promise<RoomText> {
    return parseRoomText(room, await this.#getText(this.#roomPath(room, opts), room, opts.signal));
  }

  #roomPath(room: string, opts: RoomPresenceOptions): string {
    // (an empty name asked for /rooms//presence, and a missing one failed as a "network error")
    if (typeof room !== 'string' || room === '') throw new TypeError(`DailyClient: the room must be a non-empty string, got ${shownValue(room)}`);
    const unknown = unknownOption(opts as Record<string, unknown>, ROOM_QUERY_OPTIONS);
    if (unknown) throw new TypeError(`DailyClient: ${unknown}`);
    if (opts.limit !== undefined && !(Number.isInteger(opts.limit) && opts.limit >= 1)) throw new TypeError(`DailyClient: limit must be a whole number ≥ 1, got ${String(opts.limit)}`);
    const query = new URLSearchParams();
    if (opts.limit !== undefined) query.set('limit', String(opts.limit));
    if (opts.userId !== undefined) query.set('userId', opts.userId);
    if (opts.userName !== undefined) query.set('userName', opts.userName);
    const qs = query.size ? `?${query.toString()}` : '';
    return `${this.#basePath}/rooms/${encodeRoomSegment(room)}/presence${qs}`;
  }

  async getDomainEntries(opts: { signal?: AbortSignal } = {}): Promise<DomainEntries> {
    const body = await this.#getJson(`${this.#basePath}/presence`, '*', opts.signal);
    return parseDomainEntries(body);
  }

  /**
   * GET /presence with each room's list parsed only as it is read ({@link parseDomainText} says
   * when and why): the answer's `forEach` may throw the DailyApiError that {@link getDomainEntries}
   * would have thrown up front, after handing out some rooms. Its lists are fresh arrays nobody else
   * holds. What the watcher uses with its own client; its DomainTracker undoes a snapshot that
   * throws.
   */
  async getDomainEntriesDeferred(opts: { signal?: AbortSignal } = {}): Promise<DomainEntries> {
    return parseDomainText(await this.#getText(`${this.#basePath}/presence`, '*', opts.signal), this.#roomNames);
  }

  close(): Promise<void> {
    this.#closing ??= this.#pool.destroy().catch(() => undefined);
    return this.#closing;
  }

  async #getJson(path: string, target: string, signal: AbortSignal | undefined): Promise<unknown> {
    return parseJson(target, await this.#getText(path, target, signal));
  }

  /** A 2xx answer's body as text; any failure is a DailyApiError. */
  async #getText(path: string, target: string, signal: AbortSignal | undefined): Promise<string> {
    signal?.throwIfAborted();
    const d = deadline(signal, this.#timeoutMs);
    try {
      const res = await this.#pool.request({ origin: this.#origin, path, method: 'GET', headers: this.#headers, signal: d.signal });
      const text = await this.#readBody(res.body, res.headers['content-length'], res.headers['content-encoding'], target);
      if (res.statusCode < 200 || res.statusCode >= 300) {
        const location = redirectOrigin(res.statusCode, res.headers.location, this.#origin);
        throw httpError(target, res.statusCode, parseErrorBody(text), parseRetryAfter(res.headers['retry-after']), location);
      }
      return text;
    } catch (err) {
      if (err instanceof DailyApiError) throw err;
      if (signal?.aborted) throw signal.reason;
      if (d.expired) {
        throw new DailyApiError({
          target,
          code: 'DAILY_TIMEOUT',
          message: `no complete answer from Daily for ${targetName(target)} within ${formatDuration(this.#timeoutMs)}`,
        });
      }
      throw new DailyApiError({
        target,
        code: 'DAILY_NETWORK_ERROR',
        message: `network error talking to Daily for ${targetName(target)}${this.#proxyNote}: ${networkFailure(err)}`,
        cause: err,
      });
    } finally {
      d.dispose();
    }
  }

  /**
   * The body as text, refusing more than the cap. Chunks are taken from 'data' events as undici
   * pushes them: `for await` over the stream made Readable.read() concatenate whatever was
   * buffered, and the whole body was then copied again to join the pieces (at 10,000 people, ~1 ms
   * of a ~20 ms poll). A compressed body (the client asks for gzip) is decompressed as it arrives,
   * in zlib's threads, and the cap applies to what it decompresses to (a small body can inflate to
   * gigabytes) as well as to what arrives.
   */
  #readBody(body: ResponseBody, contentLength: string | string[] | undefined, contentEncoding: string | string[] | undefined, target: string): Promise<string> {
    const declared = Number(Array.isArray(contentLength) ? contentLength[0] : contentLength);
    if (Number.isFinite(declared) && declared > this.#maxBodyBytes) {
      discard(body);
      return Promise.reject(tooLarge(target, this.#maxBodyBytes));
    }
    const max = this.#maxBodyBytes;
    const encoding = (Array.isArray(contentEncoding) ? contentEncoding.join(',') : (contentEncoding ?? '')).trim().toLowerCase();
    if (encoding !== '' && encoding !== 'identity') return this.#readCompressed(body, encoding, target);
    return new Promise((resolve, reject) => {
      const text = cappedText(max);
      const onData = (chunk: Buffer) => {
        if (text.add(chunk)) return;
        body.off('data', onData);
        discard(body);
        reject(tooLarge(target, max));
      };
      body.on('data', onData);
      body.once('error', reject);
      body.once('end', () => resolve(text.join()));
    });
  }

  /** A body in `encoding` (gzip, or deflate or br should a server send them unasked), decompressed under the cap. */
  #readCompressed(body: ResponseBody, encoding: string, target: string): Promise<string> {
    const unzip = decompressor(encoding);
    if (unzip === undefined) {
      discard(body);
      return Promise.reject(invalidResponse(target, `the body is encoded as "${oneLine(encoding).slice(0, 40)}", which the watcher did not ask for and cannot read (it asks for gzip)`));
    }
    const max = this.#maxBodyBytes;
    return new Promise((resolve, reject) => {
      let settled = false;
      const fail = (err: unknown) => {
        if (settled) return;
        settled = true;
        body.off('data', onData);
        discard(body);
        unzip.destroy();
        reject(err);
      };
      // the cap on what arrives and on what it inflates to
      const text = cappedText(max);
      let arrived = 0;
      const onData = (chunk: Buffer) => {
        arrived += chunk.length;
        if (arrived > max) return fail(tooLarge(target, max));
        unzip.write(chunk);
      };
      unzip.on('data', (chunk: Buffer) => {
        if (!text.add(chunk)) fail(tooLarge(target, max));
      });
      unzip.once('error', (err: NodeJS.ErrnoException) => fail(invalidResponse(target, `the body is not valid ${encoding} (${err.code ?? err.message}), ${arrived} bytes`)));
      unzip.once('end', () => {
        if (settled) return;
        settled = true;
        resolve(text.join());
      });
      body.on('data', onData);
      body.once('error', fail);
      body.once('end', () => unzip.end());
    });
  }
}

/** Chunks of a body kept up to `max` bytes in all (`add` says false past it), then joined as UTF-8 text. */
function cappedText(max: number): { add(chunk: Buffer): boolean; join(): string } {
  const chunks: Buffer[] = [];
  let size = 0;
  return {
    add(chunk) {
      size += chunk.length;
      if (size > max) return false;
      chunks.push(chunk);
      return true;
    },
    join: () => (chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks, size).toString('utf8')),
  };
}

/** A decompressing stream for a Content-Encoding, or undefined for one it does not know. */
function decompressor(encoding: string): Transform | undefined {
  switch (encoding) {
    case 'gzip':
    case 'x-gzip':
      return createGunzip();
    case 'deflate':
      return createInflate();
    case 'br':
      return createBrotliDecompress();
    default:
      return undefined;
  }
}

/** What the client reads of undici's response body. */
interface ResponseBody {
  on(event: 'data', listener: (chunk: Buffer) => void): unknown;
  on(event: 'error', listener: (err: Error) => void): unknown;
  off(event: 'data', listener: (chunk: Buffer) => void): unknown;
  once(event: 'error', listener: (err: Error) => void): unknown;
  once(event: 'end', listener: () => void): unknown;
  destroy(err?: Error): unknown;
}

/**
 * Drop a response body unread. undici's body then emits 'error' (the request is aborted), which
 * with no listener is an uncaught exception: it crashed the daemon at the first answer over the
 * size cap whose body had arrived whole.
 */
function discard(body: Pick<ResponseBody, 'on' | 'destroy'>): void {
  body.on('error', () => {});
  body.destroy();
}

function tooLarge(target: string, max: number): DailyApiError {
  return new DailyApiError({
    target,
    code: 'DAILY_RESPONSE_TOO_LARGE',
    message: `response from Daily for ${targetName(target)} exceeds ${formatSize(max)}: if the domain is that large, raise the cap (--max-body, config maxBody, library maxBodyBytes)`,
  });
}

function positive(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new TypeError(`DailyClient: ${name} must be a positive number, got ${shownValue(value)}`);
  }
  return value;
}

/** Whether `hostname` is Daily's (api.daily.co, a domain's acme.daily.co, daily.co itself). */
export function isDailyHost(hostname: string): boolean {
  return hostname === 'daily.co' || hostname.endsWith('.daily.co');
}

/**
 * Why `url` must be refused: Daily's API over plain http, where the API key would cross the
 * network unencrypted with the very first request (whatever Daily answers). Undefined otherwise.
 */
export function dailyInClear(url: URL): string | undefined {
  if (url.protocol !== 'http:' || !isDailyHost(url.hostname)) return undefined;
  return `the API URL is plain http (http://${url.host}): the API key would cross the network unencrypted; Daily's API is https://api.daily.co/v1`;
}
