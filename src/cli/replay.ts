import { ConfigError, loadConfigFile, webhookSecretFromEnv, readProblem, withSinkDefaults, type FileConfig, type LogLevelName } from '../config.js';
import { buildSink, openDeadLetter, sinkFilter } from '../daemon.js';
import { Dispatcher } from '../dispatcher.js';
import { createLogger, defaultLogFormat, secrets, type LogFormat } from '../log.js';
import { DeliveryQueue } from '../sinks/queue.js';
import { eventProblem, type PresenceEvent } from '../events.js';
import { formatDuration } from '../util/duration.js';
import type { Writable } from 'node:stream';
import { forEachLine, readLines } from '../util/lines.js';
import { timerDelay } from '../util/sleep.js';
import { sameFile } from '../util/file-kind.js';

export interface ReplayCommand {
  file: string;
  sinks: FileConfig['sinks'];
  webhookSecret: string | undefined;
  configPath: string | undefined;
  deadLetter: string | undefined;
  drainTimeoutMs: number;
  logLevel: LogLevelName;
  logFormat: LogFormat | undefined;
  /** Send nothing: check the file, the sinks and the routing, and print what each sink would be sent. */
  dryRun?: boolean;
}

export interface ReplayIO {
  stdout: Writable;
  stderr: Writable;
  env: NodeJS.ProcessEnv;
  version: string;
  /** Resolves on SIGINT/SIGTERM/SIGHUP with its name and exit code: stop, say how far it got. */
  interrupted?: Promise<{ signal: string; exitCode: number }>;
  /** How often a replay still running says how far it has got: REPLAY_PROGRESS_MS unless given (tests). */
  progressEveryMs?: number;
}

/**
 * How often a replay still running says on stderr how far it has got. A large file takes minutes
 * (1.75M events: ~4 to a local webhook, ~65 to Slack), and the default log level says nothing
 * while all goes well: that silence read as a hang.
 */
export const REPLAY_PROGRESS_MS = 15_000;

/** An id's mark in the index once its event has been handed to the sinks. */
const SENT = -1;
/** Events a sink's queue may hold before replay stops reading the file until it has taken half. */
export const REPLAY_HIGH_WATER = 4096;

/**
 * What replay learns of a dead-letter file on its first read, before anything is sent, holding no
 * event: all of them at once took 1.4 GB for a 605 MB file (months of a large domain's events), past
 * a small container's memory. The second read hands each event on as it comes to it.
 */
export interface DeadLetterIndex {
  /** Each event's id → the sinks it was dead-lettered for (an index into `combos`); SENT once handed on. */
  ids: Map<string, number>;
  /** The distinct sets of sink names the lines give an event, sorted; the first, [], is none (every sink). */
  combos: string[][];
  /** Every sink name of the lines, in the order the file first gives them. */
  sinks: string[];
  /** Lines read: the second read stops there (what a daemon appends meanwhile is not this replay's). */
  lines: number;
  /** A last line cut short (a crash mid-append), left out. */
  skipped: number;
}

/**
 * The first read of a dead-letter file, a line at a time: each event's id once (an event
 * dead-lettered for two sinks is two lines), and the sinks it was dead-lettered for. A last line
 * cut short is skipped; any other line that is not a dead-letter record makes the file unusable
 * (ConfigError naming the line), before anything is sent.
 */
