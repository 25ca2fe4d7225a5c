// The CLI's usage errors and --check-config (test/cli.test.ts has the daemon's runs): a file of its
// own, so the two halves of the CLI's tests run side by side.
import { chmodSync, existsSync, readdirSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLI, runCli } from './support/cli.js';
import { sinkKeys } from '../src/daemon.js';
import { eventId } from '../src/diff.js';
import { SECRET, sim, dir, env, FAST, start, receiver, fifo, writeConfig } from './support/cli-harness.js';
import { tempDir } from './support/tmp.js';

describe('CLI usage errors exit 2 with one clear line and no stack trace', () => {
  const cases: [string, () => string[], Record<string, string | undefined> | undefined, RegExp][] = [
    ['unknown flag', () => ['--room', 'a', '--bogus'], undefined, /Unknown option '--bogus'$/],
    ['a flag a letter off', () => ['--rooms', 'a'], undefined, /^presence-watcher: Unknown option '--rooms' \(did you mean --room\?\)$/],
    ["the watcher's flag given to replay, which does not take it (whose it is, and replay's own)", () => ['replay', join(dir, 'dead.ndjson'), '--sink', 'stdout', '--events', 'join'], undefined, /^presence-watcher: Unknown option '--events': --events is the watcher's option, not replay's \(replay takes --sink, --webhook-secret, --config, --dead-letter, --drain-timeout, --log-level, --log-format, --dry-run\)$/],
    ["the watcher's flag given to simulate", () => ['simulate', '--interval', '1s'], undefined, /^presence-watcher: Unknown option '--interval': --interval is the watcher's option, not simulate's \(simulate takes --port, --host, --rooms, /],
    ['a flag spelt as the config setting', () => ['--allRooms', '--max_rps', '3'], undefined, /^presence-watcher: Unknown option '--allRooms' \(did you mean --all-rooms\?\)$/],
    ['two config files (they are not merged: the first was ignored)', () => ['--config', writeConfig('c12.yaml', 'rooms: [a]\n'), '--config=' + writeConfig('c13.yaml', 'interval: 30s\n')], undefined, /^presence-watcher: --config is given twice \(.*c12\.yaml, .*c13\.yaml\): config files are not merged; give one --config, and flags to override it$/],
    ['two config files for replay', () => ['replay', join(dir, 'dead.ndjson'), '--config', writeConfig('c12.yaml', 'rooms: [a]\n'), '--config', writeConfig('c13.yaml', 'interval: 30s\n')], undefined, /^presence-watcher: --config is given twice/],
    ['bad duration', () => ['--room', 'a', '--interval', '5 parsecs'], undefined, /--interval "5 parsecs" is not a duration/],
    ['bad leave grace', () => ['--room', 'a', '--leave-grace', 'soon'], undefined, /--leave-grace "soon" is not a duration/],
    ['a duration finer than a millisecond', () => ['--room', 'a', '--interval', '0.5ms'], undefined, /^presence-watcher: --interval "0\.5ms" is not a duration: a duration is a whole number of milliseconds$/m],
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
    ['missing DAILY_API_KEY', () => ['--room', 'a'], { DAILY_API_KEY: undefined }, /^presence-watcher: DAILY_API_KEY is not set: export your Daily API key/m],
    // set to nothing is another slip than not set: "is not set" sent people looking for an export that was there
    ['DAILY_API_KEY set to nothing (a compose file passing a variable its shell did not have)', () => ['--room', 'a'], { DAILY_API_KEY: '' }, /^presence-watcher: DAILY_API_KEY is set but empty: give it your Daily API key .*A compose file's \$\{DAILY_API_KEY\} is empty when the shell that ran compose did not have it/m],
    // before, the deliveries went out unsigned with only a note, each refused by a receiver that verifies them
    ['PRESENCE_WEBHOOK_SECRET set to nothing beside a webhook sink', () => ['--room', 'a', '--sink', 'webhook:https://hooks.example/x', '--check-config'], { PRESENCE_WEBHOOK_SECRET: '' }, /^presence-watcher: PRESENCE_WEBHOOK_SECRET is set but empty, so webhook deliveries would go unsigned: give it the signing secret .*or unset it to deliver unsigned$/m],
    ['PRESENCE_WEBHOOK_SECRET set to nothing, replay to a webhook', () => ['replay', join(dir, 'dead.ndjson'), '--sink', 'webhook:https://hooks.example/x'], { PRESENCE_WEBHOOK_SECRET: ' ' }, /^presence-watcher: PRESENCE_WEBHOOK_SECRET is set but empty/m],
    ["a config file's apiKey of blanks", () => ['--config', writeConfig('c15.yaml', 'rooms: [a]\napiKey: "  "\n')], undefined, /^presence-watcher: apiKey is empty: give your Daily API key \(dashboard → Developers\), or leave apiKey out and set DAILY_API_KEY$/m],
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
    ['demo --faults as a percentage', () => ['demo', '--faults', '30'], undefined, /^presence-watcher: --faults "30" must be a share from 0 to 1 \(0\.2: one in five\)$/],
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
    // the URL is the credential: its first request would carry the token in the clear, as plain http to Daily would the key
    ['a sink URL with a port past 65535', () => ['--room', 'a', '--sink', 'webhook:https://hooks.example:99999/x'], undefined, /^presence-watcher: --sink webhook:…: the URL is not valid: its port 99999 is past 65535$/],
    ['Slack over plain http', () => ['--room', 'a', '--sink', 'slack:http://hooks.slack.com/services/T1/B2/tok123'], undefined, /^presence-watcher: sinks\[0\]: hooks\.slack\.com over plain http: the webhook's URL is its credential and would cross the internet unencrypted; Slack's webhooks are https:\/\/hooks\.slack\.com\/…$/],
    ['a misspelt command', () => ['simualte', '--port', '0'], undefined, /^presence-watcher: unknown command "simualte" \(did you mean simulate\? the commands are simulate, demo and replay\)$/],
    // the form many daemons' CLIs take; the watcher has none
    ['"watch" as a command', () => ['watch', '--room', 'a'], undefined, /^presence-watcher: there is no "watch" command: the watcher runs with its flags alone \(presence-watcher --room standup, or --all-rooms\); the commands are simulate, demo and replay$/],
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


describe('--check-config', () => {
  const SLACK = 'https://hooks.slack.com/services/T0001/B0001/tokenPart123456';

  it('a long list of rooms goes on lines of its own under the watch line, each under 100 characters, every room in order (before: one line of all of them)', async () => {
    const rooms = Array.from({ length: 40 }, (_, i) => `room-number-${i + 1}`);
    for (const once of [[], ['--once']]) {
      const r = await runCli([...rooms.flatMap((room) => ['--room', room]), ...once, '--check-config'], env());
      expect(r.code).toBe(0);
      const lines = r.stdout.split('\n');
      const at = lines.findIndex((l) => l.startsWith('  watch        40 room(s)'));
      expect(lines[at]).toBe(once.length ? '  watch        40 room(s), one snapshot (--once): 40 requests, about 8s at --max-rps 5' : '  watch        40 room(s) every 15s: 2.7 requests/s of a 5/s budget');
      const below = lines.slice(at + 1, lines.findIndex((l, i) => i > at && !l.startsWith('             ')));
      for (const l of below) expect(l.length).toBeLessThanOrEqual(100);
      expect(below.map((l) => l.trim()).join(' ').split(', ')).toEqual(rooms);
    }
    const few = await runCli(['--room', 'standup', '--room', 'retro', '--check-config'], env());
    expect(few.stdout).toContain('  watch        2 room(s) (standup, retro) every 15s: 0.13 requests/s of a 5/s budget\n  api ');
  });

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

  it('a flag of one value given two different ones: the last is used, and --check-config and the start log say which', async () => {
    // before, --state a.json … --state b.json wrote b.json without a word (only --config refused a repeat)
    const a = join(dir, 'a.json');
    const b = join(dir, 'b.json');
    const args = ['--room', 'standup', '--state', a, '--interval', '5s', '--state', b, '--interval', '5s', '--max-rps', '2', '--max-rps', '3'];
    const r = await runCli([...args, '--check-config'], env());
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n').filter((l) => l.includes(' is given '))).toEqual([
      `  - --state is given twice ("${a}", "${b}"): the last one, "${b}", is used`,
      '  - --max-rps is given twice ("2", "3"): the last one, "3", is used',
    ]);
    expect(r.stdout).toContain(`state        ${b}`);
    const run = start([...args, '--once']);
    expect((await run.exit).code).toBe(0);
    expect(run.logs.filter((l) => l.level === 40).map((l) => l.msg)).toContain(`--state is given twice ("${a}", "${b}"): the last one, "${b}", is used`);
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
    const dir = tempDir('health');
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
    const dir = tempDir('exposed');
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

  it('a dead-letter file holding events from before is named at start and by --check-config, with its size, when it was last written, and how to replay it; an empty or missing one is not', async () => {
    const held = join(dir, 'held-dead.ndjson');
    writeFileSync(held, `${JSON.stringify({ at: '2026-01-01T00:00:00.000Z', sink: 'webhook-1(x)', reason: 'HTTP 500', event: { id: 'e1', type: 'join', room: 'standup', at: 'x', participant: { id: 'p1', userId: null, userName: 'Ann' } } })}\n`.repeat(3));
    utimesSync(held, new Date('2026-11-27T18:02:30Z'), new Date('2026-11-27T18:02:30Z'));
    const size = statSync(held).size;
    const said = `${held} holds ${size} bytes of events not delivered, the last written 2026-11-27 18:02 UTC: once what refused them is fixed, "presence-watcher replay ${held}" sends them again (its --dry-run first says where each would go)`;
    const checked = await runCli(['--room', sim.roomNames[0]!, '--dead-letter', held, '--check-config'], env());
    expect(checked.code).toBe(0);
    expect(checked.stdout).toContain(`notes:\n  - ${said}\n`);
    const once = await runCli(['--room', sim.roomNames[0]!, '--dead-letter', held, '--once', '--log-format', 'json'], env());
    expect(once.code).toBe(0);
    expect(once.stderr.split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { msg: string }).msg)).toContain(said);
    for (const path of [join(dir, 'empty-dead.ndjson'), join(dir, 'no-such-dead.ndjson')]) {
      if (path.includes('empty')) writeFileSync(path, '');
      const quiet = await runCli(['--room', sim.roomNames[0]!, '--dead-letter', path, '--check-config'], env());
      expect(quiet.code).toBe(0);
      expect(quiet.stdout).not.toContain('events not delivered');
    }
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
    // (twenty-two processes: the check and the daemon of a case side by side, and the time allowed
    // for that many starts on a loaded 2-core machine, where one at a time overran 20 s)
    for (const args of cases) {
      const [check, daemon] = await Promise.all([runCli([...args, '--check-config'], env()), runCli([...args, ...FAST], env())]);
      expect(daemon.code, args.join(' ')).toBe(2);
      expect(check.code, args.join(' ')).toBe(2);
      expect(check.stdout).toBe('');
      expect(check.stderr.split('\n')[0]).toBe(daemon.stderr.split('\n')[0]);
    }
  }, 60_000);

  it("a state that records no time it was saved (or one that is no time) is read, and said so, not shown as 'saved undefined'", async () => {
    const state = join(dir, 'state.json');
    for (const savedAt of [undefined, 12, 'yesterday']) {
      writeFileSync(state, JSON.stringify({ version: 1, savedAt, mode: 'rooms', rooms: { standup: [] } }));
      const r = await runCli(['--room', 'standup', '--state', state, '--check-config'], env());
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(`state        ${state}: saved at a time it does not record, 1 room(s), 0 people`);
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

