import { describe, expect, it } from 'vitest';
import { durationSpots, entryEnds, sameButDurations, splitAgainst, type ListSplit } from '../src/daily/parse.js';
import { seededRandom } from '../src/simulator/random.js';

// A DomainTracker skips parsing a room whose list is the same as last time but for durations
// (src/tracker.ts). Whether it is rests on two functions of the text alone: durationSpots (where
// each entry's own duration is written, when the text says so beyond doubt) and sameButDurations
// (whether a new text is the old one with only those numbers changed). The rule tested here, on
// lists full of things that look like durations and are not: whenever sameButDurations says yes,
// JSON.parse of the new text is exactly the old entries with the durations it read.

const random = seededRandom(20261126);
const pick = <T,>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
const int = (n: number) => Math.floor(random() * n);

// strings that hold what the functions look for: the key, its quote, digits, braces, escapes
const strings = ['Ann', 'duration', '"duration":5', 'duration":7', 'x"duration":1}', '{"duration":2}', '\\"duration\\":3', '12', 'a}b', '{', 'é', '\u0000', 'dur\u0061tion'];

function entry(): Record<string, unknown> {
  const e: Record<string, unknown> = { id: `p-${int(9)}` };
  if (random() < 0.7) e.userName = random() < 0.85 ? `name-${int(50)}` : pick(strings);
  if (random() < 0.1) e.duration = pick([null, '15', 1.5, -3, 1e21, true]);
  else if (random() > 0.05) e.duration = pick([0, 7, 42, 999, 1000, 123456]) + int(3);
  if (random() < 0.1) e.extra = random() < 0.5 ? { duration: int(9) } : [{ duration: int(9) }, 'x'];
  if (random() < 0.1) e[pick(['durationx', 'xduration', 'Duration'])] = int(9);
  // fields in any order
  return Object.fromEntries(Object.entries(e).sort(() => random() - 0.5));
}

/** A list's text: as JSON.stringify writes it, spaced out, or with a key written otherwise. */
function listText(): string {
  const list = Array.from({ length: 1 + int(5) }, entry);
  let text = JSON.stringify(list, null, pick([undefined, undefined, undefined, 1, '\t']));
  const r = random();
  // the same key, escaped: it reads as "duration" but is not written so
  if (r < 0.05) text = text.replace('"duration"', '"\\u0064uration"');
  // an entry's duration given twice (JSON.parse keeps the last)
  else if (r < 0.1) text = text.replace(/"duration":(\d+)(?![\d.eE])/, (_m, d: string) => `"duration":${int(9)},"duration":${d}`);
  // a number written another way: with a fraction or an exponent
  else if (r < 0.14) text = text.replace(/"duration":(\d+)(?![\d.eE])/, (_m, d: string) => `"duration":${d}${pick(['.0', 'e0', 'E1', '.5'])}`);
  else if (r < 0.17) text = text.replace(/"duration":(\d+)(?![\d.eE])/, '"duration" : $1');
  return text;
}

/** Every digit run in `text` that follows a colon (and spaces), as [start, end] pairs. */
function numbersAfterColons(text: string): [number, number][] {
  const out: [number, number][] = [];
  for (const m of text.matchAll(/:\s*(\d+)/g)) {
    const start = m.index + m[0].length - m[1]!.length;
    out.push([start, start + m[1]!.length]);
  }
  return out;
}

function replaceRuns(text: string, runs: [number, number][], value: () => string): string {
  let out = '';
  let at = 0;
  for (const [from, to] of runs) {
    out += text.slice(at, from) + value();
    at = to;
  }
  return out + text.slice(at);
}