export function indexDeadLetters(path: string): DeadLetterIndex {
  const ids = new Map<string, number>();
  const combos: string[][] = [[]];
  /** A combination and one more sink → the combination of both (few distinct: each worked out once). */
  const joined: Map<string, number>[] = [new Map()];
  const byKey = new Map<string, number>([['', 0]]);
  const sinks = new Set<string>();
  const withSink = (combo: number, sink: string): number => {
    let to = joined[combo]!.get(sink);
    if (to === undefined) {
      sinks.add(sink);
      const names = combos[combo]!.includes(sink) ? combos[combo]! : [...combos[combo]!, sink].sort();
      const key = names.join('\n');
      to = byKey.get(key);
      if (to === undefined) {
        byKey.set(key, (to = combos.length));
        combos.push(names);
        joined.push(new Map());
      }
      joined[combo]!.set(sink, to);
    }
    return to;
  };
  let skipped = 0;
  let lines = 0;
  const onLine = (line: string, i: number, last: boolean) => {
    lines = i + 1;
    if (line.trim() === '') return;
    let record: unknown;
    try {
      record = JSON.parse(line);
    } catch {
      if (last) {
        skipped++;
        return;
      }
      throw new ConfigError(`${path}: line ${i + 1} is not JSON: not a dead-letter file? (In one, a damaged line, e.g. from two daemons appending to one file: delete that line and replay again; replay sends each event once, whatever is left)`);
    }
    const event = (record as { event?: unknown } | null)?.event;
    if (event === null || typeof event !== 'object') throw new ConfigError(`${path}: line ${i + 1} has no event: not a dead-letter file?`);
    // a line edited by hand: what is wrong with its event, said before anything is sent (a name
    // that is a number made the Slack and text sinks throw, and the whole batch was dead-lettered)
    const problem = eventProblem(event);
    if (problem !== undefined) throw new ConfigError(`${path}: line ${i + 1}: the event is not one the watcher writes: ${problem}. Mend or delete that line and replay again`);
    const { id } = event as PresenceEvent;
    const sink = (record as { sink?: unknown }).sink;
    const combo = ids.get(id) ?? 0;
    ids.set(id, typeof sink === 'string' ? withSink(combo, sink) : combo);
  };
  // a line at a time: a file of months of a large domain's events (600 MB) was "Cannot create a
  // string longer than 0x1fffffe8 characters" read whole. A byte order mark (an editor's, the file
  // trimmed by hand before a replay) is left out
  try {
    forEachLine(path, onLine);
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError(`cannot read ${path}: ${readProblem(err)}`);
  }
  return { ids, combos, sinks: [...sinks], lines, skipped };
}

/**
 * The second read: the file's events, each once, in the file's order (an event's first line), with
 * the sinks it was dead-lettered for (an index into the index's `combos`), each marked SENT in the
 * index as it is given. Only the lines the first read saw; one that no longer reads as it did (the
 * file changed between the reads) is passed over, and its event stays unmarked. Errors of reading
 * are thrown as fs throws them.
 */
export function* indexedEvents(path: string, index: DeadLetterIndex): Generator<{ event: PresenceEvent; combo: number; line: number }, void, undefined> {
  for (const [line, i] of readLines(path)) {
    if (i >= index.lines) return;
    if (line.trim() === '') continue;
    let event: unknown;
    try {
      event = (JSON.parse(line) as { event?: unknown } | null)?.event;
    } catch {
      continue;
    }
    if (event === null || typeof event !== 'object' || eventProblem(event) !== undefined) continue;
    const e = event as PresenceEvent;
    const combo = index.ids.get(e.id);
    if (combo === undefined || combo === SENT) continue;
    index.ids.set(e.id, SENT);
    yield { event: e, combo, line: i + 1 };
  }
}

type Stop = { signal: string; exitCode: number };

/** Until every queue holds at most half REPLAY_HIGH_WATER ('room'), the deadline passes, or a signal comes. */
function room(queues: readonly DeliveryQueue[], deadline: number, interrupted: ReplayIO['interrupted']): Promise<'room' | 'deadline' | Stop> {
  return new Promise((resolve) => {
    let settled = false;
    const done = (r: 'room' | 'deadline' | Stop) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      for (const q of queues) q.off('depth', check);
      resolve(r);
    };
    const check = () => {
      if (queues.every((q) => q.depth <= REPLAY_HIGH_WATER / 2)) done('room');
    };
    const timer = setTimeout(() => done('deadline'), timerDelay(deadline - performance.now()));
    for (const q of queues) q.on('depth', check);
    void interrupted?.then(done);
    check();
  });
}

