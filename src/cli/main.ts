import { readFileSync } from 'node:fs';
import type { Writable } from 'node:stream';
import { ConfigError, loadConfigFile, resolveConfig, type DaemonConfig, type FileConfig } from '../config.js';
import { requestsTakeMs, startDaemon, type Daemon } from '../daemon.js';
import { DailyApiError } from '../daily/errors.js';
import { createLogger, defaultLogFormat, secrets, type Logger } from '../log.js';
import { DailySimulator } from '../simulator/simulator.js';
import { parseCommand } from './args.js';
import { replay } from './replay.js';
import { checkConfig, NOT_CHECKED } from './check.js';
import { timerDelay } from '../util/sleep.js';
import { formatDuration } from '../util/duration.js';
import type { PollInfo } from '../events.js';
import { ignoreProxyEnv } from '../util/http-agent.js';
import { listenProblem } from '../util/listen.js';
import { sameFile } from '../util/file-kind.js';

export const EXIT_OK = 0;
export const EXIT_FATAL = 1;
export const EXIT_USAGE = 2;

export function version(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

export interface CliIO {
  env: NodeJS.ProcessEnv;
  stdout: Writable;
  stderr: Writable;
  /** Where SIGINT/SIGTERM/SIGHUP come from (process, in real use). */
  signals: { on(sig: StopSignal, fn: () => void): unknown; off(sig: StopSignal, fn: () => void): unknown };
  /** Exit at once (the second signal). */
  exitNow(code: number): void;
}

function say(io: CliIO, line: string): void {
  io.stderr.write(`presence-watcher: ${secrets.scrub(line)}\n`);
}

type StopSignal = 'SIGINT' | 'SIGTERM' | 'SIGHUP';
const SIGNAL_EXIT: Record<StopSignal, number> = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 };

/**
 * Resolve when a first SIGINT/SIGTERM/SIGHUP arrives; a second one exits at once. SIGHUP (the
 * terminal closed) stops as gently as SIGTERM: by default Node would die at once, queue and all.
 */
function onSignals(io: CliIO, log: Logger | undefined): { received: Promise<StopSignal>; dispose(): void } {
  let count = 0;
  let resolve!: (s: StopSignal) => void;
  const received = new Promise<StopSignal>((r) => (resolve = r));
  const handlers = (['SIGINT', 'SIGTERM', 'SIGHUP'] as const).map((sig) => {
    const fn = () => {
      count++;
      if (count === 1) {
        log?.info({ signal: sig }, `${sig} received: stopping and delivering what is queued (send it again to exit at once)`);
        resolve(sig);
      } else {
        log?.warn({ signal: sig }, `second ${sig}: exiting now`);
        io.exitNow(SIGNAL_EXIT[sig]);
      }
    };
    io.signals.on(sig, fn);
    return [sig, fn] as const;
  });
  return { received, dispose: () => handlers.forEach(([sig, fn]) => io.signals.off(sig, fn)) };
}

/** Run the CLI; resolves with the process exit code. */
export async function main(argv: string[], io: CliIO): Promise<number> {
  let command;
  try {
    command = parseCommand(argv);
  } catch (err) {
    if (err instanceof ConfigError) {
      // a subcommand's mistake is explained by its own help
      const sub = ['simulate', 'demo', 'replay'].includes(argv[0] ?? '') ? `${argv[0]} ` : '';
      say(io, `${err.message}\nRun "presence-watcher ${sub}--help" for usage.`);
      return EXIT_USAGE;
    }
    throw err;
  }
  switch (command.kind) {
    case 'help':
      io.stdout.write(command.text);
      return EXIT_OK;
    case 'version':
      io.stdout.write(`${version()}\n`);
      return EXIT_OK;
    case 'simulate':
      return simulate(command, io);
    case 'demo':
      return demo(command, io);
    case 'replay': {
      const signals = onSignals(io, undefined);
      try {
        return await replay(command, { stdout: io.stdout, stderr: io.stderr, env: io.env, version: version(), interrupted: signals.received.then((signal) => ({ signal, exitCode: SIGNAL_EXIT[signal] })) });
      } catch (err) {
        if (err instanceof ConfigError) {
          say(io, `${err.message}\nRun "presence-watcher replay --help" for usage.`);
          return EXIT_USAGE;
        }
        throw err;
      } finally {
        signals.dispose();
      }
    }
    case 'run': {
      let cfg: DaemonConfig;
      try {
        const fileNotes: string[] = [...command.notes];
        const file: FileConfig = command.configPath ? loadConfigFile(command.configPath, io.env, fileNotes) : {};
        cfg = resolveConfig(file, command.flags, io.env);
        if (fileNotes.length > 0) cfg.fileNotes = fileNotes;
        if (command.configPath) configFileReused(cfg, command.configPath);
        if (command.once && cfg.ignoreInitial && cfg.statePath === undefined) {
          throw new ConfigError(
            '--once with --ignore-initial and no --state would never report anything: every such run is a first snapshot, whose joins --ignore-initial drops. Add --state <file>: the first run then records who is there, and each later one reports what changed since',
          );
        }
      } catch (err) {
        if (err instanceof ConfigError) {
          // run with nothing at all: most likely someone trying it for the first time
          const first = argv.length === 0 ? '\nTo see it work without a Daily account: presence-watcher demo' : '';
          say(io, `${err.message}${first}\nRun "presence-watcher --help" for usage.`);
          return EXIT_USAGE;
        }
        throw err;
      }
      if (command.check) return runCheck(cfg, command.configPath, io, command.once !== undefined);
      return runDaemon(cfg, io, command.once ? { once: { timeoutMs: command.once.timeoutMs ?? onceTimeout(cfg) } } : undefined);
    }
  }
}

