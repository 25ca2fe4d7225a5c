import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { Writable } from 'node:stream';
import { ConfigError, durationNotes, formatHostPort, type DaemonConfig, type SinkConfig } from './config.js';
import { Dispatcher, ignoreCaseMiss, type SinkFilter } from './dispatcher.js';
import { HealthServer } from './health.js';
import { secrets, type Logger } from './log.js';
import { Metrics } from './metrics.js';
import { deadLetterHeld, FileDeadLetter, isOwnStdio, LogDeadLetter, type DeadLetter } from './sinks/dead-letter.js';
import { DeliveryQueue } from './sinks/queue.js';
import type { Sink } from './sinks/sink.js';
import type { PollInfo, PresenceEvent } from './events.js';
import { SlackSink } from './sinks/slack.js';
import { StdoutSink } from './sinks/stdout.js';
import { WebhookSink } from './sinks/webhook.js';
import { secretKeys } from './sinks/signing.js';
import { ONE_SHOT, PresenceWatcher, WatcherOptionsError } from './watcher.js';
import { DailyApiError } from './daily/errors.js';
import { roomNameSlip } from './daily/room-name.js';
import { apiSource } from './daily/client.js';
import { makeDirs } from './util/dirs.js';
import { proxyRoute } from './util/http-agent.js';
import { isLoopbackHost } from './util/url.js';
import { oneLine } from './util/text.js';
import { formatDuration } from './util/duration.js';
import { FileStateStore } from './state/file-store.js';
import { checkSource, StateError, type SavedState, type StateStore } from './state/store.js';
import { emptyState, replay } from './state/replay.js';
import { Outbox } from './state/outbox.js';
import { StateLock } from './state/lock.js';
import { pseudoFsProblem } from './util/pseudo-fs.js';
import { sameFile } from './util/file-kind.js';
import { RepeatedWarning } from './util/repeated-warning.js';
import { listenProblem } from './util/listen.js';
import { SyncRun } from './util/sync-run.js';

/** Every sink is disabled (a webhook answered 410, the reader of stdout went away): nothing can be delivered. */
export class SinksDisabledError extends Error {
  readonly code = 'SINKS_DISABLED';
}

/** Another daemon took over the state file's lock while this one ran: one of the two must stop. */
export class StateLockLostError extends Error {
  readonly code = 'STATE_LOCK_LOST';
}

export interface DaemonIO {
  stdout: Writable;
  logger: Logger;
  version: string;
  /** --once: one snapshot, then the CLI stops the daemon (the log says so instead of "watching"). */
  once?: boolean;
  /**
   * Aborted when a stop is asked for while the daemon starts: the wait for another container's
   * lock (up to 30 s) gives up, and startDaemon rejects with the signal's reason.
   */
  signal?: AbortSignal;
}

export interface Daemon {
  watcher: PresenceWatcher;
  dispatcher: Dispatcher;
  metrics: Metrics;
  health: HealthServer | undefined;
  healthUrl: string | undefined;
  /**
   * Resolves with the fatal error if the watcher stops by itself (key rejected), or once every sink
   * is disabled (nothing could be delivered any more).
   */
  fatal: Promise<Error>;
  /** Stop polling, drain sinks up to the deadline, dead-letter the rest. Resolves with the count left. */
  shutdown(): Promise<number>;
}

/**
 * Keep a secret setting out of logs: whole, trimmed, and each secret of a rotation on its own (a
 * raw secret is never split: its words could be ordinary ones, redacted everywhere).
 */
function addSecret(secret: string): void {
  const trimmed = secret.trim();
  secrets.add(secret);
  secrets.add(trimmed);
  if (trimmed.startsWith('whsec_')) for (const part of trimmed.split(/\s+/)) secrets.add(part);
}

/** Keep a config's API key and signing secret out of every log line and message (the sinks' own secrets: `buildSink`). */
export function keepSecret(cfg: DaemonConfig): void {
  secrets.add(cfg.apiKey);
  if (cfg.webhookSecret) addSecret(cfg.webhookSecret);
}

/** The sink for one configured entry; `index` is its place in the list (its display name). Throws ConfigError for a bad secret. */
export function buildSink(s: SinkConfig, index: number, webhookSecret: string | undefined, io: DaemonIO): Sink {
  const ua = `daily-presence-watcher/${io.version}`;
  if (s.type === 'stdout') return new StdoutSink(io.stdout, index === 0 ? 'stdout' : `stdout-${index + 1}`, s.format);
  const url = new URL(s.url);
  const host = url.host;
  if (s.type === 'webhook') {
    // (Slack's workflow webhooks, /workflows/ and /triggers/, take JSON of one's own: left alone)
    if (url.hostname === 'hooks.slack.com' && url.pathname.startsWith('/services/')) {
      throw new ConfigError(
        `sinks[${index}]: hooks.slack.com/services/… is a Slack incoming webhook, which takes Slack messages, not the watcher's event JSON (every delivery would be refused): make it a slack sink (--sink slack:<url>, or type: slack)`,
      );
    }
    const secret = s.secret ?? webhookSecret;
    if (secret !== undefined) {
      addSecret(secret);
      try {
        secretKeys(secret);
      } catch (err) {
        throw new ConfigError(`sinks[${index}]: ${(err as Error).message}`);
      }
    }
    // a header is there to carry a credential: its value is a secret
    for (const value of Object.values(s.headers ?? {})) secrets.add(value);
    return new WebhookSink({
      url: s.url,
      ...(secret !== undefined ? { secret } : {}),
      ...(s.headers ? { headers: s.headers } : {}),
      ...(s.timeout !== undefined ? { timeoutMs: s.timeout } : {}),
      ...(s.concurrency !== undefined ? { concurrency: s.concurrency } : {}),
      name: `webhook-${index + 1}(${host})`,
      userAgent: ua,
    });
  }
  return new SlackSink({
    url: s.url,
    ...(s.timeout !== undefined ? { timeoutMs: s.timeout } : {}),
    ...(s.roomUrl !== undefined ? { roomUrl: s.roomUrl } : {}),
    ...(s.messageInterval !== undefined ? { minIntervalMs: s.messageInterval } : {}),
    name: `slack-${index + 1}(${host})`,
    userAgent: ua,
  });
}

