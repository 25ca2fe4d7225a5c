import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { tempDir } from './support/tmp.js';

// a filesystem without hard links (some network shares): link() answers EPERM
vi.mock('node:fs', async (importOriginal) => {
  const real = await importOriginal<typeof fs>();
  return {
    ...real,
    linkSync: vi.fn(() => {
      throw Object.assign(new Error('EPERM: operation not permitted, link'), { code: 'EPERM' });
    }),
  };
});

const { StateLock, formatOwner, parseOwner, startTime } = await import('../src/state/lock.js');

describe('the state lock on a filesystem without hard links', () => {
  it('is created in place instead, and refuses while a lock names another running process', async () => {
    const dir = tempDir('nolink');
    const lock = new StateLock(join(dir, 'state.json'));
    await lock.acquire();
    expect(vi.mocked(fs.linkSync)).toHaveBeenCalled();
    expect(readdirSync(dir)).toEqual(['state.json.lock']); // the draft removed
    expect(parseOwner(readFileSync(lock.path, 'utf8'))).toMatchObject({ pid: process.pid });
    lock.release();
    expect(readdirSync(dir)).toEqual([]);

    const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
    try {
      await new Promise((resolve, reject) => child.once('spawn', resolve).once('error', reject));
      writeFileSync(lock.path, formatOwner({ pid: child.pid!, ...(startTime(child.pid!) ? { start: startTime(child.pid!)! } : {}) }));
      await expect(lock.acquire()).rejects.toThrow(`in use by another presence-watcher (pid ${child.pid}`);
      expect(readdirSync(dir)).toEqual(['state.json.lock']);
    } finally {
      child.kill();
    }
  });
});
