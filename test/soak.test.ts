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

  it('the whole daemon (sinks, outbox, dead-letter, grace, health), thousands of polls with churn and faults: flat heap, nothing left open, nothing left undelivered', async () => {
    const script = fileURLToPath(new URL('./soak/daemon-soak.mjs', import.meta.url));
    const run = new NodeRun(script, ['--polls', '6000', '--mode', 'rooms', '--warm', '0.5'], {}, ['--expose-gc']);
    const code = await run.exitCode(90_000);
    expect(run.stderr).toBe('');
    expect(code).toBe(0); // it exited by itself: nothing left open
    const r = JSON.parse(run.stdout);
    expect(r.polls).toBeGreaterThanOrEqual(6000);
    expect(r.failed).toBeGreaterThan(10); // Daily's faults were injected and survived
    expect(r.events).toBeGreaterThan(100);
    // the webhook receiver's failures were retried and its refusals dead-lettered; Slack got messages
    expect(r.webhook.ok).toBeGreaterThan(100);
    expect(r.webhook.failed).toBeGreaterThan(0);
    expect(r.webhook.refused).toBeGreaterThan(0);
    expect(r.deadLetterBytes).toBeGreaterThan(0);
    expect(r.slack.ok).toBeGreaterThan(0);
    expect(r.healthChecks).toBeGreaterThan(10);
    expect(r.leftAtStop).toBe(0);
    expect(r.resources).toEqual([]);
    // heap after GC between half way and the end: flat within 1.5 MiB (~0.5 MiB here is what any
    // run of this length adds; a leak of 400 B a poll would add 1.2 MiB more)
    expect(r.queuedAtEnd).toBeLessThan(500); // the sinks kept up: what waits for them is no leak
    expect(r.growthBytes).toBeLessThan(1.5 * 1024 * 1024);
  }, 120_000);
});