/**
 * Warn, once for each entry and name, of a person an ignoreUsers list would have matched but for
 * case ("notetaker" for a bot shown as "Notetaker"): the events about them are delivered, and
 * nothing else says why. Looked at on joins and renames, where a name first shows.
 */
function warnIgnoreCaseMisses(watcher: PresenceWatcher, sinks: readonly { sink: Sink; filter: SinkFilter }[], log: Logger): void {
  const lists = new Map<string, { misses: ReturnType<typeof ignoreCaseMiss>; sinks: string[] }>();
  for (const { sink, filter } of sinks) {
    if (!filter.ignoreUsers?.length) continue;
    const key = JSON.stringify(filter.ignoreUsers);
    const list = lists.get(key);
    if (list) list.sinks.push(sink.name);
    else lists.set(key, { misses: ignoreCaseMiss(filter.ignoreUsers), sinks: [sink.name] });
  }
  if (lists.size === 0) return;
  const said = new Set<string>();
  const look = (e: PresenceEvent) => {
    for (const { misses, sinks: names } of lists.values()) {
      const miss = misses(e.participant);
      if (!miss) continue;
      const key = `${miss.entry}\u0000${miss.value}`;
      // (a hundred is plenty to make the point; a domain of bots named alike does not grow it for ever)
      if (said.has(key) || said.size >= 100) continue;
      said.add(key);
      log.warn(
        { entry: miss.entry, room: e.room, sinks: names },
        `ignoreUsers entry "${oneLine(miss.entry)}" does not match "${oneLine(miss.value)}" (in ${oneLine(e.room)}) only because case counts there: the events about them go to ${names.join(', ')}. To ignore them, write the entry in the case that name has`,
      );
    }
  };
  watcher.on('join', look);
  watcher.on('update', (e) => {
    if (e.changes.userName !== undefined) look(e);
  });
}

/** The events, rooms and people a configured sink takes (every one when unset). */
export function sinkFilter(s: SinkConfig): SinkFilter {
  return { ...(s.events ? { events: s.events } : {}), ...(s.rooms ? { rooms: s.rooms } : {}), ...(s.ignoreUsers?.length ? { ignoreUsers: s.ignoreUsers } : {}) };
}

/**
 * Which of the files `--state` owns `path` names (the state, its outbox journal, its lock, or one of
 * their temp files), by name or, for files that exist, as the same file under another name; or
 * undefined.
 */
function stateFileNamed(path: string, statePath: string): string | undefined {
  const outbox = `${statePath}.outbox.ndjson`;
  const owned: [string, string][] = [
    [statePath, 'the --state file'],
    [outbox, "the --state file's outbox journal"],
    [`${statePath}.lock`, "the --state file's lock"],
  ];
  for (const [file, what] of owned) if (sameFile(path, file)) return what;
  const p = resolve(path);
  const base = resolve(statePath);
  if (p === `${resolve(outbox)}.tmp` || (p.startsWith(`${base}.`) && /^\d+\.tmp$/.test(p.slice(base.length + 1)))) return "one of the --state file's temp files";
  return undefined;
}

/**
 * The dead-letter file at `path`, checked writable now (ConfigError if not; `create: false` makes no
 * directory), or the log without one. `stdoutSink`: a stdout sink writes events to this process's
 * stdout, so a dead-letter there is refused (its records would be mixed into the event stream,
 * which the logs keep out of).
 */
export function openDeadLetter(
  path: string | undefined,
  log: Logger,
  { create = true, stdoutSink = false, statePath }: { create?: boolean; stdoutSink?: boolean; statePath?: string | undefined } = {},
): DeadLetter {
  if (!path) return new LogDeadLetter(log);
  const owned = statePath === undefined ? undefined : stateFileNamed(path, statePath);
  if (owned) {
    throw new ConfigError(
      `--dead-letter ${path}: that is ${owned}: dead-lettered events appended to it would corrupt it. Give a file of its own, e.g. ${join(dirname(path), 'dead-letter.ndjson')}`,
    );
  }
  // (where stdout and stderr are one (2>&1, a systemd unit's journal), logs mix with events already)
  if (stdoutSink && isOwnStdio(path, 1) && !isOwnStdio(path, 2)) {
    throw new ConfigError(`--dead-letter ${path}: that is this process's stdout, where the stdout sink writes the events: its records would be mixed into them. Give a file, or /dev/stderr`);
  }
  const file = new FileDeadLetter(path, log);
  try {
    file.check({ create });
  } catch (err) {
    throw new ConfigError(`--dead-letter ${path}: cannot write it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  return file;
}

/**
 * Each sink's key in the outbox: its kind, host and a digest of its URL (not the URL: it can hold a
 * token, and the outbox is a file), so it stays the same when sinks are added, removed or reordered
 * around it, and its waiting events find it after a restart. Display names (`webhook-2(host)`) are
 * positions in the list; the outbox used to key by them, and a reordered list orphaned its events.
 */
export function sinkKeys(sinks: readonly SinkConfig[]): string[] {
  const seen = new Map<string, number>();
  return sinks.map((s) => {
    const base = s.type === 'stdout' ? 'stdout' : `${s.type}(${new URL(s.url).host})#${createHash('sha256').update(s.url).digest('base64url').slice(0, 8)}`;
    const n = (seen.get(base) ?? 0) + 1;
    seen.set(base, n);
    return n === 1 ? base : `${base}/${n}`;
  });
}

