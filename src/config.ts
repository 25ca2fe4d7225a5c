import { readFileSync, statSync } from 'node:fs';
import { dirname, extname, isAbsolute, resolve as resolvePath } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { dailyInClear, DEFAULT_API_URL, DEFAULT_MAX_BODY_BYTES, normalizeApiKey } from './daily/client.js';
import { nameFilter } from './dispatcher.js';
import { SAME_PERSON_RULES, type SamePersonRule } from './same-user.js';
import { formatDuration, parseDuration, partOfMs } from './util/duration.js';
import { closestName, didYouMean } from './util/options.js';
import { parseSize } from './util/size.js';
import { checkProxyEnv } from './util/http-agent.js';
import { joinSecrets } from './sinks/signing.js';
import { checkRoomUrl, SLACK_MIN_INTERVAL_MS } from './sinks/slack.js';
import { checkWebhookAuth, checkWebhookHeaders, MAX_WEBHOOK_CONCURRENCY } from './sinks/webhook.js';
import { LOG_FORMATS, LOG_LEVEL_NAMES, type LogFormat, type LogLevelName } from './log.js';
import { EVENT_TYPES } from './events.js';
import { NOT_EXPANDED_WHERE, UNEXPANDED, withoutBom } from './util/text.js';
import { isRecord, setOwn } from './util/record.js';
import { followLinks } from './util/file-kind.js';
import { MAX_SAVE_EVERY_MS } from './watcher.js';
import { roomAsUrl } from './daily/room-name.js';
import { isLoopbackHost } from './util/url.js';

/** A mistake in flags, environment or config file: the CLI prints the message and exits 2. */
export class ConfigError extends Error {
  override name = 'ConfigError';
  readonly code = 'CONFIG_INVALID';
}

export { EVENT_TYPES } from './events.js';
export { closestName, didYouMean } from './util/options.js';
export { LOG_LEVEL_NAMES, type LogLevelName } from './log.js';

// (zod's own message for a value that is neither text nor a number was "Invalid input")
const duration = z.union([z.string(), z.number()], { error: (iss) => `must be a duration such as "15s", "500ms" or "2m", or a number of milliseconds, not ${kindOf(iss.input, true)}` }).transform((v, ctx) => {
  const ms = parseDuration(v);
  if (ms === undefined) {
    ctx.addIssue({ code: 'custom', message: `"${v}" is not a duration (${partOfMs(v) ? 'a duration is a whole number of milliseconds' : 'use e.g. "15s", "500ms", "2m", or milliseconds'})` });
    return z.NEVER;
  }
  return ms;
});

const size = z.union([z.string(), z.number()], { error: (iss) => `must be a size such as "64MiB" or "100MB", or a number of bytes, not ${kindOf(iss.input, true)}` }).transform((v, ctx) => {
  const bytes = parseSize(v);
  if (bytes === undefined || bytes < 1) {
    ctx.addIssue({ code: 'custom', message: `"${v}" is not a size (use e.g. "64MiB", "100MB", or bytes)` });
    return z.NEVER;
  }
  return bytes;
});

/**
 * Why `s` is no http(s) URL, or undefined: one that does not parse ("https://h:99999/x" is
 * https, and its port is out of range) is told apart from one of another scheme. The reason
 * follows "the URL" or a config field's name.
 */
export function httpUrlProblem(s: string): string | undefined {
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    if (!/^https?:\/\//i.test(s)) return 'must be an http(s) URL';
    const port = /^https?:\/\/[^/?#]*:(\d+)(?:[/?#]|$)/i.exec(s)?.[1];
    return port !== undefined && Number(port) > 65535 ? `is not valid: its port ${port} is past 65535` : 'is not valid (a space or a stray character in its host?)';
  }
  return u.protocol === 'http:' || u.protocol === 'https:' ? undefined : 'must be an http(s) URL';
}

const httpUrl = z.string().superRefine((s, ctx) => {
  const problem = httpUrlProblem(s);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

/**
 * A signing secret, or a list of whsec_ secrets (a rotation: every delivery signed with each), kept
 * as the one string `secretKeys` reads: the list joined by spaces.
 */
const secretSetting = z.union([z.string().min(1, 'is empty'), z.array(z.string().min(1, 'is empty')).nonempty('is an empty list: give at least one secret')]).transform((v, ctx) => {
  if (typeof v === 'string') return v;
  try {
    return joinSecrets(v);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message });
    return z.NEVER;
  }
});

const filter = {
  events: z.array(z.enum(EVENT_TYPES)).nonempty().optional(),
  rooms: z.array(z.string().min(1)).nonempty().optional(),
  // may be empty: a sink's [] overrides the top-level list, to hear about everyone
  ignoreUsers: z.array(z.string().min(1)).optional(),
};

/** A zod refinement from a check that says why a value is wrong, or undefined when it is right. */
function saysWhy<T>(check: (value: T) => string | undefined) {
  return (value: T, ctx: z.RefinementCtx) => {
    const wrong = check(value);
    if (wrong) ctx.addIssue({ code: 'custom', message: wrong });
  };
}

const sinkSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('stdout'), format: z.enum(['json', 'text']).optional(), ...filter }).strict(),
  z
    .object({
      type: z.literal('webhook'),
      url: httpUrl,
      secret: secretSetting.optional(),
      timeout: duration.optional(),
      headers: z.record(z.string(), z.string()).superRefine(saysWhy(checkWebhookHeaders)).optional(),
      concurrency: z.number().int('must be a whole number').min(1).max(MAX_WEBHOOK_CONCURRENCY).optional(),
      ...filter,
    })
    .strict()
    .superRefine((sink, ctx) => {
      const wrong = checkWebhookAuth(sink.url, sink.headers);
      if (wrong) ctx.addIssue({ code: 'custom', message: wrong, path: ['headers'] });
    }),
  z
    .object({
      type: z.literal('slack'),
      url: httpUrl,
      timeout: duration.optional(),
      roomUrl: z.string().superRefine(saysWhy(checkRoomUrl)).optional(),
      // at most one message this often; what comes meanwhile goes in the next (Slack allows ~1/s)
      messageInterval: duration.optional(),
      ...filter,
    })
    .strict(),
]);

