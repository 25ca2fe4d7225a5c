import { randomBytes } from 'node:crypto';
import { linkSync, readFileSync, readlinkSync, statSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { sleep } from '../util/sleep.js';
import { StateError } from './store.js';

/** Who holds a lock: a pid, and where the system tells them, the boot, the process's start time and its pid namespace. */
export interface LockOwner {
  pid: number;
  /** Linux's boot id: a lock from an earlier boot is stale whatever its pid. */
  boot?: string;
  /** The process's start time in clock ticks since boot (Linux): a reused pid has another. */
  start?: string;
  /** The pid namespace the pid belongs to (Linux, `pid:[…]`): a pid means nothing in another one. */
  pidns?: string;
}

/** A held lock's file is touched this often, so that a holder no pid can vouch for shows it lives. */
export const LOCK_HEARTBEAT_MS = 10_000;
/** A lock not touched for this long has no living holder. */
export const LOCK_STALE_MS = 3 * LOCK_HEARTBEAT_MS;
/**
 * However old a foreign lock's time says it is, it is watched this long (on our clock) before it is
 * taken over: the time was set by the holder's clock, which may be ahead of or behind ours (a volume
 * shared between machines), and a live holder touches it within a heartbeat and a half.
 */
export const LOCK_WATCH_MS = LOCK_HEARTBEAT_MS + LOCK_HEARTBEAT_MS / 2;

/** A lock file as read: its text, and when it was last touched (ms since the epoch, on its toucher's clock). */
interface LockFile {
  text: string;
  mtimeMs: number;
}

export interface AcquireOptions {
  /** Called once when the lock is held by a process this one cannot see (another container) and acquire waits to learn whether it lives. */
  onWait?: (owner: LockOwner, waitMs: number) => void;
  /** Gives up that wait (acquire rejects with the signal's reason): a stop asked for during start-up. */
  signal?: AbortSignal;
  /**
   * Called once, from the heartbeat or confirm(), when the lock no longer names this process:
   * another one judged it stale and took it (this process was paused, or the volume unreachable,
   * for LOCK_STALE_MS). Two daemons now write one state and outbox: this one should stop. The
   * heartbeat stops, and release() leaves the other's lock alone.
   */
  onLost?: (owner: LockOwner | undefined) => void;
  /** Called when the heartbeat found the lock file removed (by hand, by a cleaner) and wrote it again. */
  onRestored?: () => void;
  /** Called after each heartbeat while the lock is held: a time to look at the files beside it. */
  onBeat?: () => void;
}

/**
 * One daemon per state file: two writing the same state and outbox would lose events. The lock is
 * a file naming its owner; a lock whose owner is gone (kill -9, a power cut) is taken over.
 *
 * A pid alone cannot tell. After a reboot, the pid of a daemon killed without releasing its lock
 * can belong to another process; so the lock records the boot and the process's start time too.
 * And in containers a pid is only meaningful inside its own pid namespace: two replicas sharing a
 * volume (or the old and new pod of a rolling update) are both pid 1, each in a namespace of its
 * own, and neither can see whether the other lives. So the holder also touches the lock file every
 * LOCK_HEARTBEAT_MS, and a lock written from another pid namespace is taken over only once it has
 * not been touched for LOCK_STALE_MS and acquire has watched it for LOCK_WATCH_MS (a container
 * restarted after a crash starts 15–30 s later); acquire refuses as soon as it sees it touched.
 * Each heartbeat also reads the lock: if another process took it over meanwhile (this one was
 * paused for LOCK_STALE_MS, so it was judged gone), the holder learns it from onLost and must stop.
 */
export class StateLock {
  readonly path: string;
  /** The text of the lock this process holds, or undefined. */
  #held: string | undefined;
  #heartbeat: NodeJS.Timeout | undefined;
  /** What acquire was given: the heartbeat's callbacks. */
  #opts: AcquireOptions = {};
  readonly #beatMs: number;
  /** How long untouched makes a lock stale (LOCK_STALE_MS, scaled with heartbeatMs). */
  readonly staleMs: number;
  readonly #watchMs: number;

  /**
   * `heartbeatMs`: how often the holder touches the lock (LOCK_HEARTBEAT_MS); staleness and the
   * watch scale with it. Shorter only for tests that run real processes.
   */
  constructor(statePath: string, { heartbeatMs = LOCK_HEARTBEAT_MS } = {}) {
    this.path = `${statePath}.lock`;
    this.#beatMs = heartbeatMs;
    this.staleMs = (LOCK_STALE_MS / LOCK_HEARTBEAT_MS) * heartbeatMs;
    this.#watchMs = (LOCK_WATCH_MS / LOCK_HEARTBEAT_MS) * heartbeatMs;
  }

  async acquire(opts: AcquireOptions = {}): Promise<void> {
    const me = self();
    const text = formatOwner(me);
    for (let attempt = 0; attempt < 3; attempt++) {
      if (this.#create(text)) {
        this.#held = text;
        this.#beat(opts);
        return;
      }
      const seen = this.#read();
      if (seen === 'gone') continue; // released between our attempt and the read: try again
      const owner = parseOwner(seen.text);
      if (owner !== undefined && sameNamespace(owner, me)) {
        if (anotherRunning(owner)) throw this.#inUse(owner);
      } else if (owner !== undefined) {
        // written from a pid namespace we cannot see into: only the heartbeat can tell
        const gone = await this.#waitForStale(owner, seen, opts);
        if (gone === 'released') continue;
      }
      this.#removeStale(seen);
    }
    throw new StateError(`cannot take the lock ${this.path}: another process keeps taking it`);
  }

  /**
   * Who the lock names: 'gone' when there is no lock file, undefined when it names nobody (a lock
   * written by an older version, killed between creating the file and writing it, is empty).
   * Throws StateError when unreadable.
   */
  owner(): LockOwner | 'gone' | undefined {
    const seen = this.#read();
    return seen === 'gone' ? 'gone' : parseOwner(seen.text);
  }

  /**
   * Whether the lock's owner is, as far as this process can tell, a running process other than
   * this one: by its pid where it shares our pid namespace, else by its heartbeat.
   */
  heldByAnother(): LockOwner | undefined {
    const seen = this.#read();
    if (seen === 'gone') return undefined;
    const owner = parseOwner(seen.text);
    if (owner === undefined) return undefined;
    if (sameNamespace(owner, self())) return anotherRunning(owner) ? owner : undefined;
    return Date.now() - seen.mtimeMs < this.staleMs ? owner : undefined;
  }

  /** Remove the lock, if this process holds it and it still names this process (else it is another's now). */
  release(): void {
    clearInterval(this.#heartbeat);
    this.#heartbeat = undefined;
    const held = this.#held;
    if (held === undefined) return;
    this.#held = undefined;
    try {
      if (readFileSync(this.path, 'utf8') === held) unlinkSync(this.path);
    } catch {
      // already gone, or unreadable: nothing of ours to remove
    }
  }

  /**
   * Create the lock file with its text in one step: written to a file of its own, then linked to
   * the lock's path, which fails if a lock exists. (Created in place, the file would exist empty
   * for a moment, and another process reading it then would take it for one left by a kill and
   * remove it.) Where the filesystem has no hard links (some network shares), it is created in
   * place after all. False when a lock exists.
   */
  #create(text: string): boolean {
    const draft = `${this.path}.${process.pid}.${randomBytes(6).toString('hex')}`;
    try {
      writeFileSync(draft, text, { flag: 'wx', mode: 0o600 });
    } catch (err) {
      throw new StateError(`cannot create lock ${this.path}: ${errCode(err)}`);
    }
    try {
      linkSync(draft, this.path);
      return true;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') return false;
      if (!NO_HARD_LINKS.has(code ?? '')) throw new StateError(`cannot create lock ${this.path}: ${errCode(err)}`);
    } finally {
      try {
        unlinkSync(draft);
      } catch {
        // the draft is ours alone: a leftover is only clutter
      }
    }
    try {
      writeFileSync(this.path, text, { flag: 'wx', mode: 0o600 });
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw new StateError(`cannot create lock ${this.path}: ${errCode(err)}`);
    }
  }

  /** The lock file's text and when it was last touched, or 'gone'. Throws StateError when unreadable. */
  #read(): LockFile | 'gone' {
    try {
      const mtimeMs = statSync(this.path).mtimeMs;
      return { text: readFileSync(this.path, 'utf8'), mtimeMs };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'gone';
      throw new StateError(`cannot read lock ${this.path}: ${errCode(err)}`);
    }
  }

  /**
   * Remove a lock judged stale, if it is still the one judged: another process may have taken it
   * over since (then the next attempt judges that one). What is left between this reading and the
   * removal is a moment; should another take the lock over within it, the heartbeat of the one
   * that lost it notices (onLost).
   */
  #removeStale(judged: LockFile): void {
    const now = this.#read();
    if (now === 'gone' || now.text !== judged.text || now.mtimeMs !== judged.mtimeMs) return;
    try {
      unlinkSync(this.path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new StateError(`cannot remove the stale lock ${this.path}: ${errCode(err)}`);
    }
  }

  #inUse(owner: LockOwner): StateError {
    return new StateError(
      `state file is in use by another presence-watcher (pid ${owner.pid}${owner.pidns && owner.pidns !== self().pidns ? ' in another pid namespace, e.g. another container' : ''}, lock ${this.path}); give each daemon its own --state (if no daemon runs with this state file, remove the lock)`,
    );
  }

  /**
   * Whether the lock still names this process, read now: the heartbeat's check (below), for a
   * caller about to write what the lock guards. False once another process took it over (and then
   * onLost has been called, once, whoever noticed first). A lock that cannot be read just now counts
   * as held, as at a heartbeat: a network volume's hiccup is not a takeover.
   */
  confirm(): boolean {
    if (this.#held === undefined) return false;
    this.#check();
    return this.#held !== undefined;
  }

  /**
   * Now and then, check that the lock still names this process and touch it: the sign of life for
   * a process that cannot see our pid.
   */
  #beat(opts: AcquireOptions): void {
    this.#opts = opts;
    this.#heartbeat = setInterval(() => {
      this.#check(true);
      if (this.#held !== undefined) this.#opts.onBeat?.();
    }, this.#beatMs);
    this.#heartbeat.unref();
  }

  /** A lock removed meanwhile is written again; one that names another process was taken over (onLost). `touch`: a heartbeat's. */
  #check(touch = false): void {
    const held = this.#held;
    if (held === undefined) return;
    const opts = this.#opts;
    let seen: LockFile | 'gone';
    try {
      seen = this.#read();
    } catch {
      return; // unreadable for now (a network volume's hiccup): the next beat looks again
    }
    if (seen === 'gone') {
      try {
        if (this.#create(held)) {
          opts.onRestored?.();
          return;
        }
      } catch {
        return; // cannot write it now: the next beat tries again
      }
      try {
        seen = this.#read();
      } catch {
        return; // (as above)
      }
      if (seen === 'gone') return;
    }
    if (seen.text !== held) {
      clearInterval(this.#heartbeat);
      this.#heartbeat = undefined;
      this.#held = undefined;
      opts.onLost?.(parseOwner(seen.text));
      return;
    }
    if (!touch) return;
    const now = new Date();
    try {
      utimesSync(this.path, now, now);
    } catch {
      // unwritable for now: if it stays so, the lock goes stale, which is what it then is
    }
  }

  /**
   * Wait until a lock from another pid namespace has gone LOCK_STALE_MS untouched ('stale'), or is
   * removed ('released'); throw as soon as it is touched (its holder lives).
   */
  async #waitForStale(owner: LockOwner, { mtimeMs: mtime }: LockFile, opts: AcquireOptions): Promise<'stale' | 'released'> {
    const since = Date.now();
    let waited = false;
    for (;;) {
      const now = Date.now();
      const left = Math.max(this.staleMs - (now - mtime), this.#watchMs - (now - since));
      if (left <= 0) return 'stale';
      if (!waited) {
        opts.onWait?.(owner, left);
        waited = true;
      }
      await sleep(Math.min(1000, left), opts.signal);
      const touched = this.#mtime();
      if (touched === undefined) return 'released';
      if (touched !== mtime) throw this.#inUse(owner); // touched: its holder lives
    }
  }

  /** When the lock was last touched (ms since the epoch, on its holder's clock), or undefined when it is gone. */
  #mtime(): number | undefined {
    try {
      return statSync(this.path).mtimeMs;
    } catch {
      return undefined;
    }
  }
}