/**
 * Whether a sink URL posts over plain http to another machine (not localhost, 127.0.0.0/8 or ::1):
 * the events (people's names and ids) and a webhook's signature would cross the network
 * unencrypted, and a Slack URL's token with them.
 */
export function crossesNetworkInClear(url: string): boolean {
  const u = new URL(url);
  return u.protocol === 'http:' && !isLoopbackHost(u.hostname);
}

/**
 * What is worth saying at start about the API URL beyond what the watcher says of Daily's own host
 * (plain http to Daily is refused outright): another API reached over plain http, where the key
 * and everyone's names cross the network unencrypted (a mock or a proxy on another machine).
 */
export function apiNotes(cfg: Pick<DaemonConfig, 'apiUrl'>): StartNote[] {
  if (!crossesNetworkInClear(cfg.apiUrl)) return [];
  return [
    {
      level: 'info',
      message: `the API URL is plain http to another machine (${new URL(cfg.apiUrl).host}): the API key and people's names cross the network unencrypted; use https unless that network is yours alone`,
    },
  ];
}

/**
 * Room names that look like slips (a pattern, a list, a stray space): polled as written, Daily
 * would answer 404 for each, so said at start and by --check-config before the first poll does.
 */
export function roomNotes(cfg: Pick<DaemonConfig, 'rooms' | 'allRooms'>): StartNote[] {
  if (cfg.allRooms) return [];
  return cfg.rooms.flatMap((room) => {
    const slip = roomNameSlip(room);
    return slip === undefined ? [] : [{ level: 'warn' as const, message: `room ${JSON.stringify(room)} is polled as written, and Daily likely knows no such room: ${slip[0]!.toLowerCase()}${slip.slice(1)}` }];
  });
}

/** Where the daemon sends requests: Daily, and each webhook and Slack sink (by its name). */
export function requestTargets(cfg: Pick<DaemonConfig, 'apiUrl' | 'sinks'>, sinks: readonly PreparedSink[]): { label: string; url: string }[] {
  const out = [{ label: `Daily (${new URL(cfg.apiUrl).host})`, url: cfg.apiUrl }];
  cfg.sinks.forEach((s, i) => {
    if (s.type !== 'stdout') out.push({ label: sinks[i]!.sink.name, url: s.url });
  });
  return out;
}

/**
 * A target on this machine (a local receiver, the simulator) whose requests go to a proxy on
 * another: that proxy's 127.0.0.1 is its own, so they fail, as timeouts or its error pages, with
 * nothing in the config to say why. A proxy on this machine reaches them (a debugging proxy).
 */
export function proxyNotes(targets: readonly { label: string; url: string }[], env: NodeJS.ProcessEnv = process.env): StartNote[] {
  return targets.flatMap(({ label, url }) => {
    const route = proxyRoute(url, env);
    if (!route || isLoopbackHost(route.hostname) || !isLoopbackHost(new URL(url).hostname)) return [];
    const { host, hostname } = new URL(url);
    const where = label.includes(host) ? '' : ` (${host})`;
    return [
      {
        level: 'warn' as const,
        message: `${label} is on this machine${where}, but its requests go to the proxy in ${route.variable} (${route.host}), whose ${hostname} is not this one: add ${hostname} to NO_PROXY`,
      },
    ];
  });
}

/** Hosts a probe of 127.0.0.1 reaches when the health endpoint binds them. */
const LOOPBACK_REACHABLE = new Set(['0.0.0.0', '::', '127.0.0.1', 'localhost']);

/**
 * `--health` moved the endpoint away from PRESENCE_HEALTH's port (or off loopback). The Docker image
 * sets PRESENCE_HEALTH, and its HEALTHCHECK probes 127.0.0.1 on that port: it cannot see the flag,
 * so it would find nothing and mark the container unhealthy, with a daemon that is fine.
 */
export function healthNotes(cfg: Pick<DaemonConfig, 'health' | 'healthFromEnv'>): StartNote[] {
  const { health, healthFromEnv: env } = cfg;
  if (!health || !env) return [];
  if (health.port === env.port && LOOPBACK_REACHABLE.has(health.host)) {
    // the image's own check still answers, but a loopback address is out of reach of everything
    // outside the container: a Kubernetes probe (to the pod's IP) restarts it over and over, and
    // Prometheus scrapes nothing. A bare `--health 9464`, meant to turn on what the image had on.
    const wildcard = (h: string) => h === '0.0.0.0' || h === '::';
    if (!wildcard(env.host) || wildcard(health.host)) return [];
    return [
      {
        level: 'warn',
        message:
          `--health ${formatHostPort(health)} replaces PRESENCE_HEALTH (${formatHostPort(env)}): the endpoint now answers on this machine's loopback only, ` +
          `out of reach of a Kubernetes probe (to the pod's address, so the pod is restarted over and over) or a Prometheus scrape from elsewhere. ` +
          `The image serves it already: drop --health, or give ${formatHostPort({ host: env.host, port: health.port })}`,
      },
    ];
  }
  return [
    {
      level: 'warn',
      message:
        `--health ${formatHostPort(health)} replaces PRESENCE_HEALTH (${formatHostPort(env)}), which a health check may still probe: ` +
        `the Docker image's HEALTHCHECK asks 127.0.0.1:${env.port}, finds nothing there and marks the container unhealthy. ` +
        `To move the endpoint, set PRESENCE_HEALTH=${formatHostPort(health)} instead of --health (or PRESENCE_HEALTH= to turn it off)`,
    },
  ];
}

