import { createServer, type Server } from 'node:http';
import { targetName } from './daily/errors.js';
import { secrets } from './log.js';
import type { Metrics } from './metrics.js';
import { monotonicNow } from './util/clock.js';
import type { PresenceWatcher } from './watcher.js';
import type { DeliveryQueue } from './sinks/queue.js';
import { setOwn } from './util/record.js';

export interface HealthOptions {
  watcher: PresenceWatcher;
  metrics: Metrics;
  queues: DeliveryQueue[];
  host: string;
  port: number;
  /** Clock the ages are measured on, ms. Default monotonic (performance.now()): a wall clock stepped by NTP or a resumed VM must not make a poll look an hour old, or a stale one fresh. */
  now?: () => number;
  /** More conditions to report: each returns why the daemon is unhealthy, or undefined while it is not. */
  checks?: (() => string | undefined)[];
}

export interface HealthReport {
  status: 'ok' | 'unhealthy';
  reasons: string[];
  /** Per target; `partial`: its last snapshot listed fewer people than Daily's total_count (no leaves for the rest). */
  targets: Record<string, { lastSuccess: string | null; lastError: string | null; partial: boolean }>;
  /** Per sink: events held and the cap, whether it is disabled, and whether its last deliveries all failed. */
  sinks: Record<string, { depth: number; cap: number; disabled: boolean; failing: boolean }>;
}

/** /livez: the shortest time with no poll finishing at all (any target, success or failure) that counts as stuck. */
export const LIVENESS_WINDOW_MIN_MS = 20 * 60_000;

export type LivenessReport = { status: 'alive' } | { status: 'stuck'; reason: string };

/**
 * GET /livez: 200 while the watcher runs and polls keep finishing, successfully or not; for a
 * liveness probe, which restarts the process: a restart fixes a stuck loop, not Daily or a receiver
 * being down, which /healthz also reports.
 *
 * GET /healthz: 200 while the last poll of every target succeeded within 3 intervals (or 3 of
 * the longer period the request budget allows, `pollPeriodMs`), the last
 * state save (when there is a state file) succeeded, every sink delivers (not disabled, not failing
 * every batch, queue not full) and every extra check passes; else 503 with the reasons. GET
 * /metrics: Prometheus text format.
 */
export class HealthServer {
  readonly #o: HealthOptions;
  readonly #now: () => number;
  /** Per target: when its last poll succeeded, on `now`'s clock and as wall time for the report. */
  readonly #lastOk = new Map<string, { at: number; wall: number }>();
  readonly #lastError = new Map<string, string>();
  readonly #started: number;
  /** When the last poll of any target finished, successfully or not. */
  #lastPoll: number;
  #server: Server | undefined;

  constructor(o: HealthOptions) {
    this.#o = o;
    this.#now = o.now ?? monotonicNow;
    this.#started = this.#now();
    this.#lastPoll = this.#started;
    o.watcher.on('poll', (p) => {
      this.#lastPoll = this.#now();
      if (p.ok) {
        this.#lastOk.set(p.target, { at: this.#lastPoll, wall: Date.now() });
        this.#lastError.delete(p.target);
      } else if (p.error) this.#lastError.set(p.target, p.error.message);
    });
  }

