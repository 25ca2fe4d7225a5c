import type { Writable } from 'node:stream';
import type { PresenceEvent } from '../events.js';
import { describe, happenedEarlier, utcMinute } from './describe.js';
import { DeliveryError, type Sink } from './sink.js';
import { oneLine, shownValue } from '../util/text.js';

/** `json`: one event per line as JSON (NDJSON), for programs. `text`: one line a person reads. */
export type StdoutFormat = 'json' | 'text';

/**
 * One event as a line of text: its time and what happened ("2026-11-26T09:00:00.000Z Moishe joined
 * standup"), and when it happened if that was well before it was seen ("… Bob left standup
 * (sometime after 2026-11-20 18:02 UTC)": the watcher was stopped, or Daily failed, meanwhile).
 */
export function textLine(e: PresenceEvent): string {
  const earlier = happenedEarlier(e);
  const when = earlier ? ` (${earlier.kind === 'joined' ? 'at' : 'sometime after'} ${utcMinute(earlier.ms)})` : '';
  // the time on one line too: a hand-edited dead-letter line's `at` may hold a line break
  return `${oneLine(e.at)} ${describe(e)}${when}`;
}

/**
 * One event per line, nothing else: JSON (NDJSON, the default) or a line of text. Waits for the
 * stream when it is full.
 */
export class StdoutSink implements Sink {
  readonly kind = 'stdout';
  readonly name: string;
  readonly maxBatch = 1000;
  readonly minIntervalMs = 0;
  /** Text lines are for people (see Sink.forPeople); JSON lines are for programs, and get every event. */
  readonly forPeople: boolean;
  readonly #out: Writable;
  readonly #line: (e: PresenceEvent) => string;

  constructor(out: Writable = process.stdout, name = 'stdout', format: StdoutFormat = 'json') {
    // its arguments are positional: an options object ({ format: 'text' }) for `out` wrote nowhere
    if (typeof (out as { write?: unknown } | null)?.write !== 'function') {
      throw new TypeError('StdoutSink: the first argument is the stream to write to (process.stdout by default), then a name and the format: new StdoutSink(process.stdout, "stdout", "text")');
    }
    if (format !== 'json' && format !== 'text') throw new TypeError(`StdoutSink: format must be "json" or "text", got ${shownValue(format)}`);
    this.#out = out;
    this.name = name;
    this.forPeople = format === 'text';
    this.#line = format === 'text' ? textLine : (e) => JSON.stringify(e);
  }

  deliver(events: PresenceEvent[], signal: AbortSignal): Promise<void> {
    let text = '';
    for (const e of events) text += this.#line(e) + '\n';
    return new Promise((resolve, reject) => {
      if (this.#out.destroyed || this.#out.writableEnded) {
        reject(new DeliveryError('stdout is closed', 'disable'));
        return;
      }
      const onAbort = () => reject(signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
      this.#out.write(text, (err) => {
        signal.removeEventListener('abort', onAbort);
        if (!err) resolve();
        else if ((err as NodeJS.ErrnoException).code === 'EPIPE') reject(new DeliveryError('stdout is closed: the program reading it went away (EPIPE)', 'disable'));
        else reject(new DeliveryError(`cannot write to stdout: ${err.message}`, 'retry'));
      });
    });
  }
}
