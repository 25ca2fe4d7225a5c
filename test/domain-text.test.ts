import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { DailyApiError } from '../src/daily/errors.js';
import { parseDomainEntries, parseDomainText, parseJson, parseRoomText, type ParticipantEntry } from '../src/daily/parse.js';
import { seededRandom } from '../src/simulator/random.js';
import { NodeRun } from './support/cli.js';

// parseDomainText reads GET /presence a room at a time when the text's shape allows it, and through
// JSON.parse + parseDomainEntries otherwise. Either way it must agree with JSON.parse +
// parseDomainEntries: the same rooms in the same order, the same lists, the same size, and an error
// wherever that path has one (with the same message, but where a text has two faults: then the room
// by room reading may name a malformed entry before the list that is not JSON).

type Outcome = { rooms: [string, unknown[]][]; size: number } | { code: string; message: string };

function outcome(read: () => Iterable<[string, readonly ParticipantEntry[]]> & { size: number }): Outcome {
  try {
    const answer = read();
    return { rooms: [...answer].map(([room, list]) => [room, [...list]]), size: answer.size };
  } catch (err) {
    if (!(err instanceof DailyApiError)) throw err;
    return { code: err.code, message: err.message };
  }
}

/** What the client's getDomainEntries does with the same text: JSON.parse whole, then the check. */
const classic = (text: string) => outcome(() => parseDomainEntries(parseJson('*', text)));

/** Whether the text is read room by room (an answer JSON.parse rejects up front is not). */
function deferredPath(text: string): boolean {
  try {
    return parseDomainText(text).constructor.name === 'DeferredDomainEntries';
  } catch {
    return false;
  }
}

/** Room names kept across the texts of a test, as DailyClient keeps them across answers. */
let names = new Map<string, string>();

function expectSame(text: string): 'deferred' | 'classic' {
  const want = classic(text);
  const got = outcome(() => parseDomainText(text, names));
  if ('rooms' in want || !want.message.includes('not valid JSON')) expect(got, text).toEqual(want);
  else expect(got, text).toMatchObject({ code: want.code });
  return deferredPath(text) ? 'deferred' : 'classic';
}

const random = seededRandom(20261126);
const pick = <T,>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
// names and strings that could fool a reader that looks for brackets, quotes and commas
const rooms = ['standup', 'a', 'x y', 'q"uote', 'back\\slash', '[br]', 'co],"mma', ']', '__proto__', '7', '12', '-1', 'café', 'line\nbreak', '', 'tab\t', 'x\u2028y'];
const strings = ['Ann', '],"', '[', '}]', '\\"', '"],"room":[', 'a,b', '', 'é', '{"id":"x"}', '\u0000'];

function entry(): unknown {
  const r = random();
  if (r < 0.04) return pick([null, 5, 'str', [1], true]);
  const e: Record<string, unknown> = {};
  if (random() > 0.05) e.id = random() < 0.05 ? pick(['', 7, null]) : `p-${Math.floor(random() * 6)}`;
  if (random() < 0.7) e.userName = random() < 0.85 ? `name-${Math.floor(random() * 9)}` : pick(strings);
  if (random() < 0.3) e.userId = random() < 0.5 ? null : random() < 0.85 ? 'u-1' : pick(strings);
  if (random() < 0.05) e.tags = [pick(strings)]; // a nested array: Daily sends none, but it must still read right
  if (random() < 0.05) e.extra = { nested: pick(strings) };
  e.duration = Math.floor(random() * 100);
  return e;
}

/** A GET /presence text, written by hand so keys can repeat and the spacing can vary. */
function domainText(): string {
  const n = Math.floor(random() * 6);
  const space = pick(['', ' ', '\n  ', '\t']);
  const pairs: string[] = [];
  for (let i = 0; i < n; i++) {
    const room = random() < 0.6 ? pick(['standup', 'design', 'a', 'b-2', 'retro']) : pick(rooms);
    const list = Array.from({ length: Math.floor(random() * 4) }, entry);
    const value = random() < 0.03 ? JSON.stringify(pick([{}, 'x', 3, null])) : JSON.stringify(list, null, space.includes('\n') ? 1 : undefined);
    pairs.push(`${JSON.stringify(room)}${space}:${space}${value}`);
  }
  return `${pick(['', ' ', '\n'])}{${space}${pairs.join(`${space},${space}`)}${space}}${pick(['', '\n'])}`;
}

function mutate(text: string): string {
  const i = Math.floor(random() * (text.length + 1));
  const r = random();
  if (r < 0.3) return text.slice(0, i);
  const chars = ['"', '{', '}', '[', ']', ',', ':', '\\', 'x', ' ', '\n', '\u0001', ',]', '"x":[]'];
  if (r < 0.55) return text.slice(0, i) + pick(chars) + text.slice(i);
  if (r < 0.8) return text.slice(0, i) + pick(chars) + text.slice(i + 1); // one character replaced
  return text.slice(0, i) + text.slice(i + 1 + Math.floor(random() * 5));
}

