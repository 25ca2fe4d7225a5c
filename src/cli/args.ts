import { parseArgs, type ParseArgsConfig } from 'node:util';
import { closestName, ConfigError, didYouMean, EVENT_TYPES, httpUrlProblem, LOG_LEVEL_NAMES, MIN_TIMEOUT_MS, parseSinkSpec, tooShort, type FileConfig, type LogLevelName } from '../config.js';
import { LOG_FORMATS, type LogFormat } from '../log.js';
import { SAME_PERSON_RULES } from '../same-user.js';
import { joinSecrets } from '../sinks/signing.js';
import { parseDuration, partOfMs } from '../util/duration.js';
import type { ReplayCommand } from './replay.js';
import { parseSize } from '../util/size.js';

/** The subcommands; anything else is the watcher's own flags. */
const COMMANDS = ['simulate', 'demo', 'replay'];
const THE_COMMANDS = `the commands are ${COMMANDS.slice(0, -1).join(', ')} and ${COMMANDS.at(-1)}`;

export const HELP = `presence-watcher: real-time join/leave/update events for Daily video rooms

Usage:
  presence-watcher --room <name> [--room <name> …] [options]
  presence-watcher --all-rooms [options]
  presence-watcher simulate [--port N] [--rooms N] [--churn R]
  presence-watcher demo
  presence-watcher replay <dead-letter.ndjson> [--sink <spec> …]
  presence-watcher help [simulate|demo|replay]      (or --help; version, or --version)

Polls Daily's presence API (GET /rooms/:name/presence, or GET /presence for the whole domain),
diffs consecutive snapshots and writes one JSON event per line to stdout, or delivers them to
webhooks and Slack. A failed request never produces a leave.

Environment:
  DAILY_API_KEY            Daily API key (required to watch Daily)
  DAILY_API_URL            API base URL (default https://api.daily.co/v1)
  PRESENCE_WEBHOOK_SECRET  signing secret for webhook sinks (keeps it out of ps and shell history)
  PRESENCE_HEALTH          default for --health (the Docker image sets 0.0.0.0:9464, where its
                           HEALTHCHECK probes: in a container, move the endpoint with this)
  <NAME>_FILE              a file holding the value instead (Docker and Kubernetes secrets): for
                           DAILY_API_KEY, PRESENCE_WEBHOOK_SECRET and a config file's \${NAME}
  HTTPS_PROXY, HTTP_PROXY  send requests (to Daily, webhooks, Slack) through this proxy;
  NO_PROXY                 hosts to reach directly

What to watch:
  --room <name>            watch a room by its name (standup, not https://acme.daily.co/standup);
                           repeatable. One request per room per interval.
  --all-rooms              watch every room of the domain with GET /presence: one request per
                           interval whatever the number of rooms (with the default --max-rps,
                           --room tops out at 75 rooms every 15s)
  --interval <duration>    poll interval: "15s", "500ms", "2m" or milliseconds (default 15s;
                           Daily's data lags up to 15s, polling faster gains little)
  --ignore-initial         no joins for people already present at the first snapshot
  --max-rps <n>            request budget for the Daily API, requests/s (default 5 of Daily's 20,
                           which your other software shares)
  --limit <n>              room mode: ask Daily for at most n participants per room

Where events go:
  --sink <spec>            stdout | stdout:text | webhook:<url> | slack:<url>; repeatable (default
                           stdout: NDJSON; stdout:text is a line a person reads, for --once). A
                           webhook gets one request an event, up to 4 at once (config: concurrency)
  --events <types>         deliver only these: join, leave, update, comma-separated ("--events join"
                           to alert on arrivals only); every sink, unless its config lists its own
  --ignore-user <name>     no events about a person whose userName or userId is this (your own bot,
                           a recorder); * matches any characters ("*Bot"); case counts (a name that
                           differs only in case is warned of); repeatable. In a config file:
                           ignoreUsers, for every sink, or per sink (overrides)
  --webhook-secret <s>     sign webhook deliveries (Standard Webhooks; whsec_<base64> or raw).
                           Rotating? Repeat it (or put "whsec_new whsec_old" in the env var): each
                           delivery carries a signature per secret, so receivers holding either
                           accept it; drop the old one once every receiver has the new
  --dead-letter <file>     append undeliverable events to this NDJSON file (default: log them);
                           "presence-watcher replay <file>" sends them again later
  --queue-cap <n>          events held per sink before the oldest go to the dead-letter (10000);
                           one poll's events are held whole even past it
  --drain-timeout <dur>    on SIGINT/SIGTERM/SIGHUP, time to deliver what is queued (default 10s)

One shot (cron, scripts, "who is in standup now?"):
  --once                   take one snapshot of every target, deliver its events, save --state,
                           exit: 0 when all was delivered, 1 otherwise. With --state, each run
                           reports what changed since the last (joins, leaves, updates)
  --once-timeout <dur>     give up (exit 1) without a complete snapshot after this long (default 30s,
                           plus the time --max-rps needs to poll every --room once); a room Daily
                           does not know fails at once, after the other rooms' events

Durability:
  --state <file>           persist snapshots; on start, diff against them (no repeat joins,
                           leaves for people who left while stopped). One file per API: a state
                           polled from another --api-url is refused
  --save-every <dur>       with --state: write the state file at most this often (default: after
                           every poll that changed it). For a large domain: the whole file
                           (~200 B a person) is rewritten each time. The outbox journal holds
                           what happened since, so a crash repeats and loses nothing
  --leave-grace <dur>      report a leave only after the person was absent this long (default 0);
                           with --state the grace carries across restarts and --once runs. A
                           reconnect within it (a new session, same userId and name) is paired
                           with the old session's end: both marked sameUserAs, and Slack and
                           text lines skip them (as they skip a second device's join)
  --same-person <rule>     what makes two sessions one person's, for reconnects: userId (default:
                           the same userId, from a meeting token, and the same name) or name (the
                           same name: rooms joined without tokens; two people of one name in a
                           room count as one)
  --outbox-cap <n>         with --state: undelivered events kept for re-delivery at most (100000);
                           past it a new poll's events go to the dead-letter

Operations:
  --config <file>          JSON or YAML config file; flags override it; "\${VAR}" reads env
  --check-config           check the config as the daemon would at start (flags, file, environment,
                           sinks and secrets, state file, outbox, dead-letter), print what it would
                           run and exit: 0 when it would start, 2 naming the problem. Changes and
                           sends nothing: for a deploy pipeline, before the restart
  --api-url <url>          Daily API base (default https://api.daily.co/v1)
  --request-timeout <dur>  per-request deadline for Daily (default 10s)
  --max-body <size>        largest answer accepted from Daily: "64MiB", "100MB" or bytes (default
                           32MiB, ~140,000 people in GET /presence)
  --health <host:port>     serve GET /healthz, GET /livez (for liveness probes) and GET /metrics
                           (Prometheus); a bare port binds 127.0.0.1
  --log-level <level>      trace|debug|info|warn|error|fatal|silent (default info); logs go to
                           stderr, secrets redacted
  --log-format <f>         json (a JSON object a line, for log collectors) | text (a line a person
                           reads); default: text when stderr is a terminal, else json
  -h, --help               show this help
  -V, --version            print the version

Exit codes: 0 after SIGINT/SIGTERM/SIGHUP and a clean drain (--once: all delivered); 1 on a fatal
runtime error (API key rejected, every sink disabled, the state lock taken over by another daemon;
--once: no snapshot in time, an event not delivered); 2 on a usage or configuration error. A second
signal exits at once.

Examples:
  DAILY_API_KEY=… presence-watcher --room standup --room retro
  DAILY_API_KEY=… presence-watcher --all-rooms --events join --sink slack:https://hooks.slack.com/services/…
  presence-watcher demo          # simulated domain, no account or network needed
`;