/** A next text: the durations ticked, or something else changed too, or instead. */
function nextText(list: string, spots: number[] | undefined): { next: string; kind: string } {
  const tick = () => String(int(3) === 0 ? int(10) : 1000 + int(200000));
  const ownRuns = (spots ?? []).map((s): [number, number] => {
    let e = s;
    while (/\d/.test(list[e] ?? '')) e++;
    return [s, e];
  });
  const r = random();
  if (r < 0.45 && spots) return { next: replaceRuns(list, ownRuns, tick), kind: 'ticked' };
  if (r < 0.5 && spots) return { next: list, kind: 'unchanged' };
  // the durations ticked, and one of them written as JSON never writes a number (or not a number)
  if (r < 0.58 && spots && spots.length) {
    const k = int(spots.length);
    let i = 0;
    const odd = pick(['007', '0' + tick(), '-5', '1.5', '2e3', '12345678901234567', '', 'x', '1 ']);
    return { next: replaceRuns(list, ownRuns, () => (i++ === k ? odd : tick())), kind: 'odd number' };
  }
  // every number after a colon changed: a nested duration, a number-valued field, a name's digits
  if (r < 0.7) return { next: replaceRuns(list, numbersAfterColons(list), tick), kind: 'other numbers' };
  // one character changed, added or removed anywhere
  const i = int(list.length);
  const c = pick(['1', '"', ' ', 'x', '}', ',', '\\']);
  const m = int(3);
  const changed = m === 0 ? list.slice(0, i) + c + list.slice(i + 1) : m === 1 ? list.slice(0, i) + c + list.slice(i) : list.slice(0, i) + list.slice(i + 1);
  return { next: spots && random() < 0.5 ? replaceRuns(changed, ownRuns.filter(([, e]) => e < i), tick) : changed, kind: 'a character' };
}

/** `list` inside a text with other things before and after it (numbers, lists, durations), and where it starts. */
function inAnswer(list: string): [string, number] {
  const before = pick(['', '{"r":', '{"a":[{"id":"z","duration":4}],"r":', '[1,2'.repeat(int(3))]);
  const after = pick(['', '}', ',"b":[{"id":"y","duration":9}]}', '0123', ']']);
  return [before + list + after, before.length];
}

function parsed(text: string): Record<string, unknown>[] | undefined {
  try {
    const v: unknown = JSON.parse(text);
    return Array.isArray(v) ? (v as Record<string, unknown>[]) : undefined;
  } catch {
    return undefined;
  }
}

/** durationSpots of a list that is the whole text. */
const spotsOf = (list: string, count: number) => durationSpots(list, 0, list.length, count);

