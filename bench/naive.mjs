// The naive baseline: presence polling the way a user would write it in an afternoon, with
// setInterval + fetch + a JSON.stringify comparison. Used by bench/run.mjs on the same work as the
// watcher. (Its flaws are the point: overlapping polls when slow, a failed fetch treated as an empty
// room by many such scripts, no rate limit. It is only measured for speed and memory here.)

/** Diff step as a user writes it: Map by id, compare each participant with JSON.stringify. */
export function naiveDiff(prev, data, room, emit) {
  const next = new Map();
  for (const p of data) {
    // duration changes on every poll, so a careful user strips it before comparing
    const { duration, ...rest } = p;
    next.set(p.id, { p, key: JSON.stringify(rest) });
  }
  for (const [id, cur] of next) {
    const old = prev.get(id);
    if (!old) emit({ type: 'join', room, participant: cur.p });
    else if (old.key !== cur.key) emit({ type: 'update', room, participant: cur.p });
  }
  for (const [id, old] of prev) if (!next.has(id)) emit({ type: 'leave', room, participant: old.p });
  return next;
}

/** One poll as a user writes it: fetch, res.json(), diff. */
export async function naivePoll(url, apiKey, prev, room, emit) {
  const res = await fetch(url, { headers: { authorization: `Bearer ${apiKey}` } });
  const body = await res.json();
  return naiveDiff(prev, body.data, room, emit);
}

/** The same for GET /presence (every room in one body): a Map per room, each diffed as above; a room gone from the body has everyone leave. */
export function naiveDomainDiff(prev, body, emit) {
  const next = new Map();
  for (const [room, list] of Object.entries(body)) next.set(room, naiveDiff(prev.get(room) ?? new Map(), list, room, emit));
  for (const [room, old] of prev) if (!next.has(room)) for (const { p } of old.values()) emit({ type: 'leave', room, participant: p });
  return next;
}

/** One GET /presence poll as a user writes it. */
export async function naiveDomainPoll(url, apiKey, prev, emit) {
  const res = await fetch(url, { headers: { authorization: `Bearer ${apiKey}` } });
  return naiveDomainDiff(prev, await res.json(), emit);
}

/** The whole script, for reading: what a user would run. */
export function naiveWatch(url, apiKey, room, intervalMs, emit) {
  let prev = new Map();
  return setInterval(async () => {
    try {
      prev = await naivePoll(url, apiKey, prev, room, emit);
    } catch (err) {
      console.error(err);
    }
  }, intervalMs);
}
