import type { PresenceEvent } from '../events.js';
import { secrets } from '../log.js';
import { decodePart } from '../util/url.js';
import { kindOf, shownValue } from '../util/text.js';
import { unknownOption, type SameKeys } from '../util/options.js';
import { HttpTarget, redirectError, snippet } from './http.js';
import { secretKeys, sign, TOLERANCE_SEC } from './signing.js';
import { checkSinkName, DeliveryError, type Sink } from './sink.js';

export const DEFAULT_WEBHOOK_TIMEOUT_MS = 15_000;
/** Requests in flight at once by default: a receiver 100 ms away takes ~40 events/s, not ~10. */
export const DEFAULT_WEBHOOK_CONCURRENCY = 4;
/** The most `concurrency` may be. */
export const MAX_WEBHOOK_CONCURRENCY = 64;
/**
 * 401/403 answers in a row that disable a webhook sink whose URL has not yet taken a delivery (a
 * single one dead-letters its event only). Once it has, a 401/403 is retried as a 503 is.
 */
export const WEBHOOK_REFUSALS_TO_DISABLE = 3;

export interface WebhookSinkOptions {
  url: string;
  /**
   * Standard Webhooks secret (`whsec_…` or raw), or several `whsec_…` separated by spaces (a
   * rotation: one signature each); unsigned when absent.
   */
  secret?: string;
  timeoutMs?: number;
  name?: string;
  userAgent?: string;
  /**
   * More request headers (a receiver behind a gateway that wants `Authorization` or an API key
   * header). Not those the sink sets itself: `checkWebhookHeaders` says which.
   */
  headers?: Record<string, string>;
  /**
   * Requests in flight at once (default 4, 1 to 64). Events about different people may then
   * arrive out of order; one person's events (same room and participant id) never overlap, so
   * theirs arrive in order. 1 sends every event in order, one at a time.
   */
  concurrency?: number;
  now?: () => number;
}

/**
 * For a signed delivery the receiver refused: when this machine's clock is further off the
 * receiver's (its `Date` header) than receivers allow, the likelier cause than the secret.
 */
function clockNote(host: string, nowMs: number, theirMs: number | undefined): string {
  if (theirMs === undefined) return '';
  const off = nowMs - theirMs;
  if (Math.abs(off) <= TOLERANCE_SEC * 1000) return '';
  const minutes = Math.round(Math.abs(off) / 60_000);
  const size = minutes >= 120 ? `${Math.round(minutes / 60)} hours` : `${minutes} minutes`;
  return `; this machine's clock is ${size} ${off > 0 ? 'ahead of' : 'behind'} ${host}'s, and receivers refuse a signature more than 5 minutes off theirs: set the clock (NTP)`;
}

/** Headers the sink sets itself (or HTTP does), which `headers` may not replace. */
const RESERVED_HEADERS = new Set(['content-type', 'content-length', 'host', 'transfer-encoding', 'connection', 'keep-alive', 'webhook-id', 'webhook-timestamp', 'webhook-signature']);
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** Why `headers` cannot be sent, or undefined: a name that is not an HTTP token or one the sink sets, a value with a line break or control character. Never quotes a value. */
export function checkWebhookHeaders(headers: Record<string, string>): string | undefined {
  for (const [name, value] of Object.entries(headers)) {
    if (!TOKEN.test(name)) return `"${name}" is not a header name (letters, digits and !#$%&'*+-.^_\`|~ only)`;
    if (RESERVED_HEADERS.has(name.toLowerCase())) return `"${name}" is set by the watcher itself${name.toLowerCase().startsWith('webhook-') ? ' (Standard Webhooks signing: give a secret instead)' : ''}`;
    // (the value is not shown: headers carry credentials)
    if (typeof value !== 'string') return `the value of "${name}" must be text, not ${kindOf(value)}`;
    if (/[\u0000-\u0008\u000a-\u001f\u007f]/.test(value)) return `the value of "${name}" has a line break or a control character`;
  }
  return undefined;
}

/**
 * The credentials a webhook URL carries (`https://user:password@host/…`, as curl takes them), as
 * an `Authorization: Basic` value; undefined when it carries none. Without this they were dropped
 * without a word (a request goes to the URL's origin and path), and the receiver's 401s read as a
 * refused signature.
 */