  report(): HealthReport {
    const now = this.#now();
    // (3 intervals, or 3 of the longer period the request budget allows when it cannot poll every
    // room each interval: judged by the interval alone, such a daemon was unhealthy for good)
    const limit = 3 * this.#o.watcher.pollPeriodMs;
    const reasons: string[] = [];
    const targets: HealthReport['targets'] = {};
    const partial = new Set(this.#o.watcher.partialRooms);
    if (!this.#o.watcher.isRunning) reasons.push('the watcher is not running');
    for (const t of this.#o.watcher.targets) {
      const ok = this.#lastOk.get(t);
      const err = this.#lastError.get(t) ?? null;
      setOwn(targets, t, { lastSuccess: ok === undefined ? null : new Date(ok.wall).toISOString(), lastError: err, partial: partial.has(t) });
      const since = now - (ok?.at ?? this.#started);
      if (ok === undefined) reasons.push(`${targetName(t)}: no successful poll yet${err ? ` (last error: ${err})` : ''}`);
      else if (since > limit) reasons.push(`${targetName(t)}: no successful poll for ${Math.round(since / 1000)}s${err ? ` (last error: ${err})` : ''}`);
    }
    const saveError = this.#o.watcher.stateSaveError;
    if (saveError !== undefined) reasons.push(`cannot save state: ${saveError}`);
    const sinks: HealthReport['sinks'] = {};
    for (const q of this.#o.queues) {
      sinks[q.sink.name] = { depth: q.depth, cap: q.cap, disabled: q.disabled, failing: q.failing !== undefined };
      // a disabled sink never recovers by itself: its events go to the dead-letter until a restart
      const why = q.disabledReason;
      if (why !== undefined) reasons.push(`${q.sink.name}: ${why} (its events go to the dead-letter until a restart)`);
      // not disabled, but every event lately went to the dead-letter all the same
      else if (q.failing !== undefined) reasons.push(`${q.sink.name}: ${q.failing}`);
      // full: each new event pushes the oldest waiting one to the dead-letter
      if (why === undefined && q.depth >= q.cap) reasons.push(`${q.sink.name}: queue full (${q.cap} events): the sink cannot keep up or is down, and the oldest events go to the dead-letter`);
    }
    for (const check of this.#o.checks ?? []) {
      const why = check();
      if (why !== undefined) reasons.push(why);
    }
    return { status: reasons.length ? 'unhealthy' : 'ok', reasons, targets, sinks };
  }

  /**
   * Whether the daemon is alive: the watcher runs, and some poll finished (any target, success or
   * failure) within max(20 min, 5 intervals). Polls keep finishing while Daily is down (as
   * failures), backoff and Retry-After included, so only a loop that no longer runs goes quiet.
   */
  liveness(): LivenessReport {
    if (!this.#o.watcher.isRunning) return { status: 'stuck', reason: 'the watcher is not running' };
    const window = Math.max(LIVENESS_WINDOW_MIN_MS, 5 * this.#o.watcher.intervalMs);
    const quiet = this.#now() - this.#lastPoll;
    if (quiet > window) return { status: 'stuck', reason: `no poll has finished, successfully or not, for ${Math.round(quiet / 1000)}s` };
    return { status: 'alive' };
  }

  async listen(): Promise<string> {
    const server = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { allow: 'GET, HEAD' }).end();
        return;
      }
      if (path === '/livez') {
        const r = this.liveness();
        res.writeHead(r.status === 'alive' ? 200 : 503, { 'content-type': 'application/json' });
        res.end(JSON.stringify(r));
      } else if (path === '/healthz') {
        const r = this.report();
        res.writeHead(r.status === 'ok' ? 200 : 503, { 'content-type': 'application/json' });
        // scrubbed like a log line: a receiver's error text quoted in a reason may echo a URL's token
        res.end(secrets.scrub(JSON.stringify(r)));
      } else if (path === '/metrics') {
        this.#o.metrics.registry.metrics().then(
          (text) => {
            res.writeHead(200, { 'content-type': this.#o.metrics.registry.contentType });
            res.end(text);
          },
          (err: Error) => {
            res.writeHead(500, { 'content-type': 'text/plain' });
            res.end(`metrics failed: ${err.message}`);
          },
        );
      } else {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('try /healthz, /livez or /metrics\n');
      }
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.#o.port, this.#o.host, () => resolve());
    });
    server.unref();
    this.#server = server;
    const a = server.address() as { address: string; port: number; family: string };
    return `http://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`;
  }

  close(): Promise<void> {
    const s = this.#server;
    this.#server = undefined;
    if (!s) return Promise.resolve();
    s.closeAllConnections();
    return new Promise((r) => s.close(() => r()));
  }
}
