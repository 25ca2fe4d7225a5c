import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

describe('soak (shortened; npm run soak for the long form)', () => {
  it('thousands of polls with churn and faults: flat heap, no leaked sockets or timers', async () => {
    const script = fileURLToPath(new URL('./soak/soak.mjs', import.meta.url));
    const child = spawn(process.execPath, ['--expose-gc', script, '--polls', '4000'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const code = await new Promise<number | null>((resolve) => {
      const t = setTimeout(() => {
        child.kill('SIGKILL');
        resolve(null);
      }, 60_000);
      child.on('exit', (c) => {
        clearTimeout(t);
        resolve(c);
      });
    });
    expect(err).toBe('');
    expect(code).toBe(0); // it exited by itself: nothing left open
    const r = JSON.parse(out);
    expect(r.polls).toBe(4000);
    expect(r.failed).toBeGreaterThan(10); // faults were injected and survived
    expect(r.events).toBeGreaterThan(100);
    expect(r.resources).toEqual([]);
    // heap after GC between 20% and 100% of the run: flat within 2 MiB
    expect(r.growthBytes).toBeLessThan(2 * 1024 * 1024);
  }, 90_000);
});
