// Daemon soak: the whole daemon (what `presence-watcher` runs: watcher, dispatcher, delivery queues,
// webhook and Slack sinks, stdout, the state file with its outbox journal, a dead-letter file, leave
// grace, /healthz and /metrics) over thousands of polls with churn and faults against the simulator,
// real HTTP on 127.0.0.1 throughout. soak.mjs covers the library's watcher alone; a daemon runs for
// weeks, and what it keeps per event (queues, the journal, warnings said once, metrics) must not grow.
// Checks that heap after GC stays flat and that nothing (socket, timer, file) is left open after
// the daemon's shutdown.
//   node --expose-gc test/soak/daemon-soak.mjs [--polls N] [--mode rooms|domain] [--warm 0.5]
// Prints one JSON line of figures; exits by itself (proof that no handle is left).
import { createServer } from 'node:http';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { DailySimulator, createLogger } from '../../dist/index.js';
import { resolveConfig } from '../../dist/config.js';
import { startDaemon } from '../../dist/daemon.js';
import { heapAfterGc, requireGc } from './heap.mjs';

const arg = (name, dflt) => (process.argv.includes(name) ? process.argv[process.argv.indexOf(name) + 1] : dflt);
const totalPolls = Number(arg('--polls', 3000));
const mode = arg('--mode', 'rooms');
/** When the heap is first measured, as a share of the polls: what grows before then is the run warming up (compiled code, pools filling). */
const warmAt = Number(arg('--warm', 0.5));
requireGc();

/**
 * A receiver that takes every request but: each 25th answered 500 (retried), each 97th 400 (given
 * up: the dead-letter file), counting what it took. It keeps nothing else. (Failing more often, it
 * falls behind the churn below, and what waits for it would read as growth.)
 */
async function receiver() {
  let n = 0;
  const took = { ok: 0, failed: 0, refused: 0 };
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      n++;
      const status = n % 97 === 0 ? 400 : n % 25 === 0 ? 500 : 200;
      if (status === 200) took.ok++;
      else if (status === 500) took.failed++;
      else took.refused++;
      res.writeHead(status, { 'content-type': 'text/plain' }).end(status === 200 ? 'ok' : 'no');
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${server.address().port}/hook`, took, close: () => new Promise((resolve) => server.close(resolve)) };
}

const sim = new DailySimulator({ rooms: 20, churn: 60, reconnects: 0.2, initialParticipants: 80, seed: 11 });
sim.maxRequestLog = 100;
const apiUrl = await sim.listen();
const webhook = await receiver();
const slack = await receiver();
const dir = mkdtempSync(join(tmpdir(), 'daemon-soak-'));
const file = {
  ...(mode === 'domain' ? { allRooms: true } : { rooms: sim.roomNames }),
  maxRps: 10_000,
  leaveGrace: 50,
  state: join(dir, 'state.json'),
  saveEvery: 500,
  deadLetter: join(dir, 'dead.ndjson'),
  health: '127.0.0.1:0',
  drainTimeout: 2000,
  sinks: [
    { type: 'stdout' },
    { type: 'webhook', url: webhook.url, secret: 'whsec_' + Buffer.alloc(32, 7).toString('base64') },
    { type: 'slack', url: slack.url, messageInterval: 1000 },
  ],
};
// the daemon's own minimum interval is 100 ms; 10 ms makes thousands of polls in seconds
const cfg = { ...resolveConfig(file, {}, { DAILY_API_KEY: sim.apiKey, DAILY_API_URL: apiUrl }), intervalMs: 10 };
let stdoutLines = 0;
const stdout = new Writable({
  write(chunk, _enc, cb) {
    for (const c of chunk) if (c === 10) stdoutLines++;
    cb();
  },
});
const daemon = await startDaemon(cfg, { stdout, logger: createLogger({ level: 'silent' }), version: 'soak' });

let polls = 0;
let failed = 0;
let warmHeap = 0;
let warmDepth = 0;
const depth = () => daemon.dispatcher.queues.reduce((n, q) => n + q.depth, 0);
let healthChecks = 0;
const faults = [{ kind: 'malformed' }, { kind: 'reset' }, { kind: 'truncated' }, { kind: 'status', status: 503 }, { kind: 'partial' }];
const checkHealth = async () => {
  for (const path of ['/healthz', '/metrics']) {
    const res = await fetch(daemon.healthUrl + path);
    await res.text();
    if (!res.ok && path === '/metrics') throw new Error(`${path} answered ${res.status}`);
  }
  healthChecks++;
};
let health = Promise.resolve();
const done = new Promise((resolve) => {
  daemon.watcher.on('poll', (p) => {
    polls++;
    if (!p.ok) failed++;
    if (polls % 97 === 0) sim.inject(faults[polls % faults.length]);
    if (polls % 250 === 0) health = health.then(checkHealth);
    if (polls === Math.floor(totalPolls * warmAt)) {
      warmHeap = heapAfterGc();
      warmDepth = depth();
    }
    if (polls === totalPolls) resolve();
  });
});
await done;
await health;
const endHeap = heapAfterGc();
const endDepth = depth();
const left = await daemon.shutdown();
const deadLetterBytes = statSync(file.deadLetter, { throwIfNoEntry: false })?.size ?? 0;
await sim.close();
await webhook.close();
await slack.close();
rmSync(dir, { recursive: true, force: true });
for (let i = 0; i < 2; i++) await new Promise((r) => setImmediate(r)); // closed handles leave the list in the loop's close phase
const resources = process.getActiveResourcesInfo().filter((r) => !['TTYWrap', 'PipeWrap', 'FSReqCallback'].includes(r));
process.stdout.write(
  JSON.stringify({
    mode,
    polls,
    failed,
    events: stdoutLines,
    webhook: webhook.took,
    slack: slack.took,
    deadLetterBytes,
    healthChecks,
    leftAtStop: left,
    queuedAtWarm: warmDepth,
    queuedAtEnd: endDepth,
    warmHeapBytes: warmHeap,
    endHeapBytes: endHeap,
    growthBytes: endHeap - warmHeap,
    resources,
  }) + '\n',
);
