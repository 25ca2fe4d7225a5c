import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { NodeRun } from './support/cli.js';

const fixture = fileURLToPath(new URL('./fixtures/exit-after-stop.mjs', import.meta.url));

describe('lifecycle', () => {
  it('after stop() no handle is left open: the process exits by itself', async () => {
    const run = new NodeRun(fixture, []);
    const code = await run.exitCode(15_000);
    expect(run.stderr).toBe('');
    expect(code).toBe(0);
    expect(JSON.parse(run.stdout).events).toBeGreaterThan(0);
  });
});