export const SIMULATE_HELP = `presence-watcher simulate: a local Daily-compatible presence API

Usage: presence-watcher simulate [--port N] [--host H] [--rooms N] [--churn R] [--reconnects S] [--participants N] [--seed N] [--faults S]

  --port <n>          port to listen on (default 8787; 0 picks a free one)
  --host <h>          address to bind (default 127.0.0.1)
  --rooms <n>         number of rooms (default 5)
  --churn <rate>      random joins/leaves/renames per second (default 1)
  --reconnects <s>    share of departures (0 to 1) that are reconnects: the person back at once in
                      a new session with the same userId, as Daily shows a dropped connection
                      (default 0)
  --participants <n>  people present at start (default 6); churn keeps about that many present,
                      and at least 2 a room
  --seed <n>          random seed, for reproducible runs (default 1)
  --faults <s>        share of requests (0 to 1) answered with a random passing fault: a 500, 502,
                      503 or 504, a 429 with Retry-After: 1, a reset connection, a 200 cut off
                      halfway or not JSON, the answer 2 s late, half a room's list (default 0).
                      Drawn apart from the presence: a seed gives the same people either way

Serves GET /v1/rooms/:name/presence and GET /v1/presence with Bearer auth. Prints the URL and key
to use: DAILY_API_URL=<url> DAILY_API_KEY=<key> presence-watcher --all-rooms
`;

