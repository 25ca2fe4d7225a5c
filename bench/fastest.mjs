// For comparing two builds of the diff (not part of `npm run bench`): the fastest and the median
// of many tracker.apply runs in one process, each on a freshly parsed body, alternating a snapshot
// and its churned version. On this noisy machine identical processes differ by up to 2× in their
// medians (GC helper threads, neighbours), while the fastest run holds within ~10%: compare those.
//
//   node bench/fastest.mjs [dist dir] room <participants> <churn> [runs]
//   node bench/fastest.mjs [dist dir] domain <rooms> <churn> [runs]
//
// To A/B a change: copy dist/ to /tmp/a/dist before it and to /tmp/b/dist after, then alternate
// `node bench/fastest.mjs /tmp/a/dist …` and `node bench/fastest.mjs /tmp/b/dist …` a few times.
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { domainBodies, roomBodies } from './data.mjs';

const args = process.argv.slice(2);
const dist = args[0] === 'room' || args[0] === 'domain' ? new URL('../dist/', import.meta.url).href : pathToFileURL(`${resolve(args.shift())}/`).href;
const [kind, size, churn, runsArg] = args;
if ((kind !== 'room' && kind !== 'domain') || !(Number(size) > 0) || !(Number(churn) >= 0)) {
  console.error('usage: node bench/fastest.mjs [dist dir] room|domain <participants|rooms> <churn> [runs]');
  process.exit(2);
}
const runs = Number(runsArg ?? 100);
const lib = await import(`${dist}index.js`);
const at = '2026-01-01T00:00:00.000Z';
let apply;
let bodies;
if (kind === 'room') {
  ({ bodies } = roomBodies(Number(size), Number(churn)));
  const tracker = new lib.RoomTracker('bench');
  apply = (parsed) => tracker.apply(lib.parseRoomEntries('bench', parsed).entries, true, { at }).length;
} else {
  ({ bodies } = domainBodies(Number(size), Number(churn)));
  const tracker = new lib.DomainTracker();
  apply = (parsed) => tracker.apply(lib.parseDomainEntries(parsed), { at }).length;
}
apply(JSON.parse(bodies[0]));
const warm = 10;
const times = [];
let events = 0;
for (let i = 0; i < runs + warm; i++) {
  const parsed = JSON.parse(bodies[(i + 1) % 2]);
  const s = performance.now();
  events = apply(parsed);
  if (i >= warm) times.push(performance.now() - s);
}
times.sort((a, b) => a - b);
console.log(`${kind} ${size} churn ${churn}: fastest ${times[0].toFixed(2)} ms, median ${times[times.length >> 1].toFixed(2)} ms (${runs} runs, ${events} events, check + diff)`);
