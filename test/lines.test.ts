import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { seededRandom } from '../src/simulator/random.js';
import { forEachLine } from '../src/util/lines.js';
import { withoutBom } from '../src/util/text.js';
import { tempDir } from './support/tmp.js';

/** What the readers did before: the whole file as one string, split (V8 cannot make one past ~512 MiB). */
function whole(text: string): { line: string; last: boolean }[] {
  const lines = withoutBom(text).split('\n');
  return lines.map((line, i) => ({ line, last: i >= lines.length - 2 }));
}

function read(path: string, chunk: number): { line: string; last: boolean }[] {
  const out: { line: string; last: boolean }[] = [];
  forEachLine(path, (line, i, last) => {
    expect(i).toBe(out.length);
    out.push({ line, last });
  }, chunk);
  return out;
}

describe('forEachLine', () => {
  it('gives the lines, their numbers and which may be cut short exactly as reading the file whole and splitting it, in chunks of any size (a character of several bytes, a byte order mark and a line longer than a chunk across their edges)', () => {
    const dir = tempDir('pw-lines-');
    const random = seededRandom(20261128);
    const pieces = ['a', 'é', '€', '\u{1F600}', '\n', '\n', '{"op":"ev"}', '\r', ' ', 'x'.repeat(40)];
    const fixed = ['', '\n', '\n\n', 'one', 'one\n', 'one\ntwo', '\ufeffone\ntwo\n', '\ufeff', '\ufeff\n', 'ab\n'.repeat(50)];
    const texts = [...fixed, ...Array.from({ length: 300 }, () => {
      let t = random() < 0.2 ? '\ufeff' : '';
      for (let n = Math.floor(random() * 60); n > 0; n--) t += pieces[Math.floor(random() * pieces.length)];
      return t;
    })];
    texts.forEach((text, k) => {
      const path = join(dir, `f${k}`);
      writeFileSync(path, text);
      for (const chunk of [1, 2, 3, 5, 16, 1 << 20]) expect(read(path, chunk), `${JSON.stringify(text)} in chunks of ${chunk}`).toEqual(whole(text));
    });
  });

  it('throws the error of reading as fs does (the callers name the file), and closes the file when a line\'s handler throws', () => {
    const dir = tempDir('pw-lines-');
    expect(() => forEachLine(join(dir, 'none'), () => {})).toThrow(expect.objectContaining({ code: 'ENOENT' }));
    expect(() => forEachLine(dir, () => {})).toThrow(expect.objectContaining({ code: 'EISDIR' }));
    const path = join(dir, 'f');
    writeFileSync(path, 'a\nb\nc\n');
    // a descriptor left open at each throw would run the process out of them
    const open = () => (existsSync('/proc/self/fd') ? readdirSync('/proc/self/fd').length : 0);
    const before = open();
    for (let i = 0; i < 50; i++) {
      expect(() => forEachLine(path, () => {
        throw new Error('bad line');
      })).toThrow('bad line');
    }
    expect(open()).toBe(before);
  });
});
