import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DailySimulator } from '../src/simulator/simulator.js';
import { verify } from '../src/sinks/signing.js';
import { CLI, CliRun, NodeRun, runCli } from './support/cli.js';
import { Receiver } from './support/receiver.js';
import { ConnectProxy } from './support/proxy.js';
import { waitFor } from './support/helpers.js';
import { sinkKeys } from '../src/daemon.js';
import { onceTimeout } from '../src/cli/main.js';
import { eventId } from '../src/diff.js';

const SECRET = 'whsec_' + Buffer.from('cli-test-secret-0123456789abcdef').toString('base64');
let sim: DailySimulator;
let dir: string;
const cleanup: (() => Promise<void> | void)[] = [];

beforeEach(async () => {
  sim = new DailySimulator({ rooms: ['standup', 'retro'] });
  await sim.listen();
  dir = mkdtempSync(join(tmpdir(), 'pw-cli-'));
});
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
  await sim.close();
});

/** A server holding a free port of 127.0.0.1 until the test ends. */
async function listenAnywhere() {
  const server = createNetServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanup.push(() => new Promise<void>((r) => server.close(() => r())));
  return { address: () => server.address() as AddressInfo };
}

function env(extra: Record<string, string> = {}) {
  return { DAILY_API_KEY: sim.apiKey, DAILY_API_URL: sim.url, ...extra };
}

const FAST = ['--interval', '100ms', '--max-rps', '100'];

function start(args: string[], e: Record<string, string> = env()): CliRun {
  const run = new CliRun(args, e);
  cleanup.push(async () => {
    if (run.child.exitCode === null && run.child.signalCode === null) {
      run.kill('SIGKILL');
      await run.exit;
    }
  });
  return run;
}

async function receiver(path = '/hook') {
  const r = new Receiver();
  await r.listen(path);
  cleanup.push(() => r.close());
  return r;
}

/** The base URL the daemon logged for --health, once it is listening. */
function healthUrl(run: CliRun): Promise<string> {
  return run.until(() => {
    const l = run.logs.find((x) => typeof x.healthz === 'string');
    return l ? String(l.healthz).replace(/\/healthz$/, '') : undefined;
  });
}

/** /healthz, re-fetched after each poll the daemon makes until it is not `status` (bounded). */
async function healthAfterPolls(url: string, status = 200): Promise<Response> {
  let res = await fetch(`${url}/healthz`);
  for (let polls = 0; res.status === status && polls < 500; polls++) {
    await new Promise<void>((r) => sim.once('request', () => r()));
    res = await fetch(`${url}/healthz`);
  }
  return res;
}

/** A named pipe in the test directory. */
function fifo(name: string): string {
  const p = join(dir, name);
  execFileSync('mkfifo', [p]);
  return p;
}

