import { describe, expect, it, vi } from 'vitest';
import { DailyApiError } from '../src/daily/errors.js';
import { parseJson, parseRoomEntries, parseRoomText, PIECEWISE_MIN_CHARS, type ParticipantEntry, type RoomEntries } from '../src/daily/parse.js';
import { seededRandom } from '../src/simulator/random.js';

// parseRoomText reads GET /rooms/:name/presence a piece of the list at a time. Whatever it settles
// must be exactly what JSON.parse + parseRoomEntries make of the same text (the same entries in the
// same order, the same total_count and completeness), and it must never settle a text that path
// rejects. What it cannot settle it leaves to whole(), which is that path.

type Whole = { entries: unknown[]; totalCount: number; complete: boolean } | { error: string };

function reference(text: string): Whole {
  let r: RoomEntries;
  try {
    r = parseRoomEntries('r', parseJson('r', text));
  } catch (err) {
    if (!(err instanceof DailyApiError)) throw err;
    return { error: err.message };
  }
  return { entries: [...r.entries], totalCount: r.totalCount, complete: r.complete };
}

type Tally = { settled: number; declinedValid: number; declinedInvalid: number; piecewise: number; manyPieces: number; mended: number };
const tally = (): Tally => ({ settled: 0, declinedValid: 0, declinedInvalid: 0, piecewise: 0, manyPieces: 0, mended: 0 });

/** Read `text` both ways and require agreement; counts which way it went. */
function expectAgrees(text: string, pieceChars: number, t: Tally): void {
  const want = reference(text);
  const answer = parseRoomText('r', text, { minChars: 0, pieceChars });
  if (answer.piecewise) t.piecewise++;
  const got: ParticipantEntry[] = [];
  let pieces = 0;
  const read = answer.pieces((list) => {
    pieces++;
    got.push(...list);
  });
  if (read !== undefined) {
    t.settled++;
    if (pieces > 1) t.manyPieces++;
    // in several pieces with `},{` inside a string: a cut there had to be run on from
    if (pieces > 1 && got.some((e) => JSON.stringify(e).includes('},{'))) t.mended++;
    expect('error' in want ? want : 'settled', text).toBe('settled');
    expect({ entries: got, totalCount: read.totalCount, complete: read.totalCount <= read.count }, text).toEqual(want);
    expect(read.count, text).toBe(got.length);
  } else if ('error' in want) t.declinedInvalid++;
  else t.declinedValid++;
  // whole() is the reference path itself
  let whole: Whole;
  try {
    const r = answer.whole();
    whole = { entries: [...r.entries], totalCount: r.totalCount, complete: r.complete };
  } catch (err) {
    whole = { error: (err as Error).message };
  }
  expect(whole, text).toEqual(want);
}

const random = seededRandom(20261126);
const pick = <T,>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
const int = (n: number) => Math.floor(random() * n);
// strings that could fool a reader cutting the list after `},{`, or one looking for its brackets
const tricky = ['},{', 'a},{"id":"x"}', '"},{"id":"y","userName":"', '}]', '[', ']', '},', ',{', '\\"},{', '{}', 'Ann', 'é', '\u2028'];

function entry(): unknown {
  const r = random();
  if (r < 0.03) return pick([null, 5, 'str', [1], true, []]);
  const e: Record<string, unknown> = {};
  if (random() > 0.04) e.id = random() < 0.04 ? pick(['', 7, null]) : `p-${int(50)}`;
  if (random() < 0.8) e.userName = random() < 0.75 ? `name-${int(9)}` : pick(tricky);
  if (random() < 0.3) e.userId = random() < 0.5 ? null : pick(tricky);
  if (random() < 0.05) e.tags = [pick(tricky), { x: [] }]; // nested: Daily sends none, but it must still read right
  e.duration = int(100);
  return e;
}

