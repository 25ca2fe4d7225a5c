import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Outbox } from '../src/state/outbox.js';
import { joinOf, quietLogger } from './support/helpers.js';
import { tempDir } from './support/tmp.js';

// A disk that fills up: write(2) writes what still fits and reports that much (a short write), and
// the next call fails with ENOSPC, as on a real file system. Only this file sees the mock.
const disk = vi.hoisted(() => ({ free: Infinity }));
vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs')>();
  const writeSync = (fd: number, data: string | NodeJS.ArrayBufferView, offset?: number, length?: number): number => {
    const buf = typeof data === 'string' ? Buffer.from(data) : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    const from = typeof data === 'string' ? 0 : (offset ?? 0);
    const len = typeof data === 'string' ? buf.length : (length ?? buf.length - from);
    if (len > 0 && disk.free <= 0) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    const n = Math.min(len, disk.free);
    disk.free -= n;
    return fs.writeSync(fd, buf, from, n);
  };
  return { ...fs, default: { ...fs, writeSync }, writeSync };
});

const ev = joinOf;
const tmp = () => tempDir('outbox-full');

afterEach(() => {
  disk.free = Infinity;
});

describe('Outbox on a disk that fills up', () => {
  it('an append cut short does not take the next record with it, and the log still opens', () => {
    const file = join(tmp(), 'o.ndjson');
    const o = new Outbox(file, quietLogger);
    o.record(ev(1), ['a']);
    disk.free = 20; // part of the next line fits
    expect(() => o.record(ev(2), ['a'])).toThrow(/ENOSPC/);
    disk.free = Infinity; // space freed
    o.record(ev(3), ['a']);
    disk.free = 0; // nothing of the next line fits
    expect(() => o.record(ev(4), ['a'])).toThrow(/ENOSPC/);
    disk.free = Infinity;
    o.record(ev(5), ['a']);
    o.close();
    // the cut-short line is a line of its own, not glued to the next record
    const lines = readFileSync(file, 'utf8').split('\n');
    expect(lines.filter((l) => l.includes('"p3"'))).toHaveLength(1);
    expect(() => JSON.parse(lines.find((l) => l.includes('"p3"'))!)).not.toThrow();
    const again = new Outbox(file, quietLogger);
    expect(again.pending('a').map((e) => e.participant.id)).toEqual(['p1', 'p3', 'p5']);
    again.close();
  });

  it('a compaction cut short keeps the old log whole', () => {
    const file = join(tmp(), 'o.ndjson');
    const o = new Outbox(file, quietLogger);
    for (let i = 1; i <= 50; i++) o.record(ev(i), ['a']);
    o.close();
    const before = readFileSync(file, 'utf8');
    disk.free = 1000; // opening compacts the log: the rewrite does not fit
    expect(() => new Outbox(file, quietLogger)).toThrow(/ENOSPC/);
    expect(readFileSync(file, 'utf8')).toBe(before);
    expect(existsSync(`${file}.tmp`)).toBe(false); // the space the failed rewrite took is given back
    disk.free = Infinity;
    const again = new Outbox(file, quietLogger);
    expect(again.pending('a')).toHaveLength(50);
    again.close();
  });
});
