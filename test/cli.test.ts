import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer as createHttpsServer } from 'node:https';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DailySimulator } from '../src/simulator/simulator.js';
import { verify } from '../src/sinks/signing.js';
import { CLI, CliRun, NodeRun, runCli } from './support/cli.js';
import { ConnectProxy } from './support/proxy.js';
import { waitFor } from './support/helpers.js';
import { onceTimeout } from '../src/cli/main.js';
import { SECRET, sim, dir, cleanup, listenAnywhere, env, FAST, start, receiver, healthUrl, healthAfterPolls, writeConfig } from './support/cli-harness.js';
import { tempDir } from './support/tmp.js';

describe('CLI', () => {
  it('--check-config names every mistake in a config file at once, a line each', async () => {
    const file = writeConfig('many.yaml', 'rooms: standup\nintervall: 15s\nsinks:\n  - type: slack\n    url: https://hooks.slack.com/services/T/B/raw-secret-value\n    events: [joins]\n');
    const r = await runCli(['--config', file, '--check-config'], env());
    expect(r.code).toBe(2);
    expect(r.stderr.split('\n')).toEqual([
      `presence-watcher: ${file}: 3 problems:`,
      '  - rooms: must be a list (in YAML: [a, b], or one "- item" a line), not the text "standup"',
      '  - sinks[0].events[0]: must be one of "join", "leave", "update", not the text "joins" (did you mean "join"?)',
      '  - (top level): unknown setting "intervall" (did you mean "interval"?)',
      'Run "presence-watcher --help" for usage.',
      '',
    ]);
    expect(r.stdout).toBe('');
  });

  it('--help teaches every flag; --version prints the version', async () => {
    const h = await runCli(['--help']);
    expect(h.code).toBe(0);
    for (const flag of ['--room', '--all-rooms', '--interval', '--sink', '--webhook-secret', '--ignore-initial', '--state', '--save-every', '--leave-grace', '--api-url', '--config', '--log-level', '--health', '--max-rps', '--max-body', '--once', '--once-timeout', '--check-config', '--log-format', 'simulate', 'demo', 'replay', 'DAILY_API_KEY', 'Exit codes']) {
      expect(h.stdout).toContain(flag);
    }
    const v = await runCli(['-V']);
    expect(v.code).toBe(0);
    expect(v.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it('help, help <command> and version as words, as git and docker take them (before: "unknown command … to watch a room use --room help")', async () => {
    const [help, replayHelp, own, version, other, extra] = await Promise.all([
      runCli(['help']), runCli(['help', 'replay']), runCli(['replay', '--help']), runCli(['version']), runCli(['help', 'watch']), runCli(['help', '--room', 'standup']),
    ]);
    expect(help.code).toBe(0);
    expect(help.stdout).toBe((await runCli(['--help'])).stdout);
    expect(replayHelp.code).toBe(0);
    expect(replayHelp.stdout).toBe(own.stdout);
    expect(replayHelp.stdout).toMatch(/^presence-watcher replay: /);
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
    expect(other.code).toBe(2);
    expect(other.stderr.split('\n')[0]).toBe('presence-watcher: help: no command "watch" (the commands are simulate, demo and replay; presence-watcher --help describes the watcher itself)');
    expect(extra.code).toBe(2);
    expect(extra.stderr.split('\n')[0]).toBe('presence-watcher: "help" takes at most a command\'s name after it: presence-watcher help, help replay (or --help)');
  });

  it('--log-format text (the default on a terminal) writes log lines a person reads; logFormat in a config file too', async () => {
    const run = start(['--room', 'standup', ...FAST, '--log-format', 'text']);
    await run.until(() => run.stderr.includes('first snapshot taken'));
    run.kill('SIGTERM');
    expect((await run.exit).code).toBe(0);
    const lines = run.stderr.trim().split('\n');
    expect(lines[0]).toMatch(/^\d\d:\d\d:\d\d\.\d{3} INFO  watching 1 room\(s\) every 100ms  mode=rooms rooms=\["standup"\]/);
    expect(lines.every((l) => /^\d\d:\d\d:\d\d\.\d{3} (INFO |WARN |ERROR|DEBUG)/.test(l))).toBe(true);
    expect(run.logs).toEqual([]); // no JSON among them
    const file = start(['--config', writeConfig('text.yaml', 'rooms: [standup]\nlogFormat: text\n'), ...FAST]);
    await file.until(() => file.stderr.includes('first snapshot taken'));
    file.kill('SIGTERM');
    await file.exit;
    expect(file.stderr).toMatch(/^\d\d:\d\d:\d\d\.\d{3} INFO  watching/);
  });

  it('a rejected API key exits 1 saying so', async () => {
    const r = await runCli(['--room', 'standup'], env({ DAILY_API_KEY: 'definitely-wrong-key' }));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/presence-watcher: Daily rejected the API key \(HTTP 401.*\): check DAILY_API_KEY/);
    expect(r.stderr).not.toContain('definitely-wrong-key');
    // a known condition, not a bug: no stack trace in the log lines either
    expect(r.stderr).not.toContain('"stack"');
    expect(r.stdout).toBe('');
  });

  it('says when a webhook secret has no webhook to sign, and when a webhook goes unsigned', async () => {
    const msg = (run: CliRun) => run.logs.map((l) => String(l.msg));
    const stray = start(['--room', 'standup', ...FAST, '--sink', 'stdout', '--webhook-secret', 'raw-secret-value']);
    await stray.until(() => msg(stray).some((m) => m.startsWith('watching')));
    expect(msg(stray)).toContain('a webhook signing secret is set (--webhook-secret, webhookSecret or PRESENCE_WEBHOOK_SECRET) but no webhook sink uses it');
    stray.kill('SIGTERM');
    await stray.exit;
    const r = await receiver();
    const unsigned = start(['--room', 'standup', ...FAST, '--sink', `webhook:${r.url}`]);
    await unsigned.until(() => msg(unsigned).some((m) => m.startsWith('watching')));
    expect(msg(unsigned)).toContain('1 webhook sink(s) deliver unsigned: set --webhook-secret so receivers can verify deliveries');
    unsigned.kill('SIGTERM');
    await unsigned.exit;
    const signed = start(['--room', 'standup', ...FAST, '--sink', `webhook:${r.url}`, '--webhook-secret', 'raw-secret-value']);
    await signed.until(() => msg(signed).some((m) => m.startsWith('watching')));
    expect(msg(signed).filter((m) => /unsigned|no webhook sink|plain http/.test(m))).toEqual([]);
    signed.kill('SIGTERM');
    await signed.exit;
    // plain http to another machine: said once, naming the sink (not its URL, which may hold a token)
    const remote = start(['--room', 'standup', ...FAST, '--sink', 'webhook:http://hooks.example.invalid/in/tok-123', '--webhook-secret', 'raw-secret-value']);
    await remote.until(() => msg(remote).some((m) => m.startsWith('watching')));
    expect(msg(remote)).toContain("webhook-1(hooks.example.invalid) posts over plain http to another machine: events, with people's names, cross the network unencrypted; use https unless that network is yours alone");
    expect(remote.stderr).not.toContain('tok-123');
    remote.kill('SIGTERM');
    await remote.exit;
  });

  it('--max-body caps what is accepted from Daily: an answer over it is a failed poll (no events) that says how to raise it', async () => {
    for (let i = 0; i < 20; i++) sim.join('standup', { userName: `Person ${i}` });
    const small = start(['--room', 'standup', ...FAST, '--max-body', '1KiB']);
    await small.until(() => small.logs.some((l) => (l.err as { code?: string } | undefined)?.code === 'DAILY_RESPONSE_TOO_LARGE'));
    const log = small.logs.find((l) => (l.err as { code?: string } | undefined)?.code === 'DAILY_RESPONSE_TOO_LARGE')!;
    expect(log.msg).toBe('response from Daily for room "standup" exceeds 1024 bytes: if the domain is that large, raise the cap (--max-body, config maxBody, library maxBodyBytes)');
    small.kill('SIGTERM');
    expect((await small.exit).code).toBe(0);
    expect(small.lines).toEqual([]);
    const big = start(['--room', 'standup', ...FAST, '--max-body', '1 MiB']);
    await big.until(() => big.lines.length >= 20);
    big.kill('SIGTERM');
    expect((await big.exit).code).toBe(0);
  });

  it('after a stop, a leave the restart finds says it happened sometime after the saved snapshot, a join while down when it happened (text lines; Slack the same)', async () => {
    // Daily's clock, two hours back: Bob's joinTime and durations, as the state keeps them, are that old
    let now = Date.now() - 2 * 3_600_000;
    const old = new DailySimulator({ rooms: ['standup'], now: () => now });
    await old.listen();
    cleanup.push(() => old.close());
    const e = { DAILY_API_KEY: old.apiKey, DAILY_API_URL: old.url };
    const bob = old.join('standup', { userName: 'Bob' });
    const state = join(dir, 'state.json');
    const args = ['--room', 'standup', '--once', '--state', state, '--sink', 'stdout:text'];
    expect((await runCli(args, e)).code).toBe(0);
    const lastSaved = new Date(now).toISOString().slice(0, 16).replace('T', ' ');
    // while the watcher is down: Bob leaves, Ann joins (an hour before the next run)
    old.leave('standup', bob.id);
    now += 3_600_000;
    const joined = new Date(now).toISOString().slice(0, 16).replace('T', ' ');
    old.join('standup', { userName: 'Ann' });
    now += 3_600_000;
    const next = await runCli(args, e);
    expect(next.code).toBe(0);
    const lines = next.stdout.trim().split('\n').map((l) => l.replace(/^\S+ /, ''));
    expect(lines.sort()).toEqual([`Ann joined standup (at ${joined} UTC)`, `Bob left standup (sometime after ${lastSaved} UTC)`]);
  });

  it('an --ignore-user entry that matches a name but for its case is warned of, once for each name, naming the sinks that get the events', async () => {
    // case counts in the list: "notetaker" for a bot shown as "Notetaker" let it through with nothing said
    sim.join('standup', { userName: 'Notetaker' });
    sim.join('standup', { userName: 'notetaker' }); // matches exactly: ignored, nothing to say
    sim.join('retro', { userName: 'Notetaker' }); // the same name again: said once
    sim.join('retro', { userName: 'Recorder Bot', userId: 'rec-1' });
    sim.join('retro', { userName: 'Ann' });
    const run = await runCli(['--room', 'standup', '--room', 'retro', '--once', '--ignore-user', 'notetaker', '--ignore-user', '*BOT', '--sink', 'stdout:text'], env());
    expect(run.code).toBe(0);
    const warnings = run.stderr.trim().split('\n').map((l) => JSON.parse(l) as { level: number; msg: string }).filter((l) => l.level === 40).map((l) => l.msg);
    expect(warnings.sort()).toEqual([
      'ignoreUsers entry "*BOT" does not match "Recorder Bot" (in retro) only because case counts there: the events about them go to stdout. To ignore them, write the entry in the case that name has',
      'ignoreUsers entry "notetaker" does not match "Notetaker" (in standup) only because case counts there: the events about them go to stdout. To ignore them, write the entry in the case that name has',
    ]);
    // what the warning says is so: they were delivered, the exact match was not
    const lines = run.stdout.trim().split('\n');
    expect(lines.filter((l) => l.includes('Notetaker is in'))).toHaveLength(2);
    expect(lines.filter((l) => l.includes('notetaker is in'))).toHaveLength(0);
    expect(lines.filter((l) => l.includes('Recorder Bot is in'))).toHaveLength(1);
  });

  it('--once: one snapshot, its events delivered, exit 0; with --state the next run reports what changed since', async () => {
    const ann = sim.join('standup', { userName: 'Ann' });
    sim.join('standup', { userName: 'Bob' });
    const state = join(dir, 'once.json');
    const first = await runCli(['--room', 'standup', '--once', '--state', state], env());
    expect(first.code).toBe(0);
    // the log says what --once does, not that it is watching every 15s
    const msgs = first.stderr.trim().split('\n').map((l) => (JSON.parse(l) as { msg: string }).msg);
    expect(msgs).toContain('taking one snapshot of 1 room(s) (--once): 1 request');
    expect(msgs).toContain('snapshot taken: 2 people in 1 room(s), 2 event(s) to deliver; delivering them, then stopping (--once)');
    expect(msgs.filter((m) => /watching/.test(m))).toEqual([]);
    const joins = first.stdout.trim().split('\n').map((l) => JSON.parse(l) as { type: string; initial?: boolean; participant: { userName: string } });
    expect(joins.map((e) => [e.type, e.initial, e.participant.userName])).toEqual([
      ['join', true, 'Ann'],
      ['join', true, 'Bob'],
    ]);
    const quiet = await runCli(['--room', 'standup', '--once', '--state', state], env());
    expect(quiet.code).toBe(0);
    expect(quiet.stdout).toBe('');
    // nothing changed, and the log still says what it found
    expect(quiet.stderr).toContain('"msg":"snapshot taken: 2 people in 1 room(s), 0 event(s) to deliver; delivering them, then stopping (--once)"');
    sim.leave('standup', ann.id);
    const next = await runCli(['--room', 'standup', '--once', '--state', state], env());
    expect(next.code).toBe(0);
    expect(next.stdout.trim().split('\n').map((l) => JSON.parse(l) as { type: string; participant: { userName: string } })).toMatchObject([{ type: 'leave', participant: { userName: 'Ann' } }]);
  });

  it("--once --state on a room Daily lists only part of (over its cap): someone listed in a later run, there since before the last, is no arrival; a newcomer is", async () => {
    // Daily answers at most two of the room's people, in the order they joined
    const capped = new DailySimulator({ rooms: ['big'], defaultLimit: 2 });
    await capped.listen();
    cleanup.push(() => capped.close());
    const e = { DAILY_API_KEY: capped.apiKey, DAILY_API_URL: capped.url };
    const early = Date.now() - 10 * 60_000;
    const ann = capped.join('big', { userName: 'Ann', joinTimeMs: early });
    for (const name of ['Bob', 'Cy', 'Dee']) capped.join('big', { userName: name, joinTimeMs: early + 60_000 });
    const state = join(dir, 'capped.json');
    const args = ['--room', 'big', '--once', '--state', state, '--sink', 'stdout:text'];
    const first = await runCli(args, e);
    expect(first.code).toBe(0);
    expect(first.stdout.trim().split('\n').map((l) => l.replace(/^\S+ /, ''))).toEqual(['Ann is in big (already there when watching started)', 'Bob is in big (already there when watching started)']);
    expect(JSON.parse(readFileSync(state, 'utf8')).partialRooms).toEqual({ big: true });
    // Ann leaves (a partial list shows no leaves) and Eve arrives: Daily now lists Bob and Cy
    capped.leave('big', ann.id);
    capped.join('big', { userName: 'Eve', joinTimeMs: Date.now() });
    const second = await runCli(args, e);
    expect(second.code).toBe(0);
    expect(second.stdout.trim().split('\n').map((l) => l.replace(/^\S+ /, ''))).toEqual(['Cy is in big (already there when watching started)']);
    // Bob and Dee leave: Daily lists Cy and Eve, everyone there, so the list is whole again: Eve came
    // after the first run, and the leaves a partial list could not show come now
    for (const p of capped.presence('big').filter((x) => x.userName === 'Bob' || x.userName === 'Dee')) capped.leave('big', p.id);
    const third = await runCli(args, e);
    expect(third.stdout.trim().split('\n').map((l) => l.replace(/^\S+ /, ''))).toEqual([expect.stringMatching(/^Eve joined big/), expect.stringMatching(/^Bob left big/), expect.stringMatching(/^Ann left big/)]);
  });

  it('--state through a symbolic link: the state, its outbox and its lock are kept where it points, the link stays, and a daemon given another link to the same file finds it in use', async () => {
    sim.join('standup', { userName: 'Ann' });
    const real = join(dir, 'real');
    const linked = join(dir, 'linked');
    mkdirSync(real);
    mkdirSync(linked);
    symlinkSync('../real/state.json', join(linked, 'state.json')); // dangling until the first save
    symlinkSync(join(real, 'state.json'), join(linked, 'other.json'));
    const first = await runCli(['--room', 'standup', '--once', '--state', join(linked, 'state.json')], env());
    expect(first.code).toBe(0);
    expect(first.stderr).toContain(`is a symbolic link: the state, its outbox and its lock are kept beside ${join(real, 'state.json')}, where it points`);
    // before, the rename of the save replaced the link with a file of its own, and the outbox sat beside the link
    expect(lstatSync(join(linked, 'state.json')).isSymbolicLink()).toBe(true);
    expect(readdirSync(real).sort()).toEqual(['state.json', 'state.json.outbox.ndjson']);
    expect(readdirSync(linked).sort()).toEqual(['other.json', 'state.json']);
    const daemon = start(['--room', 'standup', '--state', join(linked, 'state.json'), ...FAST]);
    await daemon.until(() => daemon.logs.some((l) => String(l.msg).startsWith('first snapshot taken')));
    const busy = await runCli(['--room', 'standup', '--state', join(linked, 'other.json'), '--check-config'], env());
    expect(busy.code).toBe(0);
    expect(busy.stdout).toContain(`the state file is in use by a running presence-watcher (pid ${daemon.child.pid})`);
    daemon.kill('SIGTERM');
    expect((await daemon.exit).code).toBe(0);
    expect(lstatSync(join(linked, 'state.json')).isSymbolicLink()).toBe(true);
  });

  it('--once with more rooms than the budget polls in an interval: no warning about polling every 15s, the start line and --check-config say how long the snapshot takes instead', async () => {
    const rooms = Array.from({ length: 12 }, (_, i) => ['--room', i === 0 ? 'standup' : `gone-${i}`]).flat();
    const args = [...rooms, '--once', '--max-rps', '5', '--interval', '1s', '--log-level', 'info'];
    const check = await runCli([...args, '--check-config'], env());
    expect(check.code).toBe(0);
    expect(check.stdout).toMatch(/^ {2}watch {8}12 room\(s\), one snapshot \(--once\): 12 requests, about 3s at --max-rps 5\n {15}standup, gone-1, .*\n(?: {15}.*\n)* {15}.*gone-11\n/m);
    expect(check.stdout).not.toMatch(/requests\/s|every 1s/);
    // without --once, the same flags are over the budget, and said to be
    expect((await runCli([...rooms, '--max-rps', '5', '--interval', '1s', '--check-config'], env())).stdout).toContain('watching 12 rooms every 1s needs 12.0 requests/s, over the budget of 5/s');
    const r = await runCli(args, env());
    expect(r.code).toBe(1); // the 11 rooms Daily does not know
    expect(r.stderr).toMatch(/^presence-watcher: .*gone-1/m);
    const msgs = r.stderr.trim().split('\n').filter((l) => l.startsWith('{')).map((l) => (JSON.parse(l) as { msg: string }).msg);
    expect(msgs).toContain('taking one snapshot of 12 room(s) (--once): 12 requests, about 3s at --max-rps 5');
    expect(msgs.filter((m) => /requests\/s|budget/.test(m))).toEqual([]);
  });

  it('--same-person name, from cron: someone without a token who reconnected between two --once runs is not said to have left and joined; without it, they are', async () => {
    const ann = sim.join('standup', { userName: 'Ann', userId: null });
    sim.join('standup', { userName: 'Bob', userId: null });
    const run = async (state: string, extra: string[] = []) => {
      const r = await runCli(['--room', 'standup', '--once', '--state', state, '--sink', 'stdout:text', '--sink', 'stdout', '--log-level', 'silent', ...extra], env());
      expect(r.code).toBe(0);
      const lines = r.stdout.trimEnd().split('\n');
      return { text: lines.filter((l) => !l.startsWith('{')).map((l) => l.slice(25)), json: lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { type: string; sameUserAs?: string }) };
    };
    const byName = join(dir, 'by-name.json');
    const byUserId = join(dir, 'by-user-id.json');
    await run(byName, ['--same-person', 'name']);
    await run(byUserId);
    const back = sim.reconnect('standup', ann.id)!;
    const named = await run(byName, ['--same-person', 'name']);
    expect(named.text).toEqual([]);
    expect(named.json.map((e) => `${e.type}=${e.sameUserAs}`).sort()).toEqual([`join=${ann.id}`, `leave=${back.id}`]);
    const plain = await run(byUserId);
    expect(plain.text.sort()).toEqual(['Ann joined standup', 'Ann left standup']);
    expect(plain.json.every((e) => e.sameUserAs === undefined)).toBe(true);
  });

  it('a snapshot with more people than --queue-cap reaches a sink that keeps up in full: one poll\'s events never push each other out', async () => {
    for (let i = 0; i < 12; i++) sim.join('standup', { userName: `P${i}` });
    const run = await runCli(['--room', 'standup', '--once', '--queue-cap', '5'], env());
    expect(run.code).toBe(0);
    const names = run.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { participant: { userName: string } }).participant.userName);
    expect(names).toEqual(Array.from({ length: 12 }, (_, i) => `P${i}`));
    const logs = run.stderr.trim().split('\n').map((l) => JSON.parse(l) as { level: number; msg: string });
    expect(logs.filter((l) => l.level >= 40)).toEqual([]); // nothing dead-lettered, no warning
    expect(logs.map((l) => l.msg)).toContainEqual(expect.stringMatching(/^12 events arrived at once \(a poll's\), more than the queue's cap of 5: all are held/));
  });

  it('--once --leave-grace from cron: a leave pending when one run ends is reported by a later run once the grace has passed', async () => {
    const ann = sim.join('standup', { userName: 'Ann' });
    const state = join(dir, 'grace.json');
    const run = () => runCli(['--room', 'standup', '--once', '--state', state, '--leave-grace', '5m', '--log-level', 'silent'], env());
    expect((await run()).stdout).toContain('"type":"join"');
    sim.leave('standup', ann.id);
    const pending = await run();
    expect(pending.code).toBe(0);
    expect(pending.stdout).toBe(''); // within the grace
    const saved = JSON.parse(readFileSync(state, 'utf8')) as { pendingLeaves: Record<string, Record<string, string>> };
    expect(Object.keys(saved.pendingLeaves.standup!)).toEqual([ann.id]);
    // the next cron run comes after the grace: what a wait would do, written into the state
    const check = await runCli(['--room', 'standup', '--state', state, '--leave-grace', '5m', '--check-config'], env());
    expect(check.stdout).toMatch(/state {8}.*: saved .*, 1 room\(s\), 1 people \(1 of them missing, their leave pending: --leave-grace\)\n/);
    expect(check.stdout).toContain('leaves       after 5m absent (--leave-grace): someone back within it gets neither leave nor join\n');
    saved.pendingLeaves.standup![ann.id] = new Date(Date.now() - 6 * 60_000).toISOString();
    writeFileSync(state, JSON.stringify(saved));
    const next = await run();
    expect(next.code).toBe(0);
    expect(next.stdout.trim().split('\n').map((l) => JSON.parse(l) as { type: string; participant: { userName: string } })).toMatchObject([{ type: 'leave', participant: { userName: 'Ann' } }]);
    expect((JSON.parse(readFileSync(state, 'utf8')) as { pendingLeaves?: unknown }).pendingLeaves).toBeUndefined();
  });

  it('--once from cron: a room whose answers were bad until --once-timeout is not saved as seen, so the next run says its people were already there', async () => {
    sim.join('standup', { userName: 'Ann' });
    sim.join('retro', { userName: 'Bo' });
    const state = join(dir, 'bad-first.json');
    const run = () => runCli(['--room', 'standup', '--room', 'retro', '--once', '--once-timeout', '1s', '--state', state, '--sink', 'stdout:text', '--log-level', 'silent'], env());
    sim.inject({ fault: { kind: 'malformed' }, on: 'standup', times: 1_000 });
    const first = await run();
    expect(first.code).toBe(1);
    expect(first.stdout).toMatch(/ Bo is in retro \(already there when watching started\)\n$/);
    expect(Object.keys((JSON.parse(readFileSync(state, 'utf8')) as { rooms: object }).rooms)).toEqual(['retro']);
    sim.clearFaults();
    const next = await run();
    expect(next.code).toBe(0);
    expect(next.stdout).toMatch(/^\S+ Ann is in standup \(already there when watching started\)\n$/);
  });

  it('a receiver whose certificate this machine does not trust: the error says what to do, and doing it works', async () => {
    // a self-signed certificate for localhost and 127.0.0.1, valid until 2126 (test/support/tls)
    const tls = join(import.meta.dirname, 'support', 'tls');
    const got: string[] = [];
    const server = createHttpsServer({ key: readFileSync(join(tls, 'key.pem')), cert: readFileSync(join(tls, 'cert.pem')) }, (req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += String(c)));
      req.on('end', () => {
        got.push(body);
        res.end('ok');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      sim.join('standup', { userName: 'Ann' });
      const url = `https://localhost:${(server.address() as { port: number }).port}/hook`;
      const args = ['--room', 'standup', '--once', '--sink', `webhook:${url}`, '--drain-timeout', '1s', '--log-format', 'text'];
      const untrusted = await runCli(args, env());
      expect(untrusted.code).toBe(1);
      expect(untrusted.stderr).toMatch(/delivery failed, will retry: network error posting to localhost:\d+: DEPTH_ZERO_SELF_SIGNED_CERT .*\(the certificate is not signed by a CA this machine trusts: if it is your own or your proxy's CA, give its certificate to Node with NODE_EXTRA_CA_CERTS=\/path\/to\/ca\.pem\)/);
      expect(got).toEqual([]);
      const trusted = await runCli(args, env({ NODE_EXTRA_CA_CERTS: join(tls, 'cert.pem') }));
      expect(trusted.code).toBe(0);
      expect(got.map((b) => (JSON.parse(b) as { type: string }).type)).toEqual(['join']);
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  });

  it('--once\'s default time allows for the request budget: 30 s plus what --max-rps needs to poll every room once', () => {
    expect(onceTimeout({ allRooms: false, rooms: ['standup'], maxRps: 5 })).toBe(30_000);
    expect(onceTimeout({ allRooms: false, rooms: Array.from({ length: 200 }, (_, i) => `r${i}`), maxRps: 5 })).toBe(70_000);
    expect(onceTimeout({ allRooms: false, rooms: ['a', 'b', 'c'], maxRps: 0.1 })).toBe(50_000);
    expect(onceTimeout({ allRooms: true, rooms: [], maxRps: 0.1 })).toBe(30_000); // one request
  });

  it('--once that runs out of time behind the request budget says so, and what to change', async () => {
    const r = await runCli(['--room', 'standup', '--room', 'retro', '--room', 'design', '--once', '--max-rps', '0.1', '--once-timeout', '1s', '--log-level', 'silent'], env());
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n').at(-1)).toBe(
      'presence-watcher: --once: no complete snapshot within 1s (1 of 3 rooms answered: at --max-rps 0.1, 3 requests take about 20s; raise --once-timeout or --max-rps, or use --all-rooms, one request for every room)',
    );
  });

  it('--sink stdout:text prints a line a person reads per event: "who is in standup now?"', async () => {
    sim.join('standup', { userName: 'Ann' });
    sim.join('standup', { userName: 'Bob' });
    const r = await runCli(['--room', 'standup', '--once', '--sink', 'stdout:text', '--log-level', 'silent'], env());
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z Ann is in standup \(already there when watching started\)$/);
    expect(lines[1]).toMatch(/ Bob is in standup \(already there when watching started\)$/);
  });

  it('--once exits 1 saying why when there is no complete snapshot in time, or an event is not delivered', async () => {
    const down = await runCli(['--room', 'standup', '--once', '--once-timeout', '1s', '--log-level', 'silent'], env({ DAILY_API_URL: 'http://127.0.0.1:9/v1' }));
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(/^presence-watcher: --once: no complete snapshot within 1s \(last error: network error talking to Daily for room "standup": connect ECONNREFUSED 127\.0\.0\.1:9 \(nothing accepts connections on that port there: is it running, and is the port right\?(; this process runs in a container, .*)?\)\)\n$/);
    sim.join('standup', { userName: 'Cy' });
    const r = await receiver();
    r.fallback = { status: 400, body: 'no' };
    const refused = await runCli(['--room', 'standup', '--once', '--sink', `webhook:${r.url}`, '--log-level', 'silent'], env());
    expect(refused.code).toBe(1);
    expect(refused.stderr).toBe('presence-watcher: --once: 1 event(s) not delivered (dead-lettered)\n');
  });

  it('--once with a room Daily does not know: the other rooms\' events, then exit 1 at once naming the room (not after --once-timeout)', async () => {
    sim.join('standup', { userName: 'Ann' });
    const r = await runCli(['--room', 'standup', '--room', 'no-such-room', '--once', '--once-timeout', '60s', '--sink', 'stdout:text', '--log-level', 'silent'], env());
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/ Ann is in standup \(already there when watching started\)\n$/);
    expect(r.stderr).toMatch(/^presence-watcher: --once: room "no-such-room" not found \(HTTP 404[^\n]*\): check the room name\n$/);
    // the message is the 404's, not "no complete snapshot within 60s": it did not wait for the timeout
  });

  it('--once with many rooms Daily does not know: the refusal once in full, then the other rooms refused the same way by name (ten at most)', async () => {
    sim.join('standup', { userName: 'Ann' });
    const unknown = Array.from({ length: 12 }, (_, i) => `gone-${i + 1}`);
    const r = await runCli(['--room', 'standup', ...unknown.flatMap((n) => ['--room', n]), '--once', '--max-rps', '20', '--sink', 'stdout:text', '--log-level', 'silent'], env());
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/ Ann is in standup \(already there when watching started\)\n$/);
    // which unknown room is refused first depends on the order their answers come back in
    const line = /^presence-watcher: --once: room "(gone-\d+)" not found \(HTTP 404[^\n]*\): check the room name; the same for 11 more rooms: ((?:"gone-\d+", ){10})…\n$/.exec(r.stderr);
    expect(line, r.stderr).not.toBeNull();
    const named = [line![1], ...[...line![2]!.matchAll(/"(gone-\d+)"/g)].map((m) => m[1])];
    expect(new Set(named).size).toBe(11);
    expect(named.every((n) => unknown.includes(n!))).toBe(true);
  });

  it('--once with a room Daily does not know listed first: exits once the last room answers, not at the unknown room\'s next poll', async () => {
    sim.join('standup', { userName: 'Ann' });
    // an interval longer than the run may take: the unknown room is polled once, before standup
    const r = await runCli(['--room', 'no-such-room', '--room', 'standup', '--once', '--interval', '10m', '--once-timeout', '10m', '--sink', 'stdout:text', '--log-level', 'silent'], env());
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/ Ann is in standup \(already there when watching started\)\n$/);
    expect(r.stderr).toMatch(/^presence-watcher: --once: room "no-such-room" not found \(HTTP 404[^\n]*\): check the room name\n$/);
  });

  it('--once with a rejected key: the fatal error, as without --once', async () => {
    const r = await runCli(['--room', 'standup', '--once', '--log-level', 'silent'], env({ DAILY_API_KEY: 'wrong-key' }));
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('presence-watcher: Daily rejected the API key (HTTP 401 authentication-error): check DAILY_API_KEY. Exiting.\n');
  });

  it('trims a line break around the API key (a key read from a secret file) instead of failing every request', async () => {
    sim.join('standup', { userName: 'Ada' });
    const run = start(['--room', 'standup', ...FAST], env({ DAILY_API_KEY: `  ${sim.apiKey}\n` }));
    await run.until(() => run.lines.length >= 1);
    expect(JSON.parse(run.lines[0]!).participant.userName).toBe('Ada');
    run.kill('SIGTERM');
    expect((await run.exit).code).toBe(0);
    expect(run.stderr).not.toMatch(/"level":(40|50)/);
  });

  it('stdout carries only NDJSON events; SIGTERM exits 0', async () => {
    sim.join('standup', { userName: 'Ada' });
    const run = start(['--room', 'standup', '--room', 'retro', ...FAST]);
    await run.until(() => run.lines.length >= 1);
    const bob = sim.join('retro', { userName: 'Bob' });
    await run.until(() => run.lines.length >= 2);
    sim.rename('retro', bob.id, 'Bobby');
    await run.until(() => run.lines.length >= 3);
    sim.leave('retro', bob.id);
    await run.until(() => run.lines.length >= 4);
    run.kill('SIGTERM');
    const { code } = await run.exit;
    expect(code).toBe(0);
    const events = run.stdout.trimEnd().split('\n').map((l) => JSON.parse(l));
    expect(events.map((e) => `${e.type}:${e.room}:${e.participant.userName}`)).toEqual([
      'join:standup:Ada',
      'join:retro:Bob',
      'update:retro:Bobby',
      'leave:retro:Bobby',
    ]);
    expect(events[0]).toEqual({
      id: expect.stringMatching(/^evt_/),
      type: 'join',
      room: 'standup',
      at: expect.any(String),
      participant: { id: expect.any(String), userId: expect.any(String), userName: 'Ada', mtgSessionId: expect.any(String), joinTime: expect.any(String), duration: expect.any(Number) },
      initial: true,
    });
    expect(events[2].changes).toEqual({ userName: { from: 'Bob', to: 'Bobby' } });
    // logs are JSON on stderr
    expect(run.logs.length).toBeGreaterThan(0);
  });

  it('webhook deliveries verify, keep one webhook-id across retries, and arrive once, each person\'s in order, despite failures', async () => {
    const r = await receiver();
    r.script = [{ status: 500 }, { drop: true }, { status: 503, headers: { 'retry-after': '0' } }, { status: 502 }];
    for (const name of ['A', 'B', 'C']) sim.join('standup', { userName: name });
    const run = start(['--room', 'standup', ...FAST, '--sink', `webhook:${r.url}`], env({ PRESENCE_WEBHOOK_SECRET: SECRET }));
    await waitFor(r, 'request', () => r.accepted.length >= 3, 20_000);
    const d = sim.join('standup', { userName: 'D' });
    await waitFor(r, 'request', () => r.accepted.length >= 4, 20_000);
    sim.leave('standup', d.id);
    await waitFor(r, 'request', () => r.accepted.length >= 5, 20_000);
    run.kill('SIGTERM');
    expect((await run.exit).code).toBe(0);
    for (const req of r.requests) expect(verify(SECRET, req.headers as Record<string, string>, req.body)).toBe(true);
    // four failed attempts, retried under the event's own webhook-id (A, B and C go at once: the
    // failures fall on whichever arrives first)
    expect(r.requests.length).toBe(9);
    for (const req of r.requests) expect(req.headers['webhook-id']).toBe(JSON.parse(req.body).id);
    const delivered = r.accepted.map((x) => JSON.parse(x.body));
    expect(delivered.map((e) => e.id)).toEqual(delivered.map((e) => e.id).filter((id, i, a) => a.indexOf(id) === i));
    const seen = delivered.map((e) => `${e.type}:${e.participant.userName}`);
    expect(seen.slice(0, 3).sort()).toEqual(['join:A', 'join:B', 'join:C']);
    expect(seen.slice(3)).toEqual(['join:D', 'leave:D']);
    expect(r.accepted.map((x) => x.headers['webhook-id'])).toEqual(delivered.map((e) => e.id));
    expect(r.requests[0]!.headers['user-agent']).toMatch(/^daily-presence-watcher\/\d+\.\d+\.\d+$/);
  });

  it('Slack: 429 is waited out, bursts grouped, text names person, room and action', async () => {
    const slack = await receiver('/services/T000/B000/slacktokensecret');
    slack.script = [{ status: 429, body: 'rate_limited', headers: { 'retry-after': '1' } }];
    sim.join('standup', { userName: 'Moishe' });
    const run = start(['--room', 'standup', ...FAST, '--sink', `slack:${slack.url}`]);
    await waitFor(slack, 'request', () => slack.accepted.length >= 1, 15_000);
    expect(slack.requests[0]!.status).toBe(429);
    expect(slack.requests[1]!.at - slack.requests[0]!.at).toBeGreaterThanOrEqual(990);
    const msg = JSON.parse(slack.accepted[0]!.body);
    expect(msg.text).toContain('Moishe is in standup');
    run.kill('SIGTERM');
    expect((await run.exit).code).toBe(0);
  });

  it('a reconnect (a new session of the same userId) reaches webhooks as a marked leave and join, and Slack and text lines not at all: the person never left', async () => {
    const hook = await receiver();
    const slack = await receiver('/services/T000/B000/slacktokensecret');
    const ann = sim.join('standup', { userName: 'Ann', userId: 'u-ann' });
    const bob = sim.join('standup', { userName: 'Bob', userId: 'u-bob' });
    const run = start(['--room', 'standup', ...FAST, '--leave-grace', '1s', '--sink', `webhook:${hook.url}`, '--sink', `slack:${slack.url}`, '--sink', 'stdout:text', '--health', '127.0.0.1:0']);
    const delivered = () => hook.accepted.map((x) => JSON.parse(x.body) as { type: string; participant: { id: string; userName: string }; sameUserAs?: string });
    const shown = () => delivered().map((e) => `${e.type}:${e.participant.id}${e.sameUserAs ? `=${e.sameUserAs}` : ''}`);
    await waitFor(hook, 'request', () => hook.accepted.length >= 2, 15_000);
    // gone and back in a new session between two polls: the leave comes with the join, not a grace
    // later (a webhook takes 4 at once: two people's events may arrive in either order)
    const ann2 = sim.reconnect('standup', ann.id)!;
    await waitFor(hook, 'request', () => hook.accepted.length >= 4, 15_000);
    expect(shown().slice(2).sort()).toEqual([`join:${ann2.id}=${ann.id}`, `leave:${ann.id}=${ann2.id}`]);
    // the new session listed before Daily drops the old one
    const ann3 = sim.reconnect('standup', ann2.id, { overlap: true })!;
    await waitFor(hook, 'request', () => hook.accepted.length >= 5, 15_000);
    sim.leave('standup', ann2.id);
    await waitFor(hook, 'request', () => hook.accepted.length >= 6, 15_000);
    expect(shown().slice(4)).toEqual([`join:${ann3.id}=${ann2.id}`, `leave:${ann2.id}=${ann3.id}`]);
    // a real departure still reaches everyone
    sim.leave('standup', bob.id);
    await waitFor(slack, 'request', () => slack.accepted.some((r) => r.body.includes('Bob left standup')), 15_000);
    await run.until(() => run.stdout.includes('Bob left standup'));
    const metrics = await (await fetch(`${await healthUrl(run)}/metrics`)).text();
    expect(metrics).toContain('presence_watcher_same_user_events_total{type="join"} 2');
    expect(metrics).toContain('presence_watcher_same_user_events_total{type="leave"} 2');
    expect(metrics).toContain('presence_watcher_events_total{type="leave"} 3');
    run.kill('SIGTERM');
    expect((await run.exit).code).toBe(0);
    expect(shown().at(-1)).toBe(`leave:${bob.id}`);
    expect(delivered()).toHaveLength(7);
    const slackText = slack.accepted.map((r) => (JSON.parse(r.body) as { blocks: { text?: { text: string } }[] }).blocks.map((b) => b.text?.text ?? '').join('\n')).join('\n');
    expect(slackText.split('\n')).toEqual(['• Ann is in standup (already there when watching started)', '• Bob is in standup (already there when watching started)', '• Bob left standup']);
    expect(run.lines.map((l) => l.slice(25))).toEqual(['Ann is in standup (already there when watching started)', 'Bob is in standup (already there when watching started)', 'Bob left standup']);
  });

  it('Slack with roomUrl (config file): each join links to its call', async () => {
    const slack = await receiver('/services/T000/B000/slacktokensecret');
    sim.join('standup', { userName: 'Moishe' });
    const cfg = writeConfig('slack.yaml', ['rooms: [standup]', 'sinks:', '  - type: slack', `    url: ${slack.url}`, '    roomUrl: https://acme.daily.co/{room}'].join('\n'));
    const run = start(['--config', cfg, ...FAST]);
    await waitFor(slack, 'request', () => slack.accepted.length >= 1, 15_000);
    run.kill('SIGTERM');
    expect((await run.exit).code).toBe(0);
    const msg = JSON.parse(slack.accepted[0]!.body) as { blocks: { text: { text: string } }[] };
    expect(msg.blocks[0]!.text.text).toBe('• Moishe is in standup (already there when watching started) · <https://acme.daily.co/standup|join>');
  });

  it('a secret rotation: --webhook-secret twice signs every delivery with both, so receivers holding either accept it', async () => {
    const r = await receiver();
    const OLD = 'whsec_' + Buffer.from('cli-test-the-old-secret-0123456').toString('base64');
    sim.join('standup', { userName: 'A' });
    const run = start(['--room', 'standup', ...FAST, '--sink', `webhook:${r.url}`, '--webhook-secret', SECRET, '--webhook-secret', OLD]);
    await waitFor(r, 'request', () => r.accepted.length >= 1, 15_000);
    run.kill('SIGTERM');
    expect((await run.exit).code).toBe(0);
    const got = r.accepted[0]!;
    const headers = got.headers as Record<string, string>;
    expect(headers['webhook-signature']!.split(' ')).toHaveLength(2);
    expect(verify(SECRET, headers, got.body)).toBe(true);
    expect(verify(OLD, headers, got.body)).toBe(true);
    expect(run.stderr).not.toContain(OLD.slice(6));
  });

  it('secrets from files, as Docker and Kubernetes mount them: the API key, the signing secret and a config file\'s ${NAME}, each from <NAME>_FILE', async () => {
    const r = await receiver('/in/webhook-path-token-9z');
    const slack = await receiver('/services/T0FILE/B0FILE/slack-token-from-file');
    sim.join('standup', { userName: 'Ada' });
    const secretFile = (name: string, text: string) => {
      const path = join(dir, name);
      writeFileSync(path, text, { mode: 0o600 });
      return path;
    };
    const cfg = writeConfig('secret-files.yaml', ['rooms: [standup]', 'sinks:', '  - type: webhook', '    url: ${HOOK_URL}', '  - type: slack', '    url: ${SLACK_URL}'].join('\n'));
    const secretEnv = {
      DAILY_API_URL: sim.url,
      DAILY_API_KEY_FILE: secretFile('daily_api_key', `${sim.apiKey}\n`),
      PRESENCE_WEBHOOK_SECRET_FILE: secretFile('webhook_secret', `${SECRET}\n`),
      HOOK_URL_FILE: secretFile('hook_url', `${r.url}\n`),
      SLACK_URL_FILE: secretFile('slack_url', `${slack.url}\n`),
    };
    // --check-config says which file the key comes from (never the key)
    const check = await runCli(['--config', cfg, '--check-config'], secretEnv);
    expect(check.code).toBe(0);
    expect(check.stdout).toContain(`api          ${sim.url}, key from DAILY_API_KEY_FILE (${secretEnv.DAILY_API_KEY_FILE})\n`);
    expect(check.stdout).toContain('webhook-1(127.0.0.1:');
    expect(check.stdout + check.stderr).not.toContain(sim.apiKey);
    const run = start(['--config', cfg, ...FAST], secretEnv);
    await waitFor(r, 'request', () => r.accepted.length >= 1, 15_000);
    await waitFor(slack, 'request', () => slack.accepted.length >= 1, 15_000);
    run.kill('SIGTERM');
    expect((await run.exit).code).toBe(0);
    const got = r.accepted[0]!;
    expect((JSON.parse(got.body) as { participant: { userName: string } }).participant.userName).toBe('Ada');
    expect(verify(SECRET, got.headers as Record<string, string>, got.body)).toBe(true);
    expect((JSON.parse(slack.accepted[0]!.body) as { text: string }).text).toContain('Ada is in standup');
    for (const secret of [sim.apiKey, SECRET.slice(6), 'webhook-path-token-9z', 'slack-token-from-file']) expect(run.stderr).not.toContain(secret);
  });

  it('no secret reaches stderr, even at debug level and on errors', async () => {
    const slackToken = 'T0SECRET/B0SECRET/xoxSlackToken123';
    const hookToken = 'hook-token-abc987';
    const slack = await receiver(`/services/${slackToken}`);
    const hook = await receiver(`/h/${hookToken}?sig=querysecret42`);
    slack.script = [{ status: 500, body: 'rollup_error' }];
    hook.script = [{ status: 500 }, { drop: true }];
    sim.join('standup', { userName: 'A' });
    const apiKey = 'sim-key-which-is-secret-777';
    const sim2 = new DailySimulator({ rooms: ['standup'], apiKey });
    const url2 = await sim2.listen();
    cleanup.push(() => sim2.close());
    sim2.join('standup', { userName: 'A' });
    const run = start(
      ['--room', 'standup', ...FAST, '--log-level', 'debug', '--sink', `slack:${slack.url}`, '--sink', `webhook:${hook.url}`, '--sink', 'stdout'],
      { DAILY_API_KEY: apiKey, DAILY_API_URL: url2, PRESENCE_WEBHOOK_SECRET: SECRET },
    );
    await waitFor(hook, 'request', () => hook.accepted.length >= 1, 15_000);
    await waitFor(slack, 'request', () => slack.accepted.length >= 1, 15_000);
    sim2.inject({ kind: 'status', status: 500 });
    await run.until(() => run.stderr.includes('Daily server error'));
    run.kill('SIGTERM');
    await run.exit;
    expect(run.stderr).toContain('delivery failed, will retry');
    for (const secret of [apiKey, slackToken, hookToken, 'querysecret42', SECRET, SECRET.slice(6), slack.url, hook.url]) {
      expect(run.stderr).not.toContain(secret);
    }
  });

  it('a webhook sink\'s headers (a gateway\'s Authorization, an API key) go with every delivery, retries included, and their values stay out of the logs', async () => {
    const r = await receiver();
    r.script = [{ status: 503 }];
    sim.join('standup', { userName: 'A' });
    const token = 'gateway-token-5f3a9c';
    const cfg = writeConfig(
      'headers.yaml',
      ['rooms: [standup]', 'sinks:', `  - type: webhook`, `    url: ${r.url}`, '    headers:', '      Authorization: Bearer ${GATEWAY_TOKEN}', '      X-Api-Key: key-in-the-file-77', '      User-Agent: our-gateway-client'].join('\n'),
    );
    const run = start(['--config', cfg, ...FAST, '--log-level', 'debug'], env({ GATEWAY_TOKEN: token }));
    await waitFor(r, 'request', () => r.accepted.length >= 1, 15_000);
    run.kill('SIGTERM');
    expect((await run.exit).code).toBe(0);
    expect(r.requests.length).toBeGreaterThanOrEqual(2); // the 503, then the retry
    for (const req of r.requests) {
      expect(req.headers.authorization).toBe(`Bearer ${token}`);
      expect(req.headers['x-api-key']).toBe('key-in-the-file-77');
      expect(req.headers['user-agent']).toBe('our-gateway-client');
      expect(req.headers['content-type']).toBe('application/json');
    }
    expect(run.stderr).toContain('delivery failed, will retry');
    for (const secret of [token, 'key-in-the-file-77']) expect(run.stderr).not.toContain(secret);
  });

  it.each(['SIGTERM', 'SIGHUP'] as const)('%s drains queued deliveries before exiting 0', async (signal) => {
    const r = await receiver();
    r.fallback = { delayMs: 300, then: { status: 200 } };
    for (const name of ['A', 'B', 'C', 'D', 'E']) sim.join('standup', { userName: name });
    const run = start(['--room', 'standup', ...FAST, '--sink', `webhook:${r.url}`]);
    await waitFor(r, 'request', () => r.requests.length >= 1, 15_000);
    run.kill(signal);
    const { code } = await run.exit;
    expect(code).toBe(0);
    // (up to four at once: in any order)
    expect(r.accepted.map((x) => JSON.parse(x.body).participant.userName).sort()).toEqual(['A', 'B', 'C', 'D', 'E']);
  });

  it('what cannot be delivered within the drain deadline goes to the dead-letter file', async () => {
    const r = await receiver();
    r.fallback = { status: 503 };
    const deadLetter = join(dir, 'dead.ndjson');
    sim.join('standup', { userName: 'A' });
    const run = start(['--room', 'standup', ...FAST, '--sink', `webhook:${r.url}`, '--dead-letter', deadLetter, '--drain-timeout', '300ms']);
    await waitFor(r, 'request', () => r.requests.length >= 1, 15_000);
    run.kill('SIGTERM');
    expect((await run.exit).code).toBe(0);
    const lines = readFileSync(deadLetter, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l));
    expect(lines).toHaveLength(1);
    expect(lines[0].event.participant.userName).toBe('A');
    expect(lines[0].reason).toMatch(/shutdown deadline/);
  });

  it('the log counts every event the dead-letter file got: its warning is said once, and what went unsaid at debug is said at the stop', async () => {
    const r = await receiver();
    r.fallback = { status: 410 };
    const deadLetter = join(dir, 'gone.ndjson');
    for (const userName of ['A', 'B', 'C', 'D', 'E', 'F']) sim.join('standup', { userName });
    const run = start(['--room', 'standup', ...FAST, '--sink', `webhook:${r.url}`, '--dead-letter', deadLetter]);
    expect((await run.exit).code).toBe(1); // every sink disabled
    const inFile = readFileSync(deadLetter, 'utf8').trimEnd().split('\n').length;
    expect(inFile).toBe(6);
    const said = run.logs.filter((l) => /event\(s\) written to the dead-letter file/.test(String(l.msg)));
    expect(said.length).toBeGreaterThanOrEqual(2); // the first write's, and the stop's
    expect(said.at(-1)).toMatchObject({ level: 40, msg: expect.stringMatching(/^\d+ more event\(s\) written to the dead-letter file since it was last logged$/) });
    expect(said.reduce((n, l) => n + Number(l.count ?? 0) + Number(l.repeated ?? 0), 0)).toBe(inFile);
  });

  it('config file: YAML, ${ENV} secrets, per-sink filters (a room pattern), flags override', async () => {
    const slack = await receiver('/slack');
    const hook = await receiver('/hook');
    const cfg = writeConfig(
      'watcher.yaml',
      [
        'apiKey: ${MY_DAILY_KEY}',
        'rooms: [standup, retro]',
        'interval: 5s # overridden by the flag',
        'maxRps: 100',
        'sinks:',
        '  - type: slack',
        '    url: ${SLACK_URL}',
        '    events: [join]',
        '    rooms: ["stand*"]',
        '  - type: webhook',
        `    url: ${hook.url}`,
        '',
      ].join('\n'),
    );
    const run = start(['--config', cfg, '--interval', '100ms'], { MY_DAILY_KEY: sim.apiKey, DAILY_API_URL: sim.url, SLACK_URL: slack.url });
    await run.until(() => run.logs.some((l) => String(l.msg).startsWith('first snapshot taken')));
    const a = sim.join('standup', { userName: 'Ann' });
    sim.join('retro', { userName: 'Rex' });
    await waitFor(hook, 'request', () => hook.accepted.length >= 2, 10_000);
    sim.leave('standup', a.id);
    await waitFor(hook, 'request', () => hook.accepted.length >= 3, 10_000);
    await waitFor(slack, 'request', () => slack.accepted.length >= 1, 10_000);
    run.kill('SIGTERM');
    expect((await run.exit).code).toBe(0);
    // the start line says which sink filters what, so "why no alert?" has an answer in the log
    const startLine = run.logs.find((l) => String(l.msg).startsWith('watching 2 room(s)'));
    expect(startLine?.filters).toEqual({ [`slack-1(${new URL(slack.url).host})`]: { events: ['join'], rooms: ['stand*'] } });
    const slackText = slack.accepted.map((x) => JSON.parse(x.body).text).join('\n');
    expect(slackText).toContain('Ann joined standup');
    expect(slackText).not.toContain('Rex');
    expect(slackText).not.toContain('left');
    expect(hook.accepted.map((x) => JSON.parse(x.body).type).sort()).toEqual(['join', 'join', 'leave']);
  });

  it('--ignore-user: no events about the people it names or matches, by userName or userId; --events: only those types', async () => {
    sim.join('standup', { userName: 'Pipecat Bot' });
    const ann = sim.join('standup', { userName: 'Ann' });
    sim.join('standup', { userName: 'Zed', userId: 'svc-recorder' });
    const run = start(['--room', 'standup', ...FAST, '--ignore-user', '*Bot', '--ignore-user', 'svc-recorder', '--events', 'join']);
    await run.until(() => run.lines.length >= 1);
    const bob = sim.join('standup', { userName: 'Bob' });
    sim.join('standup', { userName: 'Helper Bot' });
    await run.until(() => run.lines.length >= 2);
    sim.leave('standup', ann.id);
    sim.rename('standup', bob.id, 'Robert');
    // two more requests: the first saw the leave and the rename, and a room's polls never overlap
    const served = sim.requests.length;
    await waitFor(sim, 'request', () => sim.requests.length >= served + 2, 10_000);
    // a join after them: once it is out, they were handled (a sink keeps order)
    sim.join('standup', { userName: 'Cy' });
    await run.until(() => run.lines.length >= 3);
    run.kill('SIGTERM');
    expect((await run.exit).code).toBe(0);
    expect(run.lines.map((l) => `${JSON.parse(l).type} ${JSON.parse(l).participant.userName}`)).toEqual(['join Ann', 'join Bob', 'join Cy']);
  });

  it('a port in use, for --health or simulate, is a usage error saying so and what to do, not a bare EADDRINUSE', async () => {
    const taken = await listenAnywhere();
    const port = taken.address().port;
    const daemon = await runCli(['--room', 'standup', '--health', `127.0.0.1:${port}`, '--log-level', 'silent'], env());
    expect(daemon.code).toBe(2);
    expect(daemon.stderr).toContain(`presence-watcher: --health 127.0.0.1:${port}: cannot listen: the port is in use (by another program, or another watcher still running): pick another port, or stop that one\n`);
    const simulator = await runCli(['simulate', '--port', String(port)], {});
    expect(simulator.code).toBe(2);
    expect(simulator.stderr).toContain(`cannot listen on 127.0.0.1:${port}: the port is in use`);
  });

  it('the first snapshot\'s line says how many people it found, and in how many rooms: nobody at all (a key for another domain, the wrong rooms) shows at start', async () => {
    sim.join('standup', { userName: 'Ann' });
    sim.join('standup', { userName: 'Bob' });
    const rooms = start(['--room', 'standup', '--room', 'retro', ...FAST]);
    const line = await rooms.until(() => rooms.logs.find((l) => String(l.msg).startsWith('first snapshot taken')));
    expect(line.msg).toBe('first snapshot taken: 2 people present, in 1 of the 2 room(s) watched; watching for changes');
    expect(line).toMatchObject({ people: 2, rooms: 1, targets: 2 });
    // a room Daily does not know never gets a first snapshot: the line comes once the others have
    // answered, naming it (before, with no `ready`, it never came)
    const missing = start(['--room', 'standup', '--room', 'retro', '--room', 'nosuch', ...FAST]);
    const partly = await missing.until(() => missing.logs.find((l) => String(l.msg).startsWith('first snapshot taken')));
    expect(partly.msg).toBe('first snapshot taken: 2 people present, in 1 of the 2 room(s) that answered; 1 of the 3 watched did not (nosuch: see the warnings above); watching for changes');
    expect(partly.failing).toEqual(['nosuch']);
    // said once: the room made in Daily later answers, and `ready` comes, without a second line
    sim.createRoom('nosuch');
    const asked = () => sim.requests.filter((r) => r.path.endsWith('/rooms/nosuch/presence') && r.status === 200).length;
    await waitFor(sim, 'request', () => asked() >= 2);
    expect(missing.logs.filter((l) => String(l.msg).startsWith('first snapshot taken'))).toHaveLength(1);
    sim.join('retro', { userName: 'Cy' });
    const all = start(['--all-rooms', ...FAST]);
    const domain = await all.until(() => all.logs.find((l) => String(l.msg).startsWith('first snapshot taken')));
    expect(domain.msg).toBe('first snapshot taken: 3 people present, in 2 room(s) with anyone in them; watching for changes');
    // a domain with nobody in it: what a key for another domain looks like, so the line asks
    const empty = new DailySimulator({ rooms: ['standup'] });
    await empty.listen();
    cleanup.push(() => empty.close());
    const none = start(['--all-rooms', ...FAST], { DAILY_API_KEY: empty.apiKey, DAILY_API_URL: empty.url });
    const nobody = await none.until(() => none.logs.find((l) => String(l.msg).startsWith('first snapshot taken')));
    expect(nobody.msg).toBe('first snapshot taken: 0 people present, in 0 room(s) with anyone in them; watching for changes (if calls are on now: is the API key the one of their Daily domain?)');
  });

  it('--check-config says which rooms of the state this config does not watch, kept as they are', async () => {
    const dir = tempDir('unwatched');
    const state = join(dir, 'state.json');
    sim.join('retro', { userName: 'Rex' });
    expect((await runCli(['--room', 'standup', '--room', 'retro', '--once', '--state', state], env())).code).toBe(0);
    const r = await runCli(['--room', 'standup', '--state', state, '--check-config'], env());
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('\n               1 of its room(s) not watched by this config (retro): kept as they are, so that watching one again reports what changed since\n');
    // and kept: a run of standup alone leaves retro in the file as it was
    expect((await runCli(['--room', 'standup', '--once', '--state', state], env())).code).toBe(0);
    expect((JSON.parse(readFileSync(state, 'utf8')) as { rooms: Record<string, { userName: string }[]> }).rooms.retro!.map((p) => p.userName)).toEqual(['Rex']);
  });

  it('--health serves /healthz and Prometheus /metrics', async () => {
    sim.join('standup', { userName: 'A' });
    const run = start(['--room', 'standup', ...FAST, '--health', '127.0.0.1:0']);
    const url = await healthUrl(run);
    await run.until(() => run.lines.length >= 1);
    const h = await fetch(`${url}/healthz`);
    expect(h.status).toBe(200);
    const body = (await h.json()) as { status: string; targets: Record<string, unknown> };
    expect(body.status).toBe('ok');
    expect(Object.keys(body.targets)).toEqual(['standup']);
    const m = await (await fetch(`${url}/metrics`)).text();
    for (const name of [
      'presence_watcher_polls_total{outcome="ok"}',
      'presence_watcher_poll_duration_seconds_bucket',
      'presence_watcher_events_total{type="join"} 1',
      'presence_watcher_deliveries_total{sink="stdout",outcome="delivered"} 1',
      'presence_watcher_queue_depth{sink="stdout"} 0',
      'presence_watcher_participants 1',
      'presence_watcher_rooms_watched 1',
      `presence_watcher_build_info{version="${(JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version}"} 1`,
      'presence_watcher_last_successful_poll_timestamp_seconds',
      'presence_watcher_partial_rooms 0',
      'presence_watcher_delivery_delay_seconds_count{sink="stdout"} 1',
    ]) {
      expect(m).toContain(name);
    }
    // Daily goes down: after 3 intervals without success the daemon is unhealthy
    sim.inject({ fault: { kind: 'status', status: 503 }, times: 1000 });
    const res = await healthAfterPolls(url);
    expect(res.status).toBe(503);
    const unhealthy = (await res.json()) as { reasons: string[] };
    expect(unhealthy.reasons[0]).toMatch(/room "standup": no successful poll for \d+s \(last error: Daily server error/);
    // but the daemon is alive: a liveness probe must not restart it for Daily's outage
    const live = await fetch(`${url}/livez`);
    expect(live.status).toBe(200);
    expect(await live.json()).toEqual({ status: 'alive' });
    run.kill('SIGTERM');
    expect((await run.exit).code).toBe(0);
  });

  it('a sink that refuses every event (a 400 each time, never disabled) makes /healthz 503 until one is delivered', async () => {
    const picky = await receiver();
    picky.fallback = { status: 400, body: 'unexpected payload' };
    for (let i = 0; i < 5; i++) sim.join('standup', { userName: `P${i}` });
    const run = start(['--room', 'standup', ...FAST, '--health', '127.0.0.1:0', '--sink', `webhook:${picky.url}`]);
    const url = await healthUrl(run);
    await waitFor(picky, 'request', () => picky.requests.length >= 5, 10_000);
    const host = new URL(picky.url).host;
    const res = await healthAfterPolls(url);
    expect(res.status).toBe(503);
    expect(((await res.json()) as { reasons: string[] }).reasons).toEqual([
      `webhook-1(${host}): the last 5 deliveries all failed, the last with: permanent error: ${host} answered HTTP 400 "unexpected payload"`,
    ]);
    expect(await (await fetch(`${url}/metrics`)).text()).toContain(`presence_watcher_sink_failing{sink="webhook-1(${host})"} 1`);
    expect(((await (await fetch(`${url}/healthz`)).json()) as { sinks: Record<string, { failing: boolean }> }).sinks[`webhook-1(${host})`]!.failing).toBe(true);
    // the receiver is fixed: the next delivery clears it
    picky.fallback = { status: 200 };
    sim.join('standup', { userName: 'Fixed' });
    await waitFor(picky, 'request', () => picky.accepted.length >= 1, 10_000);
    expect((await healthAfterPolls(url, 503)).status).toBe(200);
    expect(await (await fetch(`${url}/metrics`)).text()).toContain(`presence_watcher_sink_failing{sink="webhook-1(${host})"} 0`);
    run.kill('SIGTERM');
    expect((await run.exit).code).toBe(0);
  });

  it('a full sink queue makes /healthz 503 while it is full', async () => {
    const slow = await receiver();
    let release!: () => void;
    // every answer waits until the test releases it: the queue stays full until then
    slow.fallback = { until: new Promise<void>((r) => (release = r)), then: { status: 200 } };
    for (let i = 0; i < 5; i++) sim.join('standup', { userName: `Q${i}` });
    const run = start(['--room', 'standup', ...FAST, '--health', '127.0.0.1:0', '--sink', `webhook:${slow.url}`, '--queue-cap', '2']);
    const url = await healthUrl(run);
    await run.until(() => run.logs.some((l) => String(l.msg).startsWith('first snapshot taken')));
    const res = await healthAfterPolls(url);
    expect(res.status).toBe(503);
    const host = new URL(slow.url).host;
    expect(((await res.json()) as { reasons: string[] }).reasons).toEqual([
      `webhook-1(${host}): queue full (2 events): the sink cannot keep up or is down, and the oldest events go to the dead-letter`,
    ]);
    // the receiver answers again: the queue drains, healthy again
    release();
    expect((await healthAfterPolls(url, 503)).status).toBe(200);
    run.kill('SIGTERM');
    expect((await run.exit).code).toBe(0);
  });

  it('a disabled sink makes /healthz 503 and sets its metric, while the other sinks go on', async () => {
    const gone = await receiver('/secret-path');
    // a receiver that echoes the path (and so the URL's token) in its error text
    gone.script = [{ status: 410, body: 'gone: /secret-path' }];
    sim.join('standup', { userName: 'A' });
    const run = start(['--room', 'standup', ...FAST, '--health', '127.0.0.1:0', '--sink', `webhook:${gone.url}`, '--sink', 'stdout']);
    const url = await healthUrl(run);
    await run.until(() => run.lines.length >= 1 && gone.requests.length >= 1);
    // the 410 answer and the disabling happen just after the request
    const res = await healthAfterPolls(url);
    expect(res.status).toBe(503);
    const h = (await res.json()) as { reasons: string[]; sinks: Record<string, { disabled: boolean }> };
    const host = new URL(gone.url).host;
    expect(h.reasons).toEqual([`webhook-1(${host}): sink disabled: ${host} answered HTTP 410 "gone: [REDACTED]": the endpoint is gone (its events go to the dead-letter until a restart)`]);
    expect(h.sinks).toEqual({
      [`webhook-1(${host})`]: { depth: 0, cap: 10000, disabled: true, failing: false },
      'stdout-2': { depth: 0, cap: 10000, disabled: false, failing: false },
    });
    const m = await (await fetch(`${url}/metrics`)).text();
    expect(m).toContain(`presence_watcher_sink_disabled{sink="webhook-1(${host})"} 1`);
    expect(m).toContain('presence_watcher_sink_disabled{sink="stdout-2"} 0');
    // stdout still gets events
    sim.join('standup', { userName: 'B' });
    await run.until(() => run.lines.length >= 2);
    expect(JSON.stringify(h)).not.toContain('secret-path');
    run.kill('SIGTERM');
    expect((await run.exit).code).toBe(0);
  });

  it('exits 1 once every sink is disabled, saying why, without the URL', async () => {
    const gone = await receiver('/secret-path');
    gone.script = [{ status: 410, body: 'gone' }];
    sim.join('standup', { userName: 'A' });
    const r = await runCli(['--room', 'standup', ...FAST, '--sink', `webhook:${gone.url}`], env());
    expect(r.code).toBe(1);
    const host = new URL(gone.url).host;
    expect(r.stderr).toContain(`presence-watcher: fatal: every sink is disabled, nothing can be delivered (webhook-1(${host}): ${host} answered HTTP 410 "gone": the endpoint is gone)`);
    expect(r.stderr).not.toContain('secret-path');
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(r.stderr).not.toContain('"stack"');
  });

  it('stops when the program reading stdout goes away (a pipe into head)', async () => {
    sim.join('standup', { userName: 'A' });
    const run = start(['--room', 'standup', ...FAST]);
    await run.until(() => run.lines.length >= 1);
    run.child.stdout!.destroy();
    sim.join('standup', { userName: 'B' });
    expect(await run.exitCode()).toBe(1);
    expect(run.stderr).toContain('presence-watcher: fatal: every sink is disabled, nothing can be delivered (stdout: stdout is closed: the program reading it went away (EPIPE))');
    expect(run.stderr).not.toContain('"stack"');
  });

  it.each([
    ['an exception thrown from a callback', 'uncaught exception', "throw new Error('bug in a timer, key ' + process.env.DAILY_API_KEY);"],
    ['a promise rejected with nobody awaiting it', 'unhandled rejection', "Promise.reject(new Error('bug in a promise, key ' + process.env.DAILY_API_KEY));"],
  ] as const)('a bug, %s, ends the daemon with exit 1 and its stack on stderr, secrets scrubbed', async (_name, what, code) => {
    const hook = join(dir, 'bug.cjs');
    // the bug goes off once the daemon runs (its first event on stdout), not at a set time: 300 ms
    // after start, on a loaded machine, came before the CLI had loaded, and Node's own handler
    // printed the stack
    writeFileSync(
      hook,
      `const write = process.stdout.write.bind(process.stdout);\nlet armed = true;\nprocess.stdout.write = (...a) => { const r = write(...a); if (armed) { armed = false; setTimeout(() => { ${code} }, 0); } return r; };\n`,
    );
    sim.join('standup', { userName: 'A' });
    const run = new NodeRun(CLI, ['--room', 'standup', ...FAST, '--log-level', 'error'], env(), ['--require', hook]);
    cleanup.push(() => {
      if (run.child.exitCode === null) run.kill('SIGKILL');
    });
    expect(await run.exitCode()).toBe(1);
    expect(run.stderr).toMatch(new RegExp(`^presence-watcher: internal error \\(${what}; a bug: please report it\\): Error: bug in a (timer|promise), key \\[REDACTED\\]\\n +at `));
    expect(run.stderr).not.toContain(sim.apiKey);
  });

  it('stops cleanly when stdout and stderr both go away (… 2>&1 | head), without an uncaught exception', async () => {
    // a preloaded hook records any uncaught exception to a file: stderr is closed, so nothing else could show it
    const hook = join(dir, 'hook.cjs');
    const record = join(dir, 'uncaught.txt');
    writeFileSync(hook, `process.on('uncaughtExceptionMonitor', (e) => require('fs').appendFileSync(${JSON.stringify(record)}, String(e && e.stack) + '\\n'));\n`);
    sim.join('standup', { userName: 'A' });
    const run = new NodeRun(CLI, ['--room', 'standup', ...FAST], env(), ['--require', hook]);
    cleanup.push(() => {
      if (run.child.exitCode === null) run.kill('SIGKILL');
    });
    await run.until(() => run.lines.length >= 1);
    run.child.stdout!.destroy();
    run.child.stderr!.destroy();
    sim.join('standup', { userName: 'B' });
    expect(await run.exitCode()).toBe(1);
    expect(existsSync(record) ? readFileSync(record, 'utf8') : '').toBe('');
  });

  it.each([
    ['through HTTP_PROXY', {}, true],
    ['not through it for a NO_PROXY host', { NO_PROXY: '127.0.0.1' }, false],
  ] as const)('reaches Daily and the webhook %s', async (_name, extra, proxied) => {
    const proxy = new ConnectProxy();
    const proxyUrl = await proxy.listen();
    cleanup.push(() => proxy.close());
    const r = await receiver();
    sim.join('standup', { userName: 'A' });
    const run = start(['--room', 'standup', ...FAST, '--sink', `webhook:${r.url}`], env({ HTTP_PROXY: proxyUrl, ...extra }));
    await waitFor(r, 'request', () => r.accepted.length >= 1, 15_000);
    run.kill('SIGTERM');
    expect((await run.exit).code).toBe(0);
    expect(JSON.parse(r.accepted[0]!.body).participant.userName).toBe('A');
    const hosts = [new URL(sim.url).host, new URL(r.url).host];
    if (proxied) for (const h of hosts) expect(proxy.tunnels).toContain(h);
    else expect(proxy.tunnels).toEqual([]);
  });

  it('a proxy that wants credentials (407) is said in words for Daily and for a webhook, never with the proxy URL\'s password', async () => {
    const proxy = new ConnectProxy();
    proxy.refuse = 407;
    const proxyUrl = (await proxy.listen()).replace('http://', 'http://user:pr0xy-pass@');
    cleanup.push(() => proxy.close());
    const r = await receiver();
    const wanted = "the proxy answered HTTP 407 to its tunnel request (CONNECT): it wants credentials (407 Proxy Authentication Required): give them in the proxy's URL, http://user:password@host:port (or the ones there are wrong)";
    const once = await runCli(['--room', 'standup', '--once', '--once-timeout', '2s', '--log-level', 'warn'], env({ HTTP_PROXY: proxyUrl }));
    expect(once.code).toBe(1);
    expect(once.stderr).toContain(`network error talking to Daily for room "standup" (through the proxy in HTTP_PROXY, ${new URL(proxyUrl).host}): ${wanted}`);
    expect(once.stderr).not.toContain('pr0xy-pass');
    const dead = join(dir, 'proxy-dead.ndjson');
    const event = { id: 'evt_p1', type: 'join', room: 'standup', at: '2026-11-28T00:00:00.000Z', participant: { id: 'p1', userId: null, userName: 'A', mtgSessionId: null, joinTime: null, duration: 0 } };
    writeFileSync(dead, `${JSON.stringify({ sink: 'webhook-1(x)', reason: 'test', event })}\n`);
    const replayed = await runCli(['replay', dead, '--sink', `webhook:${r.url}`, '--drain-timeout', '1s', '--log-level', 'warn'], env({ HTTP_PROXY: proxyUrl }));
    expect(replayed.code).toBe(1);
    expect(replayed.stderr).toContain(`: ${wanted}`);
    expect(replayed.stderr).not.toContain('pr0xy-pass');
    expect(r.requests).toHaveLength(0);
  });

  it('simulate prints the URL and key, and serves presence', async () => {
    const run = start(['simulate', '--port', '0', '--rooms', '2', '--churn', '0', '--participants', '3']);
    const url = await run.until(() => /listening at (http:\/\/\S+)/.exec(run.stdout)?.[1]);
    const key = /DAILY_API_KEY=(\S+)/.exec(run.stdout)![1]!;
    const res = await fetch(`${url}/presence`, { headers: { authorization: `Bearer ${key}` } });
    const body = (await res.json()) as Record<string, unknown[]>;
    expect(Object.values(body).flat()).toHaveLength(3);
    expect(run.stdout).toContain('  rooms: standup, design-review\n');
    expect(run.stdout).not.toContain('faults');
    run.kill('SIGINT');
    expect((await run.exit).code).toBe(0);

    // thousands of rooms: the banner names ten, not every one
    const many = start(['simulate', '--port', '0', '--rooms', '5000', '--churn', '0', '--faults', '0.005']);
    await many.until(() => /Watch it with/.test(many.stdout));
    expect(many.stdout).toContain('\n  faults: 0.5% of requests answered with a random passing fault\n');
    expect(many.stdout).toMatch(/\n  rooms: standup, design-review, (\S+, ){7}lounge … and 4990 more \(5000 rooms\)\n/);
    many.kill('SIGINT');
    expect((await many.exit).code).toBe(0);

    // bound to every interface: the line to run names the loopback, which works from here
    const open = start(['simulate', '--host', '0.0.0.0', '--port', '0', '--rooms', '1', '--churn', '0']);
    await open.until(() => /Watch it with/.test(open.stdout));
    expect(open.stdout).toMatch(/^Simulated Daily presence API listening at http:\/\/0\.0\.0\.0:\d+\/v1 \(every interface: from another machine, use this one's address\)\n/);
    const local = /DAILY_API_URL=(\S+)/.exec(open.stdout)![1]!;
    expect(local).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/v1$/);
    expect((await fetch(`${local}/presence`, { headers: { authorization: `Bearer ${key}` } })).status).toBe(200);
    open.kill('SIGINT');
    expect((await open.exit).code).toBe(0);
  });

  it('demo shows events flowing with no account and no network (and a proxy set for the real world does not catch it)', async () => {
    const r = await runCli(['demo', '--duration', '2500ms', '--interval', '200ms', '--churn', '10'], { HTTP_PROXY: 'http://127.0.0.1:9' });
    expect(r.code).toBe(0);
    const events = r.stdout.trimEnd().split('\n').map((l) => JSON.parse(l));
    expect(events.filter((e) => e.initial).length).toBeGreaterThan(0);
    expect(events.filter((e) => !e.initial).length).toBeGreaterThan(0);
  });

  it('demo --faults: the simulated API fails that share of requests; the watcher warns and retries, and no event comes of it', async () => {
    const r = await runCli(['demo', '--duration', '4s', '--interval', '200ms', '--churn', '0', '--faults', '0.4', '--log-format', 'json'], {});
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('It fails 40% of requests at random: the warnings are the watcher retrying, and no event comes of a failed request.');
    const logs = r.stderr.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
    // every kind the faults draw but a late answer is a warning the first time a room meets it: a
    // failed attempt (a 5xx, a 429, a reset, a body cut off or not JSON), or a partial list
    expect(logs.filter((l) => l.level === 40 && ((typeof l.target === 'string' && l.err?.type === 'DailyApiError') || /^Daily returned \d+ of \d+ participants/.test(l.msg))).length).toBeGreaterThan(0);
    // nobody comes or goes (no churn): what it prints is the first snapshot's joins, each person once
    const events = r.stdout.trimEnd().split('\n').filter(Boolean).map((l) => JSON.parse(l));
    expect(events.length).toBeGreaterThan(0);
    expect(events.every((e) => e.type === 'join' && e.initial === true)).toBe(true);
    expect(new Set(events.map((e) => e.participant.id)).size).toBe(events.length);
    expect(events.length).toBeLessThanOrEqual(8);
  });
});