function writeConfig(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

describe('CLI usage errors exit 2 with one clear line and no stack trace', () => {
  const cases: [string, () => string[], Record<string, string> | undefined, RegExp][] = [
    ['unknown flag', () => ['--room', 'a', '--bogus'], undefined, /Unknown option '--bogus'$/],
    ['a flag a letter off', () => ['--rooms', 'a'], undefined, /^presence-watcher: Unknown option '--rooms' \(did you mean --room\?\)$/],
    ["the watcher's flag given to replay, which does not take it (whose it is, and replay's own)", () => ['replay', join(dir, 'dead.ndjson'), '--sink', 'stdout', '--events', 'join'], undefined, /^presence-watcher: Unknown option '--events': --events is the watcher's option, not replay's \(replay takes --sink, --webhook-secret, --config, --dead-letter, --drain-timeout, --log-level, --log-format\)$/],
    ["the watcher's flag given to simulate", () => ['simulate', '--interval', '1s'], undefined, /^presence-watcher: Unknown option '--interval': --interval is the watcher's option, not simulate's \(simulate takes --port, --host, --rooms, /],
    ['a flag spelt as the config setting', () => ['--allRooms', '--max_rps', '3'], undefined, /^presence-watcher: Unknown option '--allRooms' \(did you mean --all-rooms\?\)$/],
    ['two config files (they are not merged: the first was ignored)', () => ['--config', writeConfig('c12.yaml', 'rooms: [a]\n'), '--config=' + writeConfig('c13.yaml', 'interval: 30s\n')], undefined, /^presence-watcher: --config is given twice \(.*c12\.yaml, .*c13\.yaml\): config files are not merged; give one --config, and flags to override it$/],
    ['two config files for replay', () => ['replay', join(dir, 'dead.ndjson'), '--config', writeConfig('c12.yaml', 'rooms: [a]\n'), '--config', writeConfig('c13.yaml', 'interval: 30s\n')], undefined, /^presence-watcher: --config is given twice/],
    ['bad duration', () => ['--room', 'a', '--interval', '5 parsecs'], undefined, /--interval "5 parsecs" is not a duration/],
    ['bad leave grace', () => ['--room', 'a', '--leave-grace', 'soon'], undefined, /--leave-grace "soon" is not a duration/],
    ['--save-every without --state', () => ['--room', 'a', '--save-every', '1m'], undefined, /^presence-watcher: --save-every \(saveEvery\) applies with --state only: without a state file nothing is saved$/m],
    ['--save-every past a day', () => ['--room', 'a', '--state', join(dir, 'every.json'), '--save-every', '25h'], undefined, /^presence-watcher: --save-every \(saveEvery\) 25h is too long: at most 24h/m],
    ['saveEvery in a config file without state', () => ['--config', writeConfig('c6.yaml', 'rooms: [a]\nsaveEvery: 5m\n')], undefined, /^presence-watcher: --save-every \(saveEvery\) applies with --state only/m],
    ['bad --save-every', () => ['--room', 'a', '--state', join(dir, 'every.json'), '--save-every', 'hourly'], undefined, /--save-every "hourly" is not a duration/],
    ['bad sink spec', () => ['--room', 'a', '--sink', 'carrier-pigeon'], undefined, /--sink "carrier-pigeon…": expected stdout, stdout:text, webhook:<url> or slack:<url>/],
    ['a sink kind misspelt', () => ['--room', 'a', '--sink', 'webhok:https://h.example/in'], undefined, /^presence-watcher: --sink "webhok…": expected stdout, stdout:text, webhook:<url> or slack:<url> \(did you mean webhook:<url>\?\)$/m],
    // a bare number is milliseconds: no delivery fits in 10 of them
    ['a drain timeout in milliseconds by mistake', () => ['--room', 'a', '--drain-timeout', '10'], undefined, /^presence-watcher: drain timeout 10ms is too short: .*0 stops without waiting; if you meant 10 seconds, write "10s" \(a number with no unit is milliseconds\)$/m],
    ['an --once-timeout in milliseconds by mistake', () => ['--room', 'a', '--once', '--once-timeout', '30'], undefined, /^presence-watcher: --once-timeout 30ms is too short: give the first snapshot some time, e\.g\. 30s \(the default\); if you meant 30 seconds, write "30s"/m],
    ["replay's --drain-timeout in milliseconds by mistake", () => ['replay', join(dir, 'dead.ndjson'), '--drain-timeout', '5'], undefined, /^presence-watcher: --drain-timeout 5ms is too short: replay waits this long .*; if you meant 5 seconds, write "5s"/m],
    ['sink with a bad URL', () => ['--room', 'a', '--sink', 'webhook:not a url'], undefined, /--sink webhook:…: the URL must be an http\(s\) URL/],
    ['a Slack incoming webhook as a webhook sink', () => ['--room', 'a', '--sink', 'webhook:https://hooks.slack.com/services/T0/B0/raw-secret-value'], undefined, /^presence-watcher: sinks\[0\]: hooks\.slack\.com\/services\/… is a Slack incoming webhook, which takes Slack messages, not the watcher's event JSON .*make it a slack sink \(--sink slack:<url>, or type: slack\)$/m],
    ['no room and no --all-rooms', () => [], undefined, /nothing to watch: give --room <name> \(repeatable\) or --all-rooms/],
    ['--room "*" meant as every room', () => ['--room', '*'], undefined, /^presence-watcher: --room "\*" \(rooms\) is not a room name: to watch every room of the domain use --all-rooms \(allRooms: true\)/],
    ['both --room and --all-rooms', () => ['--room', 'a', '--all-rooms'], undefined, /either --room .* or --all-rooms/],
    ["a room's URL for its name", () => ['--room', 'https://acme.daily.co/standup'], undefined, /^presence-watcher: --room "https:\/\/acme\.daily\.co\/standup" \(rooms\) is a room's URL, not its name: give --room standup$/m],
    ["a room's URL with a meeting token, no scheme, in a config file (the token is not repeated)", () => ['--config', writeConfig('c12.yaml', 'rooms: ["acme.daily.co/team%20sync?t=eyJsecret-token"]\n')], undefined, /^presence-watcher: --room "acme\.daily\.co\/team%20sync…" \(rooms\) is a room's URL, not its name: give --room "team sync"$/m],
    ["a URL whose path names no one room", () => ['--room', 'https://meet.example.com/'], undefined, /^presence-watcher: --room "https:\/\/meet\.example\.com\/" \(rooms\) is a room's URL, not its name: give the name, the last part of its URL$/m],
    ['missing DAILY_API_KEY', () => ['--room', 'a'], { DAILY_API_KEY: '' }, /DAILY_API_KEY is not set/],
    ['unreadable config', () => ['--config', join(dir, 'missing.yaml')], undefined, /cannot read config file .*missing\.yaml: no such file/],
    ['a directory as the config', () => ['--config', dir], undefined, /cannot read config file .*: it is a directory, not a file$/],
    ['--dead-letter /dev/stdout beside the stdout sink (its records would be mixed into the events)', () => ['--room', 'a', '--dead-letter', '/dev/stdout'], undefined, /^presence-watcher: --dead-letter \/dev\/stdout: that is this process's stdout, where the stdout sink writes the events: .*Give a file, or \/dev\/stderr$/],
    ['--dead-letter naming the --state file (its events would corrupt it)', () => ['--room', 'a', '--state', join(dir, 'st.json'), '--dead-letter', join(dir, 'st.json')], undefined, /^presence-watcher: --dead-letter .*\/st\.json: that is the --state file: dead-lettered events appended to it would corrupt it\. Give a file of its own, e\.g\. .*\/dead-letter\.ndjson$/],
    ["--dead-letter naming the --state file's outbox journal, spelt another way, by --check-config", () => ['--room', 'a', '--state', join(dir, 'st.json'), '--dead-letter', `${dir}/./st.json.outbox.ndjson`, '--check-config'], undefined, /^presence-watcher: --dead-letter .*: that is the --state file's outbox journal: /],
    ['--state naming the config file (the state would be saved over it)', () => ['--config', writeConfig('c13.yaml', 'rooms: [a]\n'), '--state', join(dir, '.', 'c13.yaml')], undefined, /^presence-watcher: --state \(state\) .*c13\.yaml is the config file itself: the state would be saved over it\. Give a file of its own$/],
    ['deadLetter in a config file naming that file', () => ['--config', writeConfig('c14.yaml', 'rooms: [a]\ndeadLetter: c14.yaml\n'), '--check-config'], undefined, /^presence-watcher: --dead-letter \(deadLetter\) .*c14\.yaml is the config file itself: dead-lettered events would be appended to it/],
    ['--once --ignore-initial without --state (it could never report anything)', () => ['--room', 'a', '--once', '--ignore-initial'], undefined, /^presence-watcher: --once with --ignore-initial and no --state would never report anything: .*Add --state <file>/],
    ['invalid YAML', () => ['--config', writeConfig('bad.yaml', 'rooms: [a\n  b: :')], undefined, /config file .*bad\.yaml is not valid YAML/],
    ['invalid JSON', () => ['--config', writeConfig('bad.json', '{"rooms": [')], undefined, /config file .*bad\.json is not valid JSON/],
    ['invalid field', () => ['--config', writeConfig('c1.yaml', 'rooms: [a]\nsinks:\n  - type: webhook\n    url: nope\n')], undefined, /c1\.yaml: sinks\[0\]\.url: must be an http\(s\) URL/],
    ['unknown sink type', () => ['--config', writeConfig('c2.yaml', 'rooms: [a]\nsinks:\n  - type: email\n')], undefined, /c2\.yaml: sinks\[0\].*stdout, webhook, slack/],
    ['unknown setting', () => ['--config', writeConfig('c3.yaml', 'rooms: [a]\ncolour: blue\n')], undefined, /c3\.yaml: .*unknown setting "colour"/],
    ['bad duration in config', () => ['--config', writeConfig('c4.json', '{"rooms":["a"],"interval":"fast"}')], undefined, /c4\.json: interval: "fast" is not a duration/],
    ['env var missing in config', () => ['--config', writeConfig('c5.yaml', 'rooms: [a]\napiKey: ${NOT_SET_ANYWHERE}\n')], undefined, /c5\.yaml: apiKey: environment variable NOT_SET_ANYWHERE is not set/],
    ['empty --ignore-user', () => ['--room', 'a', '--ignore-user', ''], undefined, /^presence-watcher: --ignore-user needs a user name, a user id or a pattern such as "\*Bot"$/],
    ['bad log level', () => ['--room', 'a', '--log-level', 'loud'], undefined, /--log-level "loud" must be one of/],
    ['bad log format', () => ['--room', 'a', '--log-format', 'xml'], undefined, /^presence-watcher: --log-format "xml" must be one of json, text$/m],
    ['bad health address', () => ['--room', 'a', '--health', 'localhost:http'], undefined, /--health "localhost:http": expected host:port/],
    ['bad max-rps', () => ['--room', 'a', '--max-rps', 'lots'], undefined, /--max-rps "lots" must be a number/],
    ['bad api url', () => ['--room', 'a', '--api-url', 'ftp://x'], undefined, /--api-url "ftp:\/\/x" is not an http\(s\) URL/],
    ["Daily's API over plain http (the key would go out unencrypted)", () => ['--room', 'a', '--api-url', 'http://api.daily.co/v1'], undefined, /^presence-watcher: --api-url \(apiUrl\): the API URL is plain http \(http:\/\/api\.daily\.co\): the API key would cross the network unencrypted; Daily's API is https:\/\/api\.daily\.co\/v1$/m],
    ["Daily's API over plain http, from DAILY_API_URL", () => ['--room', 'a'], { DAILY_API_URL: 'http://api.daily.co/v1' }, /^presence-watcher: DAILY_API_URL: the API URL is plain http/m],
    ['bad DAILY_API_URL', () => ['--room', 'a'], { DAILY_API_URL: 'not-a-url' }, /DAILY_API_URL "not-a-url" is not an http\(s\) URL/],
    ['a --health port out of range', () => ['--room', 'a', '--health', '0.0.0.0:99999'], undefined, /^presence-watcher: --health "0\.0\.0\.0:99999": port 99999 is out of range \(0–65535\)$/],
    ['bad PRESENCE_HEALTH (named as the variable, not as --health)', () => ['--room', 'a'], { PRESENCE_HEALTH: 'abc' }, /^presence-watcher: PRESENCE_HEALTH "abc": expected host:port, :port or port/],
    ['state directory cannot be created', () => ['--room', 'a', '--state', '/etc/hostname/sub/state.json'], undefined, /--state \/etc\/hostname\/sub\/state\.json: cannot create its directory \(ENOTDIR\)/],
    ['dead-letter file that cannot be written', () => ['--room', 'a', '--dead-letter', '/etc/hostname/sub/dead.ndjson'], undefined, /--dead-letter \/etc\/hostname\/sub\/dead\.ndjson: cannot write it \(ENOTDIR\)/],
    // procfs answers ENOENT to a mkdir under it, on which Node's recursive mkdir spins for ever (a daemon that hung at start, without a word)
    ...(existsSync('/proc/self')
      ? ([
          ['state directory under /proc', () => ['--room', 'a', '--state', '/proc/no-such/state.json'], undefined, /^presence-watcher: --state \/proc\/no-such\/state\.json: \/proc is on procfs, where no file can be made: give a path on a real filesystem \(under Docker, a volume\)$/],
          ['dead-letter directory under /proc', () => ['--room', 'a', '--dead-letter', '/proc/no-such/dead.ndjson'], undefined, /^presence-watcher: --dead-letter \/proc\/no-such\/dead\.ndjson: cannot write it \(\/proc is on procfs, where no file can be made: /],
        ] as typeof cases)
      : []),
    ['dead-letter path that is a directory', () => ['--room', 'a', '--dead-letter', dir], undefined, /--dead-letter .*: cannot write it \(EISDIR\)/],
    // `--state "$STATE"` with the variable unset ran the daemon without its state (or config), silently
    ['empty --state', () => ['--room', 'a', '--state', ''], undefined, /^presence-watcher: --state needs a file path, but its value is empty \(an unset shell variable\?\)$/],
    ['empty --config', () => ['--room', 'a', '--config', ''], undefined, /^presence-watcher: --config needs a file path, but its value is empty/],
    ['empty --dead-letter', () => ['--room', 'a', '--dead-letter='], undefined, /^presence-watcher: --dead-letter needs a file path, but its value is empty/],
    ['empty simulate --host (it would listen on every interface)', () => ['simulate', '--host', ''], undefined, /^presence-watcher: --host needs an address to listen on, e\.g\. 127\.0\.0\.1 \(the default\) or 0\.0\.0\.0, but its value is empty \(an unset shell variable\?\)$/],
    ['a --same-person rule that is not one', () => ['--room', 'a', '--same-person', 'email'], undefined, /^presence-watcher: --same-person "email" must be one of userId, name$/],
    ['a --same-person rule misspelt', () => ['--room', 'a', '--same-person', 'user-id'], undefined, /^presence-watcher: --same-person "user-id" must be one of userId, name \(did you mean "userId"\?\)$/],
    ['an event type misspelt', () => ['--room', 'a', '--events', 'join,leaves'], undefined, /^presence-watcher: --events "leaves": expected join, leave, update \(did you mean "leave"\?\)$/],
    ['a log level written out', () => ['--room', 'a', '--log-level', 'warning'], undefined, /^presence-watcher: --log-level "warning" must be one of trace, debug, info, warn, error, fatal, silent \(did you mean "warn"\?\)$/],
    ['simulate --reconnects over 1', () => ['simulate', '--reconnects', '20'], undefined, /^presence-watcher: --reconnects "20" must be a share from 0 to 1 \(0\.2: one in five\)$/],
    ['empty --config for replay', () => ['replay', 'dead.ndjson', '--config', ''], undefined, /^presence-watcher: --config needs a file path, but its value is empty/],
    // a directory where a file belongs: the lock went inside a directory nobody made ("cannot create lock …/.lock: ENOENT")
    ['--state ending in a slash', () => ['--room', 'a', '--state', join(dir, 'data') + '/'], undefined, /^presence-watcher: --state \(state\) .*\/data\/ ends in "\/", so it names a directory: give a file in it, e\.g\. .*\/data\/state\.json$/],
    ['deadLetter ending in a slash in a config file', () => ['--config', writeConfig('c11.yaml', `rooms: [a]\ndeadLetter: ${dir}/dl/\n`)], undefined, /^presence-watcher: --dead-letter \(deadLetter\) .*\/dl\/ ends in "\/", so it names a directory: give a file in it, e\.g\. .*\/dl\/dead-letter\.ndjson$/],
    // a FIFO held the daemon for good: reading one waits for a writer (the state, the outbox, and a
    // first SIGTERM did not stop it), appending to one waits for a reader (the dead-letter)
    ...(process.platform === 'linux'
      ? ([
          ['state file that is a FIFO', () => ['--room', 'a', '--state', fifo('state.json')], undefined, /^presence-watcher: state file .*state\.json is a FIFO \(named pipe\), not a regular file$/],
          ['outbox that is a FIFO', () => {
              fifo('st.json.outbox.ndjson');
              // (the state is read first, and logs that there is none: quiet that line)
              return ['--room', 'a', '--state', join(dir, 'st.json'), '--log-level', 'warn'];
            }, undefined, /^presence-watcher: outbox .*st\.json\.outbox\.ndjson is a FIFO \(named pipe\), not a regular file$/],
          ['dead-letter file that is a FIFO', () => ['--room', 'a', '--dead-letter', fifo('dead.ndjson')], undefined, /^presence-watcher: --dead-letter .*dead\.ndjson: cannot write it \(it is a FIFO \(named pipe\): appending to it would stall the daemon whenever nothing reads it; give a regular file, or \/dev\/stderr\)$/],
        ] as typeof cases)
      : []),
    ['proxy variable that is not a URL', () => ['--room', 'a'], { HTTPS_PROXY: 'proxy.corp:3128' }, /HTTPS_PROXY is set but is not an http\(s\) URL: write it as http:\/\/host:port/],
    ['stray argument', () => ['standup'], undefined, /unknown command "standup".*--room standup/],
    ['"check" as a command', () => ['check', '--config', 'w.yaml'], undefined, /^presence-watcher: unknown command "check": to check a config, add --check-config to the daemon's own flags/],
    // a right key that arrives wrong reads as 'Daily rejected the API key' (a 401) unless caught here
    ['API key in quotes (docker run --env-file keeps them)', () => ['--room', 'a'], { DAILY_API_KEY: '"raw-secret-value"' }, /^presence-watcher: DAILY_API_KEY: the Daily API key is wrapped in quotes, which are not part of it: .*DAILY_API_KEY=<key>, without them$/],
    ["API key that is a variable's name, never expanded (a systemd Environment= line)", () => ['--room', 'a'], { DAILY_API_KEY: '$DAILY_KEY' }, /^presence-watcher: DAILY_API_KEY: the Daily API key is a variable's reference \(\$NAME or \$\{NAME\}\) that was never expanded: a systemd unit's Environment= line, .*; give the key itself$/],
    ["webhook secret that is a variable's name, never expanded (single quotes)", () => ['--room', 'a', '--sink', 'webhook:http://127.0.0.1:9/x', '--webhook-secret', '${HOOK_SECRET}'], undefined, /^presence-watcher: .*webhook secret is a variable's reference \(\$NAME or \$\{NAME\}\) that was never expanded: .*; give the secret itself$/],
    ['API key with its Bearer scheme', () => ['--room', 'a'], { DAILY_API_KEY: 'Bearer raw-secret-value' }, /^presence-watcher: DAILY_API_KEY: the Daily API key starts with "Bearer ": give the key alone/],
    ['API key as the whole env line', () => ['--room', 'a'], { DAILY_API_KEY: 'DAILY_API_KEY=raw-secret-value' }, /^presence-watcher: DAILY_API_KEY: the Daily API key starts with "DAILY_API_KEY=": give the value alone/],
    ['webhook secret in quotes', () => ['--room', 'a', '--sink', 'webhook:http://127.0.0.1:9/x'], { PRESENCE_WEBHOOK_SECRET: `'${SECRET}'` }, /^presence-watcher: sinks\[0\]: webhook secret is wrapped in quotes, which are not part of it/],
    ['API key with a space inside', () => ['--room', 'a'], { DAILY_API_KEY: 'abc def-key' }, /^presence-watcher: DAILY_API_KEY: the Daily API key contains a space, a line break or a non-ASCII character inside it/],
    ['raw webhook secret ending in a line break', () => ['--room', 'a', '--sink', 'webhook:http://127.0.0.1:9/x'], { PRESENCE_WEBHOOK_SECRET: 'raw-secret-value\n' }, /webhook secret starts or ends with whitespace/],
    ['--limit with --all-rooms', () => ['--all-rooms', '--limit', '5'], undefined, /--limit \(limit\) applies to --room only/],
    ['bad --max-body', () => ['--room', 'a', '--max-body', '32 furlongs'], undefined, /^presence-watcher: --max-body "32 furlongs" is not a size: use e.g. 64MiB, 100MB or a number of bytes$/],
    ['bad maxBody in a config file', () => ['--config', writeConfig('c8.yaml', 'rooms: [a]\nmaxBody: 0\n')], undefined, /c8\.yaml: maxBody: "0" is not a size/],
    ['demo with an interval under the minimum', () => ['demo', '--interval', '5'], undefined, /^presence-watcher: demo: interval 5ms is too short: the minimum is 100ms/],
    ['demo --duration 0 (it would stop before its first poll)', () => ['demo', '--duration', '0'], undefined, /^presence-watcher: --duration 0 would stop the demo before its first poll: leave it out to run until Ctrl-C/],
    ['--once-timeout without --once', () => ['--room', 'a', '--once-timeout', '5s'], undefined, /^presence-watcher: --once-timeout applies to --once only$/],
    ['zero request timeout', () => ['--room', 'a', '--request-timeout', '0'], undefined, /request timeout 0ms is too short: give the Daily API some time, e.g. 10s \(the default\)$/],
    ['zero sink timeout in config', () => ['--config', writeConfig('c6.yaml', 'rooms: [a]\nsinks:\n  - type: webhook\n    url: http://127.0.0.1:9/x\n    timeout: 0\n')], undefined, /sinks\[0\]\.timeout 0ms is too short: give the receiver some time/],
    ['sink filter naming a room not watched', () => ['--config', writeConfig('c9.yaml', 'rooms: [standup, retro]\nsinks:\n  - type: stdout\n    rooms: [standpu]\n')], undefined, /^presence-watcher: sinks\[0\]\.rooms: "standpu" is not a watched room \(did you mean "standup"\?\), so this sink would never get its events; watching standup, retro/],
    ['several mistakes in one config file (each on a line of its own: the next test)', () => ['--config', writeConfig('c11.yaml', 'rooms: standup\nintervall: 15s\nsinks:\n  - type: slack\n    url: https://hooks.slack.com/services/T/B/raw-secret-value\n    events: [joins]\n'), '--check-config'], undefined, /^presence-watcher: .*c11\.yaml: 3 problems:$/],
    ['room pattern starting with * left unquoted in YAML', () => ['--config', writeConfig('c10.yaml', 'allRooms: true\nsinks:\n  - type: stdout\n    rooms: [*-retro]\n')], undefined, /c10\.yaml is not valid YAML: Unresolved alias .*: -retro \(a value that starts with \* must be quoted in YAML, e\.g\. rooms: \["\*-retro"\]\)$/],
    ['seconds written as a bare number in a config file', () => ['--config', writeConfig('c7.yaml', 'rooms: [a]\nrequestTimeout: 10\n')], undefined, /request timeout 10ms is too short: .*; if you meant 10 seconds, write "10s" \(a number with no unit is milliseconds\)$/],
    ['interval as a bare number of seconds', () => ['--room', 'a', '--interval', '15'], undefined, /^presence-watcher: interval 15ms is too short: the minimum is 100ms .*if you meant 15 seconds, write "15s" \(a number with no unit is milliseconds\)$/],
    ['negative number after a flag', () => ['--room', 'a', '--limit', '-1'], undefined, /--limit is followed by "-1", which looks like an option: .*--limit=-1/],
    ['flag missing its value', () => ['--room', 'a', '--interval', '--ignore-initial'], undefined, /--interval needs a value, but is followed by the option "--ignore-initial"/],
    ['bad webhook secret', () => ['--room', 'a', '--sink', 'webhook:http://127.0.0.1:9/x', '--webhook-secret', 'whsec_!!!'], undefined, /not base64/],
    ['a raw secret in a rotation', () => ['--room', 'a', '--sink', 'webhook:http://127.0.0.1:9/x', '--webhook-secret', SECRET, '--webhook-secret', 'raw-secret-value'], undefined, /^presence-watcher: --webhook-secret: secret 2 of 2 is not whsec_<base64>: only whsec_ secrets can be given together \(a rotation\)$/],
    ['a bad secret in a rotation from the environment', () => ['--room', 'a', '--sink', 'webhook:http://127.0.0.1:9/x'], { PRESENCE_WEBHOOK_SECRET: `${SECRET} whsec_!!` }, /^presence-watcher: sinks\[0\]: webhook secret: secret 2 of 2: the part after whsec_ is not base64$/],
  ];
  it.each(cases)('%s', async (_name, args, extraEnv, message) => {
    const r = await runCli(args(), { ...env(), ...(extraEnv ?? {}) });
    expect(r.code).toBe(2);
    const first = r.stderr.split('\n')[0]!;
    expect(first).toMatch(/^presence-watcher: /);
    expect(first).toMatch(message);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(r.stderr).not.toContain('raw-secret-value');
    expect(r.stdout).toBe('');
  });
});

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
    expect(check.stdout).toMatch(/^ {2}watch {8}12 room\(s\) \(standup, gone-1, .*, gone-11\), one snapshot \(--once\): 12 requests, about 3s at --max-rps 5$/m);
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
    expect(down.stderr).toMatch(/^presence-watcher: --once: no complete snapshot within 1s \(last error: network error talking to Daily for room "standup": connect ECONNREFUSED 127\.0\.0\.1:9\)\n$/);
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
    const dir = mkdtempSync(join(tmpdir(), 'pw-unwatched-'));
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
    ['an exception thrown from a callback', 'uncaught exception', "setTimeout(() => { throw new Error('bug in a timer, key ' + process.env.DAILY_API_KEY); }, 300);"],
    ['a promise rejected with nobody awaiting it', 'unhandled rejection', "setTimeout(() => { Promise.reject(new Error('bug in a promise, key ' + process.env.DAILY_API_KEY)); }, 300);"],
  ] as const)('a bug, %s, ends the daemon with exit 1 and its stack on stderr, secrets scrubbed', async (_name, what, code) => {
    const hook = join(dir, 'bug.cjs');
    writeFileSync(hook, `${code}\n`);
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

  it('simulate prints the URL and key, and serves presence', async () => {
    const run = start(['simulate', '--port', '0', '--rooms', '2', '--churn', '0', '--participants', '3']);
    const url = await run.until(() => /listening at (http:\/\/\S+)/.exec(run.stdout)?.[1]);
    const key = /DAILY_API_KEY=(\S+)/.exec(run.stdout)![1]!;
    const res = await fetch(`${url}/presence`, { headers: { authorization: `Bearer ${key}` } });
    const body = (await res.json()) as Record<string, unknown[]>;
    expect(Object.values(body).flat()).toHaveLength(3);
    expect(run.stdout).toContain('  rooms: standup, design-review\n');
    run.kill('SIGINT');
    expect((await run.exit).code).toBe(0);

    // thousands of rooms: the banner names ten, not every one
    const many = start(['simulate', '--port', '0', '--rooms', '5000', '--churn', '0']);
    await many.until(() => /Watch it with/.test(many.stdout));
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
});

describe('--check-config', () => {
  const SLACK = 'https://hooks.slack.com/services/T0001/B0001/tokenPart123456';

  it('prints what the daemon would run (targets, each sink with its filters, files) and exits 0, creating and sending nothing, secrets kept out', async () => {
    const cfg = writeConfig(
      'w.yaml',
      [
        'rooms: [standup, retro]',
        'health: 9464', // a bare port, unquoted: YAML reads it as a number
        `state: ${join(dir, 'data', 'state.json')}`,
        'saveEvery: 5m',
        `deadLetter: ${join(dir, 'dl', 'dead.ndjson')}`,
        'ignoreUsers: ["*Bot"]',
        'sinks:',
        '  - {type: slack, url: "${SLACK_URL}", events: [join], rooms: ["stand*"]}',
        '  - {type: webhook, url: "http://203.0.113.9/hook", secret: "${HOOK_SECRET}", ignoreUsers: []}',
        '  - {type: webhook, url: "https://h.example/hook", secret: "${HOOK_SECRET}", concurrency: 1}',
      ].join('\n'),
    );
    const r = await runCli(['--config', cfg, '--check-config'], env({ SLACK_URL: SLACK, HOOK_SECRET: SECRET }));
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^config OK \(.*w\.yaml, the flags and the environment\): the daemon would start with\n/);
    expect(r.stdout).toContain('watch        2 room(s) (standup, retro) every 15s: 0.13 requests/s of a 5/s budget');
    expect(r.stdout).toContain(`api          ${sim.url}, key from DAILY_API_KEY\n`);
    expect(r.stdout).toContain('slack-1(hooks.slack.com): events join; rooms stand*; ignoring *Bot; not the joins and leaves of a reconnect or a second device (sameUserAs)\n');
    expect(r.stdout).toContain("webhook-2(203.0.113.9): signed with 1 secret; up to 4 requests at once (one person's events in order); every event");
    expect(r.stdout).toContain('webhook-3(h.example): signed with 1 secret; one request at a time, in order; ignoring *Bot');
    expect(r.stdout).toContain(`state        ${join(dir, 'data', 'state.json')}: none yet (a first start: everyone present gets an initial join); written at most every 5m (--save-every)\n`);
    expect(r.stdout).toContain('health       127.0.0.1:9464');
    // an IPv6 address in brackets, as in a URL (":::9464" said nothing)
    const v6 = await runCli(['--room', 'a', '--health', '[::]:9464', '--check-config'], env());
    expect(v6.stdout).toContain('health       [::]:9464 (/healthz, /livez, /metrics)\n');
    expect(r.stdout).toContain('reconnects   paired by userId and name (set through meeting tokens; sessions without one are not paired)\n');
    expect(r.stdout).toContain('leaves       at the first poll a person is missing (no --leave-grace)\n');
    expect(r.stdout).toMatch(/notes:\n  - webhook-2\(203\.0\.113\.9\) posts over plain http to another machine/);
    expect(r.stdout).toContain('Not checked');
    for (const secret of [SLACK, 'tokenPart123456', SECRET, sim.apiKey]) expect(r.stdout).not.toContain(secret);
    // nothing made, nothing asked
    expect(readdirSync(dir)).toEqual(['w.yaml']);
    expect(sim.requests).toHaveLength(0);
  });

  it('--check-config warns of a room name that looks like a slip (a pattern, a list, a stray space), which Daily would answer 404 for', async () => {
    const r = await runCli(['--room', 'team-*', '--room', 'standup,retro', '--room', 'standup ', '--room', 'design', '--check-config'], env());
    expect(r.code).toBe(0);
    const notes = r.stdout.split('\n').filter((l) => l.startsWith('  - room '));
    expect(notes).toEqual([
      '  - room "team-*" is polled as written, and Daily likely knows no such room: rooms are polled by name ("*" is not a wildcard there): to watch every room that matches, use --all-rooms (allRooms) with a sink rooms filter',
      '  - room "standup,retro" is polled as written, and Daily likely knows no such room: one room per --room: repeat the flag (--room standup --room retro), or list them under rooms: in a config file',
      '  - room "standup " is polled as written, and Daily likely knows no such room: the name starts or ends with a space: is it quoted with one by mistake?',
    ]);
    // with --all-rooms no room is polled by name: nothing to say
    const all = await runCli(['--all-rooms', '--check-config'], env());
    expect(all.stdout).not.toContain('is polled as written');
  });

  it('--health that moves the endpoint off PRESENCE_HEALTH\'s port is warned of: the Docker image\'s HEALTHCHECK probes the variable\'s port and cannot see the flag', async () => {
    const image = { PRESENCE_HEALTH: '0.0.0.0:9464' };
    const note = (r: { stdout: string }) => r.stdout.split('\n').filter((l) => l.includes('replaces PRESENCE_HEALTH'));
    const moved = await runCli(['--room', 'a', '--health', '0.0.0.0:9100', '--check-config'], env(image));
    expect(moved.code).toBe(0);
    expect(note(moved)).toEqual([
      "  - --health 0.0.0.0:9100 replaces PRESENCE_HEALTH (0.0.0.0:9464), which a health check may still probe: the Docker image's HEALTHCHECK asks 127.0.0.1:9464, finds nothing there and marks the container unhealthy. To move the endpoint, set PRESENCE_HEALTH=0.0.0.0:9100 instead of --health (or PRESENCE_HEALTH= to turn it off)",
    ]);
    // the same port on every address: the probe still answers, nothing to say
    for (const same of ['0.0.0.0:9464', '[::]:9464']) {
      expect(note(await runCli(['--room', 'a', '--health', same, '--check-config'], env(image)))).toEqual([]);
    }
    // on loopback (a bare port): the image's check still answers, but nothing outside the container can
    const loopback = await runCli(['--room', 'a', '--health', '9464', '--check-config'], env(image));
    expect(note(loopback)).toEqual([
      "  - --health 127.0.0.1:9464 replaces PRESENCE_HEALTH (0.0.0.0:9464): the endpoint now answers on this machine's loopback only, out of reach of a Kubernetes probe (to the pod's address, so the pod is restarted over and over) or a Prometheus scrape from elsewhere. The image serves it already: drop --health, or give 0.0.0.0:9464",
    ]);
    // a PRESENCE_HEALTH on loopback itself (not the image's): nothing is taken from outside
    expect(note(await runCli(['--room', 'a', '--health', '9464', '--check-config'], env({ PRESENCE_HEALTH: '127.0.0.1:9464' })))).toEqual([]);
    // the same port on one other address (the pod's): 127.0.0.1 finds nothing there either
    expect(note(await runCli(['--room', 'a', '--health', '[::1]:9464', '--check-config'], env(image)))[0]).toContain('--health [::1]:9464 replaces PRESENCE_HEALTH (0.0.0.0:9464)');
    // a config file's health is the same setting; without PRESENCE_HEALTH nothing is replaced
    const dir = mkdtempSync(join(tmpdir(), 'pw-health-'));
    writeFileSync(join(dir, 'w.yaml'), 'rooms: [a]\nhealth: 9100\n');
    expect(note(await runCli(['--config', join(dir, 'w.yaml'), '--check-config'], env(image)))[0]).toContain('--health 127.0.0.1:9100 replaces PRESENCE_HEALTH');
    expect(note(await runCli(['--room', 'a', '--health', '0.0.0.0:9100', '--check-config'], env()))).toEqual([]);
  });

  it('--check-config says, behind a proxy, where each request goes, and warns of a target on this machine sent to a proxy on another', async () => {
    const proxyEnv = { HTTPS_PROXY: 'http://user:proxypass@proxy.corp:3128', NO_PROXY: 'hooks.internal' };
    const r = await runCli(
      ['--room', 'a', '--sink', 'slack:https://hooks.slack.com/services/T0/B0/x', '--sink', 'webhook:http://127.0.0.1:3000/in', '--sink', 'webhook:https://api.hooks.internal/x', '--check-config'],
      env({ ...proxyEnv, HTTP_PROXY: 'http://proxy.corp:3128' }),
    );
    expect(r.code).toBe(0);
    const block = r.stdout.slice(r.stdout.indexOf('  proxy'), r.stdout.indexOf('  health'));
    expect(block.split('\n')).toEqual([
      `  proxy        Daily (${new URL(sim.url).host}): through proxy.corp:3128 (HTTP_PROXY)`,
      '               slack-1(hooks.slack.com): through proxy.corp:3128 (HTTPS_PROXY)',
      '               webhook-2(127.0.0.1:3000): through proxy.corp:3128 (HTTP_PROXY)',
      '               webhook-3(api.hooks.internal): direct (NO_PROXY: hooks.internal)',
      '',
    ]);
    expect(r.stdout).not.toContain('proxypass');
    // the simulator and the receiver are here, the proxy is not: both would fail there
    const warned = r.stdout.split('\n').filter((l) => l.includes('is on this machine'));
    expect(warned).toEqual([
      `  - Daily (${new URL(sim.url).host}) is on this machine, but its requests go to the proxy in HTTP_PROXY (proxy.corp:3128), whose 127.0.0.1 is not this one: add 127.0.0.1 to NO_PROXY`,
      '  - webhook-2(127.0.0.1:3000) is on this machine, but its requests go to the proxy in HTTP_PROXY (proxy.corp:3128), whose 127.0.0.1 is not this one: add 127.0.0.1 to NO_PROXY',
    ]);
    // http:// with only HTTPS_PROXY set goes direct, and says why; a proxy on this machine reaches it, no warning
    const direct = await runCli(['--room', 'a', '--sink', 'webhook:http://127.0.0.1:3000/in', '--check-config'], env({ HTTPS_PROXY: 'http://127.0.0.1:3128' }));
    expect(direct.stdout).toContain('               webhook-1(127.0.0.1:3000): direct (HTTP_PROXY, which http:// URLs take, is not set)\n');
    const local = await runCli(['--room', 'a', '--check-config'], env({ HTTP_PROXY: 'http://127.0.0.1:3128' }));
    expect(local.stdout).toContain(`  proxy        Daily (${new URL(sim.url).host}): through 127.0.0.1:3128 (HTTP_PROXY)\n`);
    expect(local.stdout).not.toContain('is on this machine');
    // no proxy variable: no proxy line
    expect((await runCli(['--room', 'a', '--check-config'], env())).stdout).not.toContain('  proxy ');
  });

  it('a config file holding the API key as written, readable by every user, is noted by --check-config and warned of at start', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pw-exposed-'));
    const path = join(dir, 'w.yaml');
    writeFileSync(path, `apiKey: ${sim.apiKey}\nrooms: [standup]\n`);
    chmodSync(path, 0o644);
    const { DAILY_API_KEY: _key, ...noKey } = env();
    const r = await runCli(['--config', path, '--check-config'], noKey);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`  - ${path} holds secrets as written (apiKey) and every user of this machine can read it (mode 644): chmod 600`);
    expect(r.stdout).not.toContain(sim.apiKey);
    const run = start(['--config', path, ...FAST], noKey);
    await run.until(() => run.logs.some((l) => String(l.msg).startsWith('first snapshot taken')));
    expect(run.logs.filter((l) => l.level === 40 && String(l.msg).includes('holds secrets as written'))).toHaveLength(1);
    chmodSync(path, 0o600);
    expect((await runCli(['--config', path, '--check-config'], noKey)).stdout).not.toContain('holds secrets');
  });

  it('--check-config warns of a signing secret shorter than Standard Webhooks\' 24 random bytes, naming the sink, never the secret', async () => {
    const strong = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;
    const weakRaw = await runCli(['--room', 'standup', '--sink', 'webhook:https://h.example/in', '--webhook-secret', 'hunter2', '--check-config'], env());
    expect(weakRaw.code).toBe(0);
    expect(weakRaw.stdout).toContain('  - the signing secret of webhook-1(h.example) (7 bytes) is shorter than the 24 random bytes Standard Webhooks asks for');
    expect(weakRaw.stdout).not.toContain('hunter2');
    // a rotation is as weak as its weakest key: the old one, 16 bytes, is named by its size
    const oldWeak = `whsec_${Buffer.alloc(16, 9).toString('base64')}`;
    const rotating = await runCli(['--room', 'standup', '--sink', 'webhook:https://h.example/in', '--webhook-secret', strong, '--webhook-secret', oldWeak, '--check-config'], env());
    expect(rotating.stdout).toContain('the signing secret of webhook-1(h.example) (16 bytes) is shorter');
    expect(rotating.stdout).not.toContain(oldWeak);
    const ok = await runCli(['--room', 'standup', '--sink', 'webhook:https://h.example/in', '--webhook-secret', strong, '--check-config'], env());
    expect(ok.code).toBe(0);
    expect(ok.stdout).not.toContain('signing secret');
    // a raw secret of 24 bytes or more passes too
    const longRaw = await runCli(['--room', 'standup', '--sink', 'webhook:https://h.example/in', '--webhook-secret', 'x'.repeat(24), '--check-config'], env());
    expect(longRaw.stdout).not.toContain('signing secret');
  });

  it.runIf(process.platform === 'linux')('takes the daemon\'s own stderr as the dead-letter, a pipe as under Docker or systemd, where another FIFO is refused', async () => {
    // runCli gives the child pipes for stdout and stderr: /dev/stderr resolves to that pipe
    const own = await runCli(['--room', 'standup', '--dead-letter', '/dev/stderr', '--check-config'], env());
    expect(own.stderr).toBe('');
    expect(own.code).toBe(0);
    expect(own.stdout).toContain('dead-letter  /dev/stderr (writable)');
    const other = await runCli(['--room', 'standup', '--dead-letter', fifo('other.fifo'), '--check-config'], env());
    expect(other.code).toBe(2);
    expect(other.stderr).toMatch(/^presence-watcher: --dead-letter .*other\.fifo: cannot write it \(it is a FIFO \(named pipe\)/);
  });

  it('takes /dev/stdout as the dead-letter when no stdout sink writes events there', async () => {
    const r = await runCli(['--room', 'standup', '--sink', 'webhook:https://h.example/hook', '--dead-letter', '/dev/stdout', '--check-config'], env());
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^config OK/);
  });

  it('run with no arguments at all, points at the demo; with some, does not', async () => {
    const bare = await runCli([], env());
    expect(bare.code).toBe(2);
    expect(bare.stderr.split('\n')).toEqual([
      'presence-watcher: nothing to watch: give --room <name> (repeatable) or --all-rooms',
      'To see it work without a Daily account: presence-watcher demo',
      'Run "presence-watcher --help" for usage.',
      '',
    ]);
    const some = await runCli(['--interval', '30s'], env());
    expect(some.stderr).not.toContain('demo');
  });

  it("notes an API URL on Daily's host without the /v1 base", async () => {
    const r = await runCli(['--room', 'standup', '--api-url', 'https://api.daily.co', '--check-config'], env());
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('notes:\n  - the API URL\'s path is "/", but Daily\'s API base is https://api.daily.co/v1: expect every request to answer 404 ("room not found")');
  });

  it("notes a domain's meeting host given as the API, and another API over plain http to another machine (not over loopback)", async () => {
    const host = await runCli(['--room', 'standup', '--api-url', 'https://acme.daily.co/v1', '--check-config'], env());
    expect(host.code).toBe(0);
    expect(host.stdout).toContain("  - the API URL's host is acme.daily.co, a domain's meeting host, not Daily's API: every domain's API is https://api.daily.co/v1 (the API key says which domain)");
    const clear = await runCli(['--room', 'standup', '--api-url', 'http://mock.internal:8787/v1', '--check-config'], env());
    expect(clear.code).toBe(0);
    expect(clear.stdout).toContain("  - the API URL is plain http to another machine (mock.internal:8787): the API key and people's names cross the network unencrypted; use https unless that network is yours alone\n");
    const local = await runCli(['--room', 'standup', '--check-config'], env());
    expect(local.code).toBe(0);
    expect(local.stdout).not.toContain('plain http');
  });

  it('notes a destination given twice (each event would arrive twice), as the daemon logs it', async () => {
    const args = ['--room', 'standup', '--sink', 'stdout', '--sink', 'stdout:text', '--sink', 'webhook:https://h.example/x', '--sink', 'webhook:https://h.example/x', '--sink', 'webhook:https://h.example/y', '--webhook-secret', SECRET];
    const r = await runCli([...args, '--check-config'], env());
    expect(r.code).toBe(0);
    const twice = ['stdout and stdout-2 both write to stdout: an event both take arrives twice', 'webhook-3(h.example) and webhook-4(h.example) both post to the same URL: an event both take arrives twice'];
    for (const note of twice) expect(r.stdout).toContain(`  - ${note}\n`);
    expect(r.stdout).not.toMatch(/webhook-5.*same URL/);
    const daemon = start([...args, ...FAST, '--drain-timeout', '100ms']);
    await daemon.until(() => daemon.logs.some((l) => String(l.msg).startsWith('first snapshot taken')));
    daemon.kill('SIGTERM');
    await daemon.exit;
    expect(daemon.logs.filter((l) => l.level === 40).map((l) => l.msg)).toEqual(expect.arrayContaining(twice));
  });

  it('notes a leave grace or a --save-every no longer than a poll and under a second (most likely seconds meant), as the daemon logs it', async () => {
    const grace = 'leave grace 30ms is no longer than a poll: a leave waits for one more poll (15s) whatever the grace; if you meant 30 seconds, write "30s" (a number with no unit is milliseconds)';
    const every = '--save-every 60ms spaces nothing out: with a poll every 15s the state is written after every poll that changes it, as without it; if you meant 60 seconds, write "60s" (a number with no unit is milliseconds)';
    const r = await runCli(['--room', 'standup', '--leave-grace', '30', '--state', join(dir, 'notes.json'), '--save-every', '60', '--check-config'], env());
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`  - ${grace}\n`);
    expect(r.stdout).toContain(`  - ${every}\n`);
    // in seconds, or longer than the poll (milliseconds meant, at a 100 ms interval): nothing to say
    const meant = await runCli(['--room', 'standup', '--leave-grace', '30s', '--interval', '100ms', '--state', join(dir, 'notes.json'), '--save-every', '500', '--check-config'], env());
    expect(meant.code).toBe(0);
    expect(meant.stdout).not.toMatch(/leave grace|spaces nothing out/);
    const daemon = start(['--room', 'standup', '--leave-grace', '50', ...FAST, '--drain-timeout', '100ms']);
    await daemon.until(() => daemon.logs.some((l) => String(l.msg).startsWith('first snapshot taken')));
    daemon.kill('SIGTERM');
    await daemon.exit;
    expect(daemon.logs.filter((l) => l.level === 40).map((l) => l.msg)).toContain(
      'leave grace 50ms is no longer than a poll: a leave waits for one more poll (100ms) whatever the grace; if you meant 50 seconds, write "50s" (a number with no unit is milliseconds)',
    );
  });

  it('notes GET /presence polled faster than Daily\'s data moves (15 s), against Daily only', async () => {
    const daily = await runCli(['--all-rooms', '--interval', '2s', '--api-url', 'https://api.daily.co/v1', '--check-config'], env());
    expect(daily.code).toBe(0);
    expect(daily.stdout).toContain("  - polling GET /presence every 2s: Daily's domain-wide presence lags by up to 15 s and polling it more often gains nothing");
    const sim = await runCli(['--all-rooms', '--interval', '2s', '--check-config'], env());
    expect(sim.stdout).not.toContain('polling GET /presence every');
    const rooms = await runCli(['--room', 'standup', '--interval', '2s', '--api-url', 'https://api.daily.co/v1', '--check-config'], env());
    expect(rooms.stdout).not.toContain('polling GET /presence every');
  });

  it('a config the daemon would refuse: exit 2 with the very line the daemon gives', async () => {
    writeFileSync(join(dir, 'state.json'), '{"version": 1, "mode": "rooms", "rooms": ');
    if (process.platform === 'linux') fifo('pipe.json');
    const cases = [
      ['--room', 'standup', '--sink', 'webhook:https://h.example/x', '--webhook-secret', 'whsec_!!notbase64'],
      ['--room', 'standup', '--state', join(dir, 'state.json')],
      ['--room', 'standup', '--dead-letter', dir], // a directory
      ['--all-rooms', '--limit', '5'],
      ['--room', 'standup', '--state', '/etc/hostname/sub/state.json'], // its directory cannot be made
      ['--room', 'standup', '--dead-letter', '/etc/hostname/sub/dead.ndjson'],
      ...(process.platform === 'linux' ? [['--room', 'standup', '--state', join(dir, 'pipe.json')]] : []), // a FIFO, made below
      // on procfs and sysfs: as root the permission check passes what the kernel then refuses
      ...(existsSync('/proc/self') ? [['--room', 'standup', '--state', '/proc/self/state.json'], ['--room', 'standup', '--dead-letter', '/proc/no-such/dead.ndjson']] : []),
      ...(existsSync('/sys/kernel') ? [['--room', 'standup', '--state', '/sys/state.json']] : []),
      // two problems: the one the daemon meets first
      ['--room', 'standup', '--dead-letter', dir, '--sink', 'webhook:https://h.example/x', '--webhook-secret', 'whsec_!!notbase64'],
    ];
    for (const args of cases) {
      const check = await runCli([...args, '--check-config'], env());
      const daemon = await runCli([...args, ...FAST], env());
      expect(daemon.code, args.join(' ')).toBe(2);
      expect(check.code, args.join(' ')).toBe(2);
      expect(check.stdout).toBe('');
      expect(check.stderr.split('\n')[0]).toBe(daemon.stderr.split('\n')[0]);
    }
  });

  it('reads the state, outbox and lock as the daemon would find them: events orphaned by a changed sink URL, rooms the state never saw, a daemon holding the lock', async () => {
    const state = join(dir, 'state.json');
    const person = { id: 'p1', userId: null, userName: 'Ann', mtgSessionId: null, joinTime: null, duration: 1 };
    writeFileSync(state, JSON.stringify({ version: 1, savedAt: '2026-11-26T09:00:00.000Z', mode: 'rooms', rooms: { standup: [person] }, journalSeq: 1 }));
    const old = 'https://old.example/hook';
    const [oldKey] = sinkKeys([{ type: 'webhook', url: old }]);
    const join_ = { id: eventId('standup', 'p1', 'join'), type: 'join', room: 'standup', at: '2026-11-26T09:00:00.000Z', participant: person };
    writeFileSync(`${state}.outbox.ndjson`, JSON.stringify({ op: 'ev', seq: 1, event: join_, sinks: [oldKey] }) + '\n');
    const args = ['--room', 'standup', '--room', 'retro', '--state', state, '--sink', 'webhook:https://new.example/hook', '--webhook-secret', SECRET];
    const r = await runCli([...args, '--check-config'], env());
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`state        ${state}: saved 2026-11-26T09:00:00.000Z, 1 room(s), 1 people`);
    expect(r.stdout).toContain('outbox       1 undelivered event(s) from the last run, sent again at start');
    expect(r.stdout).toContain(`1 undelivered event(s) wait for ${oldKey}, which this config no longer has (removed, or its URL changed): the daemon moves them to the dead-letter at start`);
    expect(r.stdout).toContain('the state has never seen retro: its people get initial joins on the first poll (--ignore-initial drops them)');
    expect(r.stdout).not.toContain('in use by a running presence-watcher');
    // the files are as they were: the check neither compacts the outbox nor takes the lock
    expect(readdirSync(dir).sort()).toEqual(['state.json', 'state.json.outbox.ndjson']);

    const daemon = start([...args.slice(0, 6), '--sink', 'stdout', ...FAST]);
    await daemon.until(() => daemon.logs.some((l) => String(l.msg).startsWith('first snapshot taken')));
    const busy = await runCli(['--room', 'standup', '--state', state, '--sink', 'stdout', '--check-config'], env());
    expect(busy.code).toBe(0);
    expect(busy.stdout).toContain(`the state file is in use by a running presence-watcher (pid ${daemon.child.pid}): a daemon started with it now would exit 2 until that one stops`);
    daemon.kill('SIGTERM');
    expect((await daemon.exit).code).toBe(0);
  });
});
