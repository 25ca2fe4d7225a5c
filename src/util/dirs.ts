import { existsSync, mkdirSync, statSync } from 'node:fs';
import { mkdir, stat } from 'node:fs/promises';
import { dirname } from 'node:path';

/*
 * `mkdir -p` that cannot spin. Node's own (`{ recursive: true }`, Node 20 and 24 alike) loops for
 * ever when a directory exists but making a child in it answers ENOENT, as procfs does: the sync
 * call holds the CPU at 100%, the promise never settles, and a daemon given `--state
 * /proc/x/state.json` hung at start without a word. Here a directory is tried at most twice, once
 * before its parent is made and once after: a second ENOENT is the answer.
 */

/** What a failed mkdir means: the path exists (a directory, or not), or the parent must be made first. Throws otherwise. */
function failed(err: unknown, dir: string, secondTry: boolean): 'exists' | 'parent' {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'EEXIST') return 'exists';
  if (code === 'ENOENT' && !secondTry && dirname(dir) !== dir) return 'parent';
  throw err;
}

function mustBeDirectory(isDir: boolean, dir: string): void {
  if (!isDir) throw Object.assign(new Error(`ENOTDIR: not a directory, mkdir '${dir}'`), { code: 'ENOTDIR' });
}

/** Make `dir` and any missing parents; throws with an errno code (ENOENT, EACCES, ENOTDIR, …). */
export function makeDirsSync(dir: string): void {
  const make = (d: string, secondTry: boolean): void => {
    try {
      mkdirSync(d);
      return;
    } catch (err) {
      if (failed(err, d, secondTry) === 'exists') return mustBeDirectory(statSync(d).isDirectory(), d);
    }
    make(dirname(d), false);
    make(d, true);
  };
  make(dir, false);
}

/** makeDirsSync, without blocking the event loop (a state save on a slow volume). */
export async function makeDirs(dir: string): Promise<void> {
  const make = async (d: string, secondTry: boolean): Promise<void> => {
    try {
      await mkdir(d);
      return;
    } catch (err) {
      if (failed(err, d, secondTry) === 'exists') return mustBeDirectory((await stat(d)).isDirectory(), d);
    }
    await make(dirname(d), false);
    await make(d, true);
  };
  await make(dir, false);
}

/** `dir`, or the nearest of its parents that exists. */
export function nearestExisting(dir: string): string {
  let d = dir;
  while (!existsSync(d) && dirname(d) !== d) d = dirname(d);
  return d;
}