export const DEMO_HELP = `presence-watcher demo: watch a built-in simulated Daily domain

Usage: presence-watcher demo [--interval <dur>] [--rooms N] [--churn R] [--faults S] [--duration <dur>] [--log-level L] [--log-format F]

Starts the simulator in-process and the watcher against it, printing events as NDJSON on stdout.
No account and no network needed. Stop it with Ctrl-C.

  --interval <dur>    poll interval (default 1s)
  --rooms <n>         rooms in the simulated domain (default 4)
  --churn <rate>      changes per second (default 2); one departure in five is a reconnect (the
                      same person back in a new session): its leave and join come marked sameUserAs
  --faults <s>        share of requests (0 to 1) the simulated API fails at random (5xx, 429,
                      resets, cut-off and late answers: "presence-watcher help simulate" lists
                      them). The warnings on stderr are the watcher retrying; no event comes of them
  --duration <dur>    stop by itself after this long (default: run until Ctrl-C)
`;

export const REPLAY_HELP = `presence-watcher replay: deliver dead-lettered events again

Usage: presence-watcher replay <dead-letter.ndjson> [--sink <spec> …] [options]

Reads a dead-letter file (--dead-letter of the daemon: one {at, sink, reason, event} per line) and
delivers its events, each once and with its original id, after fixing what made a receiver refuse
them (a wrong secret, a gone URL). With --config, each event goes back only to the sink(s) it was
dead-lettered for (found by name, or by kind and place: "webhook-2"), since Slack and stdout would
repeat what they already delivered; with --sink, every event goes to every sink named. Webhook
receivers dedupe on the id (webhook-id). Retries as the daemon does. A replay still running after
15 s says on stderr how far it has got, every 15 s; the last line sums it up.

  --sink <spec>            stdout | stdout:text | webhook:<url> | slack:<url>; repeatable; every
                           event to each (default: the sinks of --config, with their filters)
  --webhook-secret <s>     sign webhook deliveries (or env PRESENCE_WEBHOOK_SECRET[_FILE]); repeatable
                           with whsec_ secrets, one signature each (a rotation)
  --config <file>          take the sinks and webhookSecret from the daemon's config file
  --dead-letter <file>     where events that fail again go (default: logged)
  --drain-timeout <dur>    how long the whole replay may deliver and retry; what is left then goes
                           to --dead-letter (default 5m: raise it for a large file to Slack,
                           which takes ~450 events/s)
  --log-level <level>      trace|debug|info|warn|error|fatal|silent (default warn)
  --log-format <f>         json | text (default: text when stderr is a terminal, else json)
  --dry-run                send nothing: check the file, the sinks and where each event would go,
                           and print how many events each sink would be sent

Exit codes: 0 when every event was delivered (with --dry-run: when the replay could start); 1 when
some failed again (dead-lettered, counted on stderr); 2 on a usage error or a file that is not a
dead-letter file; 130/143 when Ctrl-C or SIGTERM stopped it (it says how far it got; the file is
never changed).
`;

