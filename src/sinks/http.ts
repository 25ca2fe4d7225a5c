import type { Dispatcher } from 'undici';
import { networkFailure, originDispatcher, proxyNote } from '../util/http-agent.js';
import { redirectOrigin } from '../util/url.js';
import { parseRetryAfter } from '../util/retry-after.js';
import { secrets } from '../log.js';
import { deadline } from '../util/deadline.js';
import { DeliveryError } from './sink.js';
import { oneLine, shownValue } from '../util/text.js';
import { formatDuration } from '../util/duration.js';

export interface PostResult {
  status: number;
  retryAfterMs: number | undefined;
  /** The first 1 KiB of the body, for error messages. */
  text: string;
  /** For a redirect: where to, as origin only (a path may carry a token). */
  redirectTo: string | undefined;
  /** For a failure: the far end's clock, from its `Date` header (ms since the epoch), when it sent one. */
  dateMs?: number | undefined;
}

/** A keep-alive POST target; the URL stays inside, only `host` is ever shown. */
export class HttpTarget {
  readonly host: string;
  readonly #pool: Dispatcher;
  readonly #path: string;
  readonly #origin: string;
  readonly #proxyNote: string;
  readonly #timeoutMs: number;

  /** `connections`: keep-alive connections at most (one per delivery a sink has in flight). */
  constructor(url: string, timeoutMs: number, connections = 4) {
    // (0 timed every request out at once; a number as text was compared as text)
    if (!(typeof timeoutMs === 'number' && Number.isFinite(timeoutMs) && timeoutMs > 0)) {
      throw new TypeError(`timeoutMs must be a number of milliseconds above 0, got ${shownValue(timeoutMs)}`);
    }
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      // Node's own error carries the text it was given (`input`), and the URL is a credential
      throw new TypeError('url is not a URL: give the whole address, https:// included');
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new TypeError('url must be http or https');
    this.host = u.host;
    // the URL is a credential (a Slack webhook's path is its token): scrubbed from everything we show
    secrets.addUrl(url);
    this.#origin = u.origin;
    this.#proxyNote = proxyNote(url);
    this.#path = (u.pathname || '/') + u.search;
    this.#timeoutMs = timeoutMs;
    this.#pool = originDispatcher(u.origin, connections);
  }

  async post(body: string, headers: Record<string, string>, signal: AbortSignal): Promise<PostResult> {
    const d = deadline(signal, this.#timeoutMs);
    try {
      const res = await this.#pool.request({ origin: this.#origin, path: this.#path, method: 'POST', headers, body, signal: d.signal });
      if (res.statusCode >= 200 && res.statusCode < 300) {
        // the status is the answer, and a yes needs no text: the body is drained in the background
        // (so the connection serves the next delivery), cut at 64 KiB and at a tenth of the timeout.
        // Waiting for it turned a delivered event into a timeout and a re-send, over and over, when
        // the body never ended (an endpoint streaming events) or stalled after the headers. The
        // tenth: a body that streams or stalls holds its connection, and a delivery waiting for
        // one must get it long before its own timeout (with the whole timeout, the two raced, and
        // the loser was sent twice).
        const drain = deadline(signal, this.#timeoutMs / 10);
        res.body
          .dump({ limit: 64 * 1024, signal: drain.signal })
          .catch(() => undefined)
          .finally(() => drain.dispose());
        return { status: res.statusCode, retryAfterMs: undefined, text: '', redirectTo: undefined };
      }
      // the text only explains a failure: read no more than that (leaving the loop early closes
      // the connection)
      let text = '';
      try {
        for await (const chunk of res.body) {
          text += String(chunk);
          if (text.length >= 1024) break;
        }
      } catch (err) {
        // the status came and the rest stalled: the status still decides (a 400 is not retried
        // because its explanation never arrived), with what text there is
        if (!d.expired || signal.aborted) throw err;
      }
      return {
        status: res.statusCode,
        retryAfterMs: parseRetryAfter(res.headers['retry-after']),
        // a receiver's error text can echo the URL, token and all
        text: secrets.scrub(text.slice(0, 1024)),
        redirectTo: redirectOrigin(res.statusCode, res.headers.location, this.#origin),
        dateMs: typeof res.headers.date === 'string' ? Date.parse(res.headers.date) || undefined : undefined,
      };
    } catch (err) {
      if (signal.aborted) throw signal.reason;
      if (d.expired) throw new DeliveryError(`no answer from ${this.host} within ${formatDuration(this.#timeoutMs)}`, 'retry');
      throw new DeliveryError(`network error posting to ${this.host}${this.#proxyNote}: ${networkFailure(err)}`, 'retry');
    } finally {
      d.dispose();
    }
  }

  close(): Promise<void> {
    return this.#pool.destroy().catch(() => undefined);
  }
}

/**
 * A redirect, which no sink follows (a POST is not re-sent blindly, and the URL is a credential).
 * From a URL that has never taken a delivery, it is the URL that is wrong (http:// for https://, an
 * old path): every event would meet it, so the sink is disabled with a message naming where it
 * points. From one that has, it is most likely passing (a load balancer sending everything to a
 * maintenance page), and disabling the sink would send every later event to the dead-letter until a
 * restart: it is retried, as a 503 is, and the message says what to do if it lasts.
 */
export function redirectError(what: string, r: PostResult, answeredBefore = false): DeliveryError {
  const to = r.redirectTo ? ` to ${r.redirectTo}` : '';
  if (answeredBefore) {
    return new DeliveryError(`${what}: a redirect${to}, which is not followed; retried, as this URL has taken deliveries before (a maintenance page?): if it lasts, configure the final URL`, 'retry', r.status, r.retryAfterMs);
  }
  return new DeliveryError(`${what}: a redirect${to}, which is not followed; configure the final URL`, 'disable', r.status);
}

/** Keep receiver text printable and short in logs. */
export function snippet(text: string): string {
  const t = oneLine(text).replace(/\s+/g, ' ').trim();
  return t.length > 120 ? `${t.slice(0, 120)}…` : t;
}