/** The config file (JSON or YAML). Every field is optional; flags override, env supplies secrets. */
export const fileSchema = z
  .object({
    apiKey: z.string().min(1).optional(),
    apiUrl: httpUrl.optional(),
    rooms: z.array(z.string().min(1)).optional(),
    allRooms: z.boolean().optional(),
    interval: duration.optional(),
    ignoreInitial: z.boolean().optional(),
    ignoreUsers: z.array(z.string().min(1)).optional(),
    events: z.array(z.enum(EVENT_TYPES)).nonempty().optional(),
    sinks: z.array(sinkSchema).optional(),
    webhookSecret: secretSetting.optional(),
    state: z.string().min(1).optional(),
    saveEvery: duration.optional(),
    leaveGrace: duration.optional(),
    samePerson: z.enum(SAME_PERSON_RULES).optional(),
    logLevel: z.enum(LOG_LEVEL_NAMES).optional(),
    logFormat: z.enum(LOG_FORMATS).optional(),
    // a bare port reads as a number in YAML and JSON alike: take it as the flag's `--health 9464`
    health: z.union([z.string().min(1), z.number().int().min(0).max(65535).transform(String)]).optional(),
    maxRps: z.number().positive().optional(),
    limit: z.number().int().positive().optional(),
    deadLetter: z.string().min(1).optional(),
    queueCap: z.number().int().positive().optional(),
    outboxCap: z.number().int().positive().optional(),
    drainTimeout: duration.optional(),
    requestTimeout: duration.optional(),
    maxBody: size.optional(),
  })
  .strict();

export type FileConfig = z.output<typeof fileSchema>;
export type SinkConfig = z.output<typeof sinkSchema>;

function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out ? `.${String(p)}` : String(p);
  return out || '(top level)';
}

/** `${NAME}` or `${NAME:-default}`; `$${NAME}` is the text `${NAME}` itself (the escape, as in Docker Compose). */
const ENV_REF = /\$(\$?)\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;
const WHOLE_ENV_REF = /^\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}$/;

/** A secret file holds one value: anything larger is the wrong file (a certificate bundle, a binary). */
export const MAX_SECRET_FILE_BYTES = 64 * 1024;

/**
 * An environment variable's value, or the content of the file `NAME_FILE` names when `NAME` is unset
 * or empty: Docker's and Kubernetes' secrets arrive as files (/run/secrets/…), and a value put in
 * the environment shows in `docker inspect` and in every child process. The file's trailing line
 * breaks are not part of the value (editors and `echo` add one), nor is a byte order mark. Both set
 * is refused rather than one silently winning. Errors name the variable and the path, never the
 * content.
 */
export function envValue(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const direct = env[name];
  const fileVar = `${name}_FILE`;
  const path = env[fileVar];
  if (path === undefined || path === '') return direct;
  if (direct !== undefined && direct !== '') throw new ConfigError(`${name} and ${fileVar} are both set: keep one (${fileVar} names a file holding the value)`);
  let text: string;
  try {
    const st = statSync(path);
    if (st.isFile() && st.size > MAX_SECRET_FILE_BYTES) {
      throw new ConfigError(`${fileVar}: ${path} is ${st.size} bytes, more than a secret file holds (${MAX_SECRET_FILE_BYTES}): is it the right file?`);
    }
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError(`${fileVar}: cannot read ${path}: ${readProblem(err)}`);
  }
  text = withoutBom(text).replace(/[\r\n]+$/, '');
  if (text.trim() === '') throw new ConfigError(`${fileVar}: ${path} is empty: put the value of ${name} in it`);
  return text;
}

/**
 * The signing secret PRESENCE_WEBHOOK_SECRET (or its _FILE) gives, or undefined when it is not set.
 * Set to nothing while a webhook sink has no secret of its own, it is an error: a compose file's
 * `${HOOK_SECRET}` of a variable the shell did not have arrives empty, and the deliveries went out
 * unsigned (each refused by a receiver that verifies them) with only a note. Unset, they are
 * unsigned on purpose.
 */
export function webhookSecretFromEnv(env: NodeJS.ProcessEnv, sinks: readonly { type: string; secret?: unknown }[]): string | undefined {
  const value = envValue(env, 'PRESENCE_WEBHOOK_SECRET');
  if (value === undefined || value.trim() !== '') return value;
  if (sinks.some((s) => s.type === 'webhook' && s.secret === undefined)) {
    throw new ConfigError(
      "PRESENCE_WEBHOOK_SECRET is set but empty, so webhook deliveries would go unsigned: give it the signing secret (a compose file's ${…} is empty when the shell that ran compose did not have the variable), or unset it to deliver unsigned",
    );
  }
  return undefined;
}

/**
 * Replace `${NAME}` with the environment variable (or the content of the file `NAME_FILE` names:
 * envValue), or `${NAME:-default}` with the default when the variable is unset or empty; a missing
 * one without a default is an error naming the field.
 * `fromEnv` collects the values that were one reference whole (`maxRps: ${MAX_RPS}`), keyed by
 * their path, with the variable's name: the environment has only text, so those may be read as the
 * number or boolean the field wants.
 */
export function interpolateEnv(value: unknown, env: NodeJS.ProcessEnv, path: (string | number)[] = [], fromEnv?: Map<string, string>): unknown {
  if (typeof value === 'string') {
    // `url: $SLACK_URL`, as a shell or a .env file would have it: taken as written, it made a webhook
    // secret of the variable's name (every delivery refused by its receiver) or a URL that is none
    const t = value.trim();
    if (UNEXPANDED.test(t) && !t.startsWith('${')) {
      throw new ConfigError(`${formatPath(path)}: "${t}" would be taken as written, not as the environment variable: in a config file, write "\${${t.slice(1)}}" (in braces)`);
    }
    const whole = WHOLE_ENV_REF.exec(value);
    if (whole && fromEnv) fromEnv.set(JSON.stringify(path), whole[1]!);
    return value.replace(ENV_REF, (ref: string, escaped: string, name: string, fallback: string | undefined) => {
      if (escaped) return ref.slice(1);
      let v: string | undefined;
      try {
        v = envValue(env, name);
      } catch (err) {
        throw new ConfigError(`${formatPath(path)}: ${(err as Error).message}`);
      }
      if (v === undefined || v === '') {
        if (fallback !== undefined) return fallback;
        throw new ConfigError(`${formatPath(path)}: environment variable ${name} is not set`);
      }
      return v;
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => interpolateEnv(v, env, [...path, i], fromEnv));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    // (setOwn: a key `__proto__` stays a key, refused as unknown, instead of becoming the settings' prototype)
    for (const [k, v] of Object.entries(value)) setOwn(out, k, interpolateEnv(v, env, [...path, k], fromEnv));
    return out;
  }
  return value;
}

/** Text from the environment as the number or boolean a field wants, or undefined when it is not one. */
function fromText(text: string, expected: string): number | boolean | undefined {
  const t = text.trim();
  if (expected === 'number') return /^-?\d+(\.\d+)?$/.test(t) ? Number(t) : undefined;
  if (expected === 'boolean') return t === 'true' ? true : t === 'false' ? false : undefined;
  return undefined;
}

function setAt(root: unknown, path: readonly PropertyKey[], value: unknown): void {
  let v = root as Record<PropertyKey, unknown>;
  for (const k of path.slice(0, -1)) v = v[k] as Record<PropertyKey, unknown>;
  v[path[path.length - 1]!] = value;
}

const EXPECTED: Record<string, string> = {
  int: 'a whole number',
  array: 'a list (in YAML: [a, b], or one "- item" a line)',
  boolean: 'true or false',
  number: 'a number',
  string: 'a string',
  object: 'a mapping of settings',
};

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let v = root;
  for (const k of path) v = v !== null && typeof v === 'object' ? (v as Record<PropertyKey, unknown>)[k] : undefined;
  return v;
}


