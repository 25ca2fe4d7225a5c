import { statSync, type Stats } from 'node:fs';
import { resolve } from 'node:path';

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
