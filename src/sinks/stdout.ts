import type { Writable } from 'node:stream';
import type { PresenceEvent } from '../events.js';
import { DeliveryError, type Sink } from './sink.js';

/** One event per line as JSON (NDJSON), nothing else. Waits for the stream when it is full. */
export class StdoutSink implements Sink {
  readonly kind = 'stdout';
  readonly name: string;
  readonly maxBatch = 1000;
  readonly minIntervalMs = 0;
  readonly #out: Writable;

  constructor(out: Writable = process.stdout, name = 'stdout') {
    this.#out = out;
    this.name = name;
  }

  deliver(events: PresenceEvent[], signal: AbortSignal): Promise<void> {
    let text = '';
    for (const e of events) text += JSON.stringify(e) + '\n';
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
