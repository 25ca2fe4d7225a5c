import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, parseAllDocuments } from 'yaml';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULTS, loadConfigFile, resolveConfig } from '../src/config.js';
import { parseDuration } from '../src/util/duration.js';
import { DailySimulator } from '../src/simulator/simulator.js';
import { signWebhook, webhookSecretKey } from '../src/index.js';
import { CliRun, NodeRun, runCli } from './support/cli.js';
import { tempDir } from './support/tmp.js';

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
    const ada = sim.join('standup', { userName: 'Ada', userId: 'u-ada' });
    await bot.until(() => bot.stdout.includes('Welcome to standup, Ada!'));
    expect(bot.stdout).not.toContain('Already There');
    // Ada's connection drops and she is back in a new session: no second welcome, no goodbye
    sim.reconnect('standup', ada.id);
    sim.join('standup', { userName: 'Bea' });
    await bot.until(() => bot.stdout.includes('Welcome to standup, Bea!'));
    expect(bot.stdout.trimEnd().split('\n')).toEqual(['Welcome to standup, Ada!', 'Welcome to standup, Bea!']);
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
    const grace = sim.join('standup', { userName: 'Grace' });
    const cli = new CliRun(['--room', 'standup', '--interval', '100ms', '--sink', `webhook:${url}`], {
      DAILY_API_KEY: sim.apiKey,
      DAILY_API_URL: sim.url,
      PRESENCE_WEBHOOK_SECRET: secret,
    });
    kids.push(cli);
    await recv.until(() => recv.stdout.includes('join standup Grace'));
    // her connection drops and she is back: the pair says so
    const back = sim.reconnect('standup', grace.id)!;
    await recv.until(() => recv.stdout.includes(`leave standup Grace (same user as session ${back.id})`));
    expect(recv.stdout).toContain(`join standup Grace (same user as session ${grace.id})`);
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
    expect(recv.stdout.match(/^leave standup Grace$/gm)).toHaveLength(1);
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

describe('deployment examples (examples/deploy): what they run passes --check-config, and they fit the image', () => {
  const root = fileURLToPath(new URL('..', import.meta.url));
  const deploy = (name: string) => example(`deploy/${name}`);
  const dockerfile = readFileSync(join(root, 'Dockerfile'), 'utf8');
  /** The image's PRESENCE_HEALTH, as its ENV sets it. */
  const imageHealth = /PRESENCE_HEALTH=(\S+)/.exec(dockerfile)![1]!;
  const healthPort = Number(imageHealth.split(':').pop());
  const env = { DAILY_API_KEY: 'k', SLACK_WEBHOOK_URL: 'https://hooks.slack.com/services/T0/B0/secretpart', PRESENCE_HEALTH: imageHealth };

  /**
   * Run the container's arguments with --check-config, as the image would run them: the config
   * mounted at `configAt` is examples/deploy/watcher.yaml, and /data a directory of our own.
   */
  async function checkAsDeployed(args: string[], configAt: string, dataAt = '/data/') {
    const dir = tempDir('deploy');
    const config = join(dir, 'watcher.yaml');
    writeFileSync(config, readFileSync(deploy('watcher.yaml'), 'utf8').replaceAll('/data/', `${dir}/data/`));
    const local = (a: string) => (a === configAt ? config : a.startsWith(dataAt) ? `${dir}/data/${a.slice(dataAt.length)}` : a);
    const r = await runCli([...args.map(local), '--check-config'], env);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('watch        every room of the domain (GET /presence) every 15s');
    expect(r.stdout).toContain('slack-1(hooks.slack.com): events join; ignoring *Bot');
    expect(r.stdout).toContain(`state        ${dir}/data/state.json: none yet`);
    expect(r.stdout).toContain(`health       ${imageHealth}`);
    expect(r.stdout).not.toContain('secretpart');
    return r;
  }

  it('docker-compose.yaml: builds the repository\'s image, mounts the config and a volume on /data, publishes the health port, outlasts the drain at stop', async () => {
    const compose = parse(readFileSync(deploy('docker-compose.yaml'), 'utf8')) as {
      services: Record<string, { build: string; command: string[]; volumes: string[]; ports: string[]; stop_grace_period: string }>;
    };
    const svc = compose.services['presence-watcher']!;
    expect(existsSync(join(dirname(deploy('docker-compose.yaml')), svc.build, 'Dockerfile'))).toBe(true);
    expect(svc.volumes).toContain('./watcher.yaml:/config/watcher.yaml:ro');
    expect(svc.volumes.some((v) => v.endsWith(':/data'))).toBe(true);
    expect(svc.ports.some((p) => p.endsWith(`:${healthPort}`))).toBe(true);
    expect(parseDuration(svc.stop_grace_period)!).toBeGreaterThan(DEFAULTS.drainTimeoutMs);
    await checkAsDeployed(svc.command, '/config/watcher.yaml');
  });

  it('kubernetes.yaml: one replica, Recreate (one daemon per state file), probes on /livez and /healthz at the image\'s port, the config and a volume mounted', async () => {
    const docs = parseAllDocuments(readFileSync(deploy('kubernetes.yaml'), 'utf8')).map((d) => d.toJS() as { kind: string; spec: any });
    const deployment = docs.find((d) => d.kind === 'Deployment')!;
    expect(docs.find((d) => d.kind === 'PersistentVolumeClaim')).toBeDefined();
    expect(deployment.spec.replicas).toBe(1);
    expect(deployment.spec.strategy.type).toBe('Recreate');
    const pod = deployment.spec.template.spec;
    expect(pod.terminationGracePeriodSeconds * 1000).toBeGreaterThan(DEFAULTS.drainTimeoutMs);
    const c = pod.containers[0];
    expect(c.ports[0].containerPort).toBe(healthPort);
    expect(c.livenessProbe.httpGet).toEqual({ path: '/livez', port: c.ports[0].name });
    expect(c.readinessProbe.httpGet).toEqual({ path: '/healthz', port: c.ports[0].name });
    expect(c.volumeMounts.map((m: { mountPath: string }) => m.mountPath).sort()).toEqual(['/config', '/data']);
    expect(pod.securityContext.runAsNonRoot).toBe(true);
    await checkAsDeployed(c.args, '/config/watcher.yaml');
  });

  it('presence-watcher.service: runs the built CLI with the config and the state under its StateDirectory, restarts always, outlasts the drain at stop, no reload by SIGHUP', async () => {
    const unit = readFileSync(deploy('presence-watcher.service'), 'utf8');
    const setting = (key: string) => new RegExp(`^${key}=(.*)$`, 'm').exec(unit)?.[1];
    const [node, cli, ...args] = setting('ExecStart')!.split(' ');
    expect(node).toBe('/usr/bin/node');
    expect(cli).toBe('/opt/presence-watcher/dist/cli.js');
    const state = `/var/lib/${setting('StateDirectory')}/`;
    expect(args.filter((a) => a.startsWith('/var/lib/'))).toEqual([`${state}state.json`, `${state}dead.ndjson`]);
    expect(setting('Restart')).toBe('always');
    expect(parseDuration(`${setting('TimeoutStopSec')}s`)!).toBeGreaterThan(DEFAULTS.drainTimeoutMs);
    expect(setting('ExecReload')).toBeUndefined(); // SIGHUP stops the watcher: a reload would stop it for good
    await checkAsDeployed(args, '/etc/presence-watcher/watcher.yaml', state);
  });
});
