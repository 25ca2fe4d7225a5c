import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { PresenceEvent } from '../events.js';
import type { Logger } from '../log.js';

/** Where undeliverable events end: an NDJSON file (one line per event), or the log. */
export interface DeadLetter {
  write(sink: string, reason: string, events: readonly PresenceEvent[]): void;
}

export class FileDeadLetter implements DeadLetter {
  constructor(
    readonly path: string,
    private readonly log: Logger,
  ) {}

  /**
   * Make sure the file can be written (creating it and its directory), so a bad path is a start-up
   * error rather than a surprise at the first undeliverable event. Throws with the errno code.
   */
  check(): void {
    mkdirSync(dirname(this.path), { recursive: true });
    appendFileSync(this.path, '');
  }

  write(sink: string, reason: string, events: readonly PresenceEvent[]): void {
    const at = new Date().toISOString();
    const text = events.map((event) => JSON.stringify({ at, sink, reason, event }) + '\n').join('');
    try {
      appendFileSync(this.path, text);
      this.log.warn({ sink, reason, count: events.length, file: this.path }, `${events.length} event(s) written to the dead-letter file`);
    } catch (err) {
      // the file is unusable: the log is the last place the events can go
      this.log.error({ sink, reason, err, events }, `could not write the dead-letter file ${this.path}; events logged instead`);
    }
  }
}

export class LogDeadLetter implements DeadLetter {
  constructor(private readonly log: Logger) {}

  write(sink: string, reason: string, events: readonly PresenceEvent[]): void {
    for (const event of events) this.log.error({ sink, reason, deadLetter: event }, `undeliverable event ${event.id} (${event.type} in ${event.room})`);
  }
}
