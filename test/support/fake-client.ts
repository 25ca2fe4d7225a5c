import type { PresenceClient, RoomPresenceOptions } from '../../src/daily/client.js';
import type { DomainEntries, RoomEntries } from '../../src/daily/parse.js';
import type { Participant } from '../../src/events.js';

export interface FakeCall {
  target: string;
  at: number;
  signal: AbortSignal | undefined;
  settled: boolean;
}

/**
 * What a call answers: participants, an error, 'hang' (until aborted), or `{ lateMs, answer }`: the
 * answer after that long whether aborted or not, as a client that ignores its signal would.
 */
type Answer = Participant[] | Error | 'hang' | { lateMs: number; answer: Participant[] };

/**
 * An in-memory PresenceClient for scheduling tests under fake timers: records when each call
 * started, and answers from a script (a list, then the default) or hangs until aborted.
 */
export class FakeClient implements PresenceClient {
  calls: FakeCall[] = [];
  inFlight = 0;
  maxInFlight = 0;
  script: Answer[] = [];
  fallback: Answer = [];
  /** Daily's total_count for room answers; when above the participants listed, the answer is partial. Default: the number listed. */
  totalCount: number | undefined;

  constructor(private readonly now: () => number = Date.now) {}

  getRoomEntries(room: string, opts: RoomPresenceOptions = {}): Promise<RoomEntries> {
    return this.#answer(room, opts.signal).then((entries) => {
      const totalCount = Math.max(this.totalCount ?? 0, entries.length);
      return { room, entries, totalCount, complete: totalCount <= entries.length };
    });
  }

  getDomainEntries(opts: { signal?: AbortSignal } = {}): Promise<DomainEntries> {
    return this.#answer('*', opts.signal).then((ps) => new Map(ps.length ? [['room', ps]] : []));
  }

  async close(): Promise<void> {}

  #answer(target: string, signal: AbortSignal | undefined): Promise<Participant[]> {
    const call: FakeCall = { target, at: this.now(), signal, settled: false };
    this.calls.push(call);
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    const answer = this.script.length ? this.script.shift()! : this.fallback;
    const done = () => {
      call.settled = true;
      this.inFlight--;
    };
    if (answer === 'hang') {
      return new Promise((_, reject) => {
        signal?.addEventListener('abort', () => {
          done();
          reject(signal.reason);
        });
      });
    }
    if (!Array.isArray(answer) && !(answer instanceof Error)) {
      return new Promise((resolve) =>
        setTimeout(() => {
          done();
          resolve(answer.answer);
        }, answer.lateMs),
      );
    }
    done();
    return answer instanceof Error ? Promise.reject(answer) : Promise.resolve(answer);
  }
}
