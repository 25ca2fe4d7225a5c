// One measurement in a fresh process, so no contender's garbage or live state is billed to
// another. Spawned by bench/run.mjs; prints one JSON line: {"samples": [ms, ...], ...}.
//   node bench/measure.mjs room <n> <churn> <runs> parse|tracker|whole|text|pure|naive|least|read (parse and tracker: also -cold)
//   node bench/measure.mjs domain <rooms> <churn> <runs> parse|tracker|whole|text|pure
//   node bench/measure.mjs poll <url> <runs> bare|watcher|naive [room|domain] [warm-up polls]
//   node bench/measure.mjs heap room <n> data|tracker|naive   (heap: needs --expose-gc)
//   node bench/measure.mjs heap domain <rooms> data|tracker
import { getHeapSnapshot } from 'node:v8';
import { request } from 'undici';
import {
  DomainTracker,
  PresenceWatcher,
  RoomTracker,
  createLogger,
  diffDomain,
  diffRoom,
  parseDomainEntries,
  parseDomainPresence,
  parseDomainText,
  parseRoomEntries,
  parseRoomPresence,
  parseRoomText,
} from '../dist/index.js';
import { domainBodies, median, people, roomBodies, roomBody } from './data.mjs';
import { naiveDiff, naiveDomainPoll, naivePoll } from './naive.mjs';

/**
 * The watcher keeps, beside its tracker, which sessions of each userId are in each room (SameUser,
 * for reconnects): part of what it holds a participant, so the heap figure takes it in. A build from
 * before it (bench/ab-poll.mjs compares builds) has none.
 */
const { SameUser } = await import('../dist/same-user.js').catch(() => ({ SameUser: undefined }));
const sameUserOf = (events) => {
  if (!SameUser) return undefined;
  const s = new SameUser();
  s.mark(events);
  return s;
};

// everything here talks to 127.0.0.1: an inherited proxy (honoured by the watcher) would skew the
// figures or break the runs (the measuring processes inherit this environment)
for (const name of ['https_proxy', 'HTTPS_PROXY', 'http_proxy', 'HTTP_PROXY']) delete process.env[name];

const [kind, ...args] = process.argv.slice(2);
const out = (o) => process.stdout.write(`${JSON.stringify(o)}\n`);

/**
 * Untimed runs before the timed ones, enough for ~200,000 participants' worth of work whatever the
 * size. Four runs warm a 100,000-person diff; a 1,000-person one was still running unoptimized code
 * 20–40 runs in (3× its settled time), which raised the 1,000 median, and so lowered the growth
 * figure 1,000 → 100,000, in every earlier run of this benchmark.
 */
let warm = 4;
const warmFor = (participants) => (warm = Math.max(4, Math.ceil(200_000 / participants)));

/**
 * `parse-cold` / `tracker-cold`: before each run (untimed), write through 64 MB, twice this CPU's
 * last-level cache, so the run finds nothing of its state in cache, as a poll every 15 s would. The
 * plain measurements run back to back, where a 1,000-person state stays in cache between runs.
 */
let cold = false;
let flushBuf;
function flushCaches() {
  flushBuf ??= new Float64Array(8 * 1024 * 1024);
  for (let j = 0; j < flushBuf.length; j += 8) flushBuf[j] += 1; // one write per 64-byte line
}

/**
 * Samples of `fn(prepare(fresh parse))`: every run gets a freshly parsed body (as a real poll does:
 * no string hash cached from an earlier run), alternating between the two bodies so every run has
 * the churn in one direction or the other. `samples` times `fn` alone and `prepared` times `prepare`
 * (the entry check) alone, on the same bodies in the same runs, so the check needs no processes of
 * its own; the parse is timed in neither. `ratios` pairs each run with its own parse:
 * (prepare + fn) ÷ JSON.parse of that same body, just before, in the same process.
 */
function onFresh(bodies, runs, prepare, fn) {
  const t = [];
  const prepared = [];
  const ratios = [];
  let events = 0;
  for (let i = 0; i < runs + warm; i++) {
    if (cold && i >= warm) flushCaches();
    const s0 = performance.now();
    const parsed = JSON.parse(bodies[i % 2]);
    const s1 = performance.now();
    const input = prepare(parsed);
    const s = performance.now();
    const e = fn(input);
    const dt = performance.now() - s;
    if (i >= warm) {
      t.push(dt);
      prepared.push(s - s1);
      ratios.push((s - s1 + dt) / (s1 - s0));
      events = Math.max(events, e ?? 0);
    }
  }
  return { samples: t, prepared, ratios, events };
}