describe('parseDomainText', () => {
  it("given something other than text (an answer already parsed), names the parser for that instead of failing inside", () => {
    expect(() => parseDomainText({ standup: [] } as never)).toThrow(/^parseDomainText: give the answer's text, as read from the response, not an object: for an answer already parsed, use parseDomainEntries$/);
    expect(() => parseDomainText(undefined as never)).toThrow(/^parseDomainText: give the answer's text, as read from the response, not undefined$/);
    expect(() => parseRoomText('a', { data: [] } as never)).toThrow(/^parseRoomText: .*not an object: for an answer already parsed, use parseRoomEntries$/);
  });

  it('agrees with JSON.parse + parseDomainEntries on random answers, awkward names, spacing and repeated keys', () => {
    const paths = { deferred: 0, classic: 0 };
    let deferredErrors = 0;
    for (let i = 0; i < 4000; i++) {
      const text = domainText();
      paths[expectSame(text)]++;
      if (deferredPath(text) && 'code' in outcome(() => parseDomainText(text))) deferredErrors++;
    }
    // both paths were really taken, and the room by room one met bad entries
    expect(paths.deferred).toBeGreaterThan(1000);
    expect(paths.classic).toBeGreaterThan(500);
    expect(deferredErrors).toBeGreaterThan(150);
  });

  it('agrees with it on mutated text (cut short, a character added or removed)', () => {
    const paths = { deferred: 0, classic: 0 };
    for (let i = 0; i < 4000; i++) paths[expectSame(mutate(domainText()))]++;
    expect(paths.deferred).toBeGreaterThan(300);
  });

  it('agrees with it on answers each made from the last (rooms gone, new, moved, repeated, written escaped): the names are first looked for in the last answer\'s order', () => {
    names = new Map();
    const pool = [...rooms.filter((r) => r !== ''), ...Array.from({ length: 20 }, (_, i) => `room-${i}`), 'room-1x', 'room-'];
    /** A key as JSON writes it, or (now and then) with a letter escaped, which reads the same. */
    const key = (room: string) => {
      const plain = JSON.stringify(room);
      if (random() < 0.9 || !/[a-z]/.test(room)) return plain;
      const at = plain.search(/[a-z]/);
      return `${plain.slice(0, at)}\\u${plain.charCodeAt(at).toString(16).padStart(4, '0')}${plain.slice(at + 1)}`;
    };
    let order = pool.slice(0, 12);
    const paths = { deferred: 0, classic: 0 };
    for (let step = 0; step < 3000; step++) {
      const next = order.slice();
      const r = random();
      if (r < 0.25) next.splice(Math.floor(random() * next.length), 1 + Math.floor(random() * 3)); // one or a few rooms emptied
      else if (r < 0.45) next.splice(Math.floor(random() * (next.length + 1)), 0, pick(pool)); // a room (new, or listed again)
      else if (r < 0.6 && next.length > 1) {
        const [x, y] = [Math.floor(random() * next.length), Math.floor(random() * next.length)];
        [next[x], next[y]] = [next[y]!, next[x]!]; // two rooms in each other's place
      } else if (r < 0.65) next.reverse();
      if (next.length === 0) next.push(pick(pool));
      const text = `{${next.map((room) => `${key(room)}:${JSON.stringify([{ id: `p-${Math.floor(random() * 5)}`, duration: step }])}`).join(',')}}`;
      paths[expectSame(text)]++;
      // a repeated key goes through JSON.parse (which keeps the last), so carry on from the rooms it read
      order = [...new Set(next)];
    }
    expect(paths.deferred).toBeGreaterThan(1500);
    expect(paths.classic).toBeGreaterThan(100);
  });

  it('a name the last answer listed, written in place where JSON would escape it, is not valid JSON: refused as JSON.parse refuses it', () => {
    for (const room of ['back\\slash', 'q"uote', 'line\nbreak', 'nul\u0000']) {
      names = new Map();
      const list = JSON.stringify([{ id: 'p1' }]);
      expect(expectSame(`{"standup":${list},${JSON.stringify(room)}:${list}}`)).toBe('deferred');
      // the same characters as the name, unescaped, where the last answer had it
      const raw = `{"standup":${list},"${room}":${list}}`;
      expect(classic(raw), room).toMatchObject({ code: 'DAILY_INVALID_RESPONSE' });
      expectSame(raw);
    }
  });

  it('keeps the room names it is given to at most about twice the rooms of the answer', () => {
    names = new Map();
    const answer = (from: number, n: number) =>
      JSON.stringify(Object.fromEntries(Array.from({ length: n }, (_, i) => [`room-${from + i}`, [{ id: `p${i}` }]])));
    expectSame(answer(0, 600));
    expect(names.size).toBe(600);
    expectSame(answer(0, 600)); // the same rooms: nothing new
    expect(names.size).toBe(600);
    for (let k = 1; k <= 10; k++) {
      expectSame(answer(k * 600, 600)); // every answer new rooms
      expect(names.size).toBeLessThanOrEqual(2 * 600 + 1000 + 600);
    }
    expect([...names.keys()]).toEqual(expect.arrayContaining([`room-${10 * 600}`, `room-${10 * 600 + 599}`]));
  });

  it('reads a plain answer room by room, compact or spaced out', () => {
    const body = { standup: [{ id: 'a', userName: 'Ann' }], empty: [], design: [{ id: 'b' }, { id: 'c' }] };
    for (const text of [JSON.stringify(body), JSON.stringify(body, null, 2), '{"standup": [{"id": "a", "userName": "Ann"}], "empty": [ ], "design": [{"id": "b"}, {"id": "c"}]}']) {
      expect(deferredPath(text)).toBe(true);
      const answer = parseDomainText(text);
      expect(answer.size).toBe(2);
      expect([...answer]).toEqual([
        ['standup', [{ id: 'a', userName: 'Ann' }]],
        ['design', [{ id: 'b' }, { id: 'c' }]],
      ]);
    }
    expect(parseDomainText('{}').size).toBe(0);
  });

  it('leaves to JSON.parse what its shape cannot settle, with the same result', () => {
    const cases = [
      '{"a":[{"id":"1","userName":"x],\\"y"}]}', // a bracket inside a string
      '{"a":[{"id":"1","tags":["t"]}]}', // a nested array
      '{"a":[{"id":"1"}],"a":[{"id":"2"}]}', // a repeated key: the last list counts, in the first place
      '{"b":[{"id":"1"}],"2":[{"id":"2"}]}', // an integer-like key: JSON.parse lists it first
      '{"a":[{"id":"1"}],"b":{"c":[]}}', // a value that is not a list
    ];
    for (const text of cases) {
      expect(deferredPath(text), text).toBe(false);
      expectSame(text);
    }
    expect([...parseDomainText(cases[2]!)]).toEqual([['a', [{ id: '2' }]]]);
    expect([...parseDomainText(cases[3]!)].map(([room]) => room)).toEqual(['2', 'b']);
  });

  it('an answer that is not JSON fails up front; one bad deep inside fails when its room is read, naming it', () => {
    expect(() => parseDomainText('<html>502</html>')).toThrow(/the body is an HTML or XML page \(16 bytes\), not Daily's JSON/);
    expect(() => parseDomainText('')).toThrow(/invalid response from Daily for GET \/presence: the body is empty \(0 bytes\), where Daily's JSON belongs$/);
    expect(() => parseDomainText('{"a":[{"id":"1"}]')).toThrow(/not valid JSON/);
    const badEntry = parseDomainText('{"a":[{"id":"1"}],"b":[{"id":"2"},{"name":"no id"}]}');
    const read: string[] = [];
    expect(() => badEntry.forEach((_list, room) => read.push(room))).toThrow(/"b"\[1\] has no string "id"/);
    expect(read).toEqual(['a']);
    const badList = parseDomainText('{"a":[{"id":"1"}],"b":[{"id":"2"},]}');
    expect(() => badList.forEach(() => {})).toThrow(/invalid response from Daily for GET \/presence: body is not valid JSON/);
  });

  it('no answer but the last stays alive: not through a room name, not through the lists a DomainTracker keeps (in a process of its own, with --expose-gc)', async () => {
    const script = fileURLToPath(new URL('./soak/domain-text-memory.mjs', import.meta.url));
    const run = new NodeRun(script, [], {}, ['--expose-gc']);
    expect(await run.exitCode(60_000)).toBe(0);
    expect(run.stderr).toBe('');
    const r = JSON.parse(run.stdout) as { textBytes: number; lastBytes: number; keptRoomByRoom: number; keptWhole: number; listed: number; parsed: number };
    // 40 answers of ~0.2 MB each: had each new room's name, or the list kept for it, kept its
    // answer, ~8 MB more would stay. The last answer stays by design (one answer's size)
    expect(r.textBytes).toBeGreaterThan(7_000_000);
    expect(r.keptRoomByRoom).toBeLessThan(r.keptWhole + r.lastBytes + r.textBytes / 20);
    // and the rooms' lists were kept: most rooms were read as durations alone, not parsed
    expect(r.parsed).toBeLessThan(r.listed / 4);
  }, 90_000);
});