describe('durationSpots and sameButDurations', () => {
  it('say "the same but for durations" only when JSON.parse agrees, on 20,000 lists full of look-alikes', () => {
    const seen = new Map<string, number>();
    const count = (k: string) => seen.set(k, (seen.get(k) ?? 0) + 1);
    for (let round = 0; round < 20_000; round++) {
      const list = listText();
      const entries = parsed(list);
      if (!entries) throw new Error(`not JSON: ${list}`);
      // the tracker asks only about lists whose every entry has a number for its duration
      if (!entries.every((e) => typeof e.duration === 'number')) {
        count('not all numbers');
        continue;
      }
      // each list inside an answer's text, as the tracker finds it, with things before and after
      const [text, at] = inAnswer(list);
      const spots = durationSpots(text, at, at + list.length, entries.length);
      count(spots ? 'spots' : 'no spots');
      if (spots) {
        expect(spots.length).toBe(entries.length);
        // each spot holds that entry's own duration
        spots.forEach((s, k) => expect(Number(/^\d+/.exec(text.slice(s))![0])).toBe(entries[k]!.duration));
      }
      const { next, kind } = nextText(list, spots?.map((s) => s - at));
      const [nextAnswer, nextAt] = inAnswer(next);
      const durations: number[] = [];
      const nextSpots: number[] = [];
      const same = spots !== undefined && sameButDurations(text, at, at + list.length, spots, nextAnswer, nextAt, nextAt + next.length, durations, nextSpots);
      count(`${kind}: ${same ? 'same' : 'not'}`);
      const reparsed = parsed(next);
      if (same) {
        // exactly the old entries, with the durations read
        expect(reparsed, next).toEqual(entries.map((e, k) => ({ ...e, duration: durations[k] })));
        expect(durations.length).toBe(entries.length);
        // and where they are written: next's own spots, ready for the poll after
        expect(nextSpots.slice(0, entries.length)).toEqual(durationSpots(nextAnswer, nextAt, nextAt + next.length, entries.length));
      } else if (kind === 'ticked' || kind === 'unchanged') {
        throw new Error(`a list with only its durations ticked was not recognised: ${list} → ${next}`);
      }
    }
    const at = (k: string) => seen.get(k) ?? 0;
    // every way was taken, often
    expect(at('spots')).toBeGreaterThan(6_000);
    expect(at('no spots')).toBeGreaterThan(5_000);
    expect(at('ticked: same')).toBeGreaterThan(2_500);
    expect(at('unchanged: same')).toBeGreaterThan(250);
    expect(at('odd number: not')).toBeGreaterThan(400);
    expect(at('other numbers: not')).toBeGreaterThan(3_000);
    expect(at('a character: not')).toBeGreaterThan(3_000);
    // changing every number after a colon is the same but for durations when the durations are the only ones
    expect(at('other numbers: same')).toBeGreaterThan(300);
  });

  it('find the spots in compact and spaced-out lists, and refuse what could mislead them', () => {
    expect(spotsOf('[{"id":"a","duration":12},{"id":"b","duration":3}]', 2)).toEqual([22, 47]);
    expect(spotsOf('[{"id":"a", "duration" : 12}]', 1)).toEqual([25]);
    // a backslash anywhere: a quote could be escaped, a key written otherwise
    expect(spotsOf('[{"id":"a\\"","duration":1}]', 1)).toBeUndefined();
    // more "duration" keys than entries: one is nested or repeated
    expect(spotsOf('[{"id":"a","x":{"duration":1},"duration":2}]', 1)).toBeUndefined();
    expect(spotsOf('[{"id":"a","duration":1,"duration":2}]', 1)).toBeUndefined();
    // fewer: the key is written some other way
    expect(spotsOf('[{"id":"a","duration":1},{"id":"b","Duration":2}]', 2)).toBeUndefined();
    // "duration" as a value, and numbers JSON.parse reads as more than their digits
    expect(spotsOf('[{"id":"duration","duration":1}]', 1)).toBeUndefined();
    expect(spotsOf('[{"id":"a","tags":["duration",5],"duration":1}]', 1)).toBeUndefined();
    expect(spotsOf('[{"id":"a","duration":1.5}]', 1)).toBeUndefined();
    expect(spotsOf('[{"id":"a","duration":1e3}]', 1)).toBeUndefined();
    // a longer key or value that ends in duration is not one
    expect(spotsOf('[{"id":"a","myduration":5,"duration":1}]', 1)).toEqual([37]);
  });

  it('compare a stretch at a time: a changed character anywhere, or a number JSON would not write, is not the same', () => {
    const list = '[{"id":"a","userName":"Ann","duration":12},{"id":"b","duration":3}]';
    const spots = spotsOf(list, 2)!;
    const check = (next: string) => {
      const durations: number[] = [];
      // the next list inside a longer text: what follows it must not count
      return sameButDurations(list, 0, list.length, spots, `${next},"b":[]}`, 0, next.length, durations, []) ? durations.slice(0, 2) : false;
    };
    expect(check(list)).toEqual([12, 3]);
    expect(check(list.replace(':12}', ':1234}').replace(':3}', ':0}'))).toEqual([1234, 0]);
    expect(check(list.replace('Ann', 'Anne'))).toBe(false);
    expect(check(list.replace('"b"', '"c"'))).toBe(false);
    expect(check(list.replace(':3}', ':03}'))).toBe(false);
    expect(check(list.replace(':3}', ':-3}'))).toBe(false);
    expect(check(list.replace(':3}', ':}'))).toBe(false);
    expect(check(`${list} `)).toBe(false);
    expect(check(list.slice(0, -1))).toBe(false);
  });
});