/** `presence-watcher replay`: deliver a dead-letter file's events again. Resolves with the exit code. */
export async function replay(c: ReplayCommand, io: ReplayIO): Promise<number> {
  const file: FileConfig = c.configPath ? loadConfigFile(c.configPath, io.env) : {};
  const sinks = withSinkDefaults(c.sinks ?? file.sinks ?? [], file);
  if (sinks.length === 0) throw new ConfigError('replay: where to? give --sink <spec> (repeatable), or --config with sinks');
  const webhookSecret = c.webhookSecret ?? file.webhookSecret ?? webhookSecretFromEnv(io.env, sinks);
  const index = indexDeadLetters(c.file);
  if (c.deadLetter !== undefined && sameFile(c.deadLetter, c.file)) {
    throw new ConfigError(
      `replay: --dead-letter ${c.deadLetter} is the file being replayed: what fails again would be appended to it, beside the events that were delivered, and the file would no longer say which are left. Give another file (e.g. ${c.file.replace(/(\.ndjson)?$/, '.again.ndjson')}), then replace the first with it`,
    );
  }

  const log = createLogger({ level: c.logLevel, format: c.logFormat ?? defaultLogFormat(io.stderr as { isTTY?: boolean }) });
  // (a dry run checks that --dead-letter can be written, without making it)
  const deadLetter = openDeadLetter(c.deadLetter, log, { stdoutSink: sinks.some((s) => s.type === 'stdout'), create: !c.dryRun });
  const dispatcher = new Dispatcher();
  sinks.forEach((s, i) => {
    const sink = buildSink(s, i, webhookSecret, { stdout: io.stdout, logger: log, version: io.version });
    // room for the whole file: a replay must not drop its oldest events for want of space (the
    // reading waits at REPLAY_HIGH_WATER for the sinks to catch up)
    dispatcher.add(new DeliveryQueue({ sink, deadLetter, logger: log, cap: Math.max(1, index.ids.size) }), sinkFilter(s));
  });
  const queues = dispatcher.queues;
  let delivered = 0;
  let failed = 0;
  for (const q of queues) {
    q.on('delivered', (batch) => (delivered += batch.length));
    q.on('abandoned', (batch) => (failed += batch.length));
  }
  // --config: each event to the sink(s) it was dead-lettered for, not every sink: Slack and stdout do
  // not dedupe, so a Slack message sent fine would have been posted again for a webhook's failure.
  // --sink: to every sink given (the user names where they go: a moved URL, a new receiver).
  const forCombo = c.sinks === undefined ? sinkRouting(queues.map((q) => q.sink.name), index, c.file) : undefined;
  if (c.dryRun) return dryRun(c, index, dispatcher, forCombo, io);
  const late = `not delivered within --drain-timeout ${formatDuration(c.drainTimeoutMs)}`;
  /** Past the deadline: per sink, what it still held and what was read after, to the dead-letter a thousand at a time. */
  let overdue: Map<DeliveryQueue, PresenceEvent[]> | undefined;
  const putOff = (q: DeliveryQueue, list: PresenceEvent[], atLeast: number) => {
    if (list.length === 0 || list.length < atLeast) return;
    failed += list.length;
    deadLetter.write(q.sink.name, late, list.splice(0));
  };
  let events = 0;
  let handed = 0;
  let wanted = 0;
  let lastLine = 0;
  let stopped: Stop | undefined;
  let unreadable: string | undefined;
  // the deliveries have --drain-timeout in all, from the first, as when every event was handed on
  // at once and then drained
  const started = performance.now();
  const deadline = started + c.drainTimeoutMs;
  const progress = setInterval(() => {
    const line = `replaying ${c.file}: ${events} of ${index.ids.size} event(s) read, ${delivered} of ${handed} deliveries made${failed ? `, ${failed} failed again` : ''} (${formatDuration(Math.round((performance.now() - started) / 1000) * 1000)} in)`;
    io.stderr.write(`presence-watcher: ${secrets.scrub(line)}\n`);
  }, io.progressEveryMs ?? REPLAY_PROGRESS_MS);
  progress.unref();
  try {
    try {
      for (const { event, combo, line } of indexedEvents(c.file, index)) {
        events++;
        lastLine = line;
        const { routes, unfiltered } = routesOf(dispatcher, forCombo, event, combo);
        wanted += unfiltered;
        handed += routes.length;
        if (overdue) {
          for (const q of routes) {
            const list = overdue.get(q)!;
            list.push(event);
            putOff(q, list, 1000);
          }
          continue;
        }
        for (const q of routes) q.push(event);
        if (!routes.some((q) => q.depth >= REPLAY_HIGH_WATER)) continue;
        const r = await room(queues, deadline, io.interrupted);
        if (r === 'deadline') overdue = await dispatcher.close();
        else if (r !== 'room') {
          stopped = r;
          break;
        }
      }
    } catch (err) {
      // the file unreadable on the second read (a disk error: it read whole the first time); the
      // events handed on are still delivered, and the summary says how many were not. Anything else
      // is a bug, not the file's
      if (typeof (err as NodeJS.ErrnoException | null)?.code !== 'string') throw err;
      unreadable = readProblem(err);
    }
    if (!stopped && !overdue) {
      const r = await Promise.race([dispatcher.drain(deadline - performance.now()).then(() => undefined), io.interrupted ?? new Promise<never>(() => {})]);
      if (r !== undefined) stopped = r;
      else overdue = await dispatcher.close();
    }
    if (stopped !== undefined) {
      let unsent = 0;
      for (const [, rest] of await dispatcher.close()) unsent += rest.length;
      const unread = events < index.ids.size ? `; the file's events after line ${lastLine} were not handed to them` : '';
      io.stderr.write(
        `presence-watcher: replay interrupted (${stopped.signal}): ${delivered} of ${handed} deliveries made, ${unsent} not${unread} (${c.file} is unchanged: replay it again; receivers dedupe what was sent twice)\n`,
      );
      log.flush();
      return stopped.exitCode;
    }
    for (const [q, rest] of overdue!) putOff(q, rest, 0);
    const missing = index.ids.size - events;
    const where = c.deadLetter ? `written to ${c.deadLetter}` : 'logged above';
    const summary =
      `replayed ${events} event(s) from ${c.file}${index.skipped ? ` (a last line cut short skipped)` : ''}: ` +
      `${delivered} of ${handed} deliveries made` +
      (failed ? `, ${failed} failed again (${where})` : '') +
      (handed < wanted ? '; the sinks\' filters took the rest' : '') +
      (missing === 0
        ? ''
        : unreadable !== undefined
          ? `; ${missing} event(s) not sent: reading ${c.file} a second time failed after line ${lastLine} (${unreadable}): replay it again`
          : `; ${missing} event(s) not sent: their lines were gone or changed when ${c.file} was read a second time (changed during the replay): replay it again`) +
      // the next step: the file is only read, and a second replay would post to Slack again
      (missing > 0 || handed === 0
        ? ''
        : failed === 0
          ? `; ${c.file} is left as it was: delete it or move it aside, or a later replay sends these again (Slack and stdout do not dedupe)`
          : c.deadLetter
            ? `; ${c.file} is left as it was: what failed again is all in ${c.deadLetter}, so once the cause is fixed replay that in its place`
            : `; ${c.file} is left as it was: replaying it again also resends what was delivered (Slack and stdout do not dedupe), where --dead-letter would keep only what failed`);
    io.stderr.write(`presence-watcher: ${secrets.scrub(summary)}\n`);
    log.flush();
    return failed > 0 || missing > 0 ? 1 : 0;
  } finally {
    clearInterval(progress);
  }
}