/** A room answer, written by hand so members can repeat, move or be wrong, and the spacing can vary. */
function roomText(): string {
  const list = Array.from({ length: int(8) }, entry);
  const space = pick(['', '', ' ', '\n  ']);
  const data = random() < 0.03 ? pick(['{}', 'null', '"x"', '[1,]']) : JSON.stringify(list, null, space.includes('\n') ? 1 : undefined);
  const countText = () => (random() < 0.8 ? String(pick([list.length, list.length, list.length + 2, 0])) : pick(['-1', '1.5', '"3"', '1e1', '07', 'null', '99999999999999999999']));
  const members = [`"data"${space}:${space}${data}`];
  const where = random();
  if (where < 0.45) members.unshift(`"total_count"${space}:${space}${countText()}`);
  else if (where < 0.85) members.push(`"total_count"${space}:${space}${countText()}`);
  else if (where < 0.9) members.unshift(`"total_count":${countText()}`), members.push(`"total_count":${countText()}`);
  if (random() < 0.06) members.splice(int(members.length + 1), 0, pick(['"other":[1]', '"x":"]"', '"data":[]', '"data":[{"id":"z"}]', '"y":{"a":"["}']));
  const body = random() < 0.02 ? `[${data}]` : `{${space}${members.join(`${space},${space}`)}${space}}`;
  return `${pick(['', '', ' ', '\n'])}${body}${pick(['', '', '\n', ' '])}`;
}

function mutate(text: string): string {
  const i = int(text.length + 1);
  const r = random();
  if (r < 0.25) return text.slice(0, i);
  const chars = ['"', '{', '}', '[', ']', ',', ':', '\\', 'x', ' ', '\u0001', '},{', '}]', ',]'];
  if (r < 0.55) return text.slice(0, i) + pick(chars) + text.slice(i);
  if (r < 0.8) return text.slice(0, i) + pick(chars) + text.slice(i + 1); // one character replaced
  return text.slice(0, i) + text.slice(i + 1 + int(5));
}

const pieceSizes = [1, 1, 3, 20, 60, 200, 100_000];

