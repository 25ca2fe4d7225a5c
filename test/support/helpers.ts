import { DailySimulator, type SimulatorOptions } from '../../src/simulator/simulator.js';
import { PresenceWatcher, type PresenceWatcherOptions } from '../../src/watcher.js';
import type { PresenceEvent } from '../../src/events.js';
import { Writable } from 'node:stream';
import { eventId } from '../../src/diff.js';
import { createLogger, type Logger, type SecretRegistry } from '../../src/log.js';
import { expect } from 'vitest';

/** A silent logger for tests that do not look at logs. */
export const quietLogger = createLogger({ level: 'silent' });

/** A logger whose lines (JSON text, as written) are kept in `lines`. */
export function capturingLogger(level: 'debug' | 'info' | 'warn' = 'info', registry?: SecretRegistry) {
  const lines: string[] = [];
  const logger = createLogger({
    level,
    ...(registry ? { registry } : {}),
    destination: new Writable({
      write(chunk, _enc, cb) {
        lines.push(String(chunk));
        cb();
      },
    }),
  });
  return { logger, lines };
}

/** Join number n in room "r": a plain event for queue and outbox tests. */
export function joinOf(n: number): PresenceEvent {
  return {
    id: eventId('r', `p${n}`, 'join'),
    type: 'join',
    room: 'r',
    at: '2026-01-01T00:00:00.000Z',
    participant: { id: `p${n}`, userId: null, userName: `P${n}`, mtgSessionId: null, joinTime: null, duration: 0 },
  };
}

/**
 * Wait until `check()` returns a truthy value, re-checking whenever `emitter` emits `event`.
 * Rejects after `timeoutMs` as a safety net; it does not sleep.
 */
export function waitFor<T>(
  emitter: { on(e: string, fn: (...a: any[]) => void): unknown; off(e: string, fn: (...a: any[]) => void): unknown },
  event: string,
  check: () => T | undefined | false,
  timeoutMs = 10_000,
  what = 'condition',
): Promise<T> {
  return new Promise((resolve, reject) => {
    const first = check();
    if (first) {
      resolve(first);
      return;
    }
    const onEvent = () => {
      const v = check();
      if (v) {
        cleanup();
        resolve(v);
      }
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
    }, timeoutMs);
    const cleanup = () => {
      clearTimeout(timer);
      emitter.off(event, onEvent);
    };
    emitter.on(event, onEvent);
  });
}

/**
 * A watcher with these options, run until its first snapshot is in (`ready`), then stopped: the
 * events that snapshot gave (a restart's diff against a saved state, in most tests that use it).
 */
export async function firstSnapshotEvents(opts: PresenceWatcherOptions): Promise<PresenceEvent[]> {
  const w = new PresenceWatcher(opts);
  const events: PresenceEvent[] = [];
  w.on('event', (e) => events.push(e));
  w.start();
  try {
    await waitFor(w, 'ready', () => w.isReady);
  } finally {
    await w.stop();
  }
  return events;
}

export interface Harness {
  sim: DailySimulator;
  watcher: PresenceWatcher;
  events: PresenceEvent[];
  errors: Error[];
  close(): Promise<void>;
}

/** A simulator on 127.0.0.1 and a watcher against it, collecting everything it emits. */
/** A watcher's options for a quick poll of this listening simulator, quiet: add rooms or allRooms (and the rest). */
export function quickOptions(sim: DailySimulator): { apiKey: string; apiUrl: string; intervalMs: number; maxRps: number; logger: Logger } {
  return { apiKey: sim.apiKey, apiUrl: sim.url, intervalMs: 50, maxRps: 1000, logger: quietLogger };
}

export async function startHarness(
  simOpts: SimulatorOptions,
  watcherOpts: Partial<PresenceWatcherOptions> & { rooms?: string[]; allRooms?: boolean },
): Promise<Harness> {
  const sim = new DailySimulator(simOpts);
  await sim.listen();
  const opts = { ...quickOptions(sim), backoffMinMs: 20, backoffMaxMs: 100, ...watcherOpts } as PresenceWatcherOptions;
  if (!('allRooms' in watcherOpts) && !watcherOpts.rooms) (opts as { rooms: string[] }).rooms = sim.roomNames;
  const watcher = new PresenceWatcher(opts);
  const h: Harness = {
    sim,
    watcher,
    events: [],
    errors: [],
    async close() {
      await watcher.stop();
      await sim.close();
    },
  };
  watcher.on('event', (e) => h.events.push(e));
  watcher.on('error', (e) => h.errors.push(e));
  return h;
}

/** Resolve after `n` more successful polls of `target` (or of any target). */
export function polls(watcher: PresenceWatcher, n: number, target?: string, timeoutMs = 10_000): Promise<void> {
  let seen = 0;
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      watcher.off('poll', on);
      reject(new Error(`timed out waiting for ${n} successful polls`));
    }, timeoutMs);
    const on = (info: { ok: boolean; target: string }) => {
      if (info.ok && (target === undefined || info.target === target) && ++seen >= n) {
        clearTimeout(timer);
        watcher.off('poll', on);
        resolve();
      }
    };
    watcher.on('poll', on);
  });
}

/** The message of the TypeError `f` throws; fails the test when it throws nothing, or something else. */
export function typeErrorOf(f: () => unknown): string {
  try {
    f();
  } catch (err) {
    expect(err).toBeInstanceOf(TypeError);
    return (err as Error).message;
  }
  throw new Error('expected a TypeError');
}