/**
 * The sinks an event goes to: those whose filters take it and, with --config, that it was
 * dead-lettered for; and how many it would go to but for the filters (for the summary's "the
 * sinks' filters took the rest").
 */
function routesOf(dispatcher: Dispatcher, forCombo: (Set<string> | undefined)[] | undefined, event: PresenceEvent, combo: number): { routes: DeliveryQueue[]; unfiltered: number } {
  const mine = forCombo?.[combo];
  const routes = dispatcher.routesFor(event).filter((q) => !mine || mine.has(q.sink.name));
  return { routes, unfiltered: mine ? mine.size : dispatcher.queues.length };
}

/**
 * `replay --dry-run`: the second read without sending: how many events each sink would be sent
 * (its filters and, with --config, the routing applied), on stdout. Everything before it ran as for
 * a replay (the file checked line by line, the sinks built, a sink the config lacks refused), so a
 * dry run that passes is a replay that starts.
 */
async function dryRun(c: ReplayCommand, index: DeadLetterIndex, dispatcher: Dispatcher, forCombo: (Set<string> | undefined)[] | undefined, io: ReplayIO): Promise<number> {
  const queues = dispatcher.queues;
  const perSink = new Map(queues.map((q) => [q, 0]));
  let events = 0;
  let handed = 0;
  let wanted = 0;
  try {
    for (const { event, combo } of indexedEvents(c.file, index)) {
      events++;
      const { routes, unfiltered } = routesOf(dispatcher, forCombo, event, combo);
      wanted += unfiltered;
      handed += routes.length;
      for (const q of routes) perSink.set(q, perSink.get(q)! + 1);
    }
  } catch (err) {
    if (typeof (err as NodeJS.ErrnoException | null)?.code !== 'string') throw err;
    throw new ConfigError(`cannot read ${c.file}: ${readProblem(err)}`);
  } finally {
    await dispatcher.close();
  }
  const lines = [
    `replay --dry-run: nothing sent. ${c.file}: ${events} event(s)${index.skipped ? ' (a last line cut short skipped)' : ''}, ${handed} deliveries to make${handed < wanted ? ` (the sinks' filters leave out ${wanted - handed})` : ''}:`,
    ...queues.map((q) => `  ${q.sink.name}: ${perSink.get(q)} event(s)${pacedPast(q, perSink.get(q)!, c.drainTimeoutMs)}`),
  ];
  io.stdout.write(`${secrets.scrub(lines.join('\n'))}\n`);
  return 0;
}

/**
 * For the dry run: when a sink that waits between deliveries (Slack: a message of up to 500 events
 * every 1.1 s) could not take `count` events within --drain-timeout even if every delivery went
 * through at once, what that leaves out and how long it would need; else ''.
 */
function pacedPast(q: DeliveryQueue, count: number, drainMs: number): string {
  const { minIntervalMs, maxBatch } = q.sink;
  const least = (Math.ceil(count / maxBatch) - 1) * minIntervalMs;
  if (minIntervalMs <= 0 || least <= drainMs) return '';
  const time = (ms: number) => (ms < 60_000 ? `${Number((ms / 1000).toFixed(1))} s` : `~${Math.ceil(ms / 60_000)} min`);
  return ` (a delivery of up to ${maxBatch} every ${time(minIntervalMs)}: at least ${time(least)}, past --drain-timeout ${formatDuration(drainMs)}, after which the rest would go to --dead-letter: raise it)`;
}

/**
 * For a replay with the config's sinks: each combination of sinks in the index → the names of the
 * sinks its events go to, those they were dead-lettered for (undefined for the first, none named:
 * every sink, as before sinks were named). A line's sink is found by its name
 * ("webhook-2(hooks.example)"), else by its kind and place alone ("webhook-2"), so a sink whose URL
 * was fixed is still found. An event whose sink the config no longer has (removed, reordered) stops
 * the replay before anything is sent (ConfigError): where it should go is the user's call.
 */
function sinkRouting(names: readonly string[], index: DeadLetterIndex, file: string): (Set<string> | undefined)[] {
  const place = (name: string) => name.replace(/\(.*\)$/, '');
  const byName = new Map(names.map((n) => [n, n]));
  const byPlace = new Map(names.map((n) => [place(n), n]));
  const found = (was: string) => byName.get(was) ?? byPlace.get(place(was));
  const perCombo = new Array<number>(index.combos.length).fill(0);
  for (const combo of index.ids.values()) perCombo[combo]!++;
  const unknown = new Map<string, number>();
  const out = index.combos.map((combo, k) => {
    if (combo.length === 0) return undefined;
    const to = new Set<string>();
    for (const was of combo) {
      const now = found(was);
      if (now === undefined) unknown.set(was, (unknown.get(was) ?? 0) + perCombo[k]!);
      else to.add(now);
    }
    return to;
  });
  // (a combination only passed through on the way to a larger one has no events of its own)
  for (const [name, n] of unknown) if (n === 0) unknown.delete(name);
  if (unknown.size > 0) {
    const list = index.sinks
      .filter((name) => unknown.has(name))
      .map((name) => {
        const n = unknown.get(name)!;
        return `${name} (${n} event${n === 1 ? '' : 's'})`;
      })
      .join(', ');
    throw new ConfigError(
      `replay: ${file} holds events dead-lettered for sinks the config has none like: ${list}; its sinks are ${names.join(', ')}. ` +
        'Each event goes back to the sink that failed it (Slack and stdout would repeat what others delivered): ' +
        'to send them somewhere, name it with --sink (every event of the file goes to every --sink)',
    );
  }
  return out;
}
