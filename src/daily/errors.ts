import { decodePart } from '../util/url.js';
export type DailyErrorCode =
  | 'DAILY_AUTH_REJECTED' // 401: the API key is wrong or revoked
  | 'DAILY_FORBIDDEN' // 403: the key may not do this
  | 'DAILY_NOT_FOUND' // 404: unknown room
  | 'DAILY_BAD_REQUEST' // other 4xx that retrying will not fix
  | 'DAILY_RATE_LIMITED' // 429
  | 'DAILY_SERVER_ERROR' // 5xx
  | 'DAILY_NETWORK_ERROR' // connection refused/reset, DNS, TLS
  | 'DAILY_TIMEOUT' // no complete response within the request timeout
  | 'DAILY_INVALID_RESPONSE' // 200 whose body is not the documented shape
  | 'DAILY_RESPONSE_TOO_LARGE'; // body over the size cap

export interface DailyApiErrorInit {
  code: DailyErrorCode;
  message: string;
  /** Room name, or `*` for GET /presence. */
  target: string;
  status?: number;
  type?: string;
  info?: string;
  retryAfterMs?: number;
  cause?: unknown;
}

const RETRYABLE: ReadonlySet<DailyErrorCode> = new Set([
  'DAILY_RATE_LIMITED',
  'DAILY_SERVER_ERROR',
  'DAILY_NETWORK_ERROR',
  'DAILY_TIMEOUT',
  'DAILY_INVALID_RESPONSE',
  'DAILY_RESPONSE_TOO_LARGE',
]);

const FATAL: ReadonlySet<DailyErrorCode> = new Set(['DAILY_AUTH_REJECTED', 'DAILY_FORBIDDEN']);

/** Any failure to get a presence snapshot from Daily. Never carries the API key. */
export class DailyApiError extends Error {
  override name = 'DailyApiError';
  readonly code: DailyErrorCode;
  readonly target: string;
  /** HTTP status, when Daily answered. */
  readonly status: number | undefined;
  /** Daily's stable error type (`rate-limit-error`, `not-found`, …), when the body had one. */
  readonly type: string | undefined;
  /** Daily's debug text, when present. */
  readonly info: string | undefined;
  /** Whether trying again later may succeed. */
  readonly retryable: boolean;
  /** Whether the watcher must stop (the key is rejected or lacks permission). */
  readonly fatal: boolean;
  /** How long the server asked us to wait (`Retry-After`), in ms. */
  readonly retryAfterMs: number | undefined;

  constructor(init: DailyApiErrorInit) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.code = init.code;
    this.target = init.target;
    this.status = init.status;
    this.type = init.type;
    this.info = init.info;
    this.retryAfterMs = init.retryAfterMs;
    this.retryable = RETRYABLE.has(init.code);
    this.fatal = FATAL.has(init.code);
  }

  toJSON(): Record<string, unknown> {
    return {
      name: this.name,
      code: this.code,
      message: this.message,
      target: this.target,
      status: this.status,
      type: this.type,
      retryable: this.retryable,
      retryAfterMs: this.retryAfterMs,
    };
  }
}

function where(target: string): string {
  return target === '*' ? 'GET /presence' : `room "${target}"`;
}

function describeBody(type: string | undefined, info: string | undefined): string {
  return `${type ? ` ${type}` : ''}${info ? ` "${info}"` : ''}`;
}

/**
 * What a room name looks like it was meant to be, when it looks like a slip: a pattern, a room's
 * URL, a list, a name with a stray space; else undefined. Never a refusal up front (which
 * characters Daily allows in a room name is not documented): added to a 404, where it saves a trip
 * to the docs, and a warning at start and in --check-config.
 */
export function roomNameSlip(name: string): string | undefined {
  if (name.includes('*')) return 'Rooms are polled by name ("*" is not a wildcard there): to watch every room that matches, use --all-rooms (allRooms) with a sink rooms filter';
  const url = /^https?:\/\/[^/]+\/([^/?#]+)/i.exec(name.trim());
  if (url) return `That is a room's URL: --room (rooms) takes the room's name, the last part of it ("${decodePart(url[1]!)}")`;
  if (name.includes(',')) return `One room per --room: repeat the flag (${name.split(',').map((r) => `--room ${r.trim()}`).join(' ')}), or list them under rooms: in a config file`;
  if (name !== name.trim()) return 'The name starts or ends with a space: is it quoted with one by mistake?';
  return undefined;
}

/** {@link roomNameSlip} as the end of a 404's message. */
function roomNameHint(name: string): string {
  const slip = roomNameSlip(name);
  return slip === undefined ? '' : `. ${slip}`;
}

/** Build the error for a non-2xx HTTP answer, with a message that says what to do. */

export function httpError(
  target: string,
  status: number,
  body: { type?: string; info?: string },
  retryAfterMs: number | undefined,
  /** For a 3xx: the origin it points to. */
  redirectTo?: string,
): DailyApiError {
  const { type, info } = body;
  const detail = describeBody(type, info);
  const base = { target, status, type, info, retryAfterMs };
  if (status === 401) {
    return new DailyApiError({
      ...base,
      code: 'DAILY_AUTH_REJECTED',
      message: `Daily rejected the API key (HTTP 401${detail}): check DAILY_API_KEY`,
    });
  }
  if (status === 403) {
    return new DailyApiError({
      ...base,
      code: 'DAILY_FORBIDDEN',
      message: `Daily refused access to ${where(target)} (HTTP 403${detail}): the API key lacks permission for this domain`,
    });
  }
  if (status === 404) {
    return new DailyApiError({
      ...base,
      code: 'DAILY_NOT_FOUND',
      message:
        target === '*'
          ? `GET /presence was not found (HTTP 404${detail}): check --api-url`
          : `room "${target}" not found (HTTP 404${detail}): check the room name${roomNameHint(target)}`,
    });
  }
  if (status === 429) {
    const wait = retryAfterMs === undefined ? '' : `; Daily asked to wait ${Math.ceil(retryAfterMs / 1000)}s`;
    return new DailyApiError({
      ...base,
      code: 'DAILY_RATE_LIMITED',
      message: `rate limited by Daily polling ${where(target)} (HTTP 429${detail})${wait}`,
    });
  }
  if (status >= 500) {
    return new DailyApiError({
      ...base,
      code: 'DAILY_SERVER_ERROR',
      message: `Daily server error polling ${where(target)} (HTTP ${status}${detail})`,
    });
  }
  if (status >= 300 && status < 400) {
    return new DailyApiError({
      ...base,
      code: 'DAILY_BAD_REQUEST',
      message: `the API answered ${where(target)} with a redirect (HTTP ${status}${redirectTo ? ` to ${redirectTo}` : ''}), which is not followed: check --api-url (Daily's is https://api.daily.co/v1)`,
    });
  }
  return new DailyApiError({
    ...base,
    code: 'DAILY_BAD_REQUEST',
    message: `Daily refused the request for ${where(target)} (HTTP ${status}${detail})`,
  });
}

export function invalidResponse(target: string, what: string): DailyApiError {
  return new DailyApiError({
    target,
    status: 200,
    code: 'DAILY_INVALID_RESPONSE',
    message: `invalid response from Daily for ${where(target)}: ${what}`,
  });
}
