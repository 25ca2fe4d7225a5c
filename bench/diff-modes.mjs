// Where the 100k / 10% churn diff's spread comes from, in one process: each run's JSON.parse and
// diff times beside the garbage collections inside each (a `gc` PerformanceObserver: S scavenge,
// M mark-compact, I incremental marking), then, over the runs with four scavenges in the parse and
// none in the diff, how a run's diff time follows its own parse's. Not part of `npm run bench`.
//   npm run build && node bench/diff-modes.mjs [runs=80]
import { PerformanceObserver, constants } from 'node:perf_hooks';
import { RoomTracker, parseRoomEntries } from '../dist/index.js';
import { roomBodies } from './data.mjs';
const n = 100_000, churn = 0.1, runs = Number(process.argv[2] ?? 80);
const { bodies } = roomBodies(n, churn);
const gcs = [];
new PerformanceObserver((l) => { for (const e of l.getEntries()) gcs.push({ s: e.startTime, e: e.startTime + e.duration, k: e.detail?.kind ?? e.kind }); }).observe({ entryTypes: ['gc'] });
const at = '2026-01-01T00:00:00.000Z';
const tracker = new RoomTracker('bench');
tracker.apply(parseRoomEntries('bench', JSON.parse(bodies[0])).entries, true, { at });
const rec = [];
for (let i = 0; i < runs + 4; i++) {
  const p0 = performance.now();
  const parsed = JSON.parse(bodies[i % 2]);
  const p1 = performance.now();
  const entries = parseRoomEntries('bench', parsed).entries;
  const d0 = performance.now();
  tracker.apply(entries, true, { at });
  const d1 = performance.now();
  if (i >= 4) rec.push({ p0, p1, d0, d1, dir: i % 2 });
}
await new Promise((r) => setTimeout(r, 100));
const kindName = (k) => ({ [constants.NODE_PERFORMANCE_GC_MINOR]: 'S', [constants.NODE_PERFORMANCE_GC_MAJOR]: 'M', [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'I', [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'W' }[k] ?? String(k));
let lastMajor = -Infinity;
const rows = [];
for (const r of rec) {
  const inParse = gcs.filter((g) => g.s >= r.p0 && g.s < r.p1);
  const inDiff = gcs.filter((g) => g.s >= r.d0 && g.s < r.d1);
  for (const g of gcs) if (g.s < r.p0 && kindName(g.k) === 'M') lastMajor = Math.max(lastMajor, g.e);
  const gcInDiff = inDiff.reduce((a, g) => a + (Math.min(g.e, r.d1) - g.s), 0);
  rows.push({ diff: r.d1 - r.d0, net: r.d1 - r.d0 - gcInDiff, dir: r.dir, parse: r.p1 - r.p0, pk: inParse.map((g) => kindName(g.k)).join(''), dk: inDiff.map((g) => kindName(g.k)).join(''), sinceMajor: r.p0 - lastMajor });
}
for (const r of rows) console.log(`${r.diff.toFixed(1).padStart(6)} net ${r.net.toFixed(1).padStart(6)} dir ${r.dir} parse ${r.parse.toFixed(0).padStart(4)} [${r.pk.padEnd(8)}] diff-gc [${r.dk.padEnd(3)}] since-major ${r.sinceMajor.toFixed(0)}`);
const clean = rows.filter((r) => r.dk === '' && r.pk === 'SSSS');
const xs = clean.map((r) => r.parse), ys = clean.map((r) => r.net);
const mean = (a) => a.reduce((x, y) => x + y, 0) / a.length;
const mx = mean(xs), my = mean(ys);
const cov = xs.reduce((a, x, i) => a + (x - mx) * (ys[i] - my), 0);
const corr = cov / Math.sqrt(xs.reduce((a, x) => a + (x - mx) ** 2, 0) * ys.reduce((a, y) => a + (y - my) ** 2, 0));
const sorted = clean.map((r) => [r.parse, r.net]).sort((a, b) => a[0] - b[0]);
const third = Math.floor(sorted.length / 3);
const med = (a) => { const s = [...a].sort((x, y) => x - y); return s[Math.floor(s.length / 2)]; };
console.log(`runs with 4 scavenges in the parse and no GC in the diff: ${clean.length}; corr(parse, diff) ${corr.toFixed(2)}`);
console.log(`diff median by parse tercile: fastest parses ${med(sorted.slice(0, third).map((x) => x[1])).toFixed(1)} ms (parse ${med(sorted.slice(0, third).map((x) => x[0])).toFixed(0)}), middle ${med(sorted.slice(third, 2 * third).map((x) => x[1])).toFixed(1)} (${med(sorted.slice(third, 2 * third).map((x) => x[0])).toFixed(0)}), slowest ${med(sorted.slice(2 * third).map((x) => x[1])).toFixed(1)} (${med(sorted.slice(2 * third).map((x) => x[0])).toFixed(0)})`);