/** What link() answers where a filesystem has no hard links. */
const NO_HARD_LINKS = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS']);

function errCode(err: unknown): string {
  return (err as NodeJS.ErrnoException).code ?? (err as Error).message;
}

/** The lock's text: the pid on the first line (all that locks written before the rest had), then `key=value` lines. */
export function formatOwner(o: LockOwner): string {
  const extra = (['boot', 'start', 'pidns'] as const).filter((k) => o[k]).map((k) => `${k}=${o[k]}`);
  return [String(o.pid), ...extra].join('\n') + '\n';
}

export function parseOwner(text: string): LockOwner | undefined {
  const [first, ...rest] = text.split('\n');
  const pid = Number(first?.trim());
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  const owner: LockOwner = { pid };
  for (const line of rest) {
    const eq = line.indexOf('=');
    const key = line.slice(0, eq).trim();
    const value = line.slice(eq + 1).trim();
    if (eq < 0 || !value) continue;
    if (key === 'boot' || key === 'start' || key === 'pidns') owner[key] = value;
  }
  return owner;
}

/** This process, as a lock names it. */
function self(): LockOwner {
  const boot = bootId();
  const start = startTime(process.pid);
  const pidns = pidNamespace();
  return { pid: process.pid, ...(boot ? { boot } : {}), ...(start ? { start } : {}), ...(pidns ? { pidns } : {}) };
}

