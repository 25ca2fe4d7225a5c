import { readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { StateError } from './store.js';

/**
 * One daemon per state file: two writing the same state and outbox would lose events. The lock is
 * a file holding the owner's pid; a lock whose process is gone (kill -9) is taken over.
 */
export class StateLock {
  readonly path: string;
  #held = false;

  constructor(statePath: string) {
    this.path = `${statePath}.lock`;
  }

  acquire(): void {
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        writeFileSync(this.path, String(process.pid), { flag: 'wx', mode: 0o600 });
        this.#held = true;
        return;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
          throw new StateError(`cannot create lock ${this.path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
        }
      }
      const owner = Number(readFileSync(this.path, 'utf8').trim());
      if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && alive(owner)) {
        throw new StateError(`state file is in use by another presence-watcher (pid ${owner}, lock ${this.path}); give each daemon its own --state`);
      }
      unlinkSync(this.path); // stale: its owner is gone
    }
    throw new StateError(`cannot take the lock ${this.path}`);
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

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