const SECRET_FIELDS = new Set(['apiKey', 'webhookSecret', 'secret', 'url', 'apiUrl', 'headers']);

/** What a wrong value is: its kind, and the value itself when `show` (short, so a message stays one line). */
function kindOf(v: unknown, show: boolean): string {
  if (v === null) return 'empty (null)';
  // YAML's .inf and .nan (JSON's 1e999): "not a number (NaN)" said the opposite of what it meant
  if (typeof v === 'number' && !Number.isFinite(v)) return `${v} (YAML's ${v < 0 ? '-.inf' : v > 0 ? '.inf' : '.nan'})`;
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  const kind = typeof v === 'string' ? 'text' : typeof v === 'number' ? 'a number' : typeof v === 'boolean' ? 'a boolean' : typeof v;
  if (!show) return kind;
  if (typeof v === 'string') return `the text "${v.length > 40 ? `${v.slice(0, 40)}…` : v}"`;
  return `${kind} (${String(v)})`;
}

/** Each kind of sink and the settings it takes. */
const SINK_TYPE_KEYS: [string, string[]][] = sinkSchema.options.map((o) => [o.shape.type.value, Object.keys(o.shape)]);

const SINK_KEYS = ['type', 'url', 'secret', 'timeout', 'headers', 'concurrency', 'roomUrl', 'messageInterval', 'format', 'events', 'rooms', 'ignoreUsers'];

/** Validate a parsed config object; errors name the field path and what is wrong. */
export function validateFileConfig(raw: unknown, source: string, env: NodeJS.ProcessEnv = process.env): FileConfig {
  if (raw === null || raw === undefined) return {};
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new ConfigError(`${source}: the top level must be a mapping of settings`);
  // top-level keys starting with x- are the user's own, as in Compose files: a place for the YAML
  // anchors that sinks merge in (`<<: *alerts`), not settings, and not read for ${VAR} either
  const settings = Object.fromEntries(Object.entries(raw).filter(([k]) => !k.startsWith('x-')));
  let interpolated: unknown;
  const fromEnv = new Map<string, string>();
  try {
    interpolated = interpolateEnv(settings, env, [], fromEnv);
  } catch (err) {
    throw new ConfigError(`${source}: ${(err as Error).message}`);
  }
  let r = fileSchema.safeParse(interpolated);
  // `maxRps: ${MAX_RPS}`: the environment's text read as the number (or boolean) the field wants,
  // one field at a time as the schema names them (a value written as text in the file stays an error)
  for (let tries = 0; !r.success && tries < fromEnv.size; tries++) {
    const wrong = r.error.issues.find((i) => i.code === 'invalid_type' && fromEnv.has(JSON.stringify(i.path)) && typeof valueAt(interpolated, i.path) === 'string');
    if (!wrong || wrong.code !== 'invalid_type') break;
    const read = fromText(valueAt(interpolated, wrong.path) as string, wrong.expected);
    if (read === undefined) break;
    setAt(interpolated, wrong.path, read);
    r = fileSchema.safeParse(interpolated);
  }
  if (r.success) return r.data;
  throw new ConfigError(problemsIn(source, r.error.issues.map((issue) => `${formatPath(issue.path)}: ${describeIssue(issue, interpolated, fromEnv)}`)));
}

/** At most this many problems are spelled out; the rest are counted. */
const MAX_PROBLEMS_SHOWN = 10;

/**
 * One problem on the line of the file's name; several (a config written by hand often has more
 * than one) a line each, so one run of --check-config shows them all instead of one per attempt.
 */
function problemsIn(source: string, problems: readonly string[]): string {
  const unique = [...new Set(problems)];
  if (unique.length === 1) return `${source}: ${unique[0]!}`;
  const shown = unique.slice(0, MAX_PROBLEMS_SHOWN).map((p) => `\n  - ${p}`).join('');
  const rest = unique.length - MAX_PROBLEMS_SHOWN;
  return `${source}: ${unique.length} problems:${shown}${rest > 0 ? `\n  (and ${rest} more)` : ''}`;
}

