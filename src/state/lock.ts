import { readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { StateError } from './store.js';

/** Who holds a lock: a pid, and where the system tells them, the boot and the process's start time. */
export interface LockOwner {
  pid: number;
  /** Linux's boot id: a lock from an earlier boot is stale whatever its pid. */
  boot?: string;
  /** The process's start time in clock ticks since boot (Linux): a reused pid has another. */
  start?: string;
}

/**
 * One daemon per state file: two writing the same state and outbox would lose events. The lock is
 * a file naming its owner; a lock whose owner is gone (kill -9, a power cut) is taken over.
 *
 * A pid alone cannot tell: after a reboot, or in a new container, the pid of a daemon killed
 * without releasing its lock can belong to another process, and a daemon under a supervisor that
 * restarts it would then refuse to start on every try. So the lock also records the boot and the
 * process's start time where the system tells them (Linux's /proc), and a lock whose pid is alive
 * but whose boot or start time differ is stale too.
 */
export class StateLock {
  readonly path: string;
  #held = false;

  constructor(statePath: string) {
    this.path = `${statePath}.lock`;
  }

  acquire(): void {
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        writeFileSync(this.path, formatOwner(self()), { flag: 'wx', mode: 0o600 });
        this.#held = true;
        return;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
          throw new StateError(`cannot create lock ${this.path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
        }
      }
      const owner = this.owner();
      if (owner === 'gone') continue; // released between our attempt and the read: try again
      if (owner !== undefined && owner.pid !== process.pid && isRunning(owner)) {
        throw new StateError(
          `state file is in use by another presence-watcher (pid ${owner.pid}, lock ${this.path}); give each daemon its own --state (if no daemon runs with this state file, remove the lock)`,
        );
      }
      try {
        unlinkSync(this.path); // stale: its owner is gone
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
          throw new StateError(`cannot remove the stale lock ${this.path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
        }
      }
    }
    throw new StateError(`cannot take the lock ${this.path}: another process keeps taking it`);
  }

  /**
   * Who the lock names: 'gone' when there is no lock file, undefined when it names nobody (a kill
   * between creating the file and writing it leaves it empty). Throws StateError when unreadable.
   */
  owner(): LockOwner | 'gone' | undefined {
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return 'gone';
      throw new StateError(`cannot read lock ${this.path}: ${code ?? (err as Error).message}`);
    }
    return parseOwner(text);
  }

  release(): void {
    if (!this.#held) return;
    this.#held = false;
    try {
      unlinkSync(this.path);
    } catch {
      // already gone
    }
  }
}

/** The lock's text: the pid on the first line (all that locks written before boot and start had), then `boot=` and `start=` lines. */
export function formatOwner(o: LockOwner): string {
  return [String(o.pid), ...(o.boot ? [`boot=${o.boot}`] : []), ...(o.start ? [`start=${o.start}`] : [])].join('\n') + '\n';
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
    if (key === 'boot') owner.boot = value;
    else if (key === 'start') owner.start = value;
  }
  return owner;
}

/** This process, as a lock names it. */
function self(): LockOwner {
  const boot = bootId();
  const start = startTime(process.pid);
  return { pid: process.pid, ...(boot ? { boot } : {}), ...(start ? { start } : {}) };
}

/**
 * Whether the process a lock names still runs: its pid is alive and, where the lock and the
 * system both tell them, it is of this boot and started when the lock's owner did.
 */
export function isRunning(owner: LockOwner): boolean {
  if (!alive(owner.pid)) return false;
  if (owner.boot !== undefined) {
    const boot = bootId();
    if (boot !== undefined && boot !== owner.boot) return false;
  }
  if (owner.start !== undefined) {
    const start = startTime(owner.pid);
    if (start !== undefined && start !== owner.start) return false;
  }
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

/** A process's start time (field 22 of /proc/<pid>/stat, clock ticks since boot); undefined off Linux. */
export function startTime(pid: number): string | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // the command name (field 2) is in parentheses and may itself hold spaces and parentheses
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const start = fields[19];
  return start && /^\d+$/.test(start) ? start : undefined;
}
