// Deterministic benchmark data, shared by bench/run.mjs and the measuring processes
// (bench/measure.mjs): the same call sequence gives the same people in every process.

/** A people factory: each call is a new participant with a UUID-shaped id. */
export function people() {
  let seq = 0;
  return (room) => {
    const n = seq++;
    return {
      room,
      id: `${((n * 2654435761) >>> 0).toString(16).padStart(8, '0')}-4b2c-4d6e-8f10-${n.toString(16).padStart(12, '0')}`,
      userId: n % 3 === 0 ? null : `user-${n}`,
      userName: `Participant ${n}`,
      mtgSessionId: '16e9701a-93e0-4933-83c9-223e7c40d552',
      joinTime: new Date(1_700_000_000_000 + n * 1000).toISOString(),
      duration: 1000 + (n % 500),
    };
  };
}

export const roomBody = (list) => JSON.stringify({ total_count: list.length, data: list });

/** `churn` of the people leave, as many join, 1/10 of churn renamed, and everyone's duration ticks. */
export function churned(person, list, churn, room) {
  const k = Math.round(list.length * churn);
  const next = list.slice(k).map((p, i) => ({ ...p, duration: p.duration + 15, userName: i < k / 10 ? `${p.userName} (renamed)` : p.userName }));
  for (let i = 0; i < k; i++) next.push(person(room));
  return next;
}

/** Two bodies of GET /rooms/:name/presence: `n` people, and the same room after `churn`. */
export function roomBodies(n, churn) {
  const person = people();
  const base = Array.from({ length: n }, () => person('bench'));
  return { base, bodies: [roomBody(base), roomBody(churned(person, base, churn, 'bench'))] };
}

/** Two bodies of GET /presence: `rooms` rooms of 5, and the domain after `churn` spread over it (people leave and join random rooms; a room can empty out or fill up). */
export function domainBodies(rooms, churn) {
  const person = people();
  let s = 7;
  const rnd = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 4294967296);
  const base = {};
  for (let r = 0; r < rooms; r++) base[`room-${r}`] = Array.from({ length: 5 }, () => person(`room-${r}`));
  const next = Object.fromEntries(Object.entries(base).map(([r, list]) => [r, list.map((p) => ({ ...p, duration: p.duration + 15 }))]));
  const k = Math.round(rooms * 5 * churn);
  for (let i = 0; i < k; i++) {
    const room = `room-${Math.floor(rnd() * rooms)}`;
    if (next[room].length) next[room].splice(Math.floor(rnd() * next[room].length), 1);
    const to = `room-${Math.floor(rnd() * rooms)}`;
    next[to].push(person(to));
    if (i % 10 === 0) {
      const r2 = next[`room-${Math.floor(rnd() * rooms)}`];
      if (r2.length) r2[0] = { ...r2[0], userName: `${r2[0].userName} (renamed)` };
    }
  }
  for (const r of Object.keys(next)) if (!next[r].length) delete next[r];
  return { bodies: [JSON.stringify(base), JSON.stringify(next)] };
}

export const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
