import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfigFile, resolveConfig } from '../src/config.js';
import { DailySimulator } from '../src/simulator/simulator.js';
import { signWebhook, webhookSecretKey } from '../src/index.js';
import { CliRun } from './support/cli.js';

const example = (name: string) => fileURLToPath(new URL(`../examples/${name}`, import.meta.url));

function spawnExample(file: string, args: string[], env: Record<string, string>) {
  const child = spawn(process.execPath, [file, ...args], { env: { PATH: process.env.PATH, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const out = { stdout: '', stderr: '' };
  const waiters: (() => void)[] = [];
  child.stdout.on('data', (d) => {
    out.stdout += d;
    waiters.forEach((w) => w());
  });
  child.stderr.on('data', (d) => {
    out.stderr += d;
    waiters.forEach((w) => w());
  });
  const exit = new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
  const until = <T,>(check: () => T | undefined | false, ms = 10_000) =>
    new Promise<T>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`timed out; stderr: ${out.stderr}`)), ms);
      const w = () => {
        const v = check();
        if (v) {
          clearTimeout(t);
          resolve(v);
        }
      };
      waiters.push(w);
      w();
    });
  return { child, out, exit, until };
}

const kids: { child: { kill(s?: NodeJS.Signals): unknown; exitCode: number | null } }[] = [];
afterEach(() => {
  for (const k of kids.splice(0)) if (k.child.exitCode === null) k.child.kill('SIGKILL');
});

describe('examples', () => {
  it('greeter-bot greets people who join (library embedding against the simulator)', async () => {
    const sim = new DailySimulator({ rooms: ['standup'] });
    const url = await sim.listen();
    sim.join('standup', { userName: 'Already There' });
    const bot = spawnExample(example('greeter-bot.mjs'), [], { DAILY_API_KEY: sim.apiKey, DAILY_API_URL: url, ROOMS: 'standup', INTERVAL_MS: '100' });
    kids.push(bot);
    await bot.until(() => bot.out.stderr.includes('watching standup'));
    sim.join('standup', { userName: 'Ada' });
    await bot.until(() => bot.out.stdout.includes('Welcome to standup, Ada!'));
    expect(bot.out.stdout).not.toContain('Already There');
    bot.child.kill('SIGTERM');
    expect(await bot.exit).toBe(0);
    await sim.close();
  });

  it('webhook-receiver verifies signatures and dedupes by webhook-id, fed by the CLI', async () => {
    const secret = 'whsec_' + Buffer.from('example-secret-bytes-0123456789').toString('base64');
    const recv = spawnExample(example('webhook-receiver.mjs'), ['0'], { PRESENCE_WEBHOOK_SECRET: secret });
    kids.push(recv);
    const url = await recv.until(() => /listening on (\S+)/.exec(recv.out.stderr)?.[1]);
    const sim = new DailySimulator({ rooms: ['standup'] });
    await sim.listen();
    sim.join('standup', { userName: 'Grace' });
    const cli = new CliRun(['--room', 'standup', '--interval', '100ms', '--sink', `webhook:${url}`], {
      DAILY_API_KEY: sim.apiKey,
      DAILY_API_URL: sim.url,
      PRESENCE_WEBHOOK_SECRET: secret,
    });
    kids.push(cli);
    await recv.until(() => recv.out.stdout.includes('join standup Grace'));
    cli.kill('SIGTERM');
    expect((await cli.exit).code).toBe(0);

    // a re-delivery with the same id is acknowledged but not processed twice; a forgery is refused
    const body = JSON.stringify({ id: 'evt_x', type: 'leave', room: 'standup', participant: { userName: 'Grace' } });
    const ts = Math.floor(Date.now() / 1000);
    const headers = { 'content-type': 'application/json', 'webhook-id': 'evt_x', 'webhook-timestamp': String(ts), 'webhook-signature': signWebhook(webhookSecretKey(secret), 'evt_x', ts, body) };
    expect((await fetch(url, { method: 'POST', headers, body })).status).toBe(204);
    expect((await fetch(url, { method: 'POST', headers, body })).status).toBe(200);
    await recv.until(() => recv.out.stderr.includes('duplicate evt_x ignored'));
    expect((await fetch(url, { method: 'POST', headers: { ...headers, 'webhook-id': 'evt_y' }, body })).status).toBe(401);
    await recv.until(() => recv.out.stderr.includes('rejected: bad or missing signature'));
    expect(recv.out.stdout.match(/leave standup Grace/g)).toHaveLength(1);
    recv.child.kill('SIGTERM');
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