/** One schema issue in words: what is wrong with the value at its path, never showing a secret. */
function describeIssue(issue: z.core.$ZodIssue, interpolated: unknown, fromEnv: ReadonlyMap<string, string>): string {
  let message = issue.message;
  if (issue.code === 'unrecognized_keys') {
    const known = issue.path.length === 0 ? Object.keys(fileSchema.shape) : SINK_KEYS;
    const type = issue.path.length > 0 ? (valueAt(interpolated, issue.path) as { type?: unknown } | undefined)?.type : undefined;
    const named = issue.keys.map((k) => {
      // a setting of another kind of sink (roomUrl on a webhook): "did you mean" would name itself
      const owners = SINK_TYPE_KEYS.filter(([, keys]) => keys.includes(k)).map(([t]) => t);
      if (issue.path.length > 0 && owners.length > 0) return `"${k}" (a setting of ${owners.join(' and ')} sinks, not of ${String(type)} ones)`;
      const hint = closestName(k, known);
      if (hint !== undefined) return `"${k}" (did you mean "${hint}"?)`;
      // a block of shared sink settings, kept for a YAML anchor: x- keys are there for that
      const block = issue.path.length === 0 && k !== '<<' && isRecord(valueAt(interpolated, [k]));
      return block ? `"${k}" (a block of your own, for YAML anchors? name it "x-${k}": top-level keys starting with x- are ignored)` : `"${k}"`;
    });
    message = `unknown setting${issue.keys.length > 1 ? 's' : ''} ${named.join(', ')}`;
  }
  if ((issue.code === 'too_small' || issue.code === 'too_big') && (issue.origin === 'number' || issue.origin === 'int')) {
    const bound = issue.code === 'too_small' ? issue.minimum : issue.maximum;
    const got = valueAt(interpolated, issue.path);
    const side = issue.code === 'too_small' ? (issue.inclusive ? 'at least' : 'more than') : issue.inclusive ? 'at most' : 'less than';
    message = `must be ${side} ${String(bound)}${typeof got === 'number' ? `, not ${got}` : ''}`;
  }
  // (zod's own words; a message the schema gives, such as a secret's, stays)
  const zodWords = /^Too small/.test(issue.message);
  if (issue.code === 'too_small' && issue.origin === 'array' && zodWords) {
    // (an empty filter would let nothing through: the sink would never get an event)
    message = `must list at least ${String(issue.minimum)}, or be left out${issue.path[0] === 'sinks' ? ' (the sink then takes every one)' : ''}`;
  }
  if (issue.code === 'too_small' && issue.origin === 'string' && zodWords) {
    const variable = fromEnv.get(JSON.stringify(issue.path));
    message = `is empty${variable ? ` (environment variable ${variable} is set to nothing)` : ''}`;
  }
  if (issue.code === 'invalid_type' && issue.path.length > 0) {
    const got = valueAt(interpolated, issue.path);
    // a secret's value never goes in a message, only what kind of value it was
    // (nor does a sink, or the sinks, written as text: that is the command line's "webhook:<url>")
    const secret = issue.path.some((k) => SECRET_FIELDS.has(String(k))) || (issue.path[0] === 'sinks' && issue.path.length <= 2);
    const variable = fromEnv.get(JSON.stringify(issue.path));
    // a number that is not whole is shown as it is ("not 2.5", not "not a number (2.5)")
    const found = issue.expected === 'int' && typeof got === 'number' ? String(got) : kindOf(got, !secret);
    message = `must be ${EXPECTED[issue.expected] ?? issue.expected}${got === undefined ? '' : `, not ${found}`}${variable ? ` (from environment variable ${variable})` : ''}`;
    if (got === undefined && !variable) message = `is missing (${EXPECTED[issue.expected] ?? issue.expected} is required here)`;
    // YAML's .inf and .nan, or JSON's 1e999: a number to JavaScript ("must be a number, not a number")
    if ((issue.expected === 'number' || issue.expected === 'int') && typeof got === 'number' && !Number.isFinite(got)) message = `must be a finite number, not ${kindOf(got, true)}${variable ? ` (from environment variable ${variable})` : ''}`;
    if (issue.path[0] === 'sinks' && issue.path.length <= 2 && typeof got === 'string') message += ': each sink is a mapping, e.g. {type: slack, url: "https://hooks.slack.com/…"} (the "slack:<url>" form is --sink\'s, on the command line)';
    // `rooms: [2024]`: a name of digits reads as a number (and 0800 as 800); quoting keeps it as written
    if (!secret && issue.expected === 'string' && typeof got === 'number' && Number.isFinite(got)) message += ': quote it to keep it as text (unquoted, 0800 reads as the number 800)';
  }
  if (issue.code === 'invalid_value' && issue.path.length > 0) {
    const got = valueAt(interpolated, issue.path);
    message = `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}${got === undefined ? '' : `, not ${kindOf(got, true)}`}`;
    if (typeof got === 'string') message += didYouMean(got, issue.values.filter((v): v is string => typeof v === 'string'));
  }
  const field = String(issue.path[issue.path.length - 1]);
  if (issue.code === 'invalid_union' && (field === 'secret' || field === 'webhookSecret')) {
    const got = valueAt(interpolated, issue.path);
    message = `must be a secret, or a list of whsec_ secrets (a rotation)${got === undefined ? '' : `, not ${kindOf(got, false)}`}`;
  } else if (issue.code === 'invalid_union' && field === 'health') {
    const got = valueAt(interpolated, issue.path);
    message = `must be host:port, :port or a port number (e.g. 127.0.0.1:9464 or 9464)${got === undefined ? '' : `, not ${kindOf(got, true)}`}`;
  } else if (issue.code === 'invalid_union' && issue.path[0] === 'sinks' && (issue.path.length === 2 || field === 'type')) {
    // (the sink's kind, not a setting inside it: a webhook's `timeout: false` is a duration's union too)
    message = 'type must be one of stdout, webhook, slack';
    // a likely slip: the kind as the key (`- slack: https://…`)
    const item = valueAt(interpolated, issue.path.slice(0, 2));
    const typed = item && typeof item === 'object' && !Array.isArray(item) ? (item as { type?: unknown }).type : undefined;
    const meant = typeof typed === 'string' ? closestName(typed, SINK_KINDS) : undefined;
    if (meant !== undefined) message += `, not "${typed}" (did you mean ${meant}?)`;
    const asKey = item && typeof item === 'object' && !Array.isArray(item) && !('type' in item) ? SINK_KINDS.find((k) => k in item) : undefined;
    if (asKey) message = `the kind of sink goes in type: and its address in url:, e.g. {type: ${asKey}${asKey === 'stdout' ? '' : ', url: "https://…"'}}, not as "${asKey}:" itself`;
  }
  return message;
}

/** Why a file could not be read, in words (Node's own message for EISDIR reads "illegal operation on a directory, read"). */
export function readProblem(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  if (code === 'EISDIR') return 'it is a directory, not a file';
  return (err as Error).message;
}

/**
 * Where a config file holds a secret as written rather than as `\${VAR}`: the API key, a signing
 * secret, a sink's URL (a Slack webhook's is its token) or a header's value (an Authorization).
 * Read from the file as parsed, before `\${VAR}` is replaced; x- blocks count where a sink merges
 * them in.
 */
export function writtenSecrets(raw: unknown): string[] {
  const out: string[] = [];
  const written = (v: unknown) => typeof v === 'string' && v.trim() !== '' && !v.includes('${');
  if (!isRecord(raw)) return out;
  for (const k of ['apiKey', 'webhookSecret']) if (written(raw[k])) out.push(k);
  if (Array.isArray(raw.sinks)) {
    raw.sinks.forEach((sink: unknown, i) => {
      if (!isRecord(sink)) return;
      if (written(sink.secret)) out.push(`sinks[${i}].secret`);
      // a receiver on this machine is no credential to anyone else on it
      if (written(sink.url) && !onThisMachine(sink.url as string)) out.push(`sinks[${i}].url`);
      if (isRecord(sink.headers)) {
        for (const [name, v] of Object.entries(sink.headers)) if (written(v)) out.push(`sinks[${i}].headers.${name}`);
      }
    });
  }
  return out;
}

