import { createHmac, timingSafeEqual } from 'node:crypto';
import { kindOf, NOT_EXPANDED_WHERE, UNEXPANDED } from '../util/text.js';
import { unknownOption } from '../util/options.js';

/**
 * Standard Webhooks signing. A secret is `whsec_<base64>` (the key is the decoded bytes) or any
 * other string (the key is its UTF-8 bytes). One secret: use `secretKeys` where a setting may hold
 * several (a rotation).
 */
export function secretKey(secret: string): Buffer {
  checkSecretText('webhookSecretKey', secret);
  // a secret read from a file often ends with a line break: harmless to drop from the whsec_ form
  // (base64 has no whitespace), but in a raw secret it would be part of the key, so it is refused
  const trimmed = secret.trim();
  // `"whsec_…"` from an env file that keeps quotes would otherwise be taken for a raw secret, and
  // every delivery would fail its receiver's check
  if (/^(["'`])whsec_.*\1$/s.test(trimmed)) {
    throw new TypeError("webhook secret is wrapped in quotes, which are not part of it: docker run's --env-file, among others, keeps quotes as written: write the line without them");
  }
  if (trimmed.startsWith('whsec_')) {
    const b64 = trimmed.slice('whsec_'.length);
    if (/\s/.test(b64)) throw new TypeError('webhook secret: this is several secrets separated by spaces (a rotation): read them with secretKeys (webhookSecretKeys)');
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) throw new TypeError('webhook secret: the part after whsec_ is not base64');
    return Buffer.from(b64, 'base64');
  }
  if (trimmed.length === 0) throw new TypeError('webhook secret is empty');
  if (UNEXPANDED.test(trimmed)) throw new TypeError(`webhook secret is a variable's reference ($NAME or \${NAME}) that was never expanded: ${NOT_EXPANDED_WHERE}; give the secret itself`);
  if (trimmed !== secret) {
    throw new TypeError('webhook secret starts or ends with whitespace (a line break from a secret file?): remove it, or use the whsec_<base64> form');
  }
  return Buffer.from(secret, 'utf8');
}

/**
 * The keys of a secret setting: one secret, or several `whsec_<base64>` secrets separated by
 * whitespace, as during a rotation (`"whsec_new whsec_old"`): a delivery then carries one signature
 * per key, and a receiver holding either secret accepts it. Only whsec_ secrets combine: a raw
 * secret may itself contain spaces, so a setting that does not start with `whsec_` is one raw
 * secret, as before. The same key twice counts once.
 */
export function secretKeys(secret: string): Buffer[] {
  checkSecretText('webhookSecretKeys', secret);
  const trimmed = secret.trim();
  if (!trimmed.startsWith('whsec_') || !/\s/.test(trimmed)) return [secretKey(secret)];
  const parts = trimmed.split(/\s+/);
  const keys: Buffer[] = [];
  parts.forEach((part, i) => {
    const which = `secret ${i + 1} of ${parts.length}`;
    if (!part.startsWith('whsec_')) {
      throw new TypeError(`webhook secret: ${which} is not whsec_<base64>; several secrets (a rotation) must each be whsec_<base64>, separated by spaces`);
    }
    let key: Buffer;
    try {
      key = secretKey(part);
    } catch (err) {
      throw new TypeError(`${(err as Error).message.replace(/^webhook secret/, `webhook secret: ${which}`)}`);
    }
    if (!keys.some((k) => k.equals(key))) keys.push(key);
  });
  return keys;
}

/**
 * A list of secrets (a config list, a repeated flag) as the one setting `secretKeys` reads. Throws
 * when a list of more than one holds a raw secret: joined by spaces it could not be told apart.
 */
export function joinSecrets(list: readonly string[]): string {
  if (list.length === 1) return list[0]!;
  const i = list.findIndex((s) => !s.trim().startsWith('whsec_'));
  if (i >= 0) throw new TypeError(`secret ${i + 1} of ${list.length} is not whsec_<base64>: only whsec_ secrets can be given together (a rotation)`);
  return list.map((s) => s.trim()).join(' ');
}

/** A secret that is not text: a TypeError naming it (it was `secret.trim is not a function`). */
function checkSecretText(fn: string, secret: unknown): void {
  if (typeof secret !== 'string') {
    throw new TypeError(`${fn}: the secret must be a string (whsec_<base64>, or raw), not ${secret === undefined ? 'undefined (is the variable holding it set?)' : kindOf(secret)}`);
  }
}

/** `v1,<base64 HMAC-SHA256 of "id.timestamp.body">` (the webhook sink's, its arguments its own). */
export function sign(key: Uint8Array, id: string, timestamp: number, body: string | Uint8Array): string {
  return `v1,${createHmac('sha256', key).update(`${id}.${timestamp}.`).update(body).digest('base64')}`;
}

/**
 * The `webhook-signature` value a delivery of `body` with this id and timestamp carries, for a
 * receiver's tests: `secret` as it is set (`whsec_<base64>` or raw, as `verifyWebhook` takes it) or
 * its key (`webhookSecretKey(secret)`), `timestamp` in unix seconds. Each argument is checked: a
 * whsec_ secret given as a string was taken as raw key bytes, and a timestamp in milliseconds
 * signed what every receiver then refused as 50,000 years off.
 */
export function signWebhook(secret: string | Uint8Array, id: string, timestamp: number, body: string | Uint8Array): string {
  const key = typeof secret === 'string' ? secretKey(secret) : secret instanceof Uint8Array ? secret : undefined;
  if (key === undefined) throw new TypeError(`signWebhook: the secret must be a string (whsec_<base64>, or raw) or its key (webhookSecretKey), not ${kindOf(secret)}`);
  if (typeof id !== 'string' || id === '') throw new TypeError(`signWebhook: id must be the event's id (webhook-id), not ${kindOf(id)}`);
  if (!Number.isSafeInteger(timestamp) || timestamp < 0) throw new TypeError(`signWebhook: timestamp must be whole unix seconds (Math.floor(Date.now() / 1000)), not ${kindOf(timestamp)}${typeof timestamp === 'number' ? ` ${timestamp}` : ''}`);
  if (timestamp > 1e11) throw new TypeError(`signWebhook: timestamp ${timestamp} is in milliseconds: give unix seconds (Math.floor(Date.now() / 1000))`);
  if (typeof body !== 'string' && !(body instanceof Uint8Array)) throw new TypeError(`signWebhook: body must be the body as sent, a string or bytes, not ${kindOf(body)}`);
  return sign(key, id, timestamp, body);
}

/** The clock skew Standard Webhooks receivers allow between a signature's timestamp and their clock, seconds. */
export const TOLERANCE_SEC = 300;

export interface VerifyOptions {
  /** Allowed clock skew, seconds. Default 300. */
  toleranceSec?: number;
  now?: number;
}

/**
 * The request headers as any receiver has them: a Fetch `Headers` (Next.js, Hono, Deno, undici), or
 * a plain object such as Node's `req.headers` (names in any case, a value possibly an array).
 */
export type WebhookHeaders = { get(name: string): string | null } | Readonly<Record<string, string | readonly string[] | undefined>>;

function header(headers: WebhookHeaders, name: string): string | undefined {
  if (typeof (headers as { get?: unknown }).get === 'function') return (headers as { get(n: string): string | null }).get(name) ?? undefined;
  const h = headers as Readonly<Record<string, string | readonly string[] | undefined>>;
  let v = h[name];
  if (v === undefined) {
    for (const k of Object.keys(h)) {
      if (k.toLowerCase() === name) {
        v = h[k];
        break;
      }
    }
  }
  return typeof v === 'string' ? v : v?.[0];
}

/**
 * Verify a delivery as a receiver would: any of the space-separated `v1,` signatures may match
 * any of the secrets (key rotation: a list, or whsec_ secrets separated by spaces), compared in
 * constant time, with the timestamp inside the tolerance. `body` is the
 * raw body exactly as received (a string, or the bytes: a Buffer from `express.raw()`), never a
 * re-serialised parse of it.
 */
export function verify(secret: string | readonly string[], headers: WebhookHeaders, body: string | Uint8Array, opts: VerifyOptions = {}): boolean {
  // the arguments a receiver's code gets wrong, said as such (each was a TypeError from inside
  // Node's crypto, or a plain false that looked like a bad signature); the secret is checked on
  // every call, so one that is missing or malformed throws whatever the request
  const secrets: readonly unknown[] = typeof secret === 'string' ? [secret] : Array.isArray(secret) ? secret : [secret];
  if (secrets.length === 0) throw new TypeError('verifyWebhook: no secret given (an empty list)');
  for (const s of secrets) {
    if (typeof s !== 'string') {
      throw new TypeError(`verifyWebhook: the secret must be a string (whsec_<base64>, or raw), or a list of them, not ${s === undefined ? 'undefined (is the variable holding it set?)' : kindOf(s)}`);
    }
  }
  let keys: Buffer[];
  try {
    keys = (secrets as string[]).flatMap(secretKeys);
  } catch (err) {
    // ("webhook secret is empty" alone did not say which call of a receiver's code threw it)
    throw new TypeError(`verifyWebhook: ${(err as Error).message}`);
  }
  const unknown = unknownOption(opts as Record<string, unknown>, ['toleranceSec', 'now']);
  if (unknown) throw new TypeError(`verifyWebhook: ${unknown}`);
  if (headers === null || typeof headers !== 'object') {
    throw new TypeError(`verifyWebhook: headers must be the request's headers (Node's req.headers, or a Fetch Headers), not ${kindOf(headers)}`);
  }
  if (typeof body !== 'string' && !(body instanceof Uint8Array)) {
    throw new TypeError(
      `verifyWebhook: the body must be the raw body exactly as received, a string or a Buffer, not ${kindOf(body)}: a parsed JSON body cannot be verified (re-serialising it changes its bytes); read the raw body, e.g. with express.raw({ type: 'application/json' })`,
    );
  }
  const id = header(headers, 'webhook-id');
  const ts = Number(header(headers, 'webhook-timestamp'));
  const sigs = header(headers, 'webhook-signature');
  if (!id || !Number.isInteger(ts) || !sigs) return false;
  const now = Math.floor((opts.now ?? Date.now()) / 1000);
  if (Math.abs(now - ts) > (opts.toleranceSec ?? TOLERANCE_SEC)) return false;
  const expected = keys.map((key) => createHmac('sha256', key).update(`${id}.${ts}.`).update(body).digest());
  for (const s of sigs.split(' ')) {
    const [version, value] = s.split(',', 2);
    if (version !== 'v1' || !value) continue;
    const given = Buffer.from(value, 'base64');
    for (const e of expected) if (given.length === e.length && timingSafeEqual(given, e)) return true;
  }
  return false;
}