export type Command =
  | { kind: 'help'; text: string }
  | { kind: 'version' }
  | { kind: 'run'; flags: FileConfig; configPath: string | undefined; once: { timeoutMs: number | undefined } | undefined; check: boolean; notes: string[] }
  | { kind: 'simulate'; port: number; host: string; rooms: number; churn: number; reconnects: number; participants: number; seed: number; faults: number }
  | { kind: 'demo'; intervalMs: number; rooms: number; churn: number; faults: number; durationMs: number | undefined; logLevel: LogLevelName; logFormat: LogFormat | undefined }
  | ({ kind: 'replay' } & ReplayCommand);

type Values = Record<string, string | boolean | (string | boolean)[] | undefined>;

function parse(args: string[], options: NonNullable<ParseArgsConfig['options']>, command?: string): { values: Values; positionals: string[]; notes: string[] } {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args, options, strict: true, allowPositionals: true, tokens: true });
  } catch (err) {
    const e = err as Error & { code?: string };
    // "--limit -1": parseArgs cannot tell a negative number from a forgotten value
    const dash = /^Option '(--[^']+)' argument is ambiguous/.exec(e.message);
    if (dash) {
      const flag = dash[1]!;
      const i = args.indexOf(flag);
      const next = i >= 0 ? args[i + 1] : undefined;
      const negative = next !== undefined && /^-[\d.]/.test(next);
      throw new ConfigError(
        negative
          ? `${flag} is followed by "${next}", which looks like an option: a value starting with "-" goes as ${flag}=${next}`
          : `${flag} needs a value, but is followed by the option "${next}"`,
      );
    }
    const m = /^(Unknown option '[^']+')|^(Option '[^']+'[^.]*)/.exec(e.message);
    // a flag spelt as the config file's setting (--allRooms, --max_rps) or a letter off (--rooms)
    const unknown = /^Unknown option '--([^'=]+)'/.exec(e.message)?.[1];
    const meant = unknown === undefined ? undefined : closestName(unknown, Object.keys(options));
    // the watcher's flag given to a subcommand (replay --events, demo --room): say whose it is
    const theirs = command !== undefined && meant === undefined && unknown !== undefined && Object.hasOwn(DAEMON_OPTIONS, unknown);
    const own = Object.keys(options).filter((k) => k !== 'help').map((k) => `--${k}`).join(', ');
    const whose = theirs ? `: --${unknown} is the watcher's option, not ${command}'s (${command} takes ${own})` : '';
    throw new ConfigError(m ? `${m[1] ?? m[2]!}${meant ? ` (did you mean --${meant}?)` : whose}` : e.message.split('. ')[0]!);
  }
  // a repeated flag keeps its last value, but two config files are not merged: `--config base.yaml
  // --config prod.yaml` ran with prod.yaml alone, base.yaml ignored without a word
  const configs = [...new Set((parsed.tokens ?? []).flatMap((t) => (t.kind === 'option' && t.name === 'config' && typeof t.value === 'string' ? [t.value] : [])))];
  if (configs.length > 1) throw new ConfigError(`--config is given ${configs.length === 2 ? 'twice' : `${configs.length} times`} (${configs.join(', ')}): config files are not merged; give one --config, and flags to override it`);
  // any other flag of one value keeps its last, as a wrapper script's defaults before "$@" rely on;
  // given two different values, which one won is said at start and by --check-config (--state
  // a.json … --state b.json wrote b.json without a word)
  const given = new Map<string, string[]>();
  for (const t of parsed.tokens ?? []) {
    const o = t.kind === 'option' ? options[t.name] : undefined;
    if (t.kind !== 'option' || o?.type !== 'string' || o.multiple || typeof t.value !== 'string' || t.name.includes('secret')) continue;
    const values = given.get(t.name) ?? [];
    values.push(t.value);
    given.set(t.name, values);
  }
  const notes = [...given]
    .filter(([, values]) => new Set(values).size > 1)
    .map(([name, values]) => `--${name} is given ${values.length === 2 ? 'twice' : `${values.length} times`} (${values.map((v) => JSON.stringify(v)).join(', ')}): the last one, ${JSON.stringify(values.at(-1))}, is used`);
  return { values: parsed.values as Values, positionals: parsed.positionals, notes };
}