function onThisMachine(url: string): boolean {
  try {
    return isLoopbackHost(new URL(url.trim()).hostname);
  } catch {
    return false;
  }
}

/**
 * A config file that holds secrets as written and that every user of the machine may read (its
 * mode gives others read): said at start and by --check-config. Not on Windows, whose modes say
 * nothing of this.
 */
export function exposedConfigNote(path: string, raw: unknown, platform: NodeJS.Platform = process.platform): string | undefined {
  if (platform === 'win32') return undefined;
  const secrets = writtenSecrets(raw);
  if (secrets.length === 0) return undefined;
  let mode: number;
  try {
    mode = statSync(path).mode;
  } catch {
    return undefined;
  }
  if ((mode & 0o004) === 0) return undefined;
  const octal = (mode & 0o777).toString(8);
  return (
    `${path} holds secrets as written (${secrets.join(', ')}) and every user of this machine can read it (mode ${octal}): ` +
    `chmod 600 ${path} (or 640 with the daemon's group), or take them from the environment ("\${DAILY_API_KEY}", "\${SLACK_WEBHOOK_URL}"; a <NAME>_FILE names a secrets file)`
  );
}

/**
 * Read and validate a JSON or YAML config file. `notes`, when given, gets what is worth saying
 * about the file itself (exposedConfigNote).
 */
export function loadConfigFile(path: string, env: NodeJS.ProcessEnv = process.env, notes?: string[]): FileConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read config file ${path}: ${readProblem(err)}`);
  }
  text = withoutBom(text);
  let raw: unknown;
  const ext = extname(path).toLowerCase();
  if (ext === '.json') {
    try {
      raw = JSON.parse(text);
    } catch (err) {
      throw new ConfigError(`config file ${path} is not valid JSON${jsonProblem(text, (err as Error).message)}`);
    }
    return withNotes(relativeToFile(validateFileConfig(raw, path, env), path), path, raw, notes);
  }
  try {
    // merge keys (`<<: *anchor`, YAML 1.1, as Compose files use them) so sinks can share settings
    raw = parseYaml(text, { prettyErrors: false, merge: true });
  } catch (err) {
    const msg = (err as Error).message.split('\n')[0];
    const pos = (err as { pos?: [number, number] }).pos;
    // YAML reads a plain value starting with * as an alias: most likely a room pattern left unquoted
    const alias = /^Unresolved alias/.test(msg ?? '') ? ' (a value that starts with * must be quoted in YAML, e.g. rooms: ["*-retro"])' : '';
    throw new ConfigError(`config file ${path} is not valid YAML${pos ? ` at ${lineCol(text, pos[0])}` : ''}: ${msg}${alias}`);
  }
  return withNotes(relativeToFile(validateFileConfig(raw, path, env), path), path, raw, notes);
}

/** The file's config, its notes pushed to `notes` (after validation: a file refused has none). */
function withNotes(cfg: FileConfig, path: string, raw: unknown, notes: string[] | undefined): FileConfig {
  const note = notes ? exposedConfigNote(path, raw) : undefined;
  if (note) notes!.push(note);
  return cfg;
}

/**
 * A relative `state` or `deadLetter` path in a config file is relative to the file, as a path on
 * the command line is to the working directory: under systemd that is /, and `state: state.json`
 * beside /etc/presence-watcher/watcher.yaml meant that directory, not /state.json.
 */
function relativeToFile(cfg: FileConfig, file: string): FileConfig {
  const dir = dirname(resolvePath(file));
  // (a trailing slash is kept: it says the path names a directory, which the daemon refuses by name)
  const at = (p: string | undefined) => (p === undefined || isAbsolute(p) ? p : resolvePath(dir, p) + (p.endsWith('/') ? '/' : ''));
  const state = at(cfg.state);
  const deadLetter = at(cfg.deadLetter);
  return { ...cfg, ...(state !== undefined ? { state } : {}), ...(deadLetter !== undefined ? { deadLetter } : {}) };
}

/**
 * Where a value starts that no JSON value starts like (V8's "Unexpected token" gives no position):
 * outside strings, the first character after a colon, a comma or an opening bracket that is not
 * a quote, a digit, a minus, a bracket, or the t, f or n of true, false and null.
 */
function unquotedValue(text: string): number | undefined {
  let inString = false;
  let afterPunct = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
      continue;
    }
    if (/\s/.test(c)) continue;
    if (afterPunct && !/["\d\-[{\]}tfn]/.test(c)) return i;
    afterPunct = ':,[{'.includes(c);
    if (c === '"') inString = true;
  }
  return undefined;
}

/** "line L, column C" (from 1) of `offset` in `text`. */
function lineCol(text: string, offset: number): string {
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  return `line ${line}, column ${offset - before.lastIndexOf('\n')}`;
}

/**
 * Where and why a JSON config file does not parse, without a character of the file itself: V8's
 * message for an unexpected token quotes the text around it, which in a config file can be a
 * secret left unquoted (`"apiKey": sk_live…`).
 */
function jsonProblem(text: string, v8: string): string {
  let at = /at position (\d+)/.exec(v8)?.[1];
  let what: string;
  if (/^Unexpected end of JSON input/.test(v8)) {
    what = 'it ends too soon (a bracket or a quote not closed?)';
    at = undefined;
  } else if (/^Unexpected token/.test(v8)) {
    what = 'unexpected character';
    at ??= unquotedValue(text)?.toString();
  } else {
    // the rest of V8's messages name what was expected, not what was found
    what = v8.replace(/ at position \d+.*$/s, '').replace(/ in JSON$/, '').replace(/^./, (c) => c.toLowerCase());
  }
  if (at === undefined) return `: ${what}`;
  const offset = Number(at);
  const c = text[offset];
  const prev = text.slice(0, offset).trimEnd().at(-1);
  const hint =
    c === '/' || c === '#'
      ? ' (JSON allows no comments: write the file as YAML, a .yaml file, which reads this JSON as it is and allows # comments)'
      : prev === ',' && (c === '}' || c === ']')
        ? ' (a comma before a closing bracket: JSON allows none)'
        : c !== undefined && /[A-Za-z_$]/.test(c)
          ? ' (text must be in double quotes)'
          : '';
  return ` at ${lineCol(text, offset)}: ${what}${hint}`;
}

/** Parse a `--sink` spec: `stdout` (`stdout:json`), `stdout:text`, `webhook:<url>` or `slack:<url>`. */
export function parseSinkSpec(spec: string): SinkConfig {
  if (spec === 'stdout' || spec === 'stdout:json') return { type: 'stdout' };
  if (spec === 'stdout:text') return { type: 'stdout', format: 'text' };
  if (spec.startsWith('stdout:')) throw new ConfigError(`--sink "${spec}": stdout's format is json (the default) or text${didYouMean(spec.slice('stdout:'.length), ['json', 'text'])}`);
  const m = /^(webhook|slack):(.*)$/s.exec(spec);
  if (!m) throw new ConfigError(`--sink "${spec.split(':')[0]}…": expected stdout, stdout:text, webhook:<url> or slack:<url>${sinkSpecHint(spec)}`);
  const type = m[1] as 'webhook' | 'slack';
  const url = m[2]!;
  if (url.trim() === '') throw new ConfigError(`--sink ${type}: the URL is empty (an unset shell variable, as in --sink ${type}:$URL?)`);
  if (UNEXPANDED.test(url.trim())) throw new ConfigError(`--sink ${type}:…: the URL is a variable's reference that was never expanded: ${NOT_EXPANDED_WHERE}; give the URL itself`);
  const problem = httpUrlProblem(url);
  if (problem) throw new ConfigError(`--sink ${type}:…: the URL ${problem}`);
  return { type, url };
}

