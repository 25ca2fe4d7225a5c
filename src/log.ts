import { pino, type DestinationStream, type Logger, type LevelWithSilent } from 'pino';

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

export interface CreateLoggerOptions {
  level?: LevelWithSilent;
  /** Defaults to stderr: stdout belongs to the stdout sink. */
  destination?: DestinationStream;
  registry?: SecretRegistry;
}

export function createLogger(opts: CreateLoggerOptions = {}): Logger {
  const registry = opts.registry ?? secrets;
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
    opts.destination ?? pino.destination({ fd: 2, sync: true }),
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
