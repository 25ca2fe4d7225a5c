import { pino, type DestinationStream, type Logger, type LevelWithSilent } from 'pino';
import { UNSHOWN, shownValue } from './util/text.js';
import { didYouMean, unknownOption } from './util/options.js';

export type { Logger } from 'pino';

/**
 * Known secret strings (API key, webhook URLs, signing secrets). Every log line passes through
 * `scrub` before it is written, so a secret cannot reach the logs by a forgotten call site.
 */
export class SecretRegistry {
  #secrets: string[] = [];

  add(secret: string | undefined | null): void {
    if (!secret || secret.length < 6 || this.#secrets.includes(secret)) return;
    this.#secrets.push(secret);
    // the lines scrubbed are JSON (the log's, /healthz's), where a secret holding a quote, a
    // backslash or a control character is written escaped: that form is a secret too (a raw
    // webhook secret may hold any of them)
    const escaped = JSON.stringify(secret).slice(1, -1);
    if (escaped !== secret && !this.#secrets.includes(escaped)) this.#secrets.push(escaped);
    // longest first, so a URL is replaced whole before its path is
    this.#secrets.sort((a, b) => b.length - a.length);
  }

  /**
   * Register a URL: whole, and its path + query (which is where webhook tokens live) when that is
   * long enough to hold one. A short path is a plain word: a webhook at `…/presence` made every
   * "GET /presence" in the logs read "GET [REDACTED]".
   */
  addUrl(url: string): void {
    this.add(url);
    try {
      const u = new URL(url);
      const rest = u.pathname + u.search;
      if (rest.length >= 12) this.add(rest);
      if (u.password) this.add(u.password);
    } catch {
      // not a URL: registered whole above
    }
  }

  scrub(text: string): string {
    let out = text;
    for (const s of this.#secrets) {
      if (out.includes(s)) out = out.split(s).join('[REDACTED]');
    }
    return out;
  }
}

/** The process-wide registry that every logger made by createLogger scrubs with. */
export const secrets = new SecretRegistry();

/** The same failure, repeated (a room Daily does not know, a receiver that is down), is warned of at most this often; between, at debug, counted. */
export const REPEAT_LOG_EVERY_MS = 10 * 60_000;

/** `json`: one JSON object a line (pino's), for log collectors. `text`: a line a person reads. */
export type LogFormat = 'json' | 'text';
export const LOG_FORMATS = ['json', 'text'] as const;

/** pino's levels, and `silent`. */
export const LOG_LEVEL_NAMES = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevelName = (typeof LOG_LEVEL_NAMES)[number];

export interface CreateLoggerOptions {
  level?: LevelWithSilent;
  /** Defaults to stderr: stdout belongs to the stdout sink. */
  destination?: DestinationStream;
  registry?: SecretRegistry;
  /** Default `json`. With `text`, each line is written as `textLine` makes it, to `destination`. */
  format?: LogFormat;
}

/** `text` where stderr is a terminal (a person is reading), else `json` (a collector is). */
export function defaultLogFormat(stderr: { isTTY?: boolean } = process.stderr): LogFormat {
  return stderr.isTTY ? 'text' : 'json';
}

const LEVEL_LABEL: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
/** What every line has, or what the text line shows in its own place. */
const NOT_EXTRA = new Set(['level', 'time', 'pid', 'name', 'msg', 'hostname', 'err']);

/**
 * One log line (pino's JSON, already scrubbed) as a line a person reads: the time, the level, the
 * message, then the other fields as key=value; an error's code, or its stack where it has one (a
 * bug here). Anything that is not a JSON object is passed through as it is.
 */
export function textLine(json: string): string {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json;
  }
  if (!o || typeof o !== 'object') return json;
  const t = new Date(typeof o.time === 'number' ? o.time : Date.now());
  const two = (n: number) => String(n).padStart(2, '0');
  const time = `${two(t.getHours())}:${two(t.getMinutes())}:${two(t.getSeconds())}.${String(t.getMilliseconds()).padStart(3, '0')}`;
  const level = (LEVEL_LABEL[o.level as number] ?? String(o.level)).padEnd(5);
  const extras = Object.entries(o)
    .filter(([k, v]) => !NOT_EXTRA.has(k) && v !== undefined)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? visible(v) : JSON.stringify(v)}`);
  const err = o.err as { code?: unknown; type?: unknown; message?: unknown; stack?: unknown } | undefined;
  if (err && typeof err === 'object') {
    if (typeof err.code === 'string') extras.push(`err=${err.code}`);
    else if (typeof err.type === 'string') extras.push(`err=${err.type}`);
  }
  let line = `${time} ${level} ${typeof o.msg === 'string' ? visible(o.msg) : ''}${extras.length > 0 ? `  ${extras.join(' ')}` : ''}`;
  if (err && typeof err.stack === 'string') line += `\n${err.stack.replace(/^/gm, '    ')}`;
  return `${line}\n`;
}

const UNSHOWN_ONE = new RegExp(`[${UNSHOWN}]`, 'g');

/**
 * Control characters shown, not obeyed: a message can quote text from the far end (Daily's `info`,
 * a receiver's error body), and a line break there forged a log line of its own in a terminal, an
 * escape sequence recoloured or rewrote it. (JSON lines escape them already.)
 */
function visible(text: string): string {
  return text.replace(UNSHOWN_ONE, (c) =>
    c === '\n' ? '\\n' : c === '\r' ? '\\r' : c === '\t' ? '\\t' : `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/** A destination that writes each line as `textLine` makes it. */
function textDestination(to: DestinationStream): DestinationStream {
  const d = to as DestinationStream & { flushSync?: () => void; flush?: (cb?: (err?: Error) => void) => void; end?: () => void };
  return Object.assign(Object.create(null) as object, {
    write: (line: string) => d.write(textLine(line)),
    ...(d.flushSync ? { flushSync: () => d.flushSync!() } : {}),
    ...(d.flush ? { flush: (cb?: (err?: Error) => void) => d.flush!(cb) } : {}),
    ...(d.end ? { end: () => d.end!() } : {}),
  }) as DestinationStream;
}

/**
 * The pino logger the watcher, sinks and dead-letters log to: JSON lines (or `text`) on stderr, with
 * every secret known to `registry` replaced by [REDACTED] wherever it appears. The default registry
 * holds the API key a PresenceWatcher is given and every webhook or Slack URL a sink is.
 */
export function createLogger(opts: CreateLoggerOptions = {}): Logger {
  // pino's own word for a level it does not know is "default level:verbose must be included in custom
  // levels"; a format it does not know was taken as json
  const unknown = unknownOption(opts as Record<string, unknown>, ['level', 'destination', 'registry', 'format']);
  if (unknown) throw new TypeError(`createLogger: ${unknown}`);
  if (opts.level !== undefined && !(LOG_LEVEL_NAMES as readonly string[]).includes(opts.level)) {
    throw new TypeError(`createLogger: level must be one of ${LOG_LEVEL_NAMES.join(', ')}, got ${shownValue(opts.level)}${typeof opts.level === 'string' ? didYouMean(opts.level, LOG_LEVEL_NAMES) : ''}`);
  }
  if (opts.format !== undefined && !(LOG_FORMATS as readonly string[]).includes(opts.format)) {
    throw new TypeError(`createLogger: format must be json or text, got ${shownValue(opts.format)}${typeof opts.format === 'string' ? didYouMean(opts.format, LOG_FORMATS) : ''}`);
  }
  const registry = opts.registry ?? secrets;
  const destination = opts.destination ?? pino.destination({ fd: 2, sync: true });
  return pino(
    {
      name: 'presence-watcher',
      level: opts.level ?? 'info',
      base: { pid: process.pid },
      redact: {
        paths: [
          'apiKey',
          '*.apiKey',
          'secret',
          '*.secret',
          'webhookSecret',
          '*.webhookSecret',
          'headers.authorization',
          '*.headers.authorization',
          'url',
          '*.url',
        ],
        censor: '[REDACTED]',
      },
      hooks: { streamWrite: (s: string) => registry.scrub(s) },
      serializers: { err: serializeError },
    },
    opts.format === 'text' ? textDestination(destination) : destination,
  );
}

/**
 * Codes of the errors that describe the outside world (Daily failed or refused, a receiver failed,
 * every sink is disabled, a state file is unusable), not a bug here. Their message says it all; a
 * stack trace, ~1 KB on every failed poll of every room during an outage, would only bury it.
 */
const EXPECTED_CODE = /^(DAILY|DELIVERY|STATE|SINKS)_[A-Z_]+$/;

/** pino's error serializer, without the stack (and the causes its message repeats) for an expected error. */
export function serializeError(err: unknown): unknown {
  const out = pino.stdSerializers.err(err as Error) as unknown;
  const code = (err as { code?: unknown } | null)?.code;
  if (err instanceof Error && typeof code === 'string' && EXPECTED_CODE.test(code) && out && typeof out === 'object') {
    const o = out as Record<string, unknown>;
    delete o.stack;
    o.message = err.message;
  }
  return out;
}

/** The library's default: warnings and errors to stderr, so problems are never silent. */
export function defaultLibraryLogger(): Logger {
  return createLogger({ level: 'warn' });
}