/** replay's --drain-timeout (5 minutes unless given): 0 gives up at once, under 100 ms is a slip. */
function replayDrain(ms: number | undefined): number {
  if (ms === undefined) return 5 * 60_000;
  if (ms > 0 && ms < MIN_TIMEOUT_MS) throw new ConfigError(tooShort('--drain-timeout', ms, 'replay waits this long for the receivers to take the events, e.g. 5m (the default); 0 gives up at once'));
  return ms;
}

function duration(flag: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const ms = parseDuration(v);
  if (ms === undefined) throw new ConfigError(`${flag} "${v}" is not a duration: ${partOfMs(v) ? 'a duration is a whole number of milliseconds' : 'use e.g. 15s, 500ms, 2m or a number of milliseconds'}`);
  return ms;
}

/**
 * A flag whose value may not be empty: "`flag` needs `what`". An empty value is refused rather than
 * read as "none": `--state "$STATE"` with the variable unset would otherwise run the daemon without
 * its state, silently.
 */
function nonEmpty(flag: string, v: string | undefined, what: string): string | undefined {
  if (v === '') throw new ConfigError(`${flag} needs ${what}, but its value is empty (an unset shell variable?)`);
  return v;
}

/** A flag naming a file. */
const pathFlag = (flag: string, v: string | undefined): string | undefined => nonEmpty(flag, v, 'a file path');

/** A flag whose value is one of `choices`, checked; undefined when the flag is absent. */
function oneOf<T extends string>(flag: string, v: string | undefined, choices: readonly T[]): T | undefined {
  if (v === undefined) return undefined;
  if (!(choices as readonly string[]).includes(v)) throw new ConfigError(`${flag} "${v}" must be one of ${choices.join(', ')}${didYouMean(v, choices)}`);
  return v as T;
}

/** `--log-level`'s value, checked; undefined when the flag is absent. */
const logLevelFlag = (v: string | undefined): LogLevelName | undefined => oneOf('--log-level', v, LOG_LEVEL_NAMES);
/** `--log-format`'s value, checked; undefined when the flag is absent (text on a terminal, else JSON). */
const logFormatFlag = (v: string | undefined): LogFormat | undefined => oneOf('--log-format', v, LOG_FORMATS);

/** `--webhook-secret`, repeatable for a rotation (whsec_ secrets only); the values never go in a message. */
function secretFlag(v: string[] | undefined): string | undefined {
  if (v === undefined) return undefined;
  if (v.some((s) => s === '')) throw new ConfigError('--webhook-secret needs a secret');
  try {
    return joinSecrets(v);
  } catch (err) {
    throw new ConfigError(`--webhook-secret: ${(err as Error).message}`);
  }
}

/** `--events join,leave` (or repeated): the event types the sinks get. */
function eventTypes(v: string[] | undefined): FileConfig['events'] {
  if (v === undefined) return undefined;
  const types = v.flatMap((x) => x.split(',')).map((x) => x.trim());
  const wrong = types.find((t) => !(EVENT_TYPES as readonly string[]).includes(t));
  if (wrong !== undefined) {
    const hint = didYouMean(wrong, EVENT_TYPES);
    throw new ConfigError(`--events "${wrong}": expected ${EVENT_TYPES.join(', ')}${hint || ' (comma-separated, e.g. --events join,leave)'}`);
  }
  return [...new Set(types)] as NonNullable<FileConfig['events']>;
}