const asIs = (b) => b;

/**
 * Samples of `apply(body)`, from the answer's text to the events in one timing, parsing included:
 * any garbage collection the parse brings on lands in the figure, wherever it falls. The first
 * body primes the tracker, untimed.
 */
function textToEvents(bodies, runs, apply) {
  apply(bodies[0]);
  const t = [];
  let events = 0;
  for (let i = 0; i < runs + warm; i++) {
    const s = performance.now();
    const e = apply(bodies[i % 2]);
    if (i >= warm) {
      t.push(performance.now() - s);
      events = Math.max(events, e);
    }
  }
  return { samples: t, events };
}

function parseFloor(bodies, runs) {
  const t = [];
  for (let i = 0; i < runs + warm; i++) {
    if (cold && i >= warm) flushCaches();
    const s = performance.now();
    JSON.parse(bodies[1]);
    if (i >= warm) t.push(performance.now() - s);
  }
  return { samples: t };
}

if (kind === 'room') {
  const [n, churn, runs, whatArg] = [Number(args[0]), Number(args[1]), Number(args[2]), args[3]];
  cold = whatArg.endsWith('-cold');
  const what = whatArg.replace(/-cold$/, '');
  warmFor(n);
  const { base, bodies } = roomBodies(n, churn);
  const at = '2026-01-01T00:00:00.000Z';
  if (what === 'parse') out(parseFloor(bodies, runs));
  else if (what === 'tracker') {
    const tracker = new RoomTracker('bench');
    tracker.apply(parseRoomEntries('bench', JSON.parse(bodies[0])).entries, true, { at });
    out(onFresh(bodies, runs, (b) => parseRoomEntries('bench', b).entries, (entries) => tracker.apply(entries, true, { at }).length));
  } else if (what === 'whole' || what === 'text') {
    // the text to the events: `text` is the watcher's own path (parseRoomText: a large answer read
    // a piece of its list at a time, so there is never a whole parsed answer), `whole` the answer
    // parsed whole (JSON.parse, parseRoomEntries, the diff), as the watcher did before
    const tracker = new RoomTracker('bench');
    const opts = { at, consume: true };
    const apply =
      what === 'text'
        ? (text) => tracker.applyText(parseRoomText('bench', text), opts).events.length
        : (text) => {
            const r = parseRoomEntries('bench', JSON.parse(text));
            return tracker.apply(r.entries, r.complete, opts).length;
          };
    out(textToEvents(bodies, runs, apply));
  } else if (what === 'pure') {
    let state = diffRoom(undefined, { room: 'bench', participants: parseRoomPresence('bench', JSON.parse(bodies[0])).participants, complete: true }, { at }).next;
    // the typed copies are part of this path's cost: parseRoomPresence is timed with the diff
    out(onFresh(bodies, runs, asIs, (b) => {
      const r = diffRoom(state, { room: 'bench', participants: parseRoomPresence('bench', b).participants, complete: true }, { at });
      state = r.next;
      return r.events.length;
    }));
  } else if (what === 'least') {
    // The least any diff of these bodies must do, for scale (no target): each person listed in
    // both snapshots has their id and four fields compared with what was kept of them, and their
    // duration written. Who is who is worked out before timing (no lookup, no order kept), joins
    // and leaves cost nothing, and no event is made. The kept records are plain objects
    // made in list order, as the tracker makes its slots.
    const kept = new Map();
    const keep = (e) => ({ id: e.id, userName: e.userName, userId: e.userId, mtgSessionId: e.mtgSessionId, joinTime: e.joinTime, duration: e.duration });
    const lists = bodies.map((b) => JSON.parse(b).data);
    for (const e of lists[0]) kept.set(e.id, keep(e));
    // per body, the kept record of each entry listed in the other body too (undefined for someone
    // who joins when the runs alternate to this body)
    const ids = lists.map((list) => new Set(list.map((e) => e.id)));
    const recs = lists.map((list, b) => list.map((e) => (ids[1 - b].has(e.id) ? kept.get(e.id) : undefined)));
    let call = 0;
    out(onFresh(bodies, runs, asIs, (b) => {
      const list = b.data;
      const r = recs[call++ % 2];
      let changed = 0;
      for (let j = 0; j < list.length; j++) {
        const k = r[j];
        if (k === undefined) continue;
        const e = list[j];
        if (e.id !== k.id || e.userName !== k.userName || e.userId !== k.userId || e.mtgSessionId !== k.mtgSessionId || e.joinTime !== k.joinTime) changed++;
        k.duration = e.duration;
      }
      return changed;
    }));
  } else if (what === 'read') {
    // Less still, for scale (no target): each person's id and four fields read once from the
    // freshly parsed body (first and last character of each string, and the duration), nothing
    // kept, nothing compared. Any diff reads at least this much: this part of any diff's cost
    // grows this fast from 1,000 to 100,000 people, whatever the diff does besides.
    const ends = (s) => (s === null ? 0 : s.charCodeAt(0) + s.charCodeAt(s.length - 1));
    out(onFresh(bodies, runs, asIs, (b) => {
      const list = b.data;
      let x = 0;
      for (let j = 0; j < list.length; j++) {
        const e = list[j];
        x += ends(e.id) + ends(e.userName) + ends(e.userId) + ends(e.mtgSessionId) + ends(e.joinTime) + e.duration;
      }
      return x > 0 ? 0 : 1;
    }));
  } else if (what === 'naive') {
    let state = naiveDiff(new Map(), base, 'bench', () => {});
    out(onFresh(bodies, runs, asIs, (b) => {
      let events = 0;
      state = naiveDiff(state, b.data, 'bench', () => events++);
      return events;
    }));
  } else throw new Error(`unknown: ${what}`);
} else if (kind === 'domain') {
  const [rooms, churn, runs, what] = [Number(args[0]), Number(args[1]), Number(args[2]), args[3]];
  warmFor(rooms * 5);
  const { bodies } = domainBodies(rooms, churn);
  const at = '2026-01-01T00:00:00.000Z';
  if (what === 'parse') out(parseFloor(bodies, runs));
  else if (what === 'tracker') {
    const tracker = new DomainTracker();
    tracker.apply(parseDomainEntries(JSON.parse(bodies[0])), { at });
    out(onFresh(bodies, runs, parseDomainEntries, (snapshot) => tracker.apply(snapshot, { at }).length));
  } else if (what === 'whole' || what === 'text') {
    // the text to events in one timing, parsing included: `text` is the watcher's own path for
    // GET /presence (parseDomainText: read a room at a time, each list parsed as the tracker reaches
    // it, so there is never a whole parsed body), `whole` the path of an answer parsed whole
    // (JSON.parse, parseDomainEntries, the diff). Timed together, so the garbage collection either
    // one brings on lands in its own figure, wherever it falls
    const read = what === 'text' ? parseDomainText : (text) => parseDomainEntries(JSON.parse(text));
    const tracker = new DomainTracker();
    const opts = { at, consume: true };
    out(textToEvents(bodies, runs, (text) => tracker.apply(read(text), opts).length));
  } else if (what === 'pure') {
    let state = diffDomain(undefined, parseDomainPresence(JSON.parse(bodies[0])), { at }).next;
    out(onFresh(bodies, runs, asIs, (b) => {
      const r = diffDomain(state, parseDomainPresence(b), { at });
      state = r.next;
      return r.events.length;
    }));
  } else throw new Error(`unknown: ${what}`);
} else if (kind === 'poll') {
  // every client polls the same way: one request after each 10 ms idle pause (a request made from
  // an idle loop after a timer costs more than one made back-to-back, so all get the same pause)
  // `warm`: polls not timed first (3 unless given): the watcher's code runs unoptimized for its
  // first ~10 polls at 1,000 people (8–22 ms against ~4 settled), which a daemon pays once
  const [url, runs, what, endpoint = 'room', warmPolls = 3] = [args[0], Number(args[1]), args[2], args[3], Number(args[4] ?? 3)];
  // one room (GET /rooms/bench/presence) or the whole domain (GET /presence, the watcher in all-rooms mode)
  const domain = endpoint === 'domain';
  const path = domain ? `${url}/presence` : `${url}/rooms/bench/presence`;
  const gapMs = 10;
  const pause = () => new Promise((r) => setTimeout(r, gapMs));
  const timed = async (fn) => {
    const t = [];
    for (let i = 0; i < runs + warmPolls; i++) {
      await pause();
      const s = performance.now();
      await fn();
      if (i >= warmPolls) t.push(performance.now() - s);
    }
    return t;
  };
  if (what === 'bare') {
    out({ samples: await timed(async () => JSON.parse(await (await request(path, { headers: { authorization: 'Bearer k' } })).body.text())) });
  } else if (what === 'naive') {
    let state = new Map();
    const poll = domain ? () => naiveDomainPoll(path, 'k', state, () => {}) : () => naivePoll(path, 'k', state, 'bench', () => {});
    out({ samples: await timed(async () => void (state = await poll())) });
  } else if (what === 'watcher') {
    // a real PresenceWatcher; each poll's time is the durationMs of its own `poll` event
    const durations = [];
    const perPoll = [];
    let emitted = 0;
    const watcher = new PresenceWatcher({ apiKey: 'k', apiUrl: url, ...(domain ? { allRooms: true } : { rooms: ['bench'] }), intervalMs: gapMs, maxRps: 1000, maxPer5s: 5000, logger: createLogger({ level: 'silent' }) });
    watcher.on('event', () => emitted++);
    await new Promise((resolve, reject) => {
      watcher.on('poll', (info) => {
        if (!info.ok) reject(info.error);
        durations.push(info.durationMs);
        perPoll.push(info.events);
        if (durations.length >= runs + warmPolls) resolve();
      });
      watcher.start();
    });
    await watcher.stop();
    if (emitted !== perPoll.reduce((a, b) => a + b, 0)) throw new Error('bench: the listener missed events');
    out({ samples: durations.slice(warmPolls), events: median(perPoll.slice(warmPolls)) });
  } else throw new Error(`unknown: ${what}`);
} else if (kind === 'heap') {
  // Bytes a participant that one thing keeps alive, heap after GC, in a process of its own. What
  // the measured span must not see: the bodies are made in functions that have returned (a value
  // left in a frame still running stays alive), flattened before it (the first JSON.parse of a
  // body V8 built in pieces makes a flat copy of it), and the thing is built once first, so the
  // code and type feedback it needs are not counted either.
  //
  // "After GC" is the GC a heap snapshot runs first (V8's most thorough, repeated until nothing
  // more is freed; the snapshot itself is thrown away): four gc() calls in a row, as this
  // measured before, sometimes left ~58 MB of the tracker built just before alive, or credited it
  // to the next figure (a DomainTracker read 412, 842 and -436 B a participant in different
  // processes, where a heap snapshot's own count of what is reachable gives ~714). Why gc() did
  // not let go was not found (V8's --single-threaded-gc did not cure it).
  const [where, sizeArg, what] = [args[0], Number(args[1]), args[2]];
  const settle = () => {
    getHeapSnapshot().destroy();
    globalThis.gc();
    return process.memoryUsage().heapUsed;
  };
  let participants = 0;
  let textBytes = 0;
  let build;
  if (where === 'room') {
    const body = (() => {
      const person = people();
      return roomBody(Array.from({ length: sizeArg }, () => person('bench')));
    })();
    JSON.parse(body);
    participants = sizeArg;
    build = {
      data: () => parseRoomPresence('bench', JSON.parse(body)).participants,
      tracker: () => {
        const t = new RoomTracker('bench');
        const events = t.apply(parseRoomEntries('bench', JSON.parse(body)).entries, true, { at: 'x' });
        return [t, sameUserOf(events)];
      },
      naive: () => naiveDiff(new Map(), JSON.parse(body).data, 'bench', () => {}),
    }[what];
  } else if (where === 'domain') {
    // the DomainTracker keeps the last answer's text, to read the next one's unchanged rooms as
    // durations alone: measured after two answers, each a string of its own (as a poll's is)
    const { bodies } = domainBodies(sizeArg, 0.01);
    for (const b of bodies) JSON.parse(b);
    participants = (() => [...parseDomainPresence(JSON.parse(bodies[1])).values()].reduce((n, list) => n + list.length, 0))();
    textBytes = bodies[1].length;
    build = {
      data: () => parseDomainPresence(JSON.parse(bodies[1])),
      tracker: () => {
        const t = new DomainTracker();
        const names = new Map();
        const s = SameUser ? new SameUser() : undefined;
        for (const b of bodies) {
          const events = t.apply(parseDomainText(Buffer.from(b).toString(), names), { at: 'x' });
          s?.mark(events);
        }
        return [t, s];
      },
    }[what];
  }
  if (build === undefined) throw new Error(`unknown: ${where} ${what}`);
  const measure = () => {
    (() => void build())();
    const h0 = settle();
    const kept = build();
    const bytes = settle() - h0;
    // `kept` is read after the second settle, so it is surely alive through it
    return kept === undefined ? NaN : bytes;
  };
  out({ bytes: measure() / participants, people: participants, textBytes: textBytes / participants });
} else {
  throw new Error(`unknown measurement: ${kind}`);
}