export function urlCredentials(url: string): string | undefined {
  const c = credentialsOf(url);
  return c && basicAuth(c);
}

/** The user and password a URL carries, decoded; undefined when it carries neither. */
function credentialsOf(url: string): { user: string; password: string } | undefined {
  const u = new URL(url);
  if (!u.username && !u.password) return undefined;
  return { user: decodePart(u.username), password: decodePart(u.password) };
}

function basicAuth(c: { user: string; password: string }): string {
  return `Basic ${Buffer.from(`${c.user}:${c.password}`, 'utf8').toString('base64')}`;
}

/** Why a webhook's URL and headers cannot go together, or undefined: credentials in both. */
export function checkWebhookAuth(url: string, headers: Record<string, string> | undefined): string | undefined {
  let inUrl: string | undefined;
  try {
    inUrl = urlCredentials(url);
  } catch {
    return undefined; // not a URL: said elsewhere
  }
  if (inUrl && Object.keys(headers ?? {}).some((k) => k.toLowerCase() === 'authorization')) {
    return 'the URL carries user:password and headers sets Authorization as well: keep one';
  }
  return undefined;
}

const WEBHOOK_SINK_OPTIONS = ['url', 'secret', 'timeoutMs', 'name', 'userAgent', 'headers', 'concurrency', 'now'] as const;
const webhookOptionsChecked: SameKeys<keyof WebhookSinkOptions, (typeof WEBHOOK_SINK_OPTIONS)[number]> = true;
void webhookOptionsChecked;

/**
 * POSTs each event as JSON. With a secret, signs it with the Standard Webhooks headers; the
 * `webhook-id` is the event id, identical on every retry, so receivers can dedupe.
 */
export class WebhookSink implements Sink {
  readonly kind = 'webhook';
  readonly name: string;
  readonly maxBatch = 1;
  readonly minIntervalMs = 0;
  readonly concurrency: number;
  readonly #target: HttpTarget;
  readonly #keys: Buffer[] | undefined;
  readonly #userAgent: string;
  readonly #headers: Record<string, string>;
  readonly #now: () => number;
  /** 401/403 answers in a row before the URL took a delivery (after, they are retried, not counted). */
  #refusals = 0;
  /** Whether the URL has answered a delivery 2xx: a redirect (redirectError) or a 401/403 after that is retried, not disabling. */
  #answered = false;

  constructor(o: WebhookSinkOptions) {
    // plain JavaScript has no type check: a misspelt option (timout) would leave its default silently
    const unknown = unknownOption(o as unknown as Record<string, unknown>, WEBHOOK_SINK_OPTIONS);
    if (unknown) throw new TypeError(`WebhookSink: ${unknown}`);
    const c = o.concurrency ?? DEFAULT_WEBHOOK_CONCURRENCY;
    if (!Number.isInteger(c) || c < 1 || c > MAX_WEBHOOK_CONCURRENCY) {
      throw new TypeError(`WebhookSink: concurrency must be a whole number from 1 to ${MAX_WEBHOOK_CONCURRENCY}, got ${shownValue(o.concurrency)}`);
    }
    this.concurrency = c;
    // a connection for each request in flight; at least 4, so that a receiver's 2xx whose body is
    // still draining (HttpTarget) does not hold up the next request
    try {
      this.#target = new HttpTarget(o.url, o.timeoutMs ?? DEFAULT_WEBHOOK_TIMEOUT_MS, Math.max(4, c));
    } catch (err) {
      throw new TypeError(`WebhookSink: ${(err as Error).message}`);
    }
    checkSinkName('WebhookSink', o.name);
    this.name = o.name ?? `webhook(${this.#target.host})`;
    if (o.secret !== undefined && typeof o.secret !== 'string') throw new TypeError(`WebhookSink: secret must be a string (whsec_<base64>, or raw), not ${kindOf(o.secret)}`);
    try {
      this.#keys = o.secret === undefined ? undefined : secretKeys(o.secret);
    } catch (err) {
      // ("webhook secret is empty" alone did not say which constructor threw it)
      throw new TypeError(`WebhookSink: secret: ${(err as Error).message}`);
    }
    this.#userAgent = o.userAgent ?? 'daily-presence-watcher';
    const wrong = o.headers && checkWebhookHeaders(o.headers);
    if (wrong) throw new TypeError(`WebhookSink: headers: ${wrong}`);
    // names lower-cased, so a `User-Agent` given replaces ours instead of going out beside it
    this.#headers = Object.fromEntries(Object.entries(o.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
    const both = checkWebhookAuth(o.url, o.headers);
    if (both) throw new TypeError(`WebhookSink: ${both}`);
    const creds = credentialsOf(o.url);
    if (creds) {
      const basic = basicAuth(creds);
      // the URL's own form of the password is scrubbed with the URL (HttpTarget); its decoded and
      // base64 forms too, which a receiver's error text may echo
      secrets.add(creds.password);
      secrets.add(basic.slice('Basic '.length));
      this.#headers.authorization = basic;
    }
    this.#now = o.now ?? Date.now;
  }

