import { closeSync, existsSync, fstatSync, fsyncSync, openSync, readSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { makeDirsSync } from '../util/dirs.js';
import { forEachLine } from '../util/lines.js';
import type { PresenceEvent } from '../events.js';
import type { Logger } from '../log.js';
import { specialKind } from '../util/file-kind.js';
import { StateError } from './store.js';
import { SyncRun } from '../util/sync-run.js';
import { eventProblem, isEvent } from '../events.js';

/**
 * write(2) until every byte is written. writeSync makes one call, and on a disk filling up that call
 * can write part of the data and succeed: a compaction would then rename a cut-short log over the
 * good one. The next call fails (ENOSPC) instead, and the caller keeps the old log.
 */
function writeAll(fd: number, text: string): void {
  const data = Buffer.from(text);
  let written = 0;
  while (written < data.length) written += progress(writeSync(fd, data, written, data.length - written));
}

/** A write that wrote nothing would loop forever: fail it like the disk it is on. */
function progress(n: number): number {
  if (n > 0) return n;
  throw Object.assign(new Error('write made no progress'), { code: 'EIO' });
}

type Record_ =
  /** An emitted event (a change of state), with the sinks it was queued for. */
  | { op: 'ev'; seq: number; event: PresenceEvent; sinks: string[] }
  /** An event waiting for a sink, whose change of state the state file already includes. */
  | { op: 'add'; sink: string; event: PresenceEvent }
  | { op: 'ack'; sink: string; id: string };

/** The events waiting for `sink` (by id), made empty on first use. */
function waitingFor(pending: Map<string, Map<string, PresenceEvent>>, sink: string): Map<string, PresenceEvent> {
  let m = pending.get(sink);
  if (!m) pending.set(sink, (m = new Map()));
  return m;
}

/** What an outbox log holds, read without changing it. */
export interface OutboxLog {
  /** Events waiting per sink key, oldest first. */
  pending: Map<string, Map<string, PresenceEvent>>;
  /** Events journaled past `covered`, oldest first. */
  journal: { seq: number; event: PresenceEvent }[];
  /** The last sequence number (at least `covered`). */
  seq: number;
  /** Lines cut short by a crash or a full disk, skipped. */
  cutShort: number;
}

/**
 * Read an outbox log as the daemon does on start, changing nothing: undefined when there is none;
 * StateError when it cannot be read or is corrupt. `covered`: the state file's `journalSeq`.
 */
export function readOutboxLog(path: string, covered = 0): OutboxLog | undefined {
  if (!existsSync(path)) return undefined;
  const kind = specialKind(path);
  if (kind) throw new StateError(`outbox ${path} is ${kind}, not a regular file`);
  const log: OutboxLog = { pending: new Map(), journal: [], seq: covered, cutShort: 0 };
  const pendingFor = (sink: string) => waitingFor(log.pending, sink);
  /** One record; false when it is not a well-formed record. */
  const apply = (r: unknown): boolean => {
    if (!r || typeof r !== 'object') return false;
    const rec = r as Record<string, unknown>;
    if (rec.op === 'ev') {
      const { seq, event, sinks } = rec;
      if (!Number.isSafeInteger(seq) || !isEvent(event) || !Array.isArray(sinks) || !sinks.every((x) => typeof x === 'string')) return false;
      if ((seq as number) > log.seq) log.seq = seq as number;
      if ((seq as number) > covered) log.journal.push({ seq: seq as number, event });
      for (const sink of sinks as string[]) pendingFor(sink).set(event.id, event);
      return true;
    }
    if (typeof rec.sink !== 'string') return false;
    if (rec.op === 'add' && isEvent(rec.event)) {
      pendingFor(rec.sink).set(rec.event.id, rec.event);
      return true;
    }
    if (rec.op === 'ack' && typeof rec.id === 'string') {
      pendingFor(rec.sink).delete(rec.id);
      return true;
    }
    return false;
  };
  const onLine = (line: string, i: number, last: boolean) => {
    if (!line) return;
    let r: unknown;
    try {
      r = JSON.parse(line);
    } catch {
      // a line cut short: by a crash (the last line), or by a full disk (anywhere: the append
      // after it starts a new line). Only its own record is lost: the rest of the log is good
      if (last || line.startsWith('{"op":')) {
        log.cutShort++;
        return;
      }
      throw new StateError(`outbox ${path} is corrupt at line ${i + 1} (move it away to start fresh; its events would be lost)`);
    }
    if (!apply(r)) {
      // a record of ours whose event was edited: say what is wrong with it
      const event = r !== null && typeof r === 'object' ? (r as { event?: unknown }).event : undefined;
      const problem = event !== null && typeof event === 'object' ? eventProblem(event) : undefined;
      throw new StateError(`outbox ${path} is corrupt at line ${i + 1}: not an outbox record${problem ? ` (its event: ${problem})` : ''} (move it away to start fresh; its events would be lost)`);
    }
  };
  // a line at a time: a log grown past ~512 MiB while state saves failed (compaction waits for one)
  // could not be made one string, and the daemon could not start
  try {
    forEachLine(path, onLine);
  } catch (err) {
    if (err instanceof StateError) throw err;
    throw new StateError(`cannot read outbox ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  return log;
}

/**
 * The durable outbox and state journal, one append-only NDJSON log beside the state file.
 *
 * Outbox: every event handed to a sink is appended here before the state that implies it is saved,
 * and acknowledged when the sink confirmed it (or dead-lettered it). After a crash or kill -9 the
 * unacknowledged events are delivered again, with the same ids.
 *
 * Journal: every emitted event gets a sequence number, and the state file records the last one it
 * includes (`journalSeq`). The state is written asynchronously after the events, so a kill can land
 * between the two; on start the daemon replays the journaled events past `journalSeq` onto the state
 * file. Without that, a join delivered just before a kill was missing from the state the restart
 * diffed against, and if that person left before the next poll, no leave was ever sent. Journaled
 * events are kept, acknowledged or not, until a saved state covers them (`covered`).
 *
 * Written with write(2), so a killed process loses nothing (the page cache survives it); fsync is
 * batched per tick for power loss. Compacted to what is still needed on open and whenever the log
 * grows well past it.
 *
 * While state saves keep failing, the journal grows with every event. Past `journalMemoryCap`
 * entries it is kept in the log only, not in memory too, and the log is not compacted (that would
 * drop it) until a saved state covers the journal again; then the rest is read back. Memory stays
 * bounded; nothing is dropped.
 */
export class Outbox {
  readonly path: string;
  readonly #log: Logger;
  readonly #pending = new Map<string, Map<string, PresenceEvent>>();
  /** Events journaled after the last state known to be saved, oldest first. */
  #journal: { seq: number; event: PresenceEvent }[] = [];
  #covered: number;
  #seq: number;
  #fd: number;
  #closed = false;
  #records = 0;
  /** Compact once the log has more records than this (and four times what is still needed). */
  #compactAt = 10_000;
  #syncScheduled = false;
  readonly #journalCap: number;
  /** Bytes written to the log through `#fd`: a log shorter than this was truncated under the daemon. */
  #written = 0;
  /** A failed append left part of its line in the log: the next one starts by ending that line. */
  #torn = false;
  /** The journal past the covered state is in the log only (it outgrew #journalCap). */
  #spilled = false;
  /** A poll's events are recorded in one synchronous run. */
  readonly #poll = new SyncRun();

  /**
   * `covered`: the `journalSeq` of the state file loaded on start (0 when there is none).
   * `journalMemoryCap`: journal entries kept in memory at most (default 100,000), judged as each
   * poll's events begin: one poll's are kept whole.
   */
  constructor(path: string, logger: Logger, covered = 0, opts: { journalMemoryCap?: number } = {}) {
    this.path = path;
    this.#log = logger;
    this.#covered = covered;
    this.#seq = covered;
    this.#journalCap = opts.journalMemoryCap ?? 100_000;
    this.#load();
    this.#fd = this.#compact();
    if (this.#journal.length > this.#journalCap) this.#spill();
  }

  /** Journal entries held in memory (at most journalMemoryCap; the rest, if any, only in the log). */
  get journalInMemory(): number {
    return this.#journal.length;
  }

  /** Events waiting per sink, oldest first. */
  pending(sink: string): PresenceEvent[] {
    return [...(this.#pending.get(sink)?.values() ?? [])];
  }

  /** The sinks that events are waiting for. */
  pendingSinks(): string[] {
    return [...this.#pending].filter(([, m]) => m.size > 0).map(([sink]) => sink);
  }

  get size(): number {
    let n = 0;
    for (const m of this.#pending.values()) n += m.size;
    return n;
  }

  /** The sequence number of the last journaled event. */
  get seq(): number {
    return this.#seq;
  }

  /** Events journaled after the covered state, in the order they were emitted (replay these onto it). */
  journal(): PresenceEvent[] {
    return (this.#spilled ? this.#journalFromLog() : this.#journal).map((j) => j.event);
  }

  /**
   * Journal an emitted event and queue it for `sinks`. Returns the sinks it was newly queued for:
   * not those where the same event (id) is already waiting, as after a restart.
   */
  record(event: PresenceEvent, sinks: readonly string[]): string[] {
    const fresh: string[] = [];
    for (const sink of sinks) {
      const m = this.#pendingFor(sink);
      if (m.has(event.id)) continue;
      m.set(event.id, event);
      fresh.push(sink);
    }
    const seq = ++this.#seq;
    // judged as a poll's events begin (its state is saved after them): one poll's own events are no
    // sign of failing saves, and a first snapshot of 150,000 people spilled, with a warning that no
    // state had been saved for a while
    if (this.#poll.starts() && this.#journal.length > this.#journalCap) this.#spill();
    // in memory first, like the pending maps above: if the append fails (disk full), a later
    // compaction still writes it
    if (!this.#spilled) this.#journal.push({ seq, event });
    this.#append({ op: 'ev', seq, event, sinks: fresh });
    return fresh;
  }

  ack(sink: string, events: readonly PresenceEvent[]): void {
    const m = this.#pending.get(sink);
    if (!m) return;
    // one write for them all: a batch of a Slack message's 500, or the 100,000 a full queue dropped
    const acks: Record_[] = [];
    for (const e of events) {
      if (m.delete(e.id)) acks.push({ op: 'ack', sink, id: e.id });
    }
    this.#appendAll(acks);
    this.#maybeCompact();
  }

  /**
   * Move what waits for sink `from` to sink `to` (the same sink under a new key), keeping the order;
   * an event already waiting for `to` stays once.
   */
  rename(from: string, to: string): void {
    const m = this.#pending.get(from);
    if (!m || from === to) return;
    const target = this.#pendingFor(to);
    for (const [id, event] of m) {
      if (!target.has(id)) {
        target.set(id, event);
        this.#append({ op: 'add', sink: to, event });
      }
      m.delete(id);
      this.#append({ op: 'ack', sink: from, id });
    }
    this.#maybeCompact();
  }

  /** A state including every event up to `seq` is saved: the journal before it is no longer needed. */
  covered(seq: number): void {
    if (seq <= this.#covered) return;
    this.#covered = seq;
    if (this.#spilled) {
      // read back what the saved state does not cover (the events of the save's own duration)
      let rest: { seq: number; event: PresenceEvent }[];
      try {
        rest = this.#journalFromLog();
      } catch (err) {
        this.#log.error({ err, outbox: this.path }, 'cannot read the outbox journal back; it stays in the log only');
        return;
      }
      if (rest.length > this.#journalCap) return;
      this.#journal = rest;
      this.#spilled = false;
      this.#log.info({ journaled: rest.length }, 'state saved: the outbox journal is back in memory');
    } else {
      let i = 0;
      while (i < this.#journal.length && this.#journal[i]!.seq <= seq) i++;
      if (i > 0) this.#journal.splice(0, i);
    }
    this.#maybeCompact();
  }

  /** Drop the in-memory journal: from now on it is in the log only, until a save covers it. */
  #spill(): void {
    this.#log.warn(
      { outbox: this.path, journaled: this.#journal.length },
      `more than ${this.#journalCap} events since the state was last saved (saves failing, or spaced out by --save-every): the outbox journal now lives in the log file only (compaction paused) until the next save`,
    );
    this.#journal = [];
    this.#spilled = true;
  }

  /** The `ev` records of the log past the covered state, oldest first. */
  #journalFromLog(): { seq: number; event: PresenceEvent }[] {
    const out: { seq: number; event: PresenceEvent }[] = [];
    forEachLine(this.path, (line) => {
      if (!line.startsWith('{"op":"ev"')) return;
      let r: { seq: number; event: PresenceEvent };
      try {
        r = JSON.parse(line) as { seq: number; event: PresenceEvent };
      } catch {
        return; // cut short by a full disk: the event is in the memory of the pending maps only
      }
      if (r.seq > this.#covered) out.push({ seq: r.seq, event: r.event });
    });
    return out;
  }

  /**
   * Whether the log at `path` is still the file this outbox appends to, whole; if it was removed,
   * replaced or truncated (by hand, or by a cleaner of old files such as systemd-tmpfiles, which judges a file by
   * its age: an outbox nothing was appended to for days is old), write it again from memory and
   * append there. Until then, every append went to a file no restart would read: a daemon that died
   * lost the events still waiting, and the journal the next start replays. Returns what it found:
   * 'ok', 'rewritten', or 'spilled' (rewritten, but the journal since the last save lived only in
   * the removed file, so a restart before the next save cannot replay it). Throws when the log
   * cannot be written (the next call tries again).
   */
  restoreIfRemoved(): 'ok' | 'rewritten' | 'spilled' {
    if (this.#closed) return 'ok';
    const mine = fstatSync(this.#fd);
    let there: { ino: number; dev: number } | undefined;
    try {
      there = statSync(this.path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    // the same file, but truncated in place (`: > file`, logrotate's copytruncate): shorter than
    // what was written to it, or, once the next append went on at the old offset, starting with a
    // hole of NUL bytes, which a restart read as a line cut short: every event waiting was lost
    if (there && there.ino === mine.ino && there.dev === mine.dev && mine.size >= this.#written && this.#startsWhole()) return 'ok';
    const spilled = this.#spilled;
    makeDirsSync(dirname(this.path));
    this.#replaceLog();
    // what the removed file held past the last save is gone with it; from here the log is whole again
    this.#spilled = false;
    return spilled ? 'spilled' : 'rewritten';
  }

  /** Whether the log starts as one this outbox wrote does: with a record (`{`), or a line break after a torn write. */
  #startsWhole(): boolean {
    if (this.#written === 0) return true;
    const fd = openSync(this.path, 'r');
    try {
      const first = Buffer.alloc(1);
      return readSync(fd, first, 0, 1, 0) === 1 && (first[0] === 0x7b || first[0] === 0x0a);
    } finally {
      closeSync(fd);
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      fsyncSync(this.#fd);
    } catch {
      // best effort: the data is written, only the flush to disk failed
    }
    closeSync(this.#fd);
  }

  #maybeCompact(): void {
    // spilled: the journal is in the log only, and a rewrite from memory would drop it
    if (this.#closed || this.#spilled) return;
    if (this.#records > this.#compactAt && this.#records > 4 * (this.size + this.#journal.length)) {
      try {
        this.#replaceLog();
      } catch (err) {
        // the old log is untouched and still appended to; try again after as many records more
        this.#compactAt = this.#records + 10_000;
        this.#log.error({ err, outbox: this.path }, `cannot compact the outbox (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}): it keeps growing until it can`);
        return;
      }
    }
  }

  /** The log rewritten as what is still needed, and appended to from now on; throws, the old log kept, when it cannot be. */
  #replaceLog(): void {
    const fd = this.#compact();
    closeSync(this.#fd);
    this.#fd = fd;
    this.#compactAt = 10_000;
  }

  #append(r: Record_): void {
    this.#appendAll([r]);
  }

  /** Records in one write (an array, not arguments: 100,000 of them spread would overflow the stack). */
  #appendAll(records: readonly Record_[]): void {
    if (this.#closed || records.length === 0) return;
    // a line cut short by a full disk, then the next record appended to it, would make one corrupt
    // line in the middle of the log, which #load cannot tell from real damage. Until this write is
    // whole, the next one starts a new line (an empty one, if nothing of this one got written)
    let text = this.#torn ? '\n' : '';
    for (const r of records) text += `${JSON.stringify(r)}\n`;
    this.#torn = true;
    writeAll(this.#fd, text);
    this.#written += Buffer.byteLength(text);
    this.#torn = false;
    this.#records += records.length;
    if (!this.#syncScheduled) {
      this.#syncScheduled = true;
      setImmediate(() => {
        this.#syncScheduled = false;
        try {
          fsyncSync(this.#fd);
        } catch {
          // closed meanwhile
        }
      }).unref();
    }
  }

  #load(): void {
    const read = readOutboxLog(this.path, this.#covered);
    if (!read) return;
    for (const [sink, events] of read.pending) this.#pending.set(sink, events);
    this.#journal = read.journal;
    this.#seq = read.seq;
    if (read.cutShort) this.#log.warn({ outbox: this.path, lines: read.cutShort }, `outbox had ${read.cutShort} line(s) cut short (a crash or a full disk mid-write); ignored them`);
  }

  #pendingFor(sink: string): Map<string, PresenceEvent> {
    return waitingFor(this.#pending, sink);
  }

  /**
   * Rewrite the log as what is still needed (temp + fsync + rename), returning the append fd: an
   * `add` per event waiting for a sink whose state is saved, then the journal past the saved state,
   * each entry with the sinks it still waits for. The fd is the temp file's own, which the rename
   * makes the log: nothing is opened after the rename, so a failure leaves the old log as it was.
   */
  #compact(): number {
    const tmp = `${this.path}.tmp`;
    const fd = openSync(tmp, 'w', 0o600);
    try {
      const { records, bytes } = this.#rewrite(fd);
      renameSync(tmp, this.path);
      this.#records = records;
      // (only once the rewrite is the log: a failed one leaves the old log, and its count, as they were)
      this.#written = bytes;
    } catch (err) {
      closeSync(fd);
      try {
        unlinkSync(tmp); // on a full disk, what it holds is space the old log may need
      } catch {
        // renamed already, or never written: nothing to free
      }
      throw err;
    }
    return fd;
  }

  /** Write what is still needed to `fd`; returns how many records and bytes that is. */
  #rewrite(fd: number): { records: number; bytes: number } {
    const journaled = new Set(this.#journal.map((j) => j.event.id));
    const lines: string[] = [];
    for (const [sink, m] of this.#pending) {
      for (const event of m.values()) if (!journaled.has(event.id)) lines.push(JSON.stringify({ op: 'add', sink, event }));
    }
    for (const { seq, event } of this.#journal) {
      // (an id journaled twice lists its sinks twice: reading it back, the second changes nothing)
      const sinks = [...this.#pending].filter(([, m]) => m.has(event.id)).map(([sink]) => sink);
      lines.push(JSON.stringify({ op: 'ev', seq, event, sinks }));
    }
    const text = lines.length ? lines.join('\n') + '\n' : '';
    writeAll(fd, text);
    fsyncSync(fd);
    return { records: lines.length, bytes: Buffer.byteLength(text) };
  }
}
