import { roomNameSlip } from './room-name.js';
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
  /**
   * Whether the key is refused (401: rejected; 403: it lacks permission), which retrying does not
   * fix. The watcher stops for it at once while no poll has succeeded; once the key has worked,
   * only when one target is refused 3 times in a row (`KEY_REFUSALS_TO_STOP`): its 'stop' event
   * says when it has stopped.
   */
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

/** A target as messages name it: GET /presence (the domain, `*`), or room "standup". */
export function targetName(target: string): string {
  return target === '*' ? 'GET /presence' : `room "${target}"`;
}

function describeBody(type: string | undefined, info: string | undefined): string {
  return `${type ? ` ${type}` : ''}${info ? ` "${info}"` : ''}`;
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
      message: `Daily refused access to ${targetName(target)} (HTTP 403${detail}): the API key lacks permission for this domain`,
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
      message: `rate limited by Daily polling ${targetName(target)} (HTTP 429${detail})${wait}`,
    });
  }
  if (status >= 500) {
    return new DailyApiError({
      ...base,
      code: 'DAILY_SERVER_ERROR',
      message: `Daily server error polling ${targetName(target)} (HTTP ${status}${detail})`,
    });
  }
  if (status >= 300 && status < 400) {
    return new DailyApiError({
      ...base,
      code: 'DAILY_BAD_REQUEST',
      message: `the API answered ${targetName(target)} with a redirect (HTTP ${status}${redirectTo ? ` to ${redirectTo}` : ''}), which is not followed: check --api-url (Daily's is https://api.daily.co/v1)`,
    });
  }
  return new DailyApiError({
    ...base,
    code: 'DAILY_BAD_REQUEST',
    message: `Daily refused the request for ${targetName(target)} (HTTP ${status}${detail})`,
  });
}

export function invalidResponse(target: string, what: string): DailyApiError {
  return new DailyApiError({
    target,
    status: 200,
    code: 'DAILY_INVALID_RESPONSE',
    message: `invalid response from Daily for ${targetName(target)}: ${what}`,
  });
}