  async deliver(events: PresenceEvent[], signal: AbortSignal): Promise<void> {
    for (const event of events) await this.#deliverOne(event, signal);
  }

  async #deliverOne(event: PresenceEvent, signal: AbortSignal): Promise<void> {
    const body = JSON.stringify(event);
    const ts = Math.floor(this.#now() / 1000);
    // the id and time unsigned too: a receiver dedupes on webhook-id whether or not it verifies
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'user-agent': this.#userAgent,
      ...this.#headers,
      'webhook-id': event.id,
      'webhook-timestamp': String(ts),
    };
    if (this.#keys) headers['webhook-signature'] = this.#keys.map((key) => sign(key, event.id, ts, body)).join(' ');
    const r = await this.#target.post(body, headers, signal);
    if (r.status >= 200 && r.status < 300) {
      this.#refusals = 0;
      this.#answered = true;
      return;
    }
    const what = `${this.#target.host} answered HTTP ${r.status}${r.text ? ` "${snippet(r.text)}"` : ''}`;
    const clock = this.#keys ? clockNote(this.#target.host, this.#now(), r.dateMs) : '';
    if (r.status >= 300 && r.status < 400) throw redirectError(`${this.#target.host} answered HTTP ${r.status}`, r, this.#answered);
    if (r.status === 410) throw new DeliveryError(`${what}: the endpoint is gone`, 'disable', r.status);
    // refused credentials are about the endpoint, not this event: a wrong signing secret or a
    // revoked URL fails every later delivery too, each dead-lettered in turn while /healthz said ok.
    // One refusal can also be a receiver's auth layer hiccuping, so only a run of them disables.
    if (r.status === 401 || r.status === 403) {
      const fix = this.#keys ? 'check the signing secret the receiver expects, and the URL' : 'the receiver wants credentials: sign deliveries (--webhook-secret) or check the URL';
      // a receiver that has taken our deliveries took these credentials: a refusal now is most
      // likely passing (its auth layer restarting), and with several requests in flight one blip
      // refused three at once, which disabled the sink for good (the daemon exited, when it was the
      // only one) and dead-lettered the events. Retried as a 503 is; one that lasts dead-letters
      // each event after its attempts, and /healthz says the sink is failing
      if (this.#answered) throw new DeliveryError(`${what}: ${fix}${clock} (it took deliveries before: retried)`, 'retry', r.status, r.retryAfterMs);
      if (++this.#refusals >= WEBHOOK_REFUSALS_TO_DISABLE) {
        throw new DeliveryError(`${what} ${this.#refusals} times in a row: ${fix}${clock}`, 'disable', r.status);
      }
      throw new DeliveryError(`${what}: ${fix}${clock} (the sink is disabled after ${WEBHOOK_REFUSALS_TO_DISABLE} refusals in a row)`, 'permanent', r.status);
    }
    if (r.status === 429 || r.status === 408 || r.status >= 500) throw new DeliveryError(what, 'retry', r.status, r.retryAfterMs);
    throw new DeliveryError(`${what}${clock}`, 'permanent', r.status);
  }

  close(): Promise<void> {
    return this.#target.close();
  }
}