describe('splitAgainst', () => {
  /**
   * What the tracker makes of a split of `next` against the old `entries`: the list it stands for
   * (the kept entries with the durations read, each stretch parsed alone, in the plan's order), or
   * undefined when a stretch does not parse; and the spots it stages for the next answer (the kept
   * entries' as read, each stretch's found in its own text). Checks the plan's shape on the way.
   */
  function standsFor(entries: Record<string, unknown>[], next: string, split: ListSplit, plan: number[], planSpots: number[], middles: number[], durations: number[]) {
    const used = plan.slice(0, split.items);
    const keptIndexes = used.filter((k) => k >= 0);
    expect(keptIndexes).toHaveLength(split.kept);
    expect(used.filter((k) => k === -1)).toHaveLength(split.middles);
    for (let i = 0; i < keptIndexes.length; i++) {
      expect(keptIndexes[i]).toBeGreaterThanOrEqual(i === 0 ? 0 : keptIndexes[i - 1]! + 1);
      expect(keptIndexes[i]).toBeLessThan(entries.length);
    }
    // no two stretches side by side: a kept entry between any two
    for (let i = 1; i < used.length; i++) expect(used[i] === -1 && used[i - 1] === -1).toBe(false);
    const list: unknown[] = [];
    let spots: number[] | undefined = [];
    let m = 0;
    for (let i = 0; i < used.length; i++) {
      const k = used[i]!;
      if (k >= 0) {
        list.push({ ...entries[k], duration: durations[k] });
        spots?.push(planSpots[i]!);
        continue;
      }
      const [from, to] = [middles[2 * m]!, middles[2 * m + 1]!];
      m++;
      const stretch = parsed(`[${next.slice(from, to)}]`);
      if (!stretch) return undefined;
      list.push(...stretch);
      const found = durationSpots(next, from, to, stretch.length);
      spots = found && spots ? [...spots, ...found] : undefined;
    }
    return { plan: used, list, spots };
  }

  /** A new list made of the old one's entries: some dropped, some new ones put in, one changed, durations ticked, spacing as the old. */
  function reshuffled(entries: Record<string, unknown>[], space: string | number | undefined): { list: string; kind: string } {
    const next: Record<string, unknown>[] = [];
    let changed = false;
    for (const e of entries) {
      const r = random();
      if (r < 0.15) {
        changed = true;
        continue; // left
      }
      if (r < 0.22) {
        changed = true;
        next.push({ ...e, userName: pick(['Ann', 'x"duration":5', '}', '{']), duration: int(99) }); // changed
      } else next.push({ ...e, duration: (e.duration as number) + pick([0, 15, 1000]) });
      if (random() < 0.12) {
        changed = true;
        next.push(entry()); // someone new, after them
      }
    }
    if (random() < 0.15) {
      changed = true;
      next.unshift(entry());
    }
    if (next.length > 1 && random() < 0.1) {
      // someone moved
      changed = true;
      const [moved] = next.splice(int(next.length), 1);
      next.splice(int(next.length + 1), 0, moved!);
    }
    const list = JSON.stringify(next, null, space);
    // now and then a text JSON.parse refuses: a comma too many or too few, a bracket gone
    const r = random();
    if (r < 0.04) return { list: list.replace(/},/, '},,'), kind: 'not JSON' };
    if (r < 0.08) return { list: list.replace(/},/, '}'), kind: 'not JSON' };
    if (r < 0.1) return { list: list.replace(/,(\s*)\{/, ',$1'), kind: 'not JSON' };
    if (r < 0.12) return { list: list.replace(/\]$/, ',]'), kind: 'not JSON' };
    return { list, kind: changed ? 'changed' : 'ticked' };
  }

  /** What a reader of `next` against `old` makes of it: its plan and the entries it would use, or undefined when it would parse the whole list. */
  function readAgainst(old: string, next: string): { plan: number[]; list: unknown[] } | undefined {
    const entries = JSON.parse(old) as Record<string, unknown>[];
    const spots = durationSpots(old, 0, old.length, entries.length)!;
    const ends = entryEnds(old, spots)!;
    const [durations, plan, planSpots, middles] = [[], [], [], []] as [number[], number[], number[], number[]];
    // the next list inside more text: what follows it must not count
    const text = `${next},"x":[1]}`;
    const split = splitAgainst(old, 0, old.length, spots, ends, text, 0, next.length, durations, plan, planSpots, middles);
    if (!split) return undefined;
    const read = standsFor(entries, text, split, plan, planSpots, middles, durations);
    if (!read) return undefined;
    expect(read.spots).toEqual(durationSpots(next, 0, next.length, JSON.parse(next).length));
    return { plan: read.plan, list: read.list };
  }

  it('keeps what it can of the old entries, parses the rest in stretches, and takes nothing from a list JSON.parse refuses', () => {
    const a = '{"id":"a","duration":10}';
    const b = '{"id":"b","duration":20}';
    const c = '{"id":"c","duration":30}';
    const x = '{"id":"x","duration":5}';
    const old = `[${a},${b},${c}]`;
    const tick = (e: string) => e.replace(/(\d+)}$/, (_m, d: string) => `${Number(d) + 15}}`);
    const y = '{"id":"y","duration":7}';
    // a newcomer whose name holds what looks like the end of an entry and the start of b's
    const z = `{"id":"z","userName":"},{\\"id\\":\\"b\\",","duration":1}`;
    // the plan: old entries kept (their index) and stretches parsed (-1), in the list's order
    const cases: [string, number[]][] = [
      [`[${tick(a)},${tick(b)},${tick(c)}]`, [0, 1, 2]],
      [`[${tick(a)},${tick(c)}]`, [0, 2]], // b left
      [`[${tick(a)},${x},${tick(c)}]`, [0, -1, 2]], // b left, x came: x is parsed
      [`[${x},${tick(a)},${tick(b)},${tick(c)}]`, [-1, 0, 1, 2]],
      [`[${tick(a)},${tick(b)},${tick(c)},${x}]`, [0, 1, 2, -1]],
      [`[${tick(b)},${tick(c)}]`, [1, 2]], // a left
      [`[ ${tick(a)} , ${x} , ${tick(c)} ]`, [0, -1, 2]],
      // someone left from between, someone joined at the end: only the newcomer is parsed
      [`[${tick(a)},${tick(c)},${x}]`, [0, 2, -1]],
      [`[${tick(b)},${x}]`, [1, -1]],
      [`[${tick(a)},${x},${tick(b)}]`, [0, -1, 1]], // c left, x joined before the end
      // moved: c first (found by the walk, in a stretch), then a and b
      [`[${tick(c)},${tick(a)},${tick(b)}]`, [-1, 0, 1]],
      // a changed: a stretch
      [`[${a.replace('"a"', '"a2"')},${tick(b)},${tick(c)}]`, [-1, 1, 2]],
      [`[${x}]`, [-1]],
      // people joined at several places: each parsed alone
      [`[${x},${tick(a)},${y},${tick(b)},${tick(c)}]`, [-1, 0, -1, 1, 2]],
      [`[${tick(a)},${x},${tick(b)},${y},${tick(c)}]`, [0, -1, 1, -1, 2]],
      [`[${tick(a)},${x},${y},${tick(c)}]`, [0, -1, 2]],
      [`[${tick(a)},${z},${tick(b)},${tick(c)}]`, [0, -1, 1, 2]],
    ];
    for (const [next, plan] of cases) {
      const got = readAgainst(old, next);
      expect(got?.plan, next).toEqual(plan);
      expect(got!.list, next).toEqual(JSON.parse(next));
    }
    // not JSON: a comma missing or one too many, a number JSON would not write, a bracket gone
    for (const next of [
      `[${tick(a)}${tick(b)},${tick(c)}]`,
      `[${tick(a)},,${tick(c)}]`,
      `[${tick(a)},${tick(b)},]`,
      `[${tick(a)},${tick(b)},${tick(c)},]`,
      `[${a.replace(':10}', ':010}')},${b},${c}]`,
      `[${a},${b},${c.replace(':30}', ':030}')}]`,
      `[${a},${b},${c}`,
      `[${a},${b},${c}}]`,
      `[${x}:${tick(c)}]`,
      `[${x}]${tick(c)}]`,
      `[${tick(a)}]${tick(b)}]`,
      `[${tick(a)},${x}]${tick(c)}]`,
      `[,${tick(b)},${tick(c)}]`,
      `[${tick(a)},${tick(b)},,${tick(c)}]`,
      `[${tick(a)},${x},,${tick(c)}]`,
    ]) {
      expect(() => JSON.parse(next), next).toThrow();
      expect(readAgainst(old, next), next).toBeUndefined();
    }
  });

  /**
   * `rounds` old lists of `length()` entries each, duration last (as Daily writes them, else
   * nothing to split on), each read against a reshuffled new one: whenever every stretch of the
   * split parses, the list it stands for is JSON.parse's, and the spots it stages are the new
   * list's own. What happened, counted by kind.
   */
  function fuzzSplits(rounds: number, length: () => number, make: () => Record<string, unknown> = entry, durationFirst = 0.1): { at: (k: string) => number; covered: number } {
    const seen = new Map<string, number>();
    const count = (k: string) => seen.set(k, (seen.get(k) ?? 0) + 1);
    let covered = 0;
    for (let round = 0; round < rounds; round++) {
      const space = pick([undefined, undefined, undefined, 1, '\t']);
      const entries = Array.from({ length: length() }, () => ({ ...make(), duration: 1000 + int(9000) })).map((e) => {
        const { duration, ...rest } = e;
        return random() < durationFirst ? { duration, ...rest } : { ...rest, duration };
      });
      const old = JSON.stringify(entries, null, space);
      const [text, at] = inAnswer(old);
      const spots = durationSpots(text, at, at + old.length, entries.length);
      if (!spots) {
        count('no spots');
        continue;
      }
      const ends = entryEnds(text, spots);
      count(ends ? 'ends' : 'no ends');
      if (!ends) continue;
      for (const e of ends) expect(text[e]).toBe('}');
      const { list, kind } = reshuffled(entries, space);
      const [nextText, nextAt] = inAnswer(list);
      const [durations, plan, planSpots, middles] = [[], [], [], []] as [number[], number[], number[], number[]];
      const split = splitAgainst(text, at, at + old.length, spots, ends, nextText, nextAt, nextAt + list.length, durations, plan, planSpots, middles);
      const truth = parsed(list);
      if (!split) {
        count(`${kind}: no split`);
        continue;
      }
      const read = standsFor(entries, nextText, split, plan, planSpots, middles, durations);
      if (read === undefined) {
        // the caller parses the whole list then: whatever it is, nothing was taken from the split
        count(`${kind}: a stretch not JSON`);
        continue;
      }
      // a split whose stretches all parse is the list JSON.parse reads
      expect(truth, `${old}\n→ ${list}`).toBeDefined();
      expect(read.list, `${old}\n→ ${list}`).toEqual(truth);
      // the spots staged for the next answer (only for a list whose every duration is a number,
      // as the tracker stages them) are the new list's own, whenever it has them
      if (truth!.every((e) => typeof e.duration === 'number')) {
        expect(read.spots, `${old}\n→ ${list}`).toEqual(durationSpots(nextText, nextAt, nextAt + list.length, truth!.length));
        count('spots compared');
      }
      covered += split.kept;
      const keptIndexes = read.plan.filter((k) => k >= 0);
      if (keptIndexes.some((k, i) => k !== (i === 0 ? 0 : keptIndexes[i - 1]! + 1))) count('kept past a gap');
      if (split.middles > 1) count('several stretches');
      count(`${kind}: split, ${split.middles === 0 ? 'nothing' : 'stretches'} parsed`);
    }
    return { at: (k: string) => seen.get(k) ?? 0, covered };
  }

  it('reads a new list as old entries kept and stretches to parse, only when JSON.parse agrees (10,000 lists)', () => {
    const { at, covered } = fuzzSplits(10_000, () => 1 + int(6));
    expect(at('ends')).toBeGreaterThan(3_000);
    expect(at('no ends')).toBeGreaterThan(1_000);
    expect(at('changed: split, stretches parsed')).toBeGreaterThan(1_500);
    expect(at('changed: split, nothing parsed')).toBeGreaterThan(200);
    expect(at('ticked: split, nothing parsed')).toBeGreaterThan(1_000);
    expect(at('not JSON: no split') + at('not JSON: a stretch not JSON')).toBeGreaterThan(250);
    expect(at('kept past a gap')).toBeGreaterThan(500);
    expect(at('several stretches')).toBeGreaterThan(250);
    expect(at('spots compared')).toBeGreaterThan(1_500);
    expect(covered).toBeGreaterThan(5_000);
  });

  // long lists, where a stretch's end is looked for among its next few `}` and the old entries
  // after the last kept: several stretches in most, and the search windows run out in some. The
  // old entries are plain (else few long lists would say where their durations are), with names
  // that hold braces and commas; the new ones are as above
  it('reads long lists the same way: many stretches, each ending where JSON.parse agrees (1,500 lists of 10–40)', () => {
    let seq = 0;
    const plain = () => ({ id: `q-${seq++}`, userName: pick(['Ann', 'Bo', '},{', 'a}b', '{', '}, {', 'x},']) });
    const { at, covered } = fuzzSplits(1_500, () => 10 + int(31), plain, 0.002);
    expect(at('changed: split, stretches parsed')).toBeGreaterThan(900);
    expect(at('several stretches')).toBeGreaterThan(800);
    expect(at('spots compared')).toBeGreaterThan(700);
    expect(at('not JSON: no split') + at('not JSON: a stretch not JSON')).toBeGreaterThan(80);
    expect(covered).toBeGreaterThan(15_000);
  });
});