/**
 * What a `--sink` spec that names no kind most likely meant: a URL given bare (the kind goes first;
 * Slack's own host says which), or a kind misspelt (`webhok:`). Never repeats the URL: it can hold
 * a token.
 */
function sinkSpecHint(spec: string): string {
  if (/^https?:\/\//i.test(spec)) {
    const slack = /^https?:\/\/hooks\.slack\.com[/:]/i.test(spec);
    return slack ? ' (a Slack webhook URL goes after the kind: slack:https://hooks.slack.com/…)' : ' (a URL goes after its kind: webhook:https://… or slack:https://…)';
  }
  const kind = spec.split(':')[0]!;
  const meant = closestName(kind, SINK_KINDS);
  return meant === undefined ? '' : ` (did you mean ${meant}${meant === 'stdout' ? '' : ':<url>'}?)`;
}

const SINK_KINDS = ['stdout', 'webhook', 'slack'];

/** `host:port`, `:port` or `port`; no host means loopback. */
export function parseHostPort(text: string, what = '--health'): { host: string; port: number } {
  const m = /^(?:(\[[^\]]+\]|[^:]*):)?(\d+)$/.exec(text.trim());
  const port = m ? Number(m[2]) : NaN;
  if (m && !(port <= 65535)) throw new ConfigError(`${what} "${text}": port ${m[2]} is out of range (0–65535)`);
  if (!m || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new ConfigError(`${what} "${text}": expected host:port, :port or port (e.g. 127.0.0.1:9464)`);
  }
  const host = m[1] ? m[1].replace(/^\[|\]$/g, '') : '127.0.0.1';
  return { host, port };
}

/** `parseHostPort`'s inverse: `host:port`, an IPv6 host in brackets, as in a URL (":::9464" read as nothing). */
export function formatHostPort(a: { host: string; port: number }): string {
  return `${a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port}`;
}

/** Everything the daemon needs, resolved from file, flags and environment. */
export interface DaemonConfig {
  apiKey: string;
  /** Where the key came from, for --check-config: "the config file's apiKey", "DAILY_API_KEY" or "DAILY_API_KEY_FILE (<path>)". Never the key. */
  apiKeyFrom?: string;
  apiUrl: string;
  rooms: string[];
  allRooms: boolean;
  intervalMs: number;
  ignoreInitial: boolean;
  sinks: SinkConfig[];
  webhookSecret: string | undefined;
  /** `--state`, its symbolic links followed: the state, its outbox journal and its lock live beside the file it names. */
  statePath: string | undefined;
  /** `--state` as given, when it is a symbolic link (to say so at start): `statePath` is where it points. */
  stateLink?: string;
  /** Write the state at most this often (0: after every poll that changed it). */
  saveEveryMs: number;
  leaveGraceMs: number;
  /** What makes two sessions one person's (reconnects): userId and name, or the name alone. */
  samePerson: SamePersonRule;
  logLevel: LogLevelName;
  /** Undefined: text on a terminal, JSON otherwise (`defaultLogFormat`). */
  logFormat: LogFormat | undefined;
  health: { host: string; port: number } | undefined;
  /**
   * PRESENCE_HEALTH's address when `--health` (or the file's `health`) replaced it: the Docker
   * image's HEALTHCHECK probes that address's port, whatever the flag says (`healthNotes`).
   */
  healthFromEnv?: { host: string; port: number };
  /** What is worth saying about the command line and the config file themselves (a flag given two values, exposedConfigNote): logged at start, listed by --check-config. */
  fileNotes?: string[];
  maxRps: number;
  limit: number | undefined;
  deadLetterPath: string | undefined;
  queueCap: number;
  outboxCap: number;
  drainTimeoutMs: number;
  requestTimeoutMs: number;
  /** The largest answer accepted from Daily. */
  maxBodyBytes: number;
}

export const DEFAULTS = {
  apiUrl: DEFAULT_API_URL,
  intervalMs: 15_000,
  maxRps: 5,
  queueCap: 10_000,
  outboxCap: 100_000,
  drainTimeoutMs: 10_000,
  requestTimeoutMs: 10_000,
  maxBodyBytes: DEFAULT_MAX_BODY_BYTES,
  logLevel: 'info' as const,
};

/** No request to Daily or to a receiver completes in less; a shorter timeout is a mistake, most likely seconds written as a bare number. */
export const MIN_TIMEOUT_MS = 100;

/**
 * A duration under its minimum. A bare number is milliseconds, which reads as seconds to many: say
 * so, as a conditional, since by now "15" and "15ms" are the same number and the hint cannot tell
 * which one was written.
 */
export function tooShort(what: string, ms: number, advice: string): string {
  return `${what} ${ms}ms is too short: ${advice}${ms >= 1 ? secondsMeant(ms) : ''}`;
}

