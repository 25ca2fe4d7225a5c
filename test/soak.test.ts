import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { NodeRun } from './support/cli.js';

describe('soak (shortened; npm run soak for the long form)', () => {
  it('thousands of polls with churn and faults: flat heap, no leaked sockets or timers', async () => {
    const script = fileURLToPath(new URL('./soak/soak.mjs', import.meta.url));
    const run = new NodeRun(script, ['--polls', '4000'], {}, ['--expose-gc']);
    const code = await run.exitCode(60_000);
    expect(run.stderr).toBe('');
    expect(code).toBe(0); // it exited by itself: nothing left open
    const r = JSON.parse(run.stdout);
    expect(r.polls).toBe(4000);
    expect(r.failed).toBeGreaterThan(10); // faults were injected and survived
    expect(r.events).toBeGreaterThan(100);
    expect(r.resources).toEqual([]);
    // heap after GC between 20% and 100% of the run: flat within 2 MiB
    expect(r.growthBytes).toBeLessThan(2 * 1024 * 1024);
  }, 90_000);
});
