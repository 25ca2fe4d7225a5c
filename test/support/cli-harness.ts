// The CLI tests' shared harness: a simulator (and a temporary directory) made fresh for each test,
// and what each test starts (daemons, receivers, servers) stopped after it. Imported by the CLI test
// files, which it registers its hooks in; `sim` and `dir` are live bindings, new in each test.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterEach, beforeEach } from 'vitest';
import { DailySimulator } from '../../src/simulator/simulator.js';
import { CliRun } from './cli.js';
import { Receiver } from './receiver.js';
import { tempDir } from './tmp.js';

export const SECRET = 'whsec_' + Buffer.from('cli-test-secret-0123456789abcdef').toString('base64');
export let sim: DailySimulator;
export let dir: string;
export const cleanup: (() => Promise<void> | void)[] = [];

beforeEach(async () => {
  sim = new DailySimulator({ rooms: ['standup', 'retro'] });
  await sim.listen();
  dir = tempDir('cli');
});
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
  await sim.close();
});

/** A server holding a free port of 127.0.0.1 until the test ends. */
export async function listenAnywhere() {
  const server = createNetServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanup.push(() => new Promise<void>((r) => server.close(() => r())));
  return { address: () => server.address() as AddressInfo };
}

export function env(extra: Record<string, string> = {}) {
  return { DAILY_API_KEY: sim.apiKey, DAILY_API_URL: sim.url, ...extra };
}

export const FAST = ['--interval', '100ms', '--max-rps', '100'];

export function start(args: string[], e: Record<string, string> = env()): CliRun {
  const run = new CliRun(args, e);
  cleanup.push(async () => {
    if (run.child.exitCode === null && run.child.signalCode === null) {
      run.kill('SIGKILL');
      await run.exit;
    }
  });
  return run;
}

export async function receiver(path = '/hook') {
  const r = new Receiver();
  await r.listen(path);
  cleanup.push(() => r.close());
  return r;
}

/** The base URL the daemon logged for --health, once it is listening. */
export function healthUrl(run: CliRun): Promise<string> {
  return run.until(() => {
    const l = run.logs.find((x) => typeof x.healthz === 'string');
    return l ? String(l.healthz).replace(/\/healthz$/, '') : undefined;
  });
}

/** /healthz, re-fetched after each poll the daemon makes until it is not `status` (bounded). */
export async function healthAfterPolls(url: string, status = 200): Promise<Response> {
  let res = await fetch(`${url}/healthz`);
  for (let polls = 0; res.status === status && polls < 500; polls++) {
    await new Promise<void>((r) => sim.once('request', () => r()));
    res = await fetch(`${url}/healthz`);
  }
  return res;
}

/** A named pipe in the test directory. */
export function fifo(name: string): string {
  const p = join(dir, name);
  execFileSync('mkfifo', [p]);
  return p;
}

export function writeConfig(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

