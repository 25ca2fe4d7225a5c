import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import type { PresenceEvent } from '../events.js';
import type { Logger } from '../log.js';
import { StateError } from './store.js';

type Record_ = { op: 'add'; sink: string; event: PresenceEvent } | { op: 'ack'; sink: string; id: string };

/**
 * The durable outbox: every event handed to a sink is appended here before the state that implies
 * it is saved, and acknowledged when the sink confirmed it (or dead-lettered it). After a crash or
 * kill -9 the unacknowledged events are delivered again, with the same ids.
 *
 * An append-only NDJSON log (`add` / `ack` records) written with write(2), so a killed process
 * loses nothing (the page cache survives it); fsync is batched per tick for power loss. It is
 * compacted to the pending events on open and whenever the log grows well past them.
 */
export class Outbox {
  readonly path: string;
  readonly #log: Logger;
  readonly #pending = new Map<string, Map<string, PresenceEvent>>();
  #fd: number;
  #records = 0;
  #syncScheduled = false;

  constructor(path: string, logger: Logger) {
    this.path = path;
    this.#log = logger;
    this.#load();
    this.#fd = this.#compact();
  }

  /** Events waiting per sink, oldest first. */
  pending(sink: string): PresenceEvent[] {
    return [...(this.#pending.get(sink)?.values() ?? [])];
  }

  get size(): number {
    let n = 0;
    for (const m of this.#pending.values()) n += m.size;
    return n;
  }

  /** Record an event for a sink. False when the same event (id) is already waiting there. */
  add(sink: string, event: PresenceEvent): boolean {
    let m = this.#pending.get(sink);
    if (!m) this.#pending.set(sink, (m = new Map()));
    if (m.has(event.id)) return false; // the same transition seen again (after a restart): already queued
    m.set(event.id, event);
    this.#append({ op: 'add', sink, event });
    return true;
  }

  ack(sink: string, events: readonly PresenceEvent[]): void {
    const m = this.#pending.get(sink);
    if (!m) return;
    for (const e of events) {
      if (m.delete(e.id)) this.#append({ op: 'ack', sink, id: e.id });
    }
    if (this.#records > 10_000 && this.#records > 4 * this.size) {
      closeSync(this.#fd);
      this.#fd = this.#compact();
    }
  }

  close(): void {
    try {
      fsyncSync(this.#fd);
    } catch {
      // best effort: the data is written, only the flush to disk failed
    }
    closeSync(this.#fd);
  }

  #append(r: Record_): void {
    writeSync(this.#fd, JSON.stringify(r) + '\n');
    this.#records++;
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
    if (!existsSync(this.path)) return;
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (err) {
      throw new StateError(`cannot read outbox ${this.path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    const lines = text.split('\n');
    let skipped = 0;
    lines.forEach((line, i) => {
      if (!line) return;
      let r: Record_;
      try {
        r = JSON.parse(line) as Record_;
      } catch {
        // a line cut short by a crash can only be the last one
        if (i >= lines.length - 2) {
          skipped++;
          return;
        }
        throw new StateError(`outbox ${this.path} is corrupt at line ${i + 1} (move it away to start fresh; its events would be lost)`);
      }
      let m = this.#pending.get(r.sink);
      if (!m) this.#pending.set(r.sink, (m = new Map()));
      if (r.op === 'add' && r.event && typeof r.event.id === 'string') m.set(r.event.id, r.event);
      else if (r.op === 'ack') m.delete(r.id);
    });
    if (skipped) this.#log.warn({ outbox: this.path }, 'outbox ended with a partial line (a crash mid-write); ignored it');
    if (this.size) this.#log.info({ pending: this.size }, `${this.size} undelivered event(s) from the last run will be delivered again`);
  }

  /** Rewrite the log as just the pending adds (temp + fsync + rename); returns the append fd. */
  #compact(): number {
    const tmp = `${this.path}.tmp`;
    const fd = openSync(tmp, 'w', 0o600);
    let text = '';
    this.#records = 0;
    for (const [sink, m] of this.#pending) {
      for (const event of m.values()) {
        text += JSON.stringify({ op: 'add', sink, event }) + '\n';
        this.#records++;
      }
    }
    writeSync(fd, text);
    fsyncSync(fd);
    closeSync(fd);
    renameSync(tmp, this.path);
    return openSync(this.path, 'a', 0o600);
  }
}