/** `--ignore-user`, repeatable: names, ids or patterns. */
function userList(v: string[] | undefined): string[] | undefined {
  if (v?.some((u) => u === '')) throw new ConfigError('--ignore-user needs a user name, a user id or a pattern such as "*Bot"');
  return v;
}

function size(flag: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const bytes = parseSize(v);
  if (bytes === undefined || bytes < 1) throw new ConfigError(`${flag} "${v}" is not a size: use e.g. 64MiB, 100MB or a number of bytes`);
  return bytes;
}

function number(flag: string, v: string | undefined, { integer = false, min = 0 } = {}): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n < min || (integer && !Number.isInteger(n))) {
    throw new ConfigError(`${flag} "${v}" must be ${integer ? 'a whole number' : 'a number'} ≥ ${min}`);
  }
  return n;
}

/** A share from 0 to 1 ("0.2"), or undefined when not given. */
function share(flag: string, v: string | undefined): number | undefined {
  const n = number(flag, v);
  if (n !== undefined && n > 1) throw new ConfigError(`${flag} "${v}" must be a share from 0 to 1 (0.2: one in five)`);
  return n;
}

function noPositionals(positionals: string[], cmd: string): void {
  if (positionals.length) throw new ConfigError(`unexpected argument "${positionals[0]}" for ${cmd}`);
}

/** The watcher's own flags (also named when one is given to a subcommand that does not take it). */
const DAEMON_OPTIONS: NonNullable<ParseArgsConfig['options']> = {
  room: { type: 'string', multiple: true },
  'all-rooms': { type: 'boolean' },
  interval: { type: 'string' },
  sink: { type: 'string', multiple: true },
  'webhook-secret': { type: 'string', multiple: true },
  'ignore-initial': { type: 'boolean' },
  'ignore-user': { type: 'string', multiple: true },
  events: { type: 'string', multiple: true },
  state: { type: 'string' },
  'save-every': { type: 'string' },
  'leave-grace': { type: 'string' },
  'same-person': { type: 'string' },
  'api-url': { type: 'string' },
  config: { type: 'string' },
  'log-level': { type: 'string' },
  'log-format': { type: 'string' },
  health: { type: 'string' },
  'max-rps': { type: 'string' },
  limit: { type: 'string' },
  'dead-letter': { type: 'string' },
  'queue-cap': { type: 'string' },
  'outbox-cap': { type: 'string' },
  'drain-timeout': { type: 'string' },
  'request-timeout': { type: 'string' },
  'max-body': { type: 'string' },
  once: { type: 'boolean' },
  'once-timeout': { type: 'string' },
  'check-config': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'V' },
};