/**
 * A --state or --dead-letter that names the config file itself (a slip in a path): the state would
 * be saved over it (and the start before refused it as a corrupt state, advising to move it away),
 * dead-lettered events appended to it. ConfigError.
 */
function configFileReused(cfg: DaemonConfig, configPath: string): void {
  const uses: [string, string | undefined, string][] = [
    ['--state (state)', cfg.statePath, 'the state would be saved over it'],
    ['--dead-letter (deadLetter)', cfg.deadLetterPath, 'dead-lettered events would be appended to it'],
  ];
  for (const [flag, path, harm] of uses) {
    if (path !== undefined && sameFile(path, configPath)) {
      throw new ConfigError(`${flag} ${path} is the config file itself: ${harm}. Give a file of its own`);
    }
  }
}

/**
 * --once's default time for a complete snapshot: 30 s, plus what the request budget needs to poll
 * every --room once (the first request goes at once). A fixed 30 s failed any list of rooms longer
 * than the budget covers in that time (at the default 5/s, ~150 rooms) with nothing wrong.
 */
export function onceTimeout(cfg: Pick<DaemonConfig, 'allRooms' | 'rooms' | 'maxRps'>): number {
  return 30_000 + requestsTakeMs(cfg.allRooms ? 1 : cfg.rooms.length, cfg.maxRps);
}

/**
 * --once: resolves when every target has its first snapshot, or with why not: at once when every
 * target has either a snapshot or an error that polling again cannot fix (a room not found, access
 * refused: Daily's answer would be the same until someone changes the room or the key), else once
 * `timeoutMs` has passed.
 */
function firstSnapshot(daemon: Daemon, timeoutMs: number, maxRps: number): { done: Promise<string | undefined>; dispose(): void } {
  let settle!: (why: string | undefined) => void;
  const done = new Promise<string | undefined>((resolve) => (settle = resolve));
  const targets = daemon.watcher.targets;
  const answered = new Set<string>();
  /** Targets whose last poll failed for good, with why. */
  const refused = new Map<string, DailyApiError>();
  let lastError: string | undefined;
  const onReady = () => settle(undefined);
  const onPoll = (p: PollInfo) => {
    if (p.ok) {
      answered.add(p.target);
      refused.delete(p.target);
    } else {
      if (!p.error) return;
      lastError = p.error.message;
      // (a fatal error, a rejected key, stops the daemon and is reported as such)
      if (p.error instanceof DailyApiError && !p.error.retryable && !p.error.fatal) refused.set(p.target, p.error);
      else refused.delete(p.target);
    }
    // checked after an answer too: a room refused before the last room answered must not wait for
    // its next poll, an interval away, to be counted
    if (refused.size > 0 && targets.every((t) => answered.has(t) || refused.has(t))) settle(refusals(refused));
  };
  daemon.watcher.on('poll', onPoll);
  daemon.watcher.once('ready', onReady);
  const timer = setTimeout(() => {
    let why = lastError ? ` (last error: ${lastError})` : '';
    // no error, rooms still waiting: the request budget spaced their polls out past the timeout
    if (!lastError && targets.length > 1) {
      why = ` (${answered.size} of ${targets.length} rooms answered: at --max-rps ${maxRps}, ${targets.length} requests take about ${formatDuration(requestsTakeMs(targets.length, maxRps))}; raise --once-timeout or --max-rps, or use --all-rooms, one request for every room)`;
    }
    settle(`no complete snapshot within ${formatDuration(timeoutMs)}${why}`);
  }, timerDelay(timeoutMs));
  return {
    done,
    dispose: () => {
      clearTimeout(timer);
      daemon.watcher.off('poll', onPoll);
      daemon.watcher.off('ready', onReady);
    },
  };
}