export interface PreparedSink {
  sink: Sink;
  /** The events, rooms and people it takes. */
  filter: SinkFilter;
  /** Its key in the outbox (`sinkKeys`). */
  key: string;
}

/** The shortest signing key Standard Webhooks allows (`whsec_` + base64 of 24 to 64 random bytes). */
const MIN_SECRET_BYTES = 24;

/** Something worth saying at start about a config the daemon runs all the same. */
export interface StartNote {
  level: 'info' | 'warn';
  message: string;
}

/**
 * The configured sinks, built (a bad secret is a ConfigError), with their filters and outbox keys,
 * and what is worth saying about them at start: the daemon logs the notes, `--check-config` prints them.
 */
export function prepareSinks(cfg: DaemonConfig, io: DaemonIO): { sinks: PreparedSink[]; notes: StartNote[] } {
  const notes: StartNote[] = [];
  const webhooks = cfg.sinks.filter((s) => s.type === 'webhook');
  if (cfg.webhookSecret && webhooks.length === 0) {
    notes.push({ level: 'warn', message: 'a webhook signing secret is set (--webhook-secret, webhookSecret or PRESENCE_WEBHOOK_SECRET) but no webhook sink uses it' });
  }
  const unsigned = webhooks.filter((s) => (s.secret ?? cfg.webhookSecret) === undefined).length;
  if (unsigned > 0) notes.push({ level: 'info', message: `${unsigned} webhook sink(s) deliver unsigned: set --webhook-secret so receivers can verify deliveries` });
  const keys = sinkKeys(cfg.sinks);
  const plain: string[] = [];
  const sinks = cfg.sinks.map((s, i) => {
    // Slack's own webhooks over plain http: the URL is the credential, and the first request would
    // carry it across the internet in the clear (whatever Slack answers), as plain http to Daily
    // would the API key, which is refused the same way
    const url = s.type === 'stdout' ? undefined : new URL(s.url);
    if (url?.protocol === 'http:' && /(^|\.)slack\.com$/i.test(url.hostname)) {
      throw new ConfigError(`sinks[${i}]: ${url.hostname} over plain http: the webhook's URL is its credential and would cross the internet unencrypted; Slack's webhooks are https://hooks.slack.com/…`);
    }
    const sink = buildSink(s, i, cfg.webhookSecret, io);
    if (s.type !== 'stdout' && crossesNetworkInClear(s.url)) plain.push(sink.name);
    return { sink, filter: sinkFilter(s), key: keys[i]! };
  });
  // the same destination twice (a sink copied within a config file, a --sink repeated): each event arrives twice
  const byTarget = new Map<string, string[]>();
  cfg.sinks.forEach((s, i) => {
    const target = s.type === 'stdout' ? 'stdout' : s.url;
    byTarget.set(target, [...(byTarget.get(target) ?? []), sinks[i]!.sink.name]);
  });
  for (const [target, names] of byTarget) {
    if (names.length < 2) continue;
    notes.push({
      level: 'warn',
      message:
        names.length === 2
          ? `${names.join(' and ')} both ${target === 'stdout' ? 'write to stdout' : 'post to the same URL'}: an event both take arrives twice`
          : `${names.join(', ')} all ${target === 'stdout' ? 'write to stdout' : 'post to the same URL'}: an event they all take arrives ${names.length} times`,
    });
  }
  // the receiver's check is only as strong as the key: one signed delivery, captured or logged
  // anywhere, lets a short key be guessed offline, and then anyone can sign
  const short = cfg.sinks.flatMap((s, i) => {
    const secret = s.type === 'webhook' ? (s.secret ?? cfg.webhookSecret) : undefined;
    const bytes = secret === undefined ? [] : secretKeys(secret).map((k) => k.length);
    return bytes.some((n) => n < MIN_SECRET_BYTES) ? [`${sinks[i]!.sink.name} (${Math.min(...bytes)} bytes)`] : [];
  });
  if (short.length > 0) {
    notes.push({
      level: 'warn',
      message: `the signing secret of ${short.join(', ')} is shorter than the ${MIN_SECRET_BYTES} random bytes Standard Webhooks asks for: one signed delivery lets a key that short be guessed offline, and then anyone can sign; make one with: echo "whsec_$(openssl rand -base64 32)"`,
    });
  }
  if (plain.length > 0) {
    notes.push({
      level: 'info',
      message: `${plain.join(', ')} post${plain.length === 1 ? 's' : ''} over plain http to another machine: events, with people's names, cross the network unencrypted; use https unless that network is yours alone`,
    });
  }
  return { sinks, notes };
}

/** The watcher's options for a config (its targets apart). */
export function watcherOptions(cfg: DaemonConfig, log: Logger, durable: { stateStore?: StateStore | undefined; initialState?: SavedState | undefined } = {}) {
  return {
    leaveGraceMs: cfg.leaveGraceMs,
    samePerson: cfg.samePerson,
    ...(durable.stateStore ? { stateStore: durable.stateStore } : {}),
    ...(durable.stateStore && cfg.saveEveryMs > 0 ? { saveEveryMs: cfg.saveEveryMs } : {}),
    ...(durable.initialState ? { initialState: durable.initialState } : {}),
    apiKey: cfg.apiKey,
    apiUrl: cfg.apiUrl,
    intervalMs: cfg.intervalMs,
    ignoreInitial: cfg.ignoreInitial,
    maxRps: cfg.maxRps,
    requestTimeoutMs: cfg.requestTimeoutMs,
    maxBodyBytes: cfg.maxBodyBytes,
    logger: log,
    ...(cfg.limit !== undefined ? { limit: cfg.limit } : {}),
  };
}

