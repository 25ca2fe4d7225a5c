// For comparing two builds of the watcher over the whole poll (not part of `npm run bench`): one
// server in this process answers with a snapshot and its churned version in turn, and the floor
// (a bare request + JSON.parse) and the two builds each poll it from fresh processes of their own,
// in alternating rounds, with V8's --trace-gc summed per process. On this noisy machine a single
// round decides nothing: the floor alone moves by half from one process to the next (its own GC
// lands either side of a cliff), so compare the builds round by round and read the medians.
//
//   node bench/ab-poll.mjs <dir A> <dir B> room <participants> <churn> [rounds] [polls]
//   node bench/ab-poll.mjs <dir A> <dir B> domain <rooms> <churn> [rounds] [polls]
//
// Each dir holds a build to compare: bench/, dist/ and package.json copied from the project, and
// node_modules (a symlink to the project's will do). A is also the floor's. Defaults: 6 rounds of
// 24 timed polls. Prints one line a round, then the medians.
import { spawn } from 'node:child_process';
import http from 'node:http';
import { resolve } from 'node:path';
import { domainBodies, median, roomBodies } from './data.mjs';

const [dirA, dirB, kind, sizeArg, churnArg, roundsArg = '6', pollsArg = '24'] = process.argv.slice(2);
const size = Number(sizeArg);
const churn = Number(churnArg);
if (!dirA || !dirB || (kind !== 'room' && kind !== 'domain') || !(size > 0) || !(churn >= 0)) {
  console.error('usage: node bench/ab-poll.mjs <dir A> <dir B> room|domain <participants|rooms> <churn> [rounds] [polls]');
  process.exit(2);
}
const [rounds, polls] = [Number(roundsArg), Number(pollsArg)];

const { bodies } = kind === 'domain' ? domainBodies(size, churn) : roomBodies(size, churn);
const bufs = bodies.map((b) => Buffer.from(b));
let served = 0;
const server = http.createServer((_req, res) => {
  const body = bufs[served++ % 2];
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
  res.end(body);
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const url = `http://127.0.0.1:${server.address().port}/v1`;

/** One process of `dir`'s bench/measure.mjs: the median poll and the GC milliseconds it logged. */
function run(dir, what) {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, ['--trace-gc', resolve(dir, 'bench/measure.mjs'), 'poll', url, String(polls), what, kind], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('error', fail);
    child.on('close', (code) => {
      const line = out.split('\n').find((l) => l.startsWith('{"samples"'));
      if (code !== 0 || !line) return fail(new Error(`${dir} ${what}: exit ${code}`));
      let gc = 0;
      for (const l of out.split('\n')) {
        const m = /(?:Scavenge|Mark-Compact|Mark-sweep)[^,]*,\s*([\d.]+)\s*\/\s*[\d.]+\s*ms/.exec(l);
        if (m) gc += Number(m[1]);
      }
      done({ ms: median(JSON.parse(line).samples), gc });
    });
  });
}

const f = (r) => `${r.ms.toFixed(1)} ms (GC ${r.gc.toFixed(0)})`;
const ratios = { a: [], b: [], ba: [], gcA: [], gcB: [] };
for (let i = 0; i < rounds; i++) {
  const floor = await run(dirA, 'bare');
  // which build goes first alternates, so neither always follows the floor
  let a;
  let b;
  if (i % 2 === 0) {
    a = await run(dirA, 'watcher');
    b = await run(dirB, 'watcher');
  } else {
    b = await run(dirB, 'watcher');
    a = await run(dirA, 'watcher');
  }
  ratios.a.push(a.ms / floor.ms);
  ratios.b.push(b.ms / floor.ms);
  ratios.ba.push(b.ms / a.ms);
  ratios.gcA.push(a.gc);
  ratios.gcB.push(b.gc);
  console.log(`round ${i + 1}: floor ${f(floor)} | A ${f(a)} ${(a.ms / floor.ms).toFixed(2)}x | B ${f(b)} ${(b.ms / floor.ms).toFixed(2)}x | B/A ${(b.ms / a.ms).toFixed(2)}`);
}
const faster = ratios.ba.filter((x) => x < 1).length;
// a change to what a poll allocates or keeps shows in the GC before the poll's time: the GC
// milliseconds each process logged, compared round by round like the times
const lessGc = ratios.gcB.filter((x, i) => x < ratios.gcA[i]).length;
console.log(`medians: A ÷ floor ${median(ratios.a).toFixed(2)}, B ÷ floor ${median(ratios.b).toFixed(2)}, B ÷ A ${median(ratios.ba).toFixed(3)} (B faster in ${faster} of ${rounds})`);
console.log(`GC ms a process: A ${median(ratios.gcA).toFixed(0)}, B ${median(ratios.gcB).toFixed(0)} at the median (B less in ${lessGc} of ${rounds})`);
server.close();
