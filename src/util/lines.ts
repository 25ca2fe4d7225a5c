import { closeSync, openSync, readSync } from 'node:fs';

/** How much of a file is read at a time. */
const CHUNK_BYTES = 1 << 20;

/**
 * Each line of a UTF-8 file, in order, read a megabyte at a time: as `readFileSync(path,
 * 'utf8').split('\n')` would give them, without the whole file as one string, which V8 cannot make
 * past ~512 MiB ("Cannot create a string longer than 0x1fffffe8 characters"): a dead-letter file
 * of months of a large domain's events could not be replayed, and an outbox grown while state
 * saves failed could not be read at start. `last` is true for the final two pieces (the split's
 * last element, empty when the file ends with a line break, and the one before it): the lines a
 * crash or a full disk may have cut short. A byte order mark at the start is left out. Errors of
 * reading (ENOENT, EISDIR, …) are thrown as fs throws them. `chunkBytes`: for tests.
 */
export function forEachLine(path: string, onLine: (line: string, index: number, last: boolean) => void, chunkBytes = CHUNK_BYTES): void {
  for (const [line, index, last] of readLines(path, chunkBytes)) onLine(line, index, last);
}

/**
 * forEachLine's lines as an iterator: `[line, index, last]`, a line at a time, so a reader may wait
 * between lines (replay, for its sinks to take what it handed them). The file is opened at the
 * first `next()` and closed when the lines run out, or when the loop over them is left (a break, a
 * throw: for-of calls the iterator's `return`).
 */
export function* readLines(path: string, chunkBytes = CHUNK_BYTES): Generator<[line: string, index: number, last: boolean], void, undefined> {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.allocUnsafe(chunkBytes);
    /** Bytes after the last line break read so far: the start of a line not yet complete. */
    let carry: Buffer = Buffer.alloc(0);
    /** Complete lines not yet given: the last two wait, as one of them may be the file's last. */
    const held: string[] = [];
    let index = 0;
    let first = true;
    for (;;) {
      const n = readSync(fd, buf, 0, chunkBytes, null);
      if (n === 0) break;
      const end = buf.lastIndexOf(0x0a, n - 1);
      if (end < 0) {
        carry = Buffer.concat([carry, buf.subarray(0, n)]);
        continue;
      }
      // a line break is one byte and never inside a character's bytes, so the text up to one
      // decodes whole
      let text = Buffer.concat([carry, buf.subarray(0, end)]).toString('utf8');
      carry = Buffer.from(buf.subarray(end + 1, n));
      if (first) {
        if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
        first = false;
      }
      for (const line of text.split('\n')) held.push(line);
      while (held.length > 2) yield [held.shift()!, index++, false];
    }
    let rest = carry.toString('utf8');
    if (first && rest.charCodeAt(0) === 0xfeff) rest = rest.slice(1);
    held.push(rest);
    while (held.length > 0) {
      const line = held.shift()!;
      yield [line, index++, held.length < 2];
    }
  } finally {
    closeSync(fd);
  }
}
