// Soak: thousands of polls with churn against the simulator over real HTTP, checking that heap after
// GC stays flat and that nothing (socket, timer) is left open afterwards.
//   node --expose-gc test/soak/soak.mjs --polls 3000     (the test suite's short form)
//   npm run soak                                          (the long form)
// Prints one JSON line of figures; exits by itself (proof that no handle is left).
import { DailySimulator, PresenceWatcher, createLogger } from '../../dist/index.js';
import { heapAfterGc, requireGc } from './heap.mjs';

const arg = (name, dflt) => (process.argv.includes(name) ? Number(process.argv[process.argv.indexOf(name) + 1]) : dflt);
const totalPolls = arg('--polls', 3000);
requireGc();
const heap = heapAfterGc;

const sim = new DailySimulator({ rooms: 5, churn: 200, initialParticipants: 20, seed: 7 });
sim.maxRequestLog = 100;
const url = await sim.listen();
const watcher = new PresenceWatcher({ apiKey: sim.apiKey, apiUrl: url, rooms: sim.roomNames, intervalMs: 10, maxRps: 2000, backoffMinMs: 5, backoffMaxMs: 20, requestTimeoutMs: 500, logger: createLogger({ level: 'silent' }) });
let polls = 0;
let failed = 0;
let events = 0;
watcher.on('event', () => events++);
const faults = ['malformed', 'reset', 'truncated'];
let warmHeap = 0;
const done = new Promise((resolve) => {
  watcher.on('poll', (p) => {
    polls++;
    if (!p.ok) failed++;
    if (polls % 97 === 0) sim.inject({ kind: faults[polls % faults.length] });
    if (polls === Math.floor(totalPolls / 5)) warmHeap = heap();
    if (polls === totalPolls) resolve();
  });
});
watcher.start();
await done;
const endHeap = heap();
await watcher.stop();
await sim.close();
for (let i = 0; i < 2; i++) await new Promise((r) => setImmediate(r)); // closed handles leave the list in the loop's close phase
const resources = process.getActiveResourcesInfo().filter((r) => !['TTYWrap', 'PipeWrap', 'FSReqCallback'].includes(r));
process.stdout.write(JSON.stringify({ polls, failed, events, warmHeapBytes: warmHeap, endHeapBytes: endHeap, growthBytes: endHeap - warmHeap, resources }) + '\n');