describe('parseRoomText', () => {
  it('settles only what JSON.parse + parseRoomEntries make of the text, exactly; random answers with `},{` in names', () => {
    const t = tally();
    for (let i = 0; i < 5000; i++) expectAgrees(roomText(), pick(pieceSizes), t);
    // every way was really taken: settled in many pieces, some across a `},{` inside a name,
    // declined on text the reference rejects, and on valid text of a shape it leaves to whole()
    expect(t.settled).toBeGreaterThan(2000);
    expect(t.manyPieces).toBeGreaterThan(700);
    expect(t.mended).toBeGreaterThan(100);
    expect(t.declinedInvalid).toBeGreaterThan(1000);
    expect(t.declinedValid).toBeGreaterThan(200);
    expect(t.piecewise).toBeGreaterThan(3000);
  });

  it('agrees on mutated text (cut short, a character added, replaced or removed)', () => {
    const t = tally();
    for (let i = 0; i < 5000; i++) expectAgrees(mutate(roomText()), pick(pieceSizes), t);
    expect(t.settled).toBeGreaterThan(300);
    expect(t.declinedInvalid).toBeGreaterThan(3000);
  });

  it('a cut inside a user name is mended by running on to a later cut, or to the end of the list', () => {
    const people = [{ id: 'a', userName: 'x},{y' }, { id: 'b', userName: 'Bo' }, { id: 'c', userName: '},{"id":"d"},{' }];
    const body = { total_count: 3, data: people };
    // compact, one entry a line, and `}, {` as the API's documentation prints it
    const texts = [JSON.stringify(body), JSON.stringify(body, null, 2), JSON.stringify(body).replaceAll('},{"id"', '}, {"id"')];
    for (const text of texts) {
      for (const pieceChars of [1, 5, 30]) {
        const got: unknown[][] = [];
        const read = parseRoomText('r', text, { minChars: 0, pieceChars }).pieces((list) => got.push([...list]));
        expect(read, text).toEqual({ totalCount: 3, count: 3 });
        expect(got.flat()).toEqual(people);
        expect(got.length, text).toBeGreaterThan(1);
      }
    }
  });

  it('a list that is not JSON costs a few tries, not one per cut: each try is at least twice as long as the last', () => {
    const list = Array.from({ length: 20_000 }, (_, i) => ({ id: `p-${i}`, userName: `Participant ${i}` }));
    const text = JSON.stringify({ total_count: list.length, data: list }).replace('"p-3"', '"p-3",,'); // broken in the first piece
    const parse = vi.spyOn(JSON, 'parse');
    try {
      const answer = parseRoomText('r', text, { minChars: 0, pieceChars: 100 });
      expect(answer.pieces(() => {})).toBeUndefined();
      // ~650,000 characters in pieces of ~100: one try per cut would be ~15,000 parses
      expect(parse.mock.calls.length).toBeGreaterThan(5);
      expect(parse.mock.calls.length).toBeLessThan(20);
    } finally {
      parse.mockRestore();
    }
  });

  it('only a large answer is read a piece at a time, by default', () => {
    const small = JSON.stringify({ total_count: 1, data: [{ id: 'a' }] });
    expect(parseRoomText('r', small).piecewise).toBe(false);
    expect(parseRoomText('r', small).pieces(() => {})).toBeUndefined();
    expect(parseRoomText('r', small, { minChars: 0 }).piecewise).toBe(true);
    const person = (i: number) => ({ id: `${i}`.padStart(36, '0'), userName: `Participant ${i}`, userId: null, duration: i });
    const n = Math.ceil(PIECEWISE_MIN_CHARS / JSON.stringify(person(0)).length) + 10;
    const big = parseRoomText('r', JSON.stringify({ total_count: n, data: Array.from({ length: n }, (_, i) => person(i)) }));
    expect(big.piecewise).toBe(true);
    let pieces = 0;
    let count = 0;
    expect(big.pieces((list) => ((pieces += 1), (count += list.length)))).toEqual({ totalCount: n, count: n });
    expect(count).toBe(n);
    expect(pieces).toBeGreaterThan(100);
  });

  it("does not leave the answer as V8's last match subject (RegExp.input), which kept it alive until the next poll", () => {
    // the regular expressions that read the answer's head and tail match against the whole text, and
    // V8 keeps the subject of the last successful match for the legacy RegExp.input: a 100,000-person
    // room's 21 MB answer stayed alive between polls
    const texts = [
      '{"total_count":1,"data":[{"id":"a"}]}', // read a piece at a time
      '{"total_count":2,"data":[{"id":"a"}],"total_count":1}', // head and tail matched, then left to whole()
      '{"data":[{"id":"a"}],"other":[1]}', // head matched, tail not
    ];
    for (const text of texts) {
      /x/.exec('x'); // a subject of our own before each
      parseRoomText('r', text, { minChars: 0 });
      expect(RegExp.input, text).not.toContain('"data"');
    }
  });

  it("leaves to whole() what its shape cannot settle, and whole() gives the reference path's error", () => {
    const cases = [
      '{"total_count":2,"data":[{"id":"a"}],"total_count":1}', // given twice: JSON.parse keeps the last
      '{"data":[{"id":"a"}],"other":[1]}', // another member after the list
      '{"data":[{"id":"a"}],"data":[]}', // the list given twice
      '{"total_count":1.0,"data":[{"id":"a"}]}', // a count not written plainly
      '{"data":[{"id":"a"},{"name":"no id"}]}', // a malformed entry
      '{"data":[{"id":"a"},]}', // not JSON
      '<html>502</html>',
    ];
    for (const text of cases) {
      const answer = parseRoomText('r', text, { minChars: 0, pieceChars: 1 });
      expect(answer.pieces(() => {}), text).toBeUndefined();
      expect(reference(text)).toEqual(((): Whole => {
        try {
          const r = answer.whole();
          return { entries: [...r.entries], totalCount: r.totalCount, complete: r.complete };
        } catch (err) {
          return { error: (err as Error).message };
        }
      })());
    }
    expect(() => parseRoomText('r', '{"data":[{"id":"a"},{"name":"no id"}]}', { minChars: 0 }).whole()).toThrow(/room "r".*data\[1\] has no string "id"/);
  });
});