/** How long `requests` requests take at `maxRps`, ms: the first goes at once. */
export function requestsTakeMs(requests: number, maxRps: number): number {
  return Math.ceil(Math.max(0, requests - 1) / maxRps) * 1000;
}

/** --once's snapshot in words: what it costs in requests, and how long the budget makes them take when that is a while. */
export function oneSnapshot(cfg: Pick<DaemonConfig, 'allRooms' | 'rooms' | 'maxRps'>): string {
  if (cfg.allRooms) return 'one request (GET /presence)';
  const n = cfg.rooms.length;
  const ms = requestsTakeMs(n, cfg.maxRps);
  return `${n} request${n === 1 ? '' : 's'}${ms >= 2000 ? `, about ${formatDuration(ms)} at --max-rps ${cfg.maxRps}` : ''}`;
}

/**
 * The lock's heartbeat: PRESENCE_LOCK_HEARTBEAT_MS, a test aid (the suite runs daemons in pid
 * namespaces of their own and cannot wait 30 s for a stale lock), else the default.
 */
function lockTiming(): { heartbeatMs?: number } {
  const ms = Number(process.env.PRESENCE_LOCK_HEARTBEAT_MS);
  return Number.isInteger(ms) && ms >= 50 ? { heartbeatMs: ms } : {};
}

/** Wire watcher → dispatcher → sink queues, metrics and health, and start polling. */
export async function startDaemon(cfg: DaemonConfig, io: DaemonIO): Promise<Daemon> {
  const held: { lock?: StateLock; outbox?: Outbox } = {};
  try {
    return await start(cfg, io, held);
  } catch (err) {
    // refused at start (a corrupt state file, a busy health port): the next start must not find
    // our lock, or wait on its heartbeat
    held.outbox?.close();
    held.lock?.release();
    throw err;
  }
}

