import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { PresenceWatcher } from './watcher.js';
import type { DeliveryQueue } from './sinks/queue.js';

/** Prometheus metrics for one daemon (its own registry, so tests and embeddings don't collide). */
export class Metrics {
  readonly registry = new Registry();
  readonly polls = new Counter({ name: 'presence_watcher_polls_total', help: 'Polls of the Daily API by outcome (ok, error).', labelNames: ['outcome'], registers: [this.registry] });
  readonly pollDuration = new Histogram({
    name: 'presence_watcher_poll_duration_seconds',
    help: 'Time per successful poll: request, parse, validate, diff, emit.',
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly events = new Counter({ name: 'presence_watcher_events_total', help: 'Presence events emitted, by type.', labelNames: ['type'], registers: [this.registry] });
  readonly sameUserEvents = new Counter({
    name: 'presence_watcher_same_user_events_total',
    help: 'Joins and leaves of someone who stays in the room (marked sameUserAs: reconnects, second devices), by type; counted in presence_watcher_events_total too.',
    labelNames: ['type'],
    registers: [this.registry],
  });
  readonly deliveries = new Counter({
    name: 'presence_watcher_deliveries_total',
    help: 'Events by sink and delivery outcome (delivered, retried, failed, dropped, dead_lettered).',
    labelNames: ['sink', 'outcome'],
    registers: [this.registry],
  });
  readonly deliveryDelay = new Histogram({
    name: 'presence_watcher_delivery_delay_seconds',
    help: 'Per sink, from the watcher seeing a change (the event\'s at) to the sink confirming its delivery: queueing, retries and the request. Events sent again after a restart count from when they were seen.',
    labelNames: ['sink'],
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800],
    registers: [this.registry],
  });
  readonly queueDepth = new Gauge({ name: 'presence_watcher_queue_depth', help: 'Events waiting per sink.', labelNames: ['sink'], registers: [this.registry] });
  readonly sinkDisabled = new Gauge({
    name: 'presence_watcher_sink_disabled',
    help: '1 once a sink is disabled (410 Gone, a closed stdout; see /healthz for why), else 0.',
    labelNames: ['sink'],
    registers: [this.registry],
  });
  readonly sinkFailing = new Gauge({
    name: 'presence_watcher_sink_failing',
    help: '1 while a sink\'s last 5 or more deliveries were all given up on (dead-lettered) with none delivered between, else 0.',
    labelNames: ['sink'],
    registers: [this.registry],
  });
  readonly participants = new Gauge({ name: 'presence_watcher_participants', help: 'Participants present in the watched rooms at the last poll.', registers: [this.registry] });
  readonly roomsWatched = new Gauge({ name: 'presence_watcher_rooms_watched', help: 'Rooms watched (room mode), or rooms with anyone present (all-rooms mode).', registers: [this.registry] });
  readonly lastSuccess = new Gauge({ name: 'presence_watcher_last_successful_poll_timestamp_seconds', help: 'Unix time of the last successful poll.', registers: [this.registry] });

  /** `version`: the watcher's, as `presence_watcher_build_info{version}` (which build each instance of a fleet runs). */
  constructor(version?: string) {
    collectDefaultMetrics({ register: this.registry, prefix: 'presence_watcher_' });
    if (version !== undefined) {
      new Gauge({ name: 'presence_watcher_build_info', help: 'Always 1; its version label is the watcher\'s version.', labelNames: ['version'], registers: [this.registry] }).set({ version }, 1);
    }
  }

  observeWatcher(w: PresenceWatcher, allRooms: boolean): void {
    const perTarget = new Map<string, number>();
    let total = 0;
    if (!allRooms) this.roomsWatched.set(w.targets.length);
    w.on('poll', (p) => {
      this.polls.inc({ outcome: p.ok ? 'ok' : 'error' });
      if (!p.ok) return;
      this.pollDuration.observe(p.durationMs / 1000);
      this.lastSuccess.set(Date.now() / 1000);
      // a running total: summing every target on every poll would be O(rooms) per poll
      total += p.participants - (perTarget.get(p.target) ?? 0);
      perTarget.set(p.target, p.participants);
      this.participants.set(total);
      if (allRooms) this.roomsWatched.set(p.rooms);
    });
    w.on('event', (e) => {
      this.events.inc({ type: e.type });
      if (e.sameUserAs !== undefined) this.sameUserEvents.inc({ type: e.type });
    });
    new Gauge({
      name: 'presence_watcher_partial_rooms',
      help: 'Rooms whose last snapshot listed fewer participants than Daily\'s total_count: no leaves are detected for the people left out.',
      registers: [this.registry],
      collect() {
        this.set(w.partialRooms.length);
      },
    });
    new Gauge({
      name: 'presence_watcher_state_save_failing',
      help: '1 while saving the state file keeps failing (see /healthz for why), else 0.',
      registers: [this.registry],
      collect() {
        this.set(w.stateSaveError === undefined ? 0 : 1);
      },
    });
    // only with a state file: a timestamp of 0 for a daemon that saves nothing would look as stale as can be
    if (w.stateSavedAt !== null) {
      new Gauge({
        name: 'presence_watcher_state_saved_timestamp_seconds',
        help: 'When the state file was last written (Unix time; 0 until the first write). With --save-every it may lag by that long.',
        registers: [this.registry],
        collect() {
          const at = w.stateSavedAt;
          if (typeof at === 'number') this.set(at / 1000);
        },
      });
    }
  }

  observeQueue(q: DeliveryQueue): void {
    const sink = q.sink.name;
    this.queueDepth.set({ sink }, 0);
    this.sinkDisabled.set({ sink }, 0);
    q.on('disabled', () => this.sinkDisabled.set({ sink }, 1));
    this.sinkFailing.set({ sink }, 0);
    q.on('outcome', (outcome, n) => {
      this.deliveries.inc({ sink, outcome }, n);
      this.sinkFailing.set({ sink }, q.failing === undefined ? 0 : 1);
    });
    q.on('depth', (d) => this.queueDepth.set({ sink }, d));
    q.on('delivered', (events) => {
      const now = Date.now();
      for (const e of events) {
        const seen = Date.parse(e.at);
        if (Number.isFinite(seen)) this.deliveryDelay.observe({ sink }, Math.max(0, now - seen) / 1000);
      }
    });
  }
}
