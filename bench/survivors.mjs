// What one poll leaves alive, by where it was allocated: what the next scavenge must copy (and,
// once it has survived two, promote), which on the watcher's large polls costs more than most of
// the CPU profile's lines (BENCHMARKS.md's profile notes, "GET /presence at 10% churn"). Not part of
// `npm run bench`. The watcher's own reading of each answer (the domain's text a room at a time,
// a room's text a piece at a time) and its reconnect marking, without HTTP: after `warm` polls,
// V8's sampling heap profiler runs over one more, then a full GC, and what it sampled that is
// still alive is summed by function.
//   npm run build && node --expose-gc bench/survivors.mjs domain <rooms> <churn> [warm=30]
//   npm run build && node --expose-gc bench/survivors.mjs room <participants> <churn> [warm=30]
import inspector from 'node:inspector';
import { DomainTracker, RoomTracker, parseDomainText, parseRoomText } from '../dist/index.js';
import { SameUser } from '../dist/same-user.js';
import { domainBodies, roomBodies } from './data.mjs';

const [kind, sizeArg, churnArg, warmArg = '30'] = process.argv.slice(2);
const [size, churn, warm] = [Number(sizeArg), Number(churnArg), Number(warmArg)];
if ((kind !== 'domain' && kind !== 'room') || !(size > 0) || !(churn >= 0) || !(warm >= 1) || typeof globalThis.gc !== 'function') {
  console.error('usage: node --expose-gc bench/survivors.mjs domain|room <rooms|participants> <churn> [warm polls]');
  process.exit(2);
}

const { bodies } = kind === 'domain' ? domainBodies(size, churn) : roomBodies(size, churn);
// bytes, as a poll gets them: each poll decodes its own text
const bufs = bodies.map((b) => Buffer.from(b));
const sameUser = new SameUser();
const opts = { at: new Date(0).toISOString() };
let n = 0;
let poll;
if (kind === 'domain') {
  const tracker = new DomainTracker();
  const names = new Map();
  poll = () => sameUser.mark(tracker.apply(parseDomainText(bufs[n++ % 2].toString(), names), opts)).length;
} else {
  const tracker = new RoomTracker('bench');
  poll = () => sameUser.mark(tracker.applyText(parseRoomText('bench', bufs[n++ % 2].toString()), opts).events).length;
}
for (let i = 0; i < warm; i++) poll();

const session = new inspector.Session();
session.connect();
const post = (method, params) => new Promise((done, fail) => session.post(method, params, (err, r) => (err ? fail(err) : done(r))));
await post('HeapProfiler.enable');
await post('HeapProfiler.startSampling', { samplingInterval: 512 });
const events = poll();
globalThis.gc();
const { profile } = await post('HeapProfiler.stopSampling');
session.disconnect();

const bySite = new Map();
(function walk(node) {
  const f = node.callFrame;
  const site = `${f.functionName || '(anonymous)'} ${f.url.split('/').slice(-2).join('/')}:${f.lineNumber + 1}`;
  bySite.set(site, (bySite.get(site) ?? 0) + node.selfSize);
  for (const child of node.children) walk(child);
})(profile.head);
const total = [...bySite.values()].reduce((a, b) => a + b, 0);
console.log(`${kind} ${size} churn ${churn}: one poll (${events} events) left ${(total / 1024).toFixed(0)} KB alive (sampled), by where it was allocated:`);
for (const [site, bytes] of [...bySite].sort((a, b) => b[1] - a[1]).slice(0, 15)) {
  if (bytes > 0) console.log(`${(bytes / 1024).toFixed(0).padStart(8)} KB  ${site}`);
}
