import { existsSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { PresenceEvent } from '../src/events.js';
import { PassThrough } from 'node:stream';
import { REPLAY_HIGH_WATER, REPLAY_PROGRESS_MS, indexDeadLetters, indexedEvents, replay, type ReplayCommand } from '../src/cli/replay.js';
import { parseSinkSpec } from '../src/config.js';
import { verify } from '../src/sinks/signing.js';
import { CliRun, runCli } from './support/cli.js';
import { joinOf, waitFor } from './support/helpers.js';
import { Receiver } from './support/receiver.js';
import { tempDir } from './support/tmp.js';

const SECRET = 'whsec_' + Buffer.from('replay-test-secret-0123456789').toString('base64');
const receivers: Receiver[] = [];
const runs: CliRun[] = [];
afterEach(async () => {
  for (const run of runs.splice(0)) if (run.child.exitCode === null && run.child.signalCode === null) run.kill('SIGKILL');
  await Promise.all(receivers.splice(0).map((r) => r.close()));
});
async function receiver(path = '/hook') {
  const r = new Receiver();
  await r.listen(path);
  receivers.push(r);
  return r;
}

const leaveOf = (n: number): PresenceEvent => ({ ...joinOf(n), id: `${joinOf(n).id}-leave`, type: 'leave' });

/** A dead-letter file as the daemon writes it: one {at, sink, reason, event} a line. */
function deadLetterFile(events: PresenceEvent[], tail = '', sinkOf: (i: number) => string = (i) => (i % 2 ? 'webhook-1(x)' : 'slack-2(y)')): { dir: string; file: string } {
  const dir = tempDir('replay');
  const file = join(dir, 'dead.ndjson');
  const lines = events.map((event, i) => JSON.stringify({ at: '2026-01-01T00:00:00.000Z', sink: sinkOf(i), reason: 'HTTP 500', event }));
  writeFileSync(file, lines.join('\n') + '\n' + tail);
  return { dir, file };
}

describe('presence-watcher replay', () => {
  it('delivers each dead-lettered event once, in order, with its id, signed; a last line cut short is skipped', async () => {
    const r = await receiver();
    // joinOf(1) twice: dead-lettered for two sinks
    const { file } = deadLetterFile([joinOf(1), joinOf(2), joinOf(1), leaveOf(1)], '{"at":"2026-01-01T00:00:00.000Z","si');
    const run = await runCli(['replay', file, '--sink', `webhook:${r.url}`], { PRESENCE_WEBHOOK_SECRET: SECRET });
    expect(run.code).toBe(0);
    expect(r.requests.map((x) => JSON.parse(x.body).id)).toEqual([joinOf(1).id, joinOf(2).id, leaveOf(1).id]);
    for (const req of r.requests) {
      expect(req.headers['webhook-id']).toBe(JSON.parse(req.body).id);
      expect(verify(SECRET, req.headers as Record<string, string>, req.body)).toBe(true);
    }
    expect(run.stderr).toContain(`presence-watcher: replayed 3 event(s) from ${file} (a last line cut short skipped): 3 of 3 deliveries made; ${file} is left as it was: delete it or move it aside, or a later replay sends these again (Slack and stdout do not dedupe)\n`);
    expect(run.stdout).toBe('');
  });

  it('signs with the secret in the file PRESENCE_WEBHOOK_SECRET_FILE names, as the daemon does', async () => {
    const r = await receiver();
    const { dir, file } = deadLetterFile([joinOf(1)]);
    const secretFile = join(dir, 'webhook_secret');
    writeFileSync(secretFile, `${SECRET}\n`);
    const run = await runCli(['replay', file, '--sink', `webhook:${r.url}`], { PRESENCE_WEBHOOK_SECRET_FILE: secretFile });
    expect(run.code).toBe(0);
    expect(verify(SECRET, r.requests[0]!.headers as Record<string, string>, r.requests[0]!.body)).toBe(true);
  });

  it("takes the sinks, their filters and the secret from the daemon's config file", async () => {
    const r = await receiver();
    const { dir, file } = deadLetterFile([joinOf(1), leaveOf(1), joinOf(2)], '', () => 'webhook-1(x)');
    const cfg = join(dir, 'watcher.yaml');
    writeFileSync(cfg, `rooms: [r]\nwebhookSecret: ${SECRET}\nsinks:\n  - type: webhook\n    url: ${r.url}\n    events: [join]\n`);
    const run = await runCli(['replay', file, '--config', cfg]);
    expect(run.code).toBe(0);
    expect(r.requests.map((x) => JSON.parse(x.body).type)).toEqual(['join', 'join']);
    expect(verify(SECRET, r.requests[0]!.headers as Record<string, string>, r.requests[0]!.body)).toBe(true);
    expect(run.stderr).toContain("2 of 2 deliveries made; the sinks' filters took the rest");
  });

  it('with --config, each event goes back only to the sink that failed it: a Slack message delivered fine is not posted again for a webhook\'s failure', async () => {
    const hook = await receiver();
    const slack = await receiver('/services/T0/B0/tok');
    // the daemon's names: slack-1(<host>) and webhook-2(<host>); the webhook's URL has moved since
    // (another host), which its place in the list ("webhook-2") still finds
    const slackName = `slack-1(${new URL(slack.url).host})`;
    const { dir, file } = deadLetterFile([joinOf(1), joinOf(2), joinOf(3), joinOf(2)], '', (i) => (i === 0 || i === 3 ? slackName : 'webhook-2(old-host.example:8443)'));
    const cfg = join(dir, 'watcher.yaml');
    writeFileSync(cfg, `rooms: [r]\nsinks:\n  - type: slack\n    url: ${slack.url}\n  - type: webhook\n    url: ${hook.url}\n`);
    const run = await runCli(['replay', file, '--config', cfg]);
    expect(run.code).toBe(0);
    expect(hook.requests.map((x) => JSON.parse(x.body).id)).toEqual([joinOf(2).id, joinOf(3).id]);
    // joinOf(2) failed for both: one message for Slack with 1 and 2; 3 was Slack's already
    const posted = slack.requests.map((x) => JSON.parse(x.body).text).join('\n');
    expect(posted).toContain('P1 joined');
    expect(posted).toContain('P2 joined');
    expect(posted).not.toContain('P3');
    expect(run.stderr).toContain(`4 of 4 deliveries made; ${file} is left as it was`);

    // a sink the config no longer has: nothing is sent, and the way out is named
    const gone = deadLetterFile([joinOf(4)], '', () => 'webhook-3(removed.example)');
    const refused = await runCli(['replay', gone.file, '--config', cfg]);
    expect(refused.code).toBe(2);
    expect(refused.stderr.split('\n')[0]).toBe(
      `presence-watcher: replay: ${gone.file} holds events dead-lettered for sinks the config has none like: webhook-3(removed.example) (1 event); its sinks are ${slackName}, webhook-2(${new URL(hook.url).host}). Each event goes back to the sink that failed it (Slack and stdout would repeat what others delivered): to send them somewhere, name it with --sink (every event of the file goes to every --sink)`,
    );
    expect(hook.requests).toHaveLength(2);
    // --sink: every event of the file to every sink named, as asked
    const named = await runCli(['replay', gone.file, '--sink', `webhook:${hook.url}`]);
    expect(named.code).toBe(0);
    expect(hook.requests.map((x) => JSON.parse(x.body).id).at(-1)).toBe(joinOf(4).id);
  });

  it('--dry-run sends nothing: it checks the file, the sinks and the routing, and says what each sink would be sent', async () => {
    const hook = await receiver();
    const slack = await receiver('/services/T0/B0/tok');
    const slackName = `slack-1(${new URL(slack.url).host})`;
    const hookName = `webhook-2(${new URL(hook.url).host})`;
    // joinOf(2) failed for both sinks; the webhook takes joins only
    const { dir, file } = deadLetterFile([joinOf(1), joinOf(2), joinOf(3), joinOf(2), leaveOf(3)], '{"at":"2026-01-01T00:0', (i) => (i === 0 || i === 3 ? slackName : 'webhook-2(old-host.example:8443)'));
    const cfg = join(dir, 'watcher.yaml');
    writeFileSync(cfg, `rooms: [r]\nsinks:\n  - type: slack\n    url: ${slack.url}\n  - type: webhook\n    url: ${hook.url}\n    events: [join]\n`);
    const before = readFileSync(file, 'utf8');
    const again = join(dir, 'again.ndjson');
    const run = await runCli(['replay', file, '--config', cfg, '--dead-letter', again, '--dry-run']);
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(
      `replay --dry-run: nothing sent. ${file}: 4 event(s) (a last line cut short skipped), 4 deliveries to make (the sinks' filters leave out 1):\n  ${slackName}: 2 event(s)\n  ${hookName}: 2 event(s)\n`,
    );
    expect(hook.arrivals + slack.arrivals).toBe(0);
    expect(readFileSync(file, 'utf8')).toBe(before);
    expect(existsSync(again)).toBe(false);
    // --sink: every event to every sink named; a config that lacks a sink is refused as a replay would be
    const named = await runCli(['replay', file, '--sink', 'stdout', '--sink', 'stdout:text', '--dry-run']);
    expect(named.code).toBe(0);
    expect(named.stdout).toBe(`replay --dry-run: nothing sent. ${file}: 4 event(s) (a last line cut short skipped), 8 deliveries to make:\n  stdout: 4 event(s)\n  stdout-2: 4 event(s)\n`);
    // Slack takes a message of up to 500 events every 1.1 s: 501 events need two, past a drain of 1s
    const big = deadLetterFile(Array.from({ length: 501 }, (_, i) => joinOf(i + 10)));
    const paced = await runCli(['replay', big.file, '--sink', `slack:${slack.url}`, '--drain-timeout', '1s', '--dry-run']);
    expect(paced.code).toBe(0);
    expect(paced.stdout).toBe(
      `replay --dry-run: nothing sent. ${big.file}: 501 event(s), 501 deliveries to make:\n  slack-1(${new URL(slack.url).host}): 501 event(s) (a delivery of up to 500 every 1.1 s: at least 1.1 s, past --drain-timeout 1s, after which the rest would go to --dead-letter: raise it)\n`,
    );
    expect((await runCli(['replay', big.file, '--sink', `slack:${slack.url}`, '--drain-timeout', '2s', '--dry-run'])).stdout).not.toContain('raise it');
    writeFileSync(cfg, `rooms: [r]\nsinks:\n  - type: slack\n    url: ${slack.url}\n`);
    const refused = await runCli(['replay', file, '--config', cfg, '--dry-run']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/holds events dead-lettered for sinks the config has none like: webhook-2\(old-host\.example:8443\) \(3 events\)/);
  });

  it('what fails again goes to --dead-letter and exits 1, without the URL', async () => {
    const r = await receiver('/hook/tok-REPLAY-SECRET-1');
    r.fallback = { status: 410, body: 'gone' };
    const { dir, file } = deadLetterFile([joinOf(1), joinOf(2)]);
    const again = join(dir, 'again.ndjson');
    const run = await runCli(['replay', file, '--sink', `webhook:${r.url}`, '--dead-letter', again, '--log-level', 'silent']);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`0 of 2 deliveries made, 2 failed again (written to ${again}); ${file} is left as it was: what failed again is all in ${again}, so once the cause is fixed replay that in its place\n`);
    const lines = readFileSync(again, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { sink: string; reason: string; event: PresenceEvent });
    expect(lines.map((l) => l.event.id)).toEqual([joinOf(1).id, joinOf(2).id]);
    expect(lines[0]!.reason).toMatch(/answered HTTP 410/);
    // the file is itself a dead-letter file: it can be replayed in turn
    expect(readFileSync(again, 'utf8') + run.stderr).not.toContain('REPLAY-SECRET');
    // without --dead-letter the failures are only logged: replaying the file again is the way back
    const logged = await runCli(['replay', file, '--sink', `webhook:${r.url}`, '--log-level', 'silent']);
    expect(logged.code).toBe(1);
    expect(logged.stderr).toContain(`0 of 2 deliveries made, 2 failed again (logged above); ${file} is left as it was: replaying it again also resends what was delivered (Slack and stdout do not dedupe), where --dead-letter would keep only what failed\n`);
    r.fallback = { status: 200 };
    const retry = await runCli(['replay', again, '--sink', `webhook:${r.url}`]);
    expect(retry.code).toBe(0);
    expect(r.accepted.map((x) => JSON.parse(x.body).id).sort()).toEqual([joinOf(1).id, joinOf(2).id].sort());
  });

  it('SIGINT stops it, saying how far it got, and leaves the file as it was', async () => {
    const r = await receiver();
    r.fallback = { until: new Promise(() => {}), then: { status: 200 } }; // a receiver that never answers
    const { file } = deadLetterFile([joinOf(1), joinOf(2)]);
    const before = readFileSync(file, 'utf8');
    const run = new CliRun(['replay', file, '--sink', `webhook:${r.url}`]);
    runs.push(run);
    await waitFor(r, 'arrival', () => r.arrivals >= 1);
    run.kill('SIGINT');
    expect(await run.exitCode()).toBe(130);
    expect(run.stderr).toBe(`presence-watcher: replay interrupted (SIGINT): 0 of 2 deliveries made, 2 not (${file} is unchanged: replay it again; receivers dedupe what was sent twice)\n`);
    expect(readFileSync(file, 'utf8')).toBe(before);
  });

  it.each([
    ['no file', () => ['replay', '--sink', 'stdout'], /^presence-watcher: replay: give the dead-letter file to replay$/],
    ['no sink', (f: string) => ['replay', f], /^presence-watcher: replay: where to\? give --sink <spec>/],
    ['a missing file', () => ['replay', '/nonexistent/dead.ndjson', '--sink', 'stdout'], /^presence-watcher: cannot read \/nonexistent\/dead\.ndjson: no such file$/],
    ['a file that is not a dead-letter file', (f: string) => ['replay', f.replace(/dead\.ndjson$/, 'other.ndjson'), '--sink', 'stdout'], /other\.ndjson: line 1 has no event: not a dead-letter file\?$/],
    ['a damaged line before the last', (f: string) => ['replay', f.replace(/dead\.ndjson$/, 'damaged.ndjson'), '--sink', 'stdout'], /damaged\.ndjson: line 2 is not JSON: not a dead-letter file\? \(In one, a damaged line, e\.g\. from two daemons appending to one file: delete that line and replay again; replay sends each event once, whatever is left\)$/],
    // edited by hand: a name that is a number made the text and Slack sinks throw, and the whole batch went to the dead-letter again
    ['a line whose event was edited into one no sink can read', (f: string) => ['replay', f.replace(/dead\.ndjson$/, 'edited.ndjson'), '--sink', 'stdout:text'], /edited\.ndjson: line 2: the event is not one the watcher writes: participant\.userName is 42, not a string or null\. Mend or delete that line and replay again$/],
    [
      'the file being replayed as --dead-letter (spelt another way)',
      (f: string) => ['replay', f, '--sink', 'stdout', '--dead-letter', f.replace(/\/dead\.ndjson$/, '/./dead.ndjson')],
      /^presence-watcher: replay: --dead-letter .*\/\.\/dead\.ndjson is the file being replayed: what fails again would be appended to it, .* Give another file \(e\.g\. .*\/dead\.again\.ndjson\), then replace the first with it$/,
    ],
  ] as const)('usage error: %s (exit 2, one line)', async (_name, args, message) => {
    const { dir, file } = deadLetterFile([joinOf(1)]);
    writeFileSync(join(dir, 'other.ndjson'), '{"status":"ok"}\n{"status":"ok"}\n');
    const good = readFileSync(file, 'utf8').trim();
    writeFileSync(join(dir, 'damaged.ndjson'), `${good}\n{"at":"2026-01-01T00:0{"at":\n${good}\n`);
    writeFileSync(join(dir, 'edited.ndjson'), `${good}\n${good.replace(/"userName":"[^"]*"/, '"userName":42')}\n`);
    const run = await runCli(args(file));
    expect(run.code).toBe(2);
    expect(run.stderr.split('\n')[0]).toMatch(message);
    // its own help, not the daemon's
    expect(run.stderr.split('\n')[1]).toBe('Run "presence-watcher replay --help" for usage.');
    expect(run.stderr).not.toMatch(/\n\s+at /);
  });

  it('a file an editor saved with a byte order mark and CRLF line ends (trimmed by hand before a replay) reads as the daemon wrote it', () => {
    const { file } = deadLetterFile([joinOf(1), joinOf(2), leaveOf(1)]);
    const read = () => {
      const index = indexDeadLetters(file);
      return { events: [...indexedEvents(file, index)].map((x) => x.event), skipped: index.skipped };
    };
    const written = read().events;
    writeFileSync(file, '\uFEFF' + readFileSync(file, 'utf8').replace(/\n/g, '\r\n'));
    expect(read()).toMatchObject({ events: written, skipped: 0 });
    expect(written.map((e) => e.id)).toEqual([joinOf(1).id, joinOf(2).id, leaveOf(1).id]);
  });
});

