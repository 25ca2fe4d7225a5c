import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfigFile, resolveConfig } from '../src/config.js';
import { DailySimulator } from '../src/simulator/simulator.js';
import { signWebhook, webhookSecretKey } from '../src/index.js';
import { CliRun, NodeRun } from './support/cli.js';

const example = (name: string) => fileURLToPath(new URL(`../examples/${name}`, import.meta.url));

const kids: NodeRun[] = [];
afterEach(() => {
  for (const k of kids.splice(0)) if (k.child.exitCode === null && k.child.signalCode === null) k.kill('SIGKILL');
});

function spawnExample(file: string, args: string[], env: Record<string, string>): NodeRun {
  const run = new NodeRun(file, args, env);
  kids.push(run);
  return run;
}

describe('examples', () => {
  it('greeter-bot greets people who join (library embedding against the simulator)', async () => {
    const sim = new DailySimulator({ rooms: ['standup'] });
    const url = await sim.listen();
    sim.join('standup', { userName: 'Already There' });
    const bot = spawnExample(example('greeter-bot.mjs'), [], { DAILY_API_KEY: sim.apiKey, DAILY_API_URL: url, ROOMS: 'standup', INTERVAL_MS: '100' });
    await bot.until(() => bot.stderr.includes('watching standup'));
    sim.join('standup', { userName: 'Ada' });
    await bot.until(() => bot.stdout.includes('Welcome to standup, Ada!'));
    expect(bot.stdout).not.toContain('Already There');
    bot.kill('SIGTERM');
    expect((await bot.exit).code).toBe(0);
    await sim.close();
  });

  it('webhook-receiver verifies signatures and dedupes by webhook-id, fed by the CLI', async () => {
    const secret = 'whsec_' + Buffer.from('example-secret-bytes-0123456789').toString('base64');
    // mid-rotation: the receiver already holds the next secret too; the watcher still signs with the current one
    const next = 'whsec_' + Buffer.from('the-next-secret-bytes-987654321').toString('base64');
    const recv = spawnExample(example('webhook-receiver.mjs'), ['0'], { PRESENCE_WEBHOOK_SECRET: `${next} ${secret}` });
    const url = await recv.until(() => /listening on (\S+)/.exec(recv.stderr)?.[1]);
    const sim = new DailySimulator({ rooms: ['standup'] });
    await sim.listen();
    sim.join('standup', { userName: 'Grace' });
    const cli = new CliRun(['--room', 'standup', '--interval', '100ms', '--sink', `webhook:${url}`], {
      DAILY_API_KEY: sim.apiKey,
      DAILY_API_URL: sim.url,
      PRESENCE_WEBHOOK_SECRET: secret,
    });
    kids.push(cli);
    await recv.until(() => recv.stdout.includes('join standup Grace'));
    cli.kill('SIGTERM');
    expect((await cli.exit).code).toBe(0);

    // a re-delivery with the same id is acknowledged but not processed twice; a forgery is refused
    const body = JSON.stringify({ id: 'evt_x', type: 'leave', room: 'standup', participant: { userName: 'Grace' } });
    const ts = Math.floor(Date.now() / 1000);
    const headers = { 'content-type': 'application/json', 'webhook-id': 'evt_x', 'webhook-timestamp': String(ts), 'webhook-signature': signWebhook(webhookSecretKey(secret), 'evt_x', ts, body) };
    expect((await fetch(url, { method: 'POST', headers, body })).status).toBe(204);
    expect((await fetch(url, { method: 'POST', headers, body })).status).toBe(200);
    await recv.until(() => recv.stderr.includes('duplicate evt_x ignored'));
    expect((await fetch(url, { method: 'POST', headers: { ...headers, 'webhook-id': 'evt_y' }, body })).status).toBe(401);
    await recv.until(() => recv.stderr.includes('rejected: bad or missing signature'));
    expect(recv.stdout.match(/leave standup Grace/g)).toHaveLength(1);
    recv.kill('SIGTERM');
    await recv.exit;
    await sim.close();
  });

  it('alert-on-join.yaml is a valid config', () => {
    const env = { DAILY_API_KEY: 'k', SLACK_WEBHOOK_URL: 'https://hooks.slack.com/services/T/B/x' };
    const cfg = resolveConfig(loadConfigFile(example('alert-on-join.yaml'), env), {}, env);
    expect(cfg.sinks).toEqual([
      { type: 'slack', url: env.SLACK_WEBHOOK_URL, events: ['join'], rooms: ['standup'] },
      { type: 'stdout' },
    ]);
    expect(cfg.ignoreInitial).toBe(true);
  });
});