/** The hint for a bare number of milliseconds that was most likely meant as seconds. */
function secondsMeant(ms: number): string {
  return `; if you meant ${ms} second${ms === 1 ? '' : 's'}, write "${ms}s" (a number with no unit is milliseconds)`;
}

/**
 * Durations that are allowed but most likely a unit slip (`--leave-grace 30`, thirty milliseconds):
 * what each then does, for the daemon to log at start and `--check-config` to list. Not errors: a
 * leave grace under an interval still holds a leave for one poll, which someone may want.
 */
export function durationNotes(cfg: Pick<DaemonConfig, 'leaveGraceMs' | 'saveEveryMs' | 'intervalMs'>): string[] {
  const notes: string[] = [];
  const every = formatDuration(cfg.intervalMs);
  if (cfg.leaveGraceMs > 0 && cfg.leaveGraceMs < 1000 && cfg.leaveGraceMs <= cfg.intervalMs) {
    notes.push(`leave grace ${cfg.leaveGraceMs}ms is no longer than a poll: a leave waits for one more poll (${every}) whatever the grace${secondsMeant(cfg.leaveGraceMs)}`);
  }
  if (cfg.saveEveryMs > 0 && cfg.saveEveryMs < 1000 && cfg.saveEveryMs <= cfg.intervalMs) {
    notes.push(`--save-every ${cfg.saveEveryMs}ms spaces nothing out: with a poll every ${every} the state is written after every poll that changes it, as without it${secondsMeant(cfg.saveEveryMs)}`);
  }
  return notes;
}

/**
 * In room mode, every entry of a sink's `rooms` filter must name (or, with `*`, match) a watched room:
 * one that does not is a typo or a room left out of `rooms`, and that sink would wait in vain.
 */
function checkSinkRooms(sink: SinkConfig, index: number, watched: readonly string[]): void {
  for (const entry of sink.rooms ?? []) {
    if (watched.some(nameFilter([entry]))) continue;
    const shown = watched.length > 6 ? `${watched.slice(0, 6).join(', ')} and ${watched.length - 6} more` : watched.join(', ');
    const hint = entry.includes('*') ? undefined : closestName(entry, watched);
    throw new ConfigError(
      `sinks[${index}].rooms: ${entry.includes('*') ? `"${entry}" matches none of the watched rooms` : `"${entry}" is not a watched room`}` +
        `${hint === undefined ? '' : ` (did you mean "${hint}"?)`}, so this sink would never get its events; watching ${shown}` +
        ' (--room, or rooms in the config file)',
    );
  }
}

/** An ignore list entry of stars alone matches every named person: the sink would hear about nobody but the nameless. */
function checkIgnoreUsers(list: readonly string[] | undefined, where: string): void {
  const all = list?.find((u) => /^\*+$/.test(u));
  if (all !== undefined) {
    throw new ConfigError(`${where}: "${all}" matches every person with a name or user id, so nothing about them would be delivered: list the people to ignore (e.g. "*Bot"), or remove the sink`);
  }
}

/**
 * The sinks, each with the top-level `events` and `ignoreUsers` where it has no setting of its own
 * (a sink's own wins; its `ignoreUsers: []` hears about everyone).
 */
export function withSinkDefaults(sinks: readonly SinkConfig[], defaults: Pick<FileConfig, 'events' | 'ignoreUsers'>): SinkConfig[] {
  const { events, ignoreUsers } = defaults;
  return sinks.map((s) => ({
    ...s,
    ...(s.events === undefined && events ? { events: [...events] as typeof events } : {}),
    ...(s.ignoreUsers === undefined && ignoreUsers?.length ? { ignoreUsers: [...ignoreUsers] } : {}),
  }));
}