describe('presence-watcher replay of a file larger than its sinks hold at once (read twice: first each id, then each event as the sinks take them)', () => {
  const many = (n: number) => Array.from({ length: n }, (_, i) => joinOf(i + 1));
  const never = () => ({ until: new Promise(() => {}), then: { status: 200 } }) as const;

  it('delivers each event once, in the file\'s order, the reading waiting for the sink', async () => {
    const events = many(3 * REPLAY_HIGH_WATER + 123);
    // every fifth dead-lettered twice (for two sinks), its second line far from its first
    const lines = [...events, ...events.filter((_, i) => i % 5 === 0)];
    const { file } = deadLetterFile(lines);
    const run = await runCli(['replay', file, '--sink', 'stdout']);
    expect(run.code).toBe(0);
    expect(run.stdout.trim().split('\n').map((l) => (JSON.parse(l) as PresenceEvent).id)).toEqual(events.map((e) => e.id));
    expect(run.stderr).toContain(`replayed ${events.length} event(s) from ${file}: ${events.length} of ${events.length} deliveries made; ${file} is left as it was: delete it or move it aside, or a later replay sends these again (Slack and stdout do not dedupe)\n`);
  });

  it('--drain-timeout is for the whole replay: past it, what the sink holds and the rest of the file go to --dead-letter, each once, in order', async () => {
    const r = await receiver();
    r.fallback = never();
    const events = many(2 * REPLAY_HIGH_WATER + 7);
    const { dir, file } = deadLetterFile(events);
    const again = join(dir, 'again.ndjson');
    const run = await runCli(['replay', file, '--sink', `webhook:${r.url}`, '--drain-timeout', '1s', '--dead-letter', again, '--log-level', 'silent']);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`replayed ${events.length} event(s) from ${file}: 0 of ${events.length} deliveries made, ${events.length} failed again (written to ${again}); ${file} is left as it was: what failed again is all in ${again}, so once the cause is fixed replay that in its place\n`);
    const written = readFileSync(again, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { reason: string; event: PresenceEvent });
    expect(written.map((l) => l.event.id)).toEqual(events.map((e) => e.id));
    expect(new Set(written.map((l) => l.reason))).toEqual(new Set(['not delivered within --drain-timeout 1s']));
  });

  it('SIGINT while the file is still being read says after which line nothing was handed to the sinks', async () => {
    const r = await receiver();
    r.fallback = never();
    const { file } = deadLetterFile(many(2 * REPLAY_HIGH_WATER));
    const run = new CliRun(['replay', file, '--sink', `webhook:${r.url}`]);
    runs.push(run);
    await waitFor(r, 'arrival', () => r.arrivals >= 1);
    run.kill('SIGINT');
    expect(await run.exitCode()).toBe(130);
    const n = REPLAY_HIGH_WATER;
    expect(run.stderr).toBe(
      `presence-watcher: replay interrupted (SIGINT): 0 of ${n} deliveries made, ${n} not; the file's events after line ${n} were not handed to them (${file} is unchanged: replay it again; receivers dedupe what was sent twice)\n`,
    );
  });

  it(`a replay still running says how far it has got, on stderr, every ${REPLAY_PROGRESS_MS / 1000} s (here, sooner)`, async () => {
    const r = await receiver();
    let release!: () => void;
    r.fallback = { until: new Promise<void>((go) => (release = go)), then: { status: 200 } };
    const events = many(10);
    const { file } = deadLetterFile(events);
    const stderr = new PassThrough();
    let said = '';
    const progress = new Promise<void>((resolve) =>
      stderr.on('data', (d: Buffer) => {
        said += String(d);
        if (said.includes('\n')) resolve();
      }),
    );
    const command: ReplayCommand = { file, sinks: [parseSinkSpec(`webhook:${r.url}`)], webhookSecret: undefined, configPath: undefined, deadLetter: undefined, drainTimeoutMs: 60_000, logLevel: 'silent', logFormat: 'json' };
    const done = replay(command, { stdout: new PassThrough(), stderr, env: {}, version: 'test', progressEveryMs: 20 });
    await progress;
    expect(said.split('\n')[0]).toMatch(new RegExp(`^presence-watcher: replaying ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: 10 of 10 event\\(s\\) read, 0 of 10 deliveries made \\(\\d+m?s in\\)$`));
    release();
    expect(await done).toBe(0);
    expect(said.trimEnd().split('\n').at(-1)).toBe(`presence-watcher: replayed 10 event(s) from ${file}: 10 of 10 deliveries made; ${file} is left as it was: delete it or move it aside, or a later replay sends these again (Slack and stdout do not dedupe)`);
  });

  it('a file cut short between its two reads: the events whose lines went are counted as not sent, exit 1', async () => {
    const r = await receiver();
    let release!: () => void;
    r.fallback = { until: new Promise<void>((go) => (release = go)), then: { status: 200 } };
    const events = many(3 * REPLAY_HIGH_WATER);
    const { file } = deadLetterFile(events);
    const run = new CliRun(['replay', file, '--sink', `webhook:${r.url}`, '--log-level', 'silent']);
    runs.push(run);
    await waitFor(r, 'arrival', () => r.arrivals >= 1);
    truncateSync(file, 0);
    release();
    expect(await run.exitCode()).toBe(1);
    const said = run.stderr.match(/: (\d+) of (\d+) deliveries made; (\d+) event\(s\) not sent: their lines were gone or changed when .* was read a second time \(changed during the replay\): replay it again\n$/);
    expect(said, run.stderr).not.toBeNull();
    const [made, handed, missing] = said!.slice(1).map(Number) as [number, number, number];
    expect(made).toBe(handed);
    expect(missing).toBeGreaterThan(0);
    expect(made + missing).toBe(events.length);
    expect(new Set(r.accepted.map((x) => (JSON.parse(x.body) as PresenceEvent).id)).size).toBe(made);
  });
});
