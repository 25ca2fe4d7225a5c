import { accessSync, appendFileSync, constants, existsSync, fstatSync, statSync, type Stats } from 'node:fs';
import { dirname } from 'node:path';
import type { PresenceEvent } from '../events.js';
import { secrets, type Logger } from '../log.js';
import { RepeatedWarning } from '../util/repeated-warning.js';
import { makeDirsSync, nearestExisting } from '../util/dirs.js';
import { FIFO, SOCKET, specialKind } from '../util/file-kind.js';
import { pseudoFsProblem } from '../util/pseudo-fs.js';
import { formatSize } from '../util/size.js';
import { utcMinute } from './describe.js';

/** Where undeliverable events end: an NDJSON file (one line per event), or the log. */
export interface DeadLetter {
  write(sink: string, reason: string, events: readonly PresenceEvent[]): void;
  /** At a stop: say what the log has not said yet (the file's count since its last line). */
  flush?(): void;
}

/**
 * What a dead-letter file holds from before, for the daemon's start and `--check-config`: a sentence
 * naming its size and when it was last written, or undefined when it is missing, empty or not a
 * regular file (/dev/stderr), or no file is configured. After a restart /healthz no longer says
 * that a sink dead-lettered events; this is where the file is remembered.
 */
export function deadLetterHeld(path: string | undefined): string | undefined {
  if (path === undefined) return undefined;
  let st: Stats;
  try {
    st = statSync(path);
  } catch {
    return undefined;
  }
  if (!st.isFile() || st.size === 0) return undefined;
  return `${path} holds ${formatSize(st.size)} of events not delivered, the last written ${utcMinute(st.mtimeMs)}: once what refused them is fixed, "presence-watcher replay ${path}" sends them again (its --dry-run first says where each would go)`;
}

/** Undeliverable events appended to an NDJSON file, one event a line, for `presence-watcher replay` to send again. */
export class FileDeadLetter implements DeadLetter {
  /**
   * Per sink, its "written to the dead-letter file" warning, said when writes start and then every
   * 10 minutes: a sink that is down with its queue full sends every event it pushes out here one at a
   * time, and each used to be a warning line of its own (why each went is logged where it happens:
   * the queue full warning, a failure per batch).
   */
  readonly #said = new Map<string, RepeatedWarning>();

  constructor(
    readonly path: string,
    private readonly log: Logger,
  ) {
    if (typeof path !== 'string' || path === '') throw new TypeError("FileDeadLetter: give the file's path, then a logger (createLogger())");
    checkLogger('FileDeadLetter', log);
  }

  /**
   * Make sure the file can be written (creating its directory, not the file: it appears only once
   * something is undeliverable), so a bad path is a start-up error rather than a surprise at the
   * first undeliverable event. With `create: false` nothing is created: a missing directory passes
   * when the nearest one that exists is writable. Throws with an errno code.
   */
  check({ create = true } = {}): void {
    // (a file that exists there already, such as /proc/self/fd/2, is judged as itself below)
    const pseudo = existsSync(this.path) ? undefined : pseudoFsProblem(this.path);
    if (pseudo) throw new Error(pseudo);
    let dir = dirname(this.path);
    if (create) makeDirsSync(dir);
    else dir = nearestExisting(dir);
    let isDir = false;
    try {
      isDir = statSync(this.path).isDirectory();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      if (!statSync(dir).isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
      accessSync(dir, constants.W_OK);
      return;
    }
    if (isDir) throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
    // a character device (/dev/stderr, /dev/null) takes a write at once; a FIFO or socket holds it,
    // and with it the whole daemon, until something reads
    // (the daemon's own stdout or stderr is a pipe under Docker or systemd, and always read)
    const kind = specialKind(this.path);
    if ((kind === FIFO || kind === SOCKET) && !isOwnStdio(this.path)) {
      throw new Error(`it is ${kind}: appending to it would stall the daemon whenever nothing reads it; give a regular file, or /dev/stderr`);
    }
    accessSync(this.path, constants.W_OK);
  }

  write(sink: string, reason: string, events: readonly PresenceEvent[]): void {
    const at = new Date().toISOString();
    // the reason may quote a receiver's error text, which can echo the URL and its token
    const why = secrets.scrub(reason);
    const text = events.map((event) => JSON.stringify({ at, sink, reason: why, event }) + '\n').join('');
    try {
      // its owner's alone, as the state and the outbox are: the events carry people's names and ids
      // (the mode applies when the append creates the file)
      appendFileSync(this.path, text, { mode: 0o600 });
      this.#sayWritten(sink, reason, events.length);
    } catch (err) {
      // the file is unusable: the log is the last place the events can go
      this.log.error({ sink, reason, err, events }, `could not write the dead-letter file ${this.path}; events logged instead`);
    }
  }

  /**
   * Per sink, the events written since its warning was last logged (a disabled sink's queue, the
   * drain's leftovers): without this line, a log that said "1 event(s) written" would be all an
   * operator saw of a file holding seven.
   */
  flush(): void {
    for (const [sink, said] of this.#said) {
      said.flush({ sink, file: this.path }, (n) => `${n} more event(s) written to the dead-letter file since it was last logged`);
    }
  }

  /** Said for the first write of a sink, then at most every REPEAT_LOG_EVERY_MS, counting those between. */
  #sayWritten(sink: string, reason: string, count: number): void {
    let said = this.#said.get(sink);
    if (!said) this.#said.set(sink, (said = new RepeatedWarning(this.log)));
    said.hit({ sink, reason, count, file: this.path }, `${count} event(s) written to the dead-letter file`, { count });
  }
}

/** Whether `path` is the very file this process's stdout or stderr (or only `fd` of the two) writes to. */
export function isOwnStdio(path: string, fd?: 1 | 2): boolean {
  let st: ReturnType<typeof statSync>;
  try {
    st = statSync(path);
  } catch {
    return false;
  }
  return (fd ? [fd] : [1, 2]).some((n) => {
    try {
      const own = fstatSync(n);
      return own.dev === st.dev && own.ino === st.ino;
    } catch {
      return false; // that stream is closed
    }
  });
}

/** A logger it can say things with (a TypeError from inside its first write, after the events went to the file, otherwise). */
function checkLogger(owner: string, log: unknown): void {
  const l = log as Record<string, unknown> | null | undefined;
  if (!l || !['debug', 'warn', 'error'].every((m) => typeof l[m] === 'function')) throw new TypeError(`${owner}: the logger must be a pino logger (createLogger()), or an object with debug, warn and error`);
}

/** Undeliverable events logged at error, one line each with the whole event: the dead-letter when no file is given. */
export class LogDeadLetter implements DeadLetter {
  constructor(private readonly log: Logger) {
    checkLogger('LogDeadLetter', log);
  }

  write(sink: string, reason: string, events: readonly PresenceEvent[]): void {
    for (const event of events) this.log.error({ sink, reason, deadLetter: event }, `undeliverable event ${event.id} (${event.type} in ${event.room})`);
  }
}