/**
 * The rooms refused for good, for --once's one line: each kind of refusal in full once, then the
 * other rooms refused the same way by name (300 rooms of a stale list, each "not found … check the
 * room name", made a line of 28 KB).
 */
function refusals(refused: ReadonlyMap<string, DailyApiError>): string {
  const kinds = new Map<string, { first: DailyApiError; others: string[] }>();
  for (const [target, err] of refused) {
    const kind = `${err.status} ${err.code}`;
    const k = kinds.get(kind);
    if (k) k.others.push(target);
    else kinds.set(kind, { first: err, others: [] });
  }
  return [...kinds.values()]
    .map(({ first, others }) =>
      others.length === 0
        ? first.message
        : `${first.message}; the same for ${others.length} more room${others.length === 1 ? '' : 's'}: ${others.slice(0, 10).map((t) => `"${t}"`).join(', ')}${others.length > 10 ? ', …' : ''}`,
    )
    .join('; ');
}

async function runDaemon(cfg: DaemonConfig, io: CliIO, extra?: { stopAfterMs?: number; once?: { timeoutMs: number } }): Promise<number> {
  const logger = createLogger({ level: cfg.logLevel, format: cfg.logFormat ?? defaultLogFormat(io.stderr as { isTTY?: boolean }) });
  const signals = onSignals(io, logger);
  // a stop asked for while starting (the wait for another container's lock lasts up to 30 s, longer
  // than docker stop waits by default) gives the start up rather than starting and then stopping
  const starting = new AbortController();
  void signals.received.then((sig) => starting.abort(sig));
  let daemon: Daemon;
  try {
    daemon = await startDaemon(cfg, { stdout: io.stdout, logger, version: version(), signal: starting.signal, ...(extra?.once ? { once: true } : {}) });
  } catch (err) {
    signals.dispose();
    if (err instanceof ConfigError) {
      say(io, err.message);
      return EXIT_USAGE;
    }
    if (starting.signal.aborted) {
      logger.info({ signal: starting.signal.reason }, `stopped before it started (${String(starting.signal.reason)} during start-up)`);
      logger.flush();
      return EXIT_OK;
    }
    throw err;
  }
  let timer: NodeJS.Timeout | undefined;
  const stopAfterMs = extra?.stopAfterMs;
  const timeout =
    stopAfterMs === undefined ? new Promise<never>(() => {}) : new Promise<string>((r) => (timer = setTimeout(() => r('duration'), timerDelay(stopAfterMs))));
  const once = extra?.once ? firstSnapshot(daemon, extra.once.timeoutMs, cfg.maxRps) : undefined;
  let undelivered = 0;
  if (once) for (const q of daemon.dispatcher.queues) q.on('abandoned', (events) => (undelivered += events.length));
  const outcome = await Promise.race([
    signals.received.then((s) => ({ kind: 'signal' as const, s })),
    timeout.then((s) => ({ kind: 'signal' as const, s })),
    daemon.fatal.then((e) => ({ kind: 'fatal' as const, e })),
    ...(once ? [once.done.then((why) => ({ kind: 'once' as const, why }))] : []),
  ]);
  clearTimeout(timer);
  once?.dispose();
  const left = await daemon.shutdown();
  signals.dispose();
  if (outcome.kind === 'fatal') {
    const e = outcome.e;
    logger.fatal({ err: e }, e.message);
    say(io, e instanceof DailyApiError && e.code === 'DAILY_AUTH_REJECTED' ? `${e.message}. Exiting.` : `fatal: ${e.message}`);
    logger.flush();
    return EXIT_FATAL;
  }
  // (what was left is logged per sink by the shutdown: kept in the outbox, or dead-lettered)
  logger.info('stopped');
  logger.flush();
  if (outcome.kind === 'once') {
    if (outcome.why) {
      say(io, `--once: ${outcome.why}`);
      return EXIT_FATAL;
    }
    if (left + undelivered > 0) {
      say(io, `--once: ${left + undelivered} event(s) not delivered (${left ? 'kept in the outbox with --state, else ' : ''}dead-lettered)`);
      return EXIT_FATAL;
    }
  }
  return EXIT_OK;
}

/** --check-config: what the daemon would run, or why it would not start (exit 2). */
async function runCheck(cfg: DaemonConfig, configPath: string | undefined, io: CliIO, once: boolean): Promise<number> {
  // what the parts it reuses would log (a maxRps over Daily's limit) is in the report's notes
  const logger = createLogger({ level: 'silent' });
  let report;
  try {
    report = await checkConfig(cfg, { stdout: io.stdout, logger, version: version(), once });
  } catch (err) {
    if (err instanceof ConfigError) {
      say(io, err.message);
      return EXIT_USAGE;
    }
    throw err;
  }
  const from = configPath ? `${configPath}, the flags and the environment` : 'the flags and the environment';
  const out = [`config OK (${from}): the daemon would start with`, ...report.lines.map((l) => `  ${l}`)];
  if (report.notes.length > 0) out.push('notes:', ...report.notes.map((n) => `  - ${n}`));
  out.push(NOT_CHECKED);
  io.stdout.write(secrets.scrub(out.join('\n')) + '\n');
  return EXIT_OK;
}

