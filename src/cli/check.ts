import { accessSync, constants, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { ConfigError, durationNotes, formatHostPort, type DaemonConfig } from '../config.js';
import { apiNotes, healthNotes, proxyNotes, requestTargets, keepSecret, oneSnapshot, openDeadLetter, prepareSinks, roomNotes, watcherOptions, type DaemonIO } from '../daemon.js';
import { deadLetterHeld } from '../sinks/dead-letter.js';
import type { SinkFilter } from '../dispatcher.js';
import { nearestExisting } from '../util/dirs.js';
import { noProxyEntry, proxyConfigured, proxyRoute } from '../util/http-agent.js';
import { pseudoFsProblem } from '../util/pseudo-fs.js';
import { FileStateStore } from '../state/file-store.js';
import { StateLock } from '../state/lock.js';
import { readOutboxLog } from '../state/outbox.js';
import { checkSource, StateError, type SavedState } from '../state/store.js';
import { formatDuration } from '../util/duration.js';
import { fasterThanDomainData, notDailyBase, overBudget, overDailyLimit, PresenceWatcher, WatcherOptionsError } from '../watcher.js';
import { urlCredentials } from '../sinks/webhook.js';
import { apiSource } from '../daily/client.js';

/** Where the check's continuation lines start, under the first line's value. */
const INDENT = ' '.repeat(13);

/**
 * The watched rooms as the check shows them: a short list in parentheses on the watch line
 * (" (standup, retro)"), a long one on lines of their own under it, up to ~100 characters each, so
 * that 300 rooms are not one line of 6,000 characters that a terminal wraps into the lines after it.
 */
function roomList(rooms: readonly string[]): { inline: string; below: string[] } {
  const joined = rooms.join(', ');
  if (joined.length <= 60) return { inline: ` (${joined})`, below: [] };
  const below: string[] = [];
  let line = '';
  for (const [i, room] of rooms.entries()) {
    const item = i < rooms.length - 1 ? `${room},` : room;
    if (line && line.length + 1 + item.length > 100 - INDENT.length) {
      below.push(INDENT + line);
      line = item;
    } else line = line ? `${line} ${item}` : item;
  }
  below.push(INDENT + line);
  return { inline: '', below };
}

/**
 * When a state says it was saved. The watcher always writes savedAt, but nothing reads it: a state
 * written by hand or by a library store without it (or with something else) is not corrupt for
 * that, and is not shown as "saved undefined".
 */
function savedWhen(savedAt: unknown): string {
  return typeof savedAt === 'string' && !Number.isNaN(Date.parse(savedAt)) ? savedAt : 'at a time it does not record';
}

/** What `--check-config` found: lines saying what the daemon would run, and notes worth reading first. */
export interface CheckReport {
  lines: string[];
  notes: string[];
}

export const NOT_CHECKED =
  'Not checked (they need the network or the running system): whether Daily accepts the API key (`--once` tries it), whether the receivers accept deliveries, whether the health port is free.';

/**
 * Everything the daemon would check at start, without starting it: the resolved config, the sinks
 * and their secrets, the watcher's options, the dead-letter file, the state file and outbox as they
 * are on disk. Changes nothing: no directory or file is created, the lock is not taken, the health
 * port is not bound, nothing is sent. A ConfigError for what would stop the daemon (exit 2).
 */
export async function checkConfig(cfg: DaemonConfig, io: DaemonIO): Promise<CheckReport> {
  const lines: string[] = [];
  const notes: string[] = [];
  // in the daemon's order, so that of several problems the one reported is the one it would report
  keepSecret(cfg);
  openDeadLetter(cfg.deadLetterPath, io.logger, { create: false, stdoutSink: cfg.sinks.some((s) => s.type === 'stdout'), statePath: cfg.statePath });
  const { sinks, notes: sinkNotes } = prepareSinks(cfg, io);
  notes.push(...sinkNotes.map((n) => n.message));
  notes.push(...durationNotes(cfg));
  notes.push(...apiNotes(cfg).map((n) => n.message));
  notes.push(...roomNotes(cfg).map((n) => n.message));
  notes.push(...healthNotes(cfg).map((n) => n.message));
  notes.push(...(cfg.fileNotes ?? []));
  const targets = requestTargets(cfg, sinks);
  notes.push(...proxyNotes(targets).map((n) => n.message));
  const stateLines = cfg.statePath
    ? await checkState(cfg, sinks.map((s) => s.key), sinks.map((s) => s.sink.name), notes)
    : ['state        none: a restart sends joins for everyone present again, and no leave for who left meanwhile'];
  // the watcher's own checks of its options (those the config's checks should already have caught)
  const options = watcherOptions(cfg, io.logger);
  try {
    const watcher = cfg.allRooms ? new PresenceWatcher({ ...options, allRooms: true }) : new PresenceWatcher({ ...options, rooms: cfg.rooms });
    await watcher.stop();
  } catch (err) {
    if (err instanceof WatcherOptionsError) throw new ConfigError(err.message.replace(/^PresenceWatcher: /, ''));
    throw err;
  }
  const notBase = notDailyBase(cfg.apiUrl);
  if (notBase) notes.push(notBase);
  const overDaily = overDailyLimit(cfg.maxRps, cfg.apiUrl);
  if (overDaily) notes.push(overDaily);
  // --once takes one snapshot: what the interval decides does not apply
  const tooFast = cfg.allRooms && !io.once ? fasterThanDomainData(cfg.intervalMs, cfg.apiUrl) : undefined;
  if (tooFast) notes.push(tooFast);

  if (io.once) {
    const list = cfg.allRooms ? undefined : roomList(cfg.rooms);
    lines.push(`watch        ${cfg.allRooms ? 'every room of the domain' : `${cfg.rooms.length} room(s)${list!.inline}`}, one snapshot (--once): ${oneSnapshot(cfg)}`);
    if (list) lines.push(...list.below);
  } else if (cfg.allRooms) {
    lines.push(`watch        every room of the domain (GET /presence) every ${formatDuration(cfg.intervalMs)}: one request per interval`);
  } else {
    const rps = cfg.rooms.length / (cfg.intervalMs / 1000);
    const list = roomList(cfg.rooms);
    lines.push(`watch        ${cfg.rooms.length} room(s)${list.inline} every ${formatDuration(cfg.intervalMs)}: ${round(rps)} requests/s of a ${cfg.maxRps}/s budget`, ...list.below);
    const over = overBudget(cfg.rooms.length, cfg.intervalMs, cfg.maxRps);
    if (over) notes.push(over);
  }
  // without a user:password@ or query it may carry; where the key came from, never the key
  lines.push(`api          ${apiSource(new URL(cfg.apiUrl))}${cfg.apiKeyFrom ? `, key from ${cfg.apiKeyFrom}` : ''}`);
  sinks.forEach(({ sink, filter }, i) => {
    const s = cfg.sinks[i]!;
    const what: string[] = [];
    if (s.type === 'stdout') what.push(s.format === 'text' ? 'lines of text' : 'NDJSON');
    if (s.type === 'webhook') {
      const secret = s.secret ?? cfg.webhookSecret;
      const count = secret === undefined ? 0 : secret.trim().startsWith('whsec_') ? secret.trim().split(/\s+/).length : 1;
      what.push(count === 0 ? 'unsigned' : `signed with ${count} secret${count === 1 ? '' : 's'}`);
      if (s.headers && Object.keys(s.headers).length > 0) what.push(`headers ${Object.keys(s.headers).join(', ')}`);
      if (urlCredentials(s.url)) what.push('Basic credentials from the URL');
      const c = sink.concurrency ?? 1;
      what.push(c === 1 ? 'one request at a time, in order' : `up to ${c} requests at once (one person's events in order)`);
    }
    if (s.type === 'slack' && s.messageInterval !== undefined) what.push(`a message at most every ${formatDuration(s.messageInterval)}`);
    what.push(...describeFilter(filter, sink.forPeople === true));
    lines.push(`${i === 0 ? 'sinks        ' : '             '}${sink.name}: ${what.join('; ')}`);
  });
  lines.push(
    cfg.samePerson === 'name'
      ? 'reconnects   paired by name (--same-person name: two people of one name in a room count as one)'
      : 'reconnects   paired by userId and name (set through meeting tokens; sessions without one are not paired)',
  );
  lines.push(
    cfg.leaveGraceMs > 0
      ? `leaves       after ${formatDuration(cfg.leaveGraceMs)} absent (--leave-grace): someone back within it gets neither leave nor join`
      : 'leaves       at the first poll a person is missing (no --leave-grace)',
  );
  lines.push(`dead-letter  ${cfg.deadLetterPath ? `${cfg.deadLetterPath} (writable)` : 'none: undeliverable events are logged at error level'}`);
  const earlier = deadLetterHeld(cfg.deadLetterPath);
  if (earlier) notes.push(earlier);
  lines.push(...stateLines);
  if (proxyConfigured()) {
    // behind a proxy, "why does it time out?" starts with where each request goes
    targets.forEach(({ label, url }, i) => {
      const route = proxyRoute(url);
      const entry = noProxyEntry(url);
      const how = route
        ? `through ${route.host} (${route.variable})`
        : entry !== undefined
          ? `direct (NO_PROXY: ${entry})`
          : `direct (HTTP_PROXY, which http:// URLs take, is not set)`;
      lines.push(`${i === 0 ? 'proxy        ' : '             '}${label}: ${how}`);
    });
  }
  lines.push(`health       ${cfg.health ? `${formatHostPort(cfg.health)} (/healthz, /livez, /metrics)` : 'off'}`);
  return { lines, notes };
}

/** The state file, its outbox and its lock as the daemon would find them; a ConfigError when it would refuse them. */
async function checkState(cfg: DaemonConfig, keys: string[], names: string[], notes: string[]): Promise<string[]> {
  const path = cfg.statePath!;
  const lines: string[] = [];
  if (cfg.stateLink !== undefined) notes.push(`--state ${cfg.stateLink} is a symbolic link: the state, its outbox and its lock are kept beside ${path}, where it points`);
  const fail = (err: unknown): never => {
    if (err instanceof StateError) throw new ConfigError(err.message);
    throw err;
  };
  const pseudo = pseudoFsProblem(path);
  if (pseudo) throw new ConfigError(`--state ${path}: ${pseudo}`);
  // the daemon creates the directory and then its lock there: say what it would say if it could not
  const parent = dirname(path);
  const dir = nearestExisting(parent);
  const code = (err: unknown) => (err as NodeJS.ErrnoException).code ?? (err as Error).message;
  if (dir !== parent) {
    try {
      if (!statSync(dir).isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
      accessSync(dir, constants.W_OK);
    } catch (err) {
      throw new ConfigError(`--state ${path}: cannot create its directory (${code(err)})`);
    }
  } else {
    try {
      accessSync(dir, constants.W_OK);
    } catch (err) {
      throw new ConfigError(`cannot create lock ${path}.lock: ${code(err)}`);
    }
  }
  const every = cfg.saveEveryMs > 0 ? `; written at most every ${formatDuration(cfg.saveEveryMs)} (--save-every)` : '';
  let state: SavedState | undefined;
  try {
    state = await new FileStateStore(path).load();
    if (state) checkSource(state, apiSource(new URL(cfg.apiUrl)), `state file ${path}`);
  } catch (err) {
    fail(err);
  }
  if (!state) {
    lines.push(`state        ${path}: none yet (a first start${cfg.ignoreInitial ? '' : ': everyone present gets an initial join'})${every}`);
  } else {
    const people = Object.values(state.rooms).reduce((n, list) => n + list.length, 0);
    const leaving = Object.values(state.pendingLeaves ?? {}).reduce((n, ids) => n + Object.keys(ids).length, 0);
    lines.push(`state        ${path}: saved ${savedWhen(state.savedAt)}, ${Object.keys(state.rooms).length} room(s), ${people} people${leaving ? ` (${leaving} of them missing, their leave pending: --leave-grace)` : ''}${every}`);
    // a state taken of the whole domain knows every room (an absent one was empty); one taken room
    // by room knows only its rooms
    const saved = state.rooms;
    let fresh: string[] = [];
    if (state.mode === 'rooms') fresh = cfg.allRooms ? ['every room but those the state watched'] : cfg.rooms.filter((r) => !Object.hasOwn(saved, r));
    // room mode keeps what the state holds of rooms it does not watch, saved again as it was
    const unwatched = cfg.allRooms ? [] : Object.keys(saved).filter((r) => !cfg.rooms.includes(r));
    if (unwatched.length > 0) {
      lines.push(
        `             ${unwatched.length} of its room(s) not watched by this config (${unwatched.slice(0, 5).join(', ')}${unwatched.length > 5 ? ', …' : ''}): kept as they are, so that watching one again reports what changed since`,
      );
    }
    if (fresh.length > 0) {
      notes.push(
        `the state has never seen ${fresh.join(', ')}: ${fresh.length === 1 && !cfg.allRooms ? 'its' : 'their'} people get initial joins on the first poll${cfg.ignoreInitial ? ' (dropped: --ignore-initial)' : ' (--ignore-initial drops them)'}`,
      );
    }
  }
  let outbox;
  try {
    outbox = readOutboxLog(`${path}.outbox.ndjson`, state?.journalSeq ?? 0);
  } catch (err) {
    fail(err);
  }
  if (outbox) {
    const waiting = [...outbox.pending].filter(([, events]) => events.size > 0);
    const total = waiting.reduce((n, [, events]) => n + events.size, 0);
    lines.push(`outbox       ${total} undelivered event(s) from the last run${total > 0 ? ', sent again at start' : ''}${outbox.journal.length > 0 ? `; ${outbox.journal.length} journaled past the state, replayed onto it` : ''}`);
    const configured = new Set([...keys, ...names]);
    for (const [sink, events] of waiting) {
      if (configured.has(sink)) continue;
      notes.push(`${events.size} undelivered event(s) wait for ${sink}, which this config no longer has (removed, or its URL changed): the daemon moves them to the dead-letter at start`);
    }
    if (outbox.cutShort > 0) notes.push(`the outbox has ${outbox.cutShort} line(s) cut short (a crash or a full disk mid-write): the daemon ignores them`);
  }
  let owner;
  try {
    owner = new StateLock(path).heldByAnother();
  } catch (err) {
    fail(err);
  }
  if (owner !== undefined) {
    notes.push(`the state file is in use by a running presence-watcher (pid ${owner.pid}): a daemon started with it now would exit 2 until that one stops`);
  }
  return lines;
}

/** A sink's filter in words; `forPeople` (Sink.forPeople): it also skips the marked sessions of someone who stays. */
function describeFilter(f: SinkFilter, forPeople: boolean): string[] {
  const out: string[] = [];
  if (f.events) out.push(`events ${f.events.join(', ')}`);
  if (f.rooms) out.push(`rooms ${f.rooms.join(', ')}`);
  if (f.ignoreUsers) out.push(`ignoring ${f.ignoreUsers.join(', ')}`);
  const sessions = 'a reconnect or a second device (sameUserAs)';
  if (out.length === 0) out.push(forPeople ? `every event but the joins and leaves of ${sessions}` : 'every event');
  else if (forPeople) out.push(`not the joins and leaves of ${sessions}`);
  return out;
}

function round(n: number): string {
  return n >= 10 ? n.toFixed(0) : n >= 1 ? n.toFixed(1) : n.toFixed(2);
}

