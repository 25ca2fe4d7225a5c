import { lstatSync, readlinkSync, realpathSync, statSync, type Stats } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';

/** The kinds a write or read can block on (specialKind's words for them). */
export const FIFO = 'a FIFO (named pipe)';
export const SOCKET = 'a socket';

/**
 * What `path` is when it exists and is not a regular file ("a FIFO (named pipe)", "a socket", …),
 * following symlinks; undefined for a regular file, or nothing there. Reading a FIFO blocks until
 * something writes to it, and opening one to append blocks until something reads it: a daemon
 * given one as its state or dead-letter file hung at start, or at its first undeliverable event,
 * without a word.
 */
export function specialKind(path: string): string | undefined {
  let st: Stats;
  try {
    st = statSync(path);
  } catch {
    return undefined; // missing, or unreadable: the read or write that follows says which
  }
  if (st.isFile()) return undefined;
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return FIFO;
  if (st.isSocket()) return SOCKET;
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  return 'not a regular file';
}

/**
 * The file `path` names once its symbolic links are followed, when it is a link (or sits in a
 * linked directory): the real path of what is there, or where a dangling link points; `path` itself
 * otherwise. A file replaced by a rename (the state file: written to a temp file, renamed over) must
 * be renamed over the link's target: renamed over the link, it replaced the link with a file of its
 * own, beside it, and left the target as it was.
 */
export function followLinks(path: string): string {
  try {
    const real = realpathSync(path);
    return real === resolve(path) ? path : real;
  } catch {
    // nothing there, or a dangling link: follow the last part's links by hand (40, as the kernel)
  }
  let p = resolve(path);
  for (let i = 0; i < 40; i++) {
    let link: string;
    try {
      if (!lstatSync(p).isSymbolicLink()) break;
      link = readlinkSync(p);
    } catch {
      break; // nothing there (or unreadable): the open that follows says which
    }
    p = resolve(dirname(p), link);
  }
  if (p === resolve(path)) return path;
  try {
    return join(realpathSync(dirname(p)), basename(p));
  } catch {
    return p;
  }
}

/**
 * Whether two paths name one file: the same path once resolved (whether or not the file exists
 * yet), or, for files that exist, a link or another spelling of it.
 */
export function sameFile(a: string, b: string): boolean {
  if (resolve(a) === resolve(b)) return true;
  try {
    const x = statSync(a);
    const y = statSync(b);
    return x.dev === y.dev && x.ino === y.ino;
  } catch {
    return false;
  }
}