/** Merge file settings with flag settings (flags win) and the environment, and check the whole. */
export function resolveConfig(file: FileConfig, flags: FileConfig, env: NodeJS.ProcessEnv): DaemonConfig {
  const m: FileConfig = { ...file };
  // what to watch is one setting: --room or --all-rooms on the command line replaces the file's
  // choice whichever it was (the file's rooms with --all-rooms were "give either …, not both")
  if (flags.rooms !== undefined || flags.allRooms !== undefined) {
    delete m.rooms;
    delete m.allRooms;
    // the file's limit went with its rooms: GET /presence takes none
    if (flags.allRooms === true) delete m.limit;
  }
  for (const [k, v] of Object.entries(flags)) if (v !== undefined) (m as Record<string, unknown>)[k] = v;

  const allRooms = m.allRooms === true;
  const rooms = [...new Set(m.rooms ?? [])];
  if (allRooms && rooms.length > 0) throw new ConfigError('give either --room (rooms) or --all-rooms (allRooms), not both');
  if (allRooms && m.limit !== undefined) throw new ConfigError('--limit (limit) applies to --room only: GET /presence, which --all-rooms polls, takes no parameters');
  if (rooms.includes('*')) {
    throw new ConfigError('--room "*" (rooms) is not a room name: to watch every room of the domain use --all-rooms (allRooms: true), with a sink rooms filter such as ["team-*"] to route some of them');
  }
  for (const r of rooms) {
    const url = roomAsUrl(r);
    if (url) throw new ConfigError(`--room "${url.shown}" (rooms) is a room's URL, not its name: give ${url.name === undefined ? 'the name, the last part of its URL' : `--room ${/^[\w.-]+$/.test(url.name) ? url.name : JSON.stringify(url.name)}`}`);
  }
  if (!allRooms && rooms.length === 0) {
    throw new ConfigError('nothing to watch: give --room <name> (repeatable) or --all-rooms');
  }
  try {
    checkProxyEnv(env);
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
  // the file DAILY_API_KEY_FILE names, when that is where the key comes from (envValue's rule)
  const keyFile = m.apiKey === undefined && !env.DAILY_API_KEY ? env.DAILY_API_KEY_FILE || undefined : undefined;
  const rawKey = m.apiKey ?? envValue(env, 'DAILY_API_KEY');
  if (!rawKey || rawKey.trim() === '') {
    // set to nothing is another slip than not set: a compose file's ${DAILY_API_KEY} of a variable
    // its shell did not have, a `DAILY_API_KEY=` line of an env file, a config's empty apiKey
    if (m.apiKey !== undefined) throw new ConfigError('apiKey is empty: give your Daily API key (dashboard → Developers), or leave apiKey out and set DAILY_API_KEY');
    if (rawKey !== undefined) {
      throw new ConfigError(
        'DAILY_API_KEY is set but empty: give it your Daily API key (dashboard → Developers). A compose file\'s ${DAILY_API_KEY} is empty when the shell that ran compose did not have it; or name a file holding the key in DAILY_API_KEY_FILE',
      );
    }
    throw new ConfigError('DAILY_API_KEY is not set: export your Daily API key (dashboard → Developers) as DAILY_API_KEY, or name a file holding it in DAILY_API_KEY_FILE');
  }
  let apiKey: string;
  try {
    // a trailing line break (a secret file, an --env-file) is trimmed here; the key itself never shows
    apiKey = normalizeApiKey(rawKey);
  } catch (err) {
    const from = m.apiKey !== undefined ? 'apiKey' : keyFile ? 'DAILY_API_KEY (read from the file DAILY_API_KEY_FILE names)' : 'DAILY_API_KEY';
    throw new ConfigError(`${from}: ${(err as Error).message}`);
  }
  if (m.requestTimeout !== undefined && m.requestTimeout < MIN_TIMEOUT_MS) {
    throw new ConfigError(tooShort('request timeout', m.requestTimeout, 'give the Daily API some time, e.g. 10s (the default)'));
  }
  m.sinks?.forEach((s, i) => {
    if (s.type === 'slack' && s.messageInterval !== undefined && s.messageInterval < SLACK_MIN_INTERVAL_MS) {
      throw new ConfigError(tooShort(`sinks[${i}].messageInterval`, s.messageInterval, 'Slack takes about one message a second: 1s at the least, e.g. 1m to group a standup\'s arrivals'));
    }
    if (s.type !== 'stdout' && s.timeout !== undefined && s.timeout < MIN_TIMEOUT_MS) {
      throw new ConfigError(tooShort(`sinks[${i}].timeout`, s.timeout, 'give the receiver some time, e.g. 15s (the default)'));
    }
  });
  if (!allRooms) m.sinks?.forEach((s, i) => checkSinkRooms(s, i, rooms));
  checkIgnoreUsers(m.ignoreUsers, '--ignore-user (ignoreUsers)');
  m.sinks?.forEach((s, i) => checkIgnoreUsers(s.ignoreUsers, `sinks[${i}].ignoreUsers`));
  const intervalMs = m.interval ?? DEFAULTS.intervalMs;
  if (intervalMs < 100) throw new ConfigError(tooShort('interval', intervalMs, "the minimum is 100ms (Daily's data lags up to 15s anyway)"));
  const healthSpec = m.health ?? (env.PRESENCE_HEALTH || undefined);
  const health = healthSpec === undefined ? undefined : parseHostPort(healthSpec, m.health !== undefined ? '--health' : 'PRESENCE_HEALTH');
  let healthFromEnv: { host: string; port: number } | undefined;
  if (m.health !== undefined && env.PRESENCE_HEALTH) {
    try {
      healthFromEnv = parseHostPort(env.PRESENCE_HEALTH, 'PRESENCE_HEALTH');
    } catch {
      // replaced by --health, so never used: a slip in it does not stop the daemon
    }
  }
  const sinks = withSinkDefaults(m.sinks?.length ? m.sinks : [{ type: 'stdout' as const }], m);
  const webhookSecret = m.webhookSecret ?? webhookSecretFromEnv(env, sinks);
  const apiUrl = m.apiUrl ?? (env.DAILY_API_URL || undefined) ?? DEFAULTS.apiUrl;
  if (httpUrlProblem(apiUrl)) throw new ConfigError(`DAILY_API_URL "${apiUrl}" is not an http(s) URL`);
  const inClear = dailyInClear(new URL(apiUrl));
  if (inClear) throw new ConfigError(`${m.apiUrl !== undefined ? '--api-url (apiUrl)' : 'DAILY_API_URL'}: ${inClear}`);
  // a directory where a file belongs: the lock, the outbox and the temp file are named after the
  // path, and would have gone inside a directory nobody creates ("cannot create lock …/.lock")
  for (const [label, path, example] of [
    ['--state (state)', m.state, 'state.json'],
    ['--dead-letter (deadLetter)', m.deadLetter, 'dead-letter.ndjson'],
  ] as const) {
    if (path !== undefined && path.endsWith('/')) throw new ConfigError(`${label} ${path} ends in "/", so it names a directory: give a file in it, e.g. ${path}${example}`);
  }
  if (m.drainTimeout !== undefined && m.drainTimeout > 0 && m.drainTimeout < MIN_TIMEOUT_MS) {
    throw new ConfigError(tooShort('drain timeout', m.drainTimeout, 'at a stop, sinks get this long to deliver what is queued, e.g. 10s (the default); 0 stops without waiting'));
  }
  if (m.saveEvery !== undefined && m.state === undefined) {
    throw new ConfigError('--save-every (saveEvery) applies with --state only: without a state file nothing is saved');
  }
  if (m.saveEvery !== undefined && m.saveEvery > MAX_SAVE_EVERY_MS) {
    throw new ConfigError(`--save-every (saveEvery) ${formatDuration(m.saveEvery)} is too long: at most 24h (the outbox journal keeps every event since the last save, and a restart replays them)`);
  }
  const statePath = m.state === undefined ? undefined : followLinks(m.state);
  return {
    apiKey,
    apiKeyFrom: m.apiKey !== undefined ? "the config file's apiKey" : keyFile ? `DAILY_API_KEY_FILE (${keyFile})` : 'DAILY_API_KEY',
    apiUrl,
    rooms,
    allRooms,
    intervalMs,
    ignoreInitial: m.ignoreInitial ?? false,
    sinks,
    webhookSecret,
    statePath,
    ...(statePath !== m.state ? { stateLink: m.state } : {}),
    saveEveryMs: m.saveEvery ?? 0,
    leaveGraceMs: m.leaveGrace ?? 0,
    samePerson: m.samePerson ?? 'userId',
    logLevel: m.logLevel ?? DEFAULTS.logLevel,
    logFormat: m.logFormat,
    health,
    ...(healthFromEnv ? { healthFromEnv } : {}),
    maxRps: m.maxRps ?? DEFAULTS.maxRps,
    limit: m.limit,
    deadLetterPath: m.deadLetter,
    queueCap: m.queueCap ?? DEFAULTS.queueCap,
    outboxCap: m.outboxCap ?? DEFAULTS.outboxCap,
    drainTimeoutMs: m.drainTimeout ?? DEFAULTS.drainTimeoutMs,
    requestTimeoutMs: m.requestTimeout ?? DEFAULTS.requestTimeoutMs,
    maxBodyBytes: m.maxBody ?? DEFAULTS.maxBodyBytes,
  };
}