/** argv (without node and script) → a command, or a ConfigError naming the problem. */
export function parseCommand(argv: string[]): Command {
  const sub = argv[0];
  // `help`, `help replay` and `version`, as git, docker and go take them: answered "to watch a room
  // use --room help" before. Only alone (or help with a command's name): a room is always --room
  if (sub === 'help' && argv.length <= 2) {
    const topic = argv[1];
    const texts: Record<string, string> = { simulate: SIMULATE_HELP, demo: DEMO_HELP, replay: REPLAY_HELP };
    if (topic === undefined) return { kind: 'help', text: HELP };
    if (Object.hasOwn(texts, topic)) return { kind: 'help', text: texts[topic]! };
    throw new ConfigError(`help: no command "${topic}" (${THE_COMMANDS}; presence-watcher --help describes the watcher itself)`);
  }
  if (sub === 'version' && argv.length === 1) return { kind: 'version' };
  if (sub === 'simulate') {
    const { values, positionals } = parse(argv.slice(1), {
      port: { type: 'string' },
      host: { type: 'string' },
      rooms: { type: 'string' },
      churn: { type: 'string' },
      reconnects: { type: 'string' },
      participants: { type: 'string' },
      seed: { type: 'string' },
      faults: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    }, 'simulate');
    if (values.help) return { kind: 'help', text: SIMULATE_HELP };
    noPositionals(positionals, 'simulate');
    const port = number('--port', values.port as string | undefined, { integer: true }) ?? 8787;
    if (port > 65535) throw new ConfigError(`--port "${port}" must be at most 65535`);
    return {
      kind: 'simulate',
      port,
      // an empty host would listen on every interface, an unset variable away from the intent
      host: nonEmpty('--host', values.host as string | undefined, 'an address to listen on, e.g. 127.0.0.1 (the default) or 0.0.0.0') ?? '127.0.0.1',
      rooms: number('--rooms', values.rooms as string | undefined, { integer: true, min: 1 }) ?? 5,
      churn: number('--churn', values.churn as string | undefined) ?? 1,
      reconnects: share('--reconnects', values.reconnects as string | undefined) ?? 0,
      participants: number('--participants', values.participants as string | undefined, { integer: true }) ?? 6,
      seed: number('--seed', values.seed as string | undefined, { integer: true }) ?? 1,
      faults: share('--faults', values.faults as string | undefined) ?? 0,
    };
  }
  if (sub === 'replay') {
    const { values, positionals } = parse(argv.slice(1), {
      sink: { type: 'string', multiple: true },
      'webhook-secret': { type: 'string', multiple: true },
      config: { type: 'string' },
      'dead-letter': { type: 'string' },
      'drain-timeout': { type: 'string' },
      'log-level': { type: 'string' },
      'log-format': { type: 'string' },
      'dry-run': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    }, 'replay');
    if (values.help) return { kind: 'help', text: REPLAY_HELP };
    if (positionals.length !== 1) {
      throw new ConfigError(positionals.length === 0 ? 'replay: give the dead-letter file to replay' : `replay: one file at a time (got ${positionals.length})`);
    }
    const logLevel = logLevelFlag(values['log-level'] as string | undefined) ?? 'warn';
    return {
      kind: 'replay',
      file: positionals[0]!,
      sinks: (values.sink as string[] | undefined)?.map(parseSinkSpec),
      webhookSecret: secretFlag(values['webhook-secret'] as string[] | undefined),
      configPath: pathFlag('--config', values.config as string | undefined),
      deadLetter: pathFlag('--dead-letter', values['dead-letter'] as string | undefined),
      drainTimeoutMs: replayDrain(duration('--drain-timeout', values['drain-timeout'] as string | undefined)),
      logLevel,
      logFormat: logFormatFlag(values['log-format'] as string | undefined),
      dryRun: values['dry-run'] === true,
    };
  }
  if (sub === 'demo') {
    const { values, positionals } = parse(argv.slice(1), {
      interval: { type: 'string' },
      rooms: { type: 'string' },
      churn: { type: 'string' },
      faults: { type: 'string' },
      duration: { type: 'string' },
      'log-level': { type: 'string' },
      'log-format': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    }, 'demo');
    if (values.help) return { kind: 'help', text: DEMO_HELP };
    noPositionals(positionals, 'demo');
    const logLevel = logLevelFlag(values['log-level'] as string | undefined) ?? 'info';
    const durationMs = duration('--duration', values.duration as string | undefined);
    if (durationMs === 0) throw new ConfigError('--duration 0 would stop the demo before its first poll: leave it out to run until Ctrl-C, or give e.g. 30s');
    return {
      kind: 'demo',
      intervalMs: duration('--interval', values.interval as string | undefined) ?? 1000,
      rooms: number('--rooms', values.rooms as string | undefined, { integer: true, min: 1 }) ?? 4,
      churn: number('--churn', values.churn as string | undefined) ?? 2,
      faults: share('--faults', values.faults as string | undefined) ?? 0,
      durationMs,
      logLevel,
      logFormat: logFormatFlag(values['log-format'] as string | undefined),
    };
  }

  // a misspelt command first: its own flags (simualte --port 0) would otherwise be "unknown options"
  const first = argv[0];
  const meantCommand = first !== undefined && !first.startsWith('-') ? closestName(first, COMMANDS) : undefined;
  if (meantCommand) throw new ConfigError(`unknown command "${first}" (did you mean ${meantCommand}? ${THE_COMMANDS})`);
  const { values: v, positionals, notes: flagNotes } = parse(argv, DAEMON_OPTIONS);
  if (v.help) return { kind: 'help', text: HELP };
  if (v.version) return { kind: 'version' };
  if (positionals.length) {
    const word = positionals[0]!;
    if (word === 'help' || word === 'version') {
      throw new ConfigError(`"${word}" takes ${word === 'help' ? "at most a command's name" : 'nothing'} after it: presence-watcher ${word === 'help' ? 'help, help replay' : 'version'} (or --${word})`);
    }
    if (['check', 'validate', 'check-config', 'test'].includes(word)) {
      throw new ConfigError(`unknown command "${word}": to check a config, add --check-config to the daemon's own flags (e.g. --config watcher.yaml --check-config)`);
    }
    // `presence-watcher watch --room a`, as many daemons' CLIs are written: the watcher is the command-less form
    if (['watch', 'run', 'start', 'daemon', 'serve', 'poll'].includes(word)) {
      throw new ConfigError(`there is no "${word}" command: the watcher runs with its flags alone (presence-watcher --room standup, or --all-rooms); ${THE_COMMANDS}`);
    }
    throw new ConfigError(`unknown command "${word}" (commands: simulate, demo, replay; to watch a room use --room ${word})`);
  }
  const s = (k: string) => v[k] as string | undefined;
  const rooms = v.room as string[] | undefined;
  for (const r of rooms ?? []) if (r === '') throw new ConfigError('--room needs a room name');
  const logLevel = logLevelFlag(s('log-level'));
  const apiUrl = s('api-url');
  if (apiUrl !== undefined && httpUrlProblem(apiUrl)) throw new ConfigError(`--api-url "${apiUrl}" is not an http(s) URL`);
  const flags: FileConfig = {
    rooms,
    allRooms: v['all-rooms'] as boolean | undefined,
    interval: duration('--interval', s('interval')),
    sinks: (v.sink as string[] | undefined)?.map(parseSinkSpec),
    webhookSecret: secretFlag(v['webhook-secret'] as string[] | undefined),
    ignoreInitial: v['ignore-initial'] as boolean | undefined,
    ignoreUsers: userList(v['ignore-user'] as string[] | undefined),
    events: eventTypes(v.events as string[] | undefined),
    state: pathFlag('--state', s('state')),
    saveEvery: duration('--save-every', s('save-every')),
    leaveGrace: duration('--leave-grace', s('leave-grace')),
    samePerson: oneOf('--same-person', s('same-person'), SAME_PERSON_RULES),
    apiUrl,
    logLevel,
    logFormat: logFormatFlag(s('log-format')),
    health: s('health'),
    maxRps: number('--max-rps', s('max-rps'), { min: 0.01 }),
    limit: number('--limit', s('limit'), { integer: true, min: 1 }),
    deadLetter: pathFlag('--dead-letter', s('dead-letter')),
    queueCap: number('--queue-cap', s('queue-cap'), { integer: true, min: 1 }),
    outboxCap: number('--outbox-cap', s('outbox-cap'), { integer: true, min: 1 }),
    drainTimeout: duration('--drain-timeout', s('drain-timeout')),
    requestTimeout: duration('--request-timeout', s('request-timeout')),
    maxBody: size('--max-body', s('max-body')),
  };
  const onceTimeoutMs = duration('--once-timeout', s('once-timeout'));
  if (onceTimeoutMs !== undefined && v.once !== true) throw new ConfigError('--once-timeout applies to --once only');
  if (onceTimeoutMs !== undefined && onceTimeoutMs < MIN_TIMEOUT_MS) {
    throw new ConfigError(tooShort('--once-timeout', onceTimeoutMs, 'give the first snapshot some time, e.g. 30s (the default)'));
  }
  return { kind: 'run', flags, configPath: pathFlag('--config', s('config')), once: v.once === true ? { timeoutMs: onceTimeoutMs } : undefined, check: v['check-config'] === true, notes: flagNotes };
}