async function start(cfg: DaemonConfig, io: DaemonIO, held: { lock?: StateLock; outbox?: Outbox }): Promise<Daemon> {
  const log = io.logger;
  keepSecret(cfg);

  const deadLetter = openDeadLetter(cfg.deadLetterPath, log, { stdoutSink: cfg.sinks.some((s) => s.type === 'stdout'), statePath: cfg.statePath });
  const earlier = deadLetterHeld(cfg.deadLetterPath);
  if (earlier) log.info({ deadLetter: cfg.deadLetterPath }, earlier);
  const prepared = prepareSinks(cfg, io);
  for (const note of prepared.notes) log[note.level](note.message);
  for (const note of durationNotes(cfg)) log.warn(note);
  for (const note of apiNotes(cfg)) log[note.level](note.message);
  for (const note of roomNotes(cfg)) log[note.level](note.message);
  for (const note of healthNotes(cfg)) log[note.level](note.message);
  for (const note of cfg.fileNotes ?? []) log.warn(note);
  for (const note of proxyNotes(requestTargets(cfg, prepared.sinks))) log[note.level](note.message);
  const metrics = new Metrics(io.version);
  const dispatcher = new Dispatcher();
  const keys = prepared.sinks.map((s) => s.key);
  /** Each queue's key in the outbox. */
  const keyOf = new Map<DeliveryQueue, string>();
  /** Which sinks filter what, for the start line: "why no alert?" starts there. */
  const filters: Record<string, SinkFilter> = {};
  for (const { sink, filter, key } of prepared.sinks) {
    const queue = new DeliveryQueue({ sink, deadLetter, logger: log, cap: cfg.queueCap });
    keyOf.set(queue, key);
    metrics.observeQueue(queue);
    if (Object.keys(filter).length > 0) filters[sink.name] = filter;
    dispatcher.add(queue, filter);
  }

  let stateStore: FileStateStore | undefined;
  let initialState: SavedState | undefined;
  let lock: StateLock | undefined;
  /** At each of the lock's heartbeats: the state file and the outbox still there (set once both exist). */
  let filesBeside: (() => void) | undefined;
  let lockLost!: (err: Error) => void;
  const lostLock = new Promise<Error>((resolve) => (lockLost = resolve));
  if (cfg.statePath) {
    if (cfg.stateLink !== undefined) log.info({ state: cfg.stateLink, file: cfg.statePath }, `--state ${cfg.stateLink} is a symbolic link: the state, its outbox and its lock are kept beside ${cfg.statePath}, where it points`);
    stateStore = new FileStateStore(cfg.statePath);
    try {
      const pseudo = pseudoFsProblem(cfg.statePath);
      if (pseudo) throw new StateError(`--state ${cfg.statePath}: ${pseudo}`);
      await makeDirs(dirname(cfg.statePath)).catch((err: NodeJS.ErrnoException) => {
        throw new StateError(`--state ${cfg.statePath}: cannot create its directory (${err.code ?? err.message})`);
      });
      lock = held.lock = new StateLock(cfg.statePath, lockTiming());
      await lock.acquire({
        onWait: (owner, waitMs) =>
          log.warn(
            { lock: lock!.path, pid: owner.pid },
            `the state file's lock names pid ${owner.pid} of another pid namespace (another container?), which this process cannot see: waiting up to ${formatDuration(Math.ceil(waitMs / 1000) * 1000)} for its heartbeat to show whether it still runs`,
          ),
        ...(io.signal ? { signal: io.signal } : {}),
        // another daemon took the lock over: the state file and the outbox are its own now, and this
        // one writes neither from here on (not at its stop either: its saves ask the lock first); it
        // only stops. What it emitted meanwhile the other sees for itself (it polls the same API, and
        // a transition's event id is the same); what it had journaled before is in the outbox the other read
        onLost: (owner) => {
          held.outbox?.close();
          lockLost(
            new StateLockLostError(
              `${owner ? `another presence-watcher (pid ${owner.pid})` : 'another process'} took over the state file's lock ${lock!.path}, judging this daemon gone (its lock went untouched for ${formatDuration(lock!.staleMs)}: was this process paused, or the volume unreachable?); stopping, so that one daemon writes the state and outbox`,
            ),
          );
        },
        onRestored: () => log.warn({ lock: lock!.path }, "the state file's lock was removed while this daemon held it (by hand, or a cleaner of old files): written again"),
        onBeat: () => filesBeside?.(),
      });
      initialState = await stateStore.load();
      // before the outbox is touched: nothing of a state polled elsewhere is replayed or delivered
      if (initialState) checkSource(initialState, apiSource(new URL(cfg.apiUrl)), `state file ${cfg.statePath}`);
    } catch (err) {
      if (err instanceof StateError) throw new ConfigError(err.message);
      throw err;
    }
    // (a state found is logged by the watcher as it resumes from it, with its time and rooms)
    if (!initialState) log.info({ state: cfg.statePath }, 'no saved state: first start');
  }

  let outbox: Outbox | undefined;
  const outboxFailures = new RepeatedWarning(log, 'error');
  /** The outbox cannot be written (disk full, I/O error): logged when it starts, then every 10 minutes. */
  const outboxFailed = (err: unknown) =>
    outboxFailures.hit(
      { err, outbox: outbox?.path },
      `cannot write the outbox (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}): events are still delivered, but one not yet delivered when the daemon dies would be lost`,
    );
  let watcherStore: StateStore | undefined;
  /** The watcher, once made: filesBeside saves its state again. */
  let watcherRef: PresenceWatcher | undefined;
  if (cfg.statePath) {
    try {
      outbox = held.outbox = new Outbox(`${cfg.statePath}.outbox.ndjson`, log, initialState?.journalSeq ?? 0);
    } catch (err) {
      if (err instanceof StateError) throw new ConfigError(err.message);
      throw err;
    }
    // events journaled after the state file was last written (a kill landed between the two):
    // replay them, so the first poll diffs against what the sinks were told
    const journal = outbox.journal();
    if (journal.length > 0 && (initialState || !cfg.ignoreInitial)) {
      // (with --ignore-initial and no state file yet, the first poll's people were never journaled:
      // replaying later events onto nothing would make a partial room, so the first poll starts over)
      initialState = replay(initialState ?? emptyState(cfg.allRooms ? 'domain' : 'rooms', new Date()), journal);
      log.info({ events: journal.length }, `brought the saved state up to ${journal.length} event(s) emitted after it was written`);
    }
    const store = stateStore!;
    const box = outbox;
    const loaded = initialState;
    /** The state file holds a state (it did at start, or a save has written one): its removal is news. */
    let stateWritten = loaded !== undefined;
    watcherStore = {
      // already read (and brought up to the journal) above: the watcher gets it as initialState
      load: () => Promise.resolve(loaded),
      // the state is built just before save() is called, so it includes every event journaled so far
      save: async (state) => {
        // the other daemon's file once the lock is lost: confirm() says so at once when a heartbeat
        // found it, and looks now otherwise (a daemon paused past the lock's staleness and resumed
        // saves before its next heartbeat; confirm() then stops it as the heartbeat would)
        if (lock !== undefined && !lock.confirm()) return;
        const seq = box.seq;
        await store.save({ ...state, journalSeq: seq });
        box.covered(seq);
        stateWritten = true;
      },
    };
    const saveStore = watcherStore;
    const statePath = cfg.statePath;
    // a cleaner of old files (systemd-tmpfiles in /tmp or /var/tmp judges a file by its age) removes
    // a state file and an outbox nothing changed for days; the lock beside them, touched by every
    // heartbeat, stays. The outbox was then appended to in a file no restart reads, and a state
    // file is written only when something changes: a restart before that was a first start, every
    // person "already there", every leave meanwhile lost
    filesBeside = () => {
      try {
        const found = box.restoreIfRemoved();
        if (found !== 'ok') {
          log.warn(
            { outbox: box.path, pending: box.size },
            `the outbox ${box.path} was removed, replaced or truncated while this daemon used it (by hand, or a cleaner of old files): written again from memory (${box.size} undelivered event(s))${found === 'spilled' ? '; the journal since the state was last saved lived in that file only, so a restart before the next save may repeat or miss those events' : ''}`,
          );
        }
      } catch (err) {
        outboxFailed(err);
      }
      if (stateWritten && watcherRef && !existsSync(statePath)) {
        stateWritten = false; // said once; the save below (or the watcher's next) sets it again
        log.warn({ state: statePath }, `the state file ${statePath} was removed while this daemon ran (by hand, or a cleaner of old files): writing it again`);
        Promise.resolve(saveStore.save(watcherRef.exportState())).catch((err: unknown) => log.error({ err, state: statePath }, `cannot write the state file again: ${(err as Error).message}`));
      }
    };
    // an outbox from before sink keys: a sink's events wait under its display name
    const waiting = new Set(outbox.pendingSinks());
    for (const q of dispatcher.queues) {
      if (!waiting.has(q.sink.name) || keys.includes(q.sink.name)) continue;
      try {
        outbox.rename(q.sink.name, keyOf.get(q)!);
      } catch (err) {
        outboxFailed(err);
      }
    }
    // events waiting for a sink the config no longer has (removed, or its URL changed): nothing
    // would ever deliver them, and they would count against --outbox-cap forever, until every new
    // event went to the dead-letter. They go there now, once.
    const configured = new Set([...keys, ...dispatcher.queues.map((q) => q.sink.name)]);
    for (const name of outbox.pendingSinks()) {
      if (configured.has(name)) continue;
      const orphans = outbox.pending(name);
      deadLetter.write(name, 'its sink is no longer configured (the sinks changed since the last run)', orphans);
      try {
        outbox.ack(name, orphans);
      } catch (err) {
        outboxFailed(err); // still in the outbox: dead-lettered again on the next start
      }
      log.warn({ sink: name, events: orphans.length }, `${orphans.length} undelivered event(s) for ${name}, which is no longer configured, went to the dead-letter`);
    }
    // said once the events of sinks no longer configured went to the dead-letter (above): the rest
    if (outbox.size > 0) log.info({ pending: outbox.size }, `${outbox.size} undelivered event(s) from the last run will be delivered again`);
    for (const q of dispatcher.queues) {
      const name = keyOf.get(q)!;
      // an ack that cannot be written (disk full) only means a re-delivery, same ids, after a crash
      const ack = (events: PresenceEvent[]) => {
        try {
          box.ack(name, events);
        } catch (err) {
          outboxFailed(err);
        }
      };
      q.on('delivered', ack);
      q.on('abandoned', ack); // in the dead-letter now
      for (const e of outbox.pending(name)) q.push(e); // undelivered last time: again, same ids
    }
  }

  const common = watcherOptions(cfg, log, { stateStore: watcherStore, initialState });
  let watcher: PresenceWatcher;
  try {
    // --once: one snapshot, so nothing the interval decides is said (the request budget's warning)
    const once = io.once ? { [ONE_SHOT]: true } : {};
    watcher = cfg.allRooms ? new PresenceWatcher({ ...common, ...once, allRooms: true }) : new PresenceWatcher({ ...common, ...once, rooms: cfg.rooms });
  } catch (err) {
    // the config checks should catch every bad value first; this keeps one that slips through a
    // usage error (exit 2, one line) instead of an internal error with a stack trace
    if (err instanceof WatcherOptionsError) throw new ConfigError(err.message.replace(/^PresenceWatcher: /, ''));
    throw err;
  }
  metrics.observeWatcher(watcher, cfg.allRooms);
  watcherRef = watcher;
  warnIgnoreCaseMisses(watcher, prepared.sinks, log);
  const outboxFull = new RepeatedWarning(log);
  /**
   * Whether the outbox had room when this poll's events began (they come in one synchronous run):
   * then all of them are admitted, as the sink queues hold them, even past the cap. Judged per event,
   * a first snapshot of more people than the cap (or of half as many, with two sinks) sent the rest
   * to the dead-letter, however fast the sinks.
   */
  let pollAdmitted = false;
  const poll = new SyncRun();
  watcher.on('event', (e) => {
    if (!outbox) {
      dispatcher.dispatch(e);
      return;
    }
    const queues = dispatcher.routesFor(e);
    if (poll.starts()) {
      // a look at the lock before this poll's events go into the outbox (once a poll: a stat and a
      // read of a small file); taken over, the outbox closes here and nothing more is written to it
      lock?.confirm();
      pollAdmitted = outbox.size < cfg.outboxCap;
    }
    // bounded: past the cap an event goes straight to a sink's dead-letter, logged and counted; it
    // is journaled all the same, since the state changed
    let room = pollAdmitted ? Infinity : cfg.outboxCap - outbox.size;
    const admitted: DeliveryQueue[] = [];
    for (const q of queues) {
      if (room-- > 0) {
        admitted.push(q);
        continue;
      }
      outboxFull.hit({ outboxCap: cfg.outboxCap }, 'outbox full: new events go to the dead-letter until deliveries catch up');
      metrics.deliveries.inc({ sink: q.sink.name, outcome: 'dropped' });
      deadLetter.write(q.sink.name, `outbox full (cap ${cfg.outboxCap})`, [e]);
    }
    const names = admitted.map((q) => keyOf.get(q)!);
    let fresh: readonly string[];
    try {
      fresh = outbox.record(e, names);
    } catch (err) {
      // the outbox cannot be written (disk full, I/O error): deliver all the same, only without the
      // guarantee of a re-delivery after a crash, rather than drop the event
      outboxFailed(err);
      fresh = names;
    }
    for (const q of admitted) if (fresh.includes(keyOf.get(q)!)) q.push(e); // not what is already waiting there
  });
  let emitted = 0;
  if (io.once) watcher.on('event', () => emitted++);
  // who the first snapshots found, from the polls' counts (snapshot() would copy everyone): a key for
  // another domain, or the wrong rooms, shows as nobody at all, where nothing else would say so. A
  // room Daily does not know (404; a 400 likewise) never gets a first snapshot, so `ready` never
  // comes: once every other target has answered, the line is said all the same, naming those rooms
  const firsts = new Map<string, { people: number; rooms: number } | Error>();
  let startSaid = false;
  const sayStarted = () => {
    startSaid = true;
    watcher.off('poll', onFirstPoll);
    let people = 0;
    let rooms = 0;
    const failing: string[] = [];
    for (const [target, first] of firsts) {
      if (first instanceof Error) failing.push(target);
      else {
        people += first.people;
        rooms += first.rooms;
      }
    }
    firsts.clear();
    const watched = watcher.targets.length;
    const where = cfg.allRooms
      ? `${rooms} room(s) with anyone in them`
      : failing.length === 0
        ? `${rooms} of the ${watched} room(s) watched`
        : `${rooms} of the ${watched - failing.length} room(s) that answered; ${failing.length} of the ${watched} watched did not (${failing.slice(0, 5).join(', ')}${failing.length > 5 ? ', …' : ''}: see the warnings above)`;
    // nobody in the whole domain is normal at night, and what a key for another domain looks like
    const nobody = cfg.allRooms && people === 0 ? ' (if calls are on now: is the API key the one of their Daily domain?)' : '';
    log.info(
      { targets: watched, people, rooms, ...(failing.length > 0 ? { failing } : {}) },
      `first snapshot taken: ${people} ${people === 1 ? 'person' : 'people'} present, in ${where}; watching for changes${nobody}`,
    );
  };
  const onFirstPoll = (p: PollInfo) => {
    if (p.ok) firsts.set(p.target, { people: p.participants, rooms: p.rooms });
    // a room Daily will answer the same way until someone changes it (a transient failure is retried)
    else if (p.error instanceof DailyApiError && !p.error.retryable && !p.error.fatal) firsts.set(p.target, p.error);
    // every target heard from, and not all of them answered (then `ready` says it)
    if (firsts.size === watcher.targets.length && [...firsts.values()].some((f) => f instanceof Error)) sayStarted();
  };
  if (!io.once) watcher.on('poll', onFirstPoll);
  watcher.on('ready', () => {
    if (!io.once) {
      if (!startSaid) sayStarted();
      return;
    }
    // what the snapshot found, said even when it found nobody: "who is in standup now?" answered
    // by silence on stdout reads as a run that did nothing
    const rooms = Object.values(watcher.snapshot());
    const people = rooms.reduce((n, list) => n + list.length, 0);
    const where = cfg.allRooms ? `${rooms.length} room(s) with anyone in them` : `${watcher.targets.length} room(s)`;
    log.info(
      { targets: watcher.targets.length, people, events: emitted },
      `snapshot taken: ${people} ${people === 1 ? 'person' : 'people'} in ${where}, ${emitted} event(s) to deliver; delivering them, then stopping (--once)`,
    );
  });

  let health: HealthServer | undefined;
  let healthUrl: string | undefined;
  if (cfg.health) {
    // a full outbox sends every new event to the dead-letter: as unhealthy as a full sink queue
    const outboxFull = () =>
      outbox && outbox.size >= cfg.outboxCap ? `outbox full (cap ${cfg.outboxCap}): new events go to the dead-letter until deliveries catch up` : undefined;
    health = new HealthServer({ watcher, metrics, queues: dispatcher.queues, checks: [outboxFull], ...cfg.health });
    try {
      healthUrl = await health.listen();
    } catch (err) {
      await watcher.stop();
      throw new ConfigError(`--health ${formatHostPort(cfg.health)}: cannot listen: ${listenProblem(err, cfg.health.port)}`);
    }
    log.info(
      { healthz: `${healthUrl}/healthz`, livez: `${healthUrl}/livez`, metrics: `${healthUrl}/metrics` },
      `health at ${healthUrl}/healthz (liveness: ${healthUrl}/livez), metrics at ${healthUrl}/metrics`,
    );
  }

  const fatal = new Promise<Error>((resolve) => {
    watcher.on('stop', (reason) => {
      if (reason) resolve(reason);
    });
    void lostLock.then(resolve);
    // every sink disabled (an only webhook answered 410, the program reading stdout went away):
    // polling on would only fill the dead-letter while /healthz says why, so stop and say it
    for (const q of dispatcher.queues) {
      q.on('disabled', () => {
        if (!dispatcher.queues.every((x) => x.disabled)) return;
        const why = dispatcher.queues.map((x) => `${x.sink.name}: ${x.disabledReason!.replace(/^sink disabled: /, '')}`).join('; ');
        resolve(new SinksDisabledError(`every sink is disabled, nothing can be delivered (${why})`));
      });
    }
  });

  const what = cfg.allRooms ? 'every room of the domain' : `${cfg.rooms.length} room(s)`;
  log.info(
    {
      mode: cfg.allRooms ? 'all-rooms' : 'rooms',
      rooms: cfg.allRooms ? undefined : cfg.rooms,
      ...(io.once ? {} : { interval: formatDuration(cfg.intervalMs) }),
      sinks: dispatcher.queues.map((q) => q.sink.name),
      ...(Object.keys(filters).length > 0 ? { filters } : {}),
      maxRps: cfg.maxRps,
    },
    io.once ? `taking one snapshot of ${what} (--once): ${oneSnapshot(cfg)}` : `watching ${what} every ${formatDuration(cfg.intervalMs)}`,
  );
  watcher.start();

  let shuttingDown: Promise<number> | undefined;
  const shutdown = () =>
    (shuttingDown ??= (async () => {
      await watcher.stop();
      const left = await dispatcher.drain(cfg.drainTimeoutMs);
      const rest = await dispatcher.close();
      for (const [q, events] of rest) {
        if (!events.length) continue;
        if (outbox) log.warn({ sink: q.sink.name, left: events.length }, `${events.length} event(s) not delivered within the shutdown deadline stay in the outbox for the next start`);
        else deadLetter.write(q.sink.name, `not delivered within the ${formatDuration(cfg.drainTimeoutMs)} shutdown deadline`, events);
      }
      deadLetter.flush?.();
      outbox?.close();
      lock?.release();
      await health?.close();
      return left;
    })());

  return { watcher, dispatcher, metrics, health, healthUrl, fatal, shutdown };
}
