import { ConfigError, loadConfigFile, webhookSecretFromEnv, readProblem, withSinkDefaults, type FileConfig, type LogLevelName } from '../config.js';
import { buildSink, openDeadLetter, sinkFilter } from '../daemon.js';
import { Dispatcher } from '../dispatcher.js';
import { createLogger, defaultLogFormat, secrets, type LogFormat } from '../log.js';
import { DeliveryQueue } from '../sinks/queue.js';
import { eventProblem, type PresenceEvent } from '../events.js';
import { formatDuration } from '../util/duration.js';
import type { Writable } from 'node:stream';
import { forEachLine } from '../util/lines.js';
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
}

export interface ReplayIO {
  stdout: Writable;
  stderr: Writable;
  env: NodeJS.ProcessEnv;
  version: string;
  /** Resolves on SIGINT/SIGTERM/SIGHUP with its name and exit code: stop, say how far it got. */
  interrupted?: Promise<{ signal: string; exitCode: number }>;
}

/**
 * The events of a dead-letter file, each once (an event dead-lettered for two sinks is two lines),
 * in the file's order. A last line cut short (a crash mid-append) is skipped; any other line that is
 * not a dead-letter record makes the file unusable (ConfigError naming the line).
 */
export function readDeadLetters(path: string): { events: PresenceEvent[]; skipped: number; sinksOf: Map<string, Set<string>> } {
  const byId = new Map<string, PresenceEvent>();
  /** Each event's id → the sinks it was dead-lettered for, by name, as the lines say. */
  const sinksOf = new Map<string, Set<string>>();
  let skipped = 0;
  const onLine = (line: string, i: number, last: boolean) => {
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
    const e = event as PresenceEvent;
    if (!byId.has(e.id)) byId.set(e.id, e);
    const sink = (record as { sink?: unknown }).sink;
    if (typeof sink === 'string') {
      let set = sinksOf.get(e.id);
      if (!set) sinksOf.set(e.id, (set = new Set()));
      set.add(sink);
    }
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
  return { events: [...byId.values()], skipped, sinksOf };
}

/** `presence-watcher replay`: deliver a dead-letter file's events again. Resolves with the exit code. */
export async function replay(c: ReplayCommand, io: ReplayIO): Promise<number> {
  const file: FileConfig = c.configPath ? loadConfigFile(c.configPath, io.env) : {};
  const sinks = withSinkDefaults(c.sinks ?? file.sinks ?? [], file);
  if (sinks.length === 0) throw new ConfigError('replay: where to? give --sink <spec> (repeatable), or --config with sinks');
  const webhookSecret = c.webhookSecret ?? file.webhookSecret ?? webhookSecretFromEnv(io.env, sinks);
  const { events, skipped, sinksOf } = readDeadLetters(c.file);
  if (c.deadLetter !== undefined && sameFile(c.deadLetter, c.file)) {
    throw new ConfigError(
      `replay: --dead-letter ${c.deadLetter} is the file being replayed: what fails again would be appended to it, beside the events that were delivered, and the file would no longer say which are left. Give another file (e.g. ${c.file.replace(/(\.ndjson)?$/, '.again.ndjson')}), then replace the first with it`,
    );
  }

  const log = createLogger({ level: c.logLevel, format: c.logFormat ?? defaultLogFormat(io.stderr as { isTTY?: boolean }) });
  const deadLetter = openDeadLetter(c.deadLetter, log, { stdoutSink: sinks.some((s) => s.type === 'stdout') });
  const dispatcher = new Dispatcher();
  sinks.forEach((s, i) => {
    const sink = buildSink(s, i, webhookSecret, { stdout: io.stdout, logger: log, version: io.version });
    // room for the whole file: a replay must not drop its oldest events for want of space
    dispatcher.add(new DeliveryQueue({ sink, deadLetter, logger: log, cap: Math.max(1, events.length) }), sinkFilter(s));
  });
  let delivered = 0;
  let failed = 0;
  for (const q of dispatcher.queues) {
    q.on('delivered', (batch) => (delivered += batch.length));
    q.on('abandoned', (batch) => (failed += batch.length));
  }
  // --config: each event to the sink(s) it was dead-lettered for, not every sink: Slack and stdout do
  // not dedupe, so a Slack message sent fine would have been posted again for a webhook's failure.
  // --sink: to every sink given (the user names where they go: a moved URL, a new receiver).
  const forEvent = c.sinks === undefined ? sinkRouting(dispatcher.queues.map((q) => q.sink.name), events, sinksOf, c.file) : undefined;
  let handed = 0;
  let wanted = 0;
  for (const e of events) {
    const mine = forEvent?.get(e.id);
    wanted += mine ? mine.size : dispatcher.queues.length;
    const routes = dispatcher.routesFor(e).filter((q) => !mine || mine.has(q.sink.name));
    handed += routes.length;
    for (const q of routes) q.push(e);
  }
  const stopped = await Promise.race([dispatcher.drain(c.drainTimeoutMs).then(() => undefined), io.interrupted ?? new Promise<never>(() => {})]);
  if (stopped !== undefined) {
    let unsent = 0;
    for (const [, rest] of await dispatcher.close()) unsent += rest.length;
    io.stderr.write(
      `presence-watcher: replay interrupted (${stopped.signal}): ${delivered} of ${handed} deliveries made, ${unsent} not (${c.file} is unchanged: replay it again; receivers dedupe what was sent twice)\n`,
    );
    log.flush();
    return stopped.exitCode;
  }
  for (const [q, rest] of await dispatcher.close()) {
    if (!rest.length) continue;
    failed += rest.length;
    deadLetter.write(q.sink.name, `not delivered within --drain-timeout ${formatDuration(c.drainTimeoutMs)}`, rest);
  }
  const where = c.deadLetter ? `written to ${c.deadLetter}` : 'logged above';
  const summary =
    `replayed ${events.length} event(s) from ${c.file}${skipped ? ` (a last line cut short skipped)` : ''}: ` +
    `${delivered} of ${handed} deliveries made` +
    (failed ? `, ${failed} failed again (${where})` : '') +
    (handed < wanted ? '; the sinks\' filters took the rest' : '');
  io.stderr.write(`presence-watcher: ${secrets.scrub(summary)}\n`);
  log.flush();
  return failed > 0 ? 1 : 0;
}

/**
 * For a replay with the config's sinks: each event's id → the names of the sinks it goes to, those
 * it was dead-lettered for. A line's sink is found by its name ("webhook-2(hooks.example)"), else by
 * its kind and place alone ("webhook-2"), so a sink whose URL was fixed is still found. An event
 * whose sink the config no longer has (removed, reordered) stops the replay before anything is
 * sent (ConfigError): where it should go is the user's call.
 */
function sinkRouting(names: readonly string[], events: readonly PresenceEvent[], sinksOf: ReadonlyMap<string, ReadonlySet<string>>, file: string): Map<string, Set<string>> {
  const place = (name: string) => name.replace(/\(.*\)$/, '');
  const byName = new Map(names.map((n) => [n, n]));
  const byPlace = new Map(names.map((n) => [place(n), n]));
  const out = new Map<string, Set<string>>();
  const unknown = new Map<string, number>();
  for (const e of events) {
    // a line that names no sink (not the daemon's writing): every sink, as before sinks were named
    const failed = sinksOf.get(e.id);
    if (!failed) continue;
    const to = new Set<string>();
    for (const was of failed) {
      const now = byName.get(was) ?? byPlace.get(place(was));
      if (now === undefined) unknown.set(was, (unknown.get(was) ?? 0) + 1);
      else to.add(now);
    }
    out.set(e.id, to);
  }
  if (unknown.size > 0) {
    const list = [...unknown].map(([name, n]) => `${name} (${n} event${n === 1 ? '' : 's'})`).join(', ');
    throw new ConfigError(
      `replay: ${file} holds events dead-lettered for sinks the config has none like: ${list}; its sinks are ${names.join(', ')}. ` +
        'Each event goes back to the sink that failed it (Slack and stdout would repeat what others delivered): ' +
        'to send them somewhere, name it with --sink (every event of the file goes to every --sink)',
    );
  }
  return out;
}