/** 0.2 → "20%", 0.005 → "0.5%". */
function percent(share: number): string {
  return `${Number((share * 100).toPrecision(3))}%`;
}

/** Names for a banner: the first ten, then how many more (`--rooms 100000` printed every one). */
function listSome(names: readonly string[], most = 10): string {
  return names.length <= most ? names.join(', ') : `${names.slice(0, most).join(', ')} … and ${names.length - most} more (${names.length} rooms)`;
}

async function simulate(c: Extract<ReturnType<typeof parseCommand>, { kind: 'simulate' }>, io: CliIO): Promise<number> {
  const sim = new DailySimulator({ rooms: c.rooms, churn: c.churn, reconnects: c.reconnects, initialParticipants: c.participants, seed: c.seed, faults: c.faults });
  let url: string;
  try {
    url = await sim.listen(c.port, c.host);
  } catch (err) {
    say(io, `cannot listen on ${c.host}:${c.port}: ${listenProblem(err, c.port)}`);
    return EXIT_USAGE;
  }
  // the handlers first: a script that reads the banner and then stops the simulator must find them
  const signals = onSignals(io, undefined);
  // bound to every interface: the watch line names this machine's loopback (0.0.0.0 is no address
  // to connect to everywhere), other machines use this one's address
  const everywhere = /^\/\/(0\.0\.0\.0|\[::\]):/.exec(url.slice(url.indexOf('//')));
  const local = everywhere ? url.replace(everywhere[1]!, everywhere[1] === '0.0.0.0' ? '127.0.0.1' : '[::1]') : url;
  io.stdout.write(
    `Simulated Daily presence API listening at ${url}${everywhere ? ' (every interface: from another machine, use this one\'s address)' : ''}\n` +
      `  rooms: ${listSome(sim.roomNames)}\n` +
      `  churn: ${c.churn} change(s)/s\n` +
      (c.faults > 0 ? `  faults: ${percent(c.faults)} of requests answered with a random passing fault\n` : '') +
      '\n' +
      `Watch it with:\n  DAILY_API_URL=${local} DAILY_API_KEY=${sim.apiKey} presence-watcher --all-rooms --interval 2s\n`,
  );
  await signals.received;
  signals.dispose();
  await sim.close();
  return EXIT_OK;
}

async function demo(c: Extract<ReturnType<typeof parseCommand>, { kind: 'demo' }>, io: CliIO): Promise<number> {
  // the demo talks only to its own simulator on 127.0.0.1: a proxy set for the real world must not catch it
  ignoreProxyEnv();
  // one departure in five a reconnect, as on real calls: its pair of events comes marked sameUserAs
  const sim = new DailySimulator({ rooms: c.rooms, churn: c.churn, reconnects: 0.2, initialParticipants: c.rooms * 2, seed: Date.now() % 100_000, faults: c.faults });
  let cfg: DaemonConfig;
  try {
    // checked before the simulator starts: a bad --interval is a usage error, not a crash after the banner
    cfg = resolveConfig(
      {},
      { rooms: sim.roomNames, interval: c.intervalMs, maxRps: 50, apiUrl: 'http://127.0.0.1/v1', apiKey: sim.apiKey, logLevel: c.logLevel, ...(c.logFormat ? { logFormat: c.logFormat } : {}) },
      {},
    );
  } catch (err) {
    if (err instanceof ConfigError) {
      say(io, `demo: ${err.message}\nRun "presence-watcher demo --help" for usage.`);
      return EXIT_USAGE;
    }
    throw err;
  }
  const url = await sim.listen(0);
  cfg = { ...cfg, apiUrl: url };
  io.stderr.write(
    `presence-watcher demo: simulated domain at ${url} with rooms ${listSome(sim.roomNames)}; ` +
      `events appear below as NDJSON, logs go to stderr. Ctrl-C to stop.\n` +
      (c.faults > 0
        ? `It fails ${percent(c.faults)} of requests at random: the warnings are the watcher retrying, and no event comes of a failed request.\n`
        : ''),
  );
  try {
    return await runDaemon(cfg, io, c.durationMs === undefined ? undefined : { stopAfterMs: c.durationMs });
  } finally {
    await sim.close();
  }
}