/**
 * Whether the owner's pid can be judged from here: it names the same pid namespace, or the
 * namespace is unknown on either side (a lock written before locks named it, a system without
 * /proc), where the pid is all there is to go by.
 */
function sameNamespace(owner: LockOwner, me: LockOwner): boolean {
  return owner.pidns === undefined || me.pidns === undefined || owner.pidns === me.pidns;
}

/**
 * Whether the process a lock names is another one than this, and still runs: its pid is alive and,
 * where the lock and the system both tell them, it is of this boot and started when the lock's
 * owner did. Meaningful only in the owner's pid namespace.
 */
function anotherRunning(owner: LockOwner): boolean {
  if (owner.pid === process.pid || !alive(owner.pid)) return false;
  if (owner.boot !== undefined) {
    const boot = bootId();
    if (boot !== undefined && boot !== owner.boot) return false;
  }
  const stat = procStat(owner.pid);
  // killed, and not yet reaped by its parent (a supervisor that is slow to wait, or never does):
  // the pid still answers signals, but the process will never write again
  if (stat !== undefined && (stat.state === 'Z' || stat.state === 'X')) return false;
  if (owner.start !== undefined && stat?.start !== undefined && stat.start !== owner.start) return false;
  return true;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function bootId(): string | undefined {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

function pidNamespace(): string | undefined {
  try {
    return readlinkSync('/proc/self/ns/pid') || undefined;
  } catch {
    return undefined;
  }
}

/** A process's start time (field 22 of /proc/<pid>/stat, clock ticks since boot); undefined off Linux. */
export function startTime(pid: number): string | undefined {
  return procStat(pid)?.start;
}

/** A process's state letter (field 3 of /proc/<pid>/stat: R, S, Z…) and start time; undefined off Linux. */
function procStat(pid: number): { state: string | undefined; start: string | undefined } | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // the command name (field 2) is in parentheses and may itself hold spaces and parentheses
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const start = fields[19];
  return { state: fields[0] || undefined, start: start && /^\d+$/.test(start) ? start : undefined };
}
