import { describe, expect, it } from 'vitest';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, exposedConfigNote, loadConfigFile, MAX_SECRET_FILE_BYTES, resolveConfig, validateFileConfig } from '../src/config.js';
import { formatSize, parseSize } from '../src/util/size.js';
import { buildSink } from '../src/daemon.js';
import { quietLogger } from './support/helpers.js';
import { tempDir } from './support/tmp.js';

function problem(raw: unknown): string {
  try {
    validateFileConfig(raw, 'w.yaml', {});
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('config file errors', () => {
  it('every problem in the file is named, a line each, so one check shows them all; secrets stay out', () => {
    const hook = 'https://hooks.slack.com/services/T000/B000/SECRETPART';
    const message = problem({ rooms: 'standup', intervall: '15s', maxRps: -3, sinks: [{ type: 'slack', url: hook, events: ['joins'] }, { type: 'webhook', url: 'https://example.com/h', secret: 42 }] });
    expect(message.split('\n')).toEqual([
      'w.yaml: 5 problems:',
      '  - rooms: must be a list (in YAML: [a, b], or one "- item" a line), not the text "standup"',
      '  - sinks[0].events[0]: must be one of "join", "leave", "update", not the text "joins" (did you mean "join"?)',
      '  - sinks[1].secret: must be a secret, or a list of whsec_ secrets (a rotation), not a number',
      '  - maxRps: must be more than 0, not -3',
      '  - (top level): unknown setting "intervall" (did you mean "interval"?)',
    ]);
    expect(message).not.toContain('SECRETPART');
    expect(message).not.toContain('42');
    // past ten, the rest are counted
    const many = problem({ rooms: ['a'], sinks: Array.from({ length: 12 }, () => ({ type: 'stdout', format: 'xml' })) });
    const lines = many.split('\n');
    expect(lines[0]).toBe('w.yaml: 12 problems:');
    expect(lines.slice(1, 11)).toEqual(Array.from({ length: 10 }, (_, i) => `  - sinks[${i}].format: must be one of "json", "text", not the text "xml"`));
    expect(lines.slice(11)).toEqual(['  (and 2 more)']);
  });

  it('a key `__proto__` (JSON.parse and YAML make it a key of its own) is an unknown setting, not the settings\' prototype whose values were taken as given', () => {
    expect(problem(JSON.parse('{"__proto__": {"rooms": ["x"]}}'))).toMatch(/^w\.yaml: \(top level\): unknown setting "__proto__"/);
    expect(problem(JSON.parse('{"rooms": ["a"], "sinks": [{"type": "stdout", "__proto__": {"events": ["join"]}}]}'))).toBe('w.yaml: sinks[0]: unknown setting "__proto__"');
  });

  it('an unknown setting suggests the one it most likely meant', () => {
    expect(problem({ room: ['a'] })).toBe('w.yaml: (top level): unknown setting "room" (did you mean "rooms"?)');
    // the flag's spelling
    expect(problem({ 'all-rooms': true })).toBe('w.yaml: (top level): unknown setting "all-rooms" (did you mean "allRooms"?)');
    expect(problem({ rooms: ['a'], intervall: '15s', colour: 'blue', leave_grace: '30s' })).toBe(
      'w.yaml: (top level): unknown settings "intervall" (did you mean "interval"?), "colour", "leave_grace" (did you mean "leaveGrace"?)',
    );
    expect(problem({ rooms: ['a'], sinks: [{ type: 'webhook', url: 'https://example.com/h', secert: 'x' }] })).toBe(
      'w.yaml: sinks[0]: unknown setting "secert" (did you mean "secret"?)',
    );
    // nothing close: no guess
    expect(problem({ rooms: ['a'], colour: 'blue' })).toBe('w.yaml: (top level): unknown setting "colour"');
    // a setting of another kind of sink: said so, not "did you mean" itself
    expect(problem({ rooms: ['a'], sinks: [{ type: 'webhook', url: 'https://example.com/h', roomUrl: 'https://x.example/{room}' }] })).toBe(
      'w.yaml: sinks[0]: unknown setting "roomUrl" (a setting of slack sinks, not of webhook ones)',
    );
    expect(problem({ rooms: ['a'], sinks: [{ type: 'slack', url: 'https://hooks.slack.com/x', concurrency: 2 }] })).toBe(
      'w.yaml: sinks[0]: unknown setting "concurrency" (a setting of webhook sinks, not of slack ones)',
    );
  });

  it('a number out of range, or not whole, says the bound and what it got', () => {
    const hook = (concurrency: unknown) => ({ rooms: ['a'], sinks: [{ type: 'webhook', url: 'https://example.com/h', concurrency }] });
    expect(problem(hook(0))).toBe('w.yaml: sinks[0].concurrency: must be at least 1, not 0');
    expect(problem(hook(65))).toBe('w.yaml: sinks[0].concurrency: must be at most 64, not 65');
    expect(problem(hook(2.5))).toBe('w.yaml: sinks[0].concurrency: must be a whole number, not 2.5');
    expect(problem(hook('4'))).toBe('w.yaml: sinks[0].concurrency: must be a number, not the text "4"');
    expect(problem({ rooms: ['a'], maxRps: 0 })).toBe('w.yaml: maxRps: must be more than 0, not 0');
    expect(problem({ rooms: ['a'], queueCap: 2.5 })).toBe('w.yaml: queueCap: must be a whole number, not 2.5');
  });

  it('an empty list or an empty text says so in plain words (not zod\'s "Too small: expected array to have >=1 items")', () => {
    expect(problem({ rooms: ['a'], sinks: [{ type: 'stdout', events: [] }] })).toBe('w.yaml: sinks[0].events: must list at least 1, or be left out (the sink then takes every one)');
    expect(problem({ rooms: ['a'], sinks: [{ type: 'stdout', rooms: [] }] })).toBe('w.yaml: sinks[0].rooms: must list at least 1, or be left out (the sink then takes every one)');
    expect(problem({ rooms: ['a'], events: [] })).toBe('w.yaml: events: must list at least 1, or be left out');
    expect(problem({ rooms: [''] })).toBe('w.yaml: rooms[0]: is empty');
    expect(problem({ rooms: ['a'], apiKey: '' })).toBe('w.yaml: apiKey: is empty');
    expect(problem({ rooms: ['a'], ignoreUsers: ['Bot', ''] })).toBe('w.yaml: ignoreUsers[1]: is empty');
    // the schema's own words stay
    expect(problem({ rooms: ['a'], webhookSecret: [] })).toBe('w.yaml: webhookSecret: is an empty list: give at least one secret');
  });

  it('durations under their minimum say that a number with no unit is milliseconds', () => {
    const resolve = (file: object) => () => resolveConfig(validateFileConfig(file, 'w.yaml', {}), {}, { DAILY_API_KEY: 'k' });
    expect(resolve({ rooms: ['a'], interval: 1 })).toThrow(/; if you meant 1 second, write "1s" \(a number with no unit is milliseconds\)$/);
    expect(resolve({ rooms: ['a'], interval: 15 })).toThrow(/^interval 15ms is too short: the minimum is 100ms .*; if you meant 15 seconds, write "15s" \(a number with no unit is milliseconds\)$/);
    expect(resolve({ rooms: ['a'], requestTimeout: 10 })).toThrow(/^request timeout 10ms is too short: .*if you meant 10 seconds, write "10s" \(a number with no unit is milliseconds\)$/);
    expect(resolve({ rooms: ['a'], sinks: [{ type: 'slack', url: 'https://hooks.slack.com/x', timeout: 5 }] })).toThrow(/^sinks\[0\]\.timeout 5ms is too short: .*if you meant 5 seconds, write "5s" \(a number with no unit is milliseconds\)$/);
    expect(resolve({ rooms: ['a'], interval: 100, requestTimeout: 100 })).not.toThrow();
  });

  it('a duration that is not whole milliseconds is refused as such, not rounded to a number nobody wrote', () => {
    // rounded, "0.5ms" became "interval 1ms is too short … if you meant 1 second"
    expect(problem({ rooms: ['a'], interval: '0.5ms' })).toBe('w.yaml: interval: "0.5ms" is not a duration (a duration is a whole number of milliseconds)');
    expect(problem({ rooms: ['a'], leaveGrace: 1500.5 })).toBe('w.yaml: leaveGrace: "1500.5" is not a duration (a duration is a whole number of milliseconds)');
    expect(problem({ rooms: ['a'], interval: '2 s' })).toBe('w.yaml: interval: "2 s" is not a duration (use e.g. "15s", "500ms", "2m", or milliseconds)');
    // decimals that make whole milliseconds are durations, floating point's 1100.0000000000002 included
    const ms = (v: string | number) => resolveConfig(validateFileConfig({ rooms: ['a'], interval: v }, 'w.yaml', {}), {}, { DAILY_API_KEY: 'k' }).intervalMs;
    expect([ms('1.1s'), ms('0.25s'), ms('1.5m'), ms('1m0.5s'), ms(2000)]).toEqual([1100, 250, 90_000, 60_500, 2000]);
  });
});

describe('config file type errors', () => {
  it('say what was expected and what was found', () => {
    expect(problem({ rooms: 'standup' })).toBe('w.yaml: rooms: must be a list (in YAML: [a, b], or one "- item" a line), not the text "standup"');
    expect(problem({ allRooms: 'yes' })).toBe('w.yaml: allRooms: must be true or false, not the text "yes"');
    expect(problem({ maxRps: '5' })).toBe('w.yaml: maxRps: must be a number, not the text "5"');
    expect(problem({ rooms: null })).toBe('w.yaml: rooms: must be a list (in YAML: [a, b], or one "- item" a line), not empty (null)');
    expect(problem({ sinks: { type: 'stdout' } })).toMatch(/^w\.yaml: sinks: must be a list .*, not a mapping$/);
    expect(problem({ sinks: [{ type: 'slack', url: 'https://hooks.slack.com/x', events: ['joined'] }] })).toBe(
      'w.yaml: sinks[0].events[0]: must be one of "join", "leave", "update", not the text "joined" (did you mean "join"?)',
    );
    expect(problem({ samePerson: 'email' })).toBe('w.yaml: samePerson: must be one of "userId", "name", not the text "email"');
    expect(problem({ logLevel: 'verbose' })).toBe('w.yaml: logLevel: must be one of "trace", "debug", "info", "warn", "error", "fatal", "silent", not the text "verbose"');
    // a slip for a value gets the value it most likely meant; a word that is no slip for any gets none
    expect(problem({ logLevel: 'warning' })).toBe('w.yaml: logLevel: must be one of "trace", "debug", "info", "warn", "error", "fatal", "silent", not the text "warning" (did you mean "warn"?)');
    expect(problem({ samePerson: 'userid' })).toBe('w.yaml: samePerson: must be one of "userId", "name", not the text "userid" (did you mean "userId"?)');
  });

  it('a duration or size of the wrong kind, or YAML\'s .inf and .nan for a number: named, not "Invalid input"', () => {
    const d = 'must be a duration such as "15s", "500ms" or "2m", or a number of milliseconds';
    expect(problem({ interval: true })).toBe(`w.yaml: interval: ${d}, not a boolean (true)`);
    expect(problem({ leaveGrace: null })).toBe(`w.yaml: leaveGrace: ${d}, not empty (null)`);
    expect(problem({ drainTimeout: ['10s'] })).toBe(`w.yaml: drainTimeout: ${d}, not a list`);
    expect(problem({ interval: Infinity })).toBe(`w.yaml: interval: ${d}, not Infinity (YAML's .inf)`);
    expect(problem({ maxBody: false })).toBe('w.yaml: maxBody: must be a size such as "64MiB" or "100MB", or a number of bytes, not a boolean (false)');
    // (Infinity is a number to JavaScript: "must be a number, not a number (Infinity)" said nothing)
    expect(problem({ maxRps: Infinity })).toBe('w.yaml: maxRps: must be a finite number, not Infinity (YAML\'s .inf)');
    expect(problem({ queueCap: NaN })).toBe('w.yaml: queueCap: must be a finite number, not NaN (YAML\'s .nan)');
    expect(problem({ limit: -Infinity })).toBe('w.yaml: limit: must be a finite number, not -Infinity (YAML\'s -.inf)');
    // past the whole numbers a double holds exactly: zod's "Too big: expected int to be <=9007199254740991"
    expect(problem({ queueCap: 1e308 })).toBe('w.yaml: queueCap: must be at most 9007199254740991, not 1e+308');
    // a sink's own duration is that duration's problem, not a question about the sink's type
    expect(problem({ sinks: [{ type: 'webhook', url: 'https://hooks.example/in', timeout: false }] })).toBe(`w.yaml: sinks[0].timeout: ${d}, not a boolean (false)`);
    expect(problem({ sinks: [{ type: 'slack', url: 'https://hooks.slack.com/services/T1/B2/tok123', messageInterval: {} }] })).toBe(`w.yaml: sinks[0].messageInterval: ${d}, not a mapping`);
  });

  it('a name of digits that YAML read as a number: says to quote it', () => {
    const hint = ': quote it to keep it as text (unquoted, 0800 reads as the number 800)';
    expect(problem({ rooms: [2024] })).toBe(`w.yaml: rooms[0]: must be a string, not a number (2024)${hint}`);
    expect(problem({ ignoreUsers: ['bot', 4711] })).toBe(`w.yaml: ignoreUsers[1]: must be a string, not a number (4711)${hint}`);
    expect(problem({ sinks: [{ type: 'stdout', rooms: [800] }] })).toBe(`w.yaml: sinks[0].rooms[0]: must be a string, not a number (800)${hint}`);
  });

  it('health takes a bare port as a number (YAML reads "health: 9464" so), as the flag takes "--health 9464"', () => {
    const health = (file: object) => resolveConfig(validateFileConfig({ rooms: ['a'], ...file }, 'w.yaml', {}), {}, { DAILY_API_KEY: 'k' }).health;
    expect(health({ health: 9464 })).toEqual({ host: '127.0.0.1', port: 9464 });
    expect(health({ health: '0.0.0.0:9464' })).toEqual({ host: '0.0.0.0', port: 9464 });
    expect(problem({ health: 70000 })).toBe('w.yaml: health: must be host:port, :port or a port number (e.g. 127.0.0.1:9464 or 9464), not a number (70000)');
    expect(problem({ health: [9464] })).toBe('w.yaml: health: must be host:port, :port or a port number (e.g. 127.0.0.1:9464 or 9464), not a list');
  });

  it('never show the value of a secret', () => {
    expect(problem({ webhookSecret: 987654321987 })).toBe('w.yaml: webhookSecret: must be a secret, or a list of whsec_ secrets (a rotation), not a number');
    expect(problem({ apiKey: 123456789 })).toBe('w.yaml: apiKey: must be a string, not a number');
    expect(problem({ sinks: [{ type: 'webhook', url: 'https://h.example/x', secret: 424242424242 }] })).not.toContain('424242424242');
    // a sink, or the sinks, written as the command line's "webhook:<url>": the URL can hold a token
    const hint = ': each sink is a mapping, e.g. {type: slack, url: "https://hooks.slack.com/…"} (the "slack:<url>" form is --sink\'s, on the command line)';
    expect(problem({ sinks: ['webhook:https://h.example/?k=tok123'] })).toBe(`w.yaml: sinks[0]: must be a mapping of settings, not text${hint}`);
    expect(problem({ sinks: 'slack:https://hooks.slack.com/services/T1/B2/tok123' })).toBe(`w.yaml: sinks: must be a list (in YAML: [a, b], or one "- item" a line), not text${hint}`);
  });
});

describe('flags override the file', () => {
  it('--room or --all-rooms replaces the file\'s choice of what to watch, whichever it was', () => {
    const env = { DAILY_API_KEY: 'k' };
    const fromRooms = resolveConfig(validateFileConfig({ rooms: ['a', 'b'], limit: 50 }, 'w.yaml', {}), { allRooms: true }, env);
    expect([fromRooms.allRooms, fromRooms.rooms, fromRooms.limit]).toEqual([true, [], undefined]); // the file's limit went with its rooms
    expect(() => resolveConfig(validateFileConfig({ rooms: ['a'] }, 'w.yaml', {}), { allRooms: true, limit: 5 }, env)).toThrow(/--limit \(limit\) applies to --room only/);
    const fromAll = resolveConfig(validateFileConfig({ allRooms: true }, 'w.yaml', {}), { rooms: ['x'] }, env);
    expect([fromAll.allRooms, fromAll.rooms]).toEqual([false, ['x']]);
    expect(() => resolveConfig(validateFileConfig({ rooms: ['a'] }, 'w.yaml', {}), { rooms: ['x'], allRooms: true }, env)).toThrow(/^give either --room \(rooms\) or --all-rooms \(allRooms\), not both$/);
    // in the file alone, both is still a mistake
    expect(() => resolveConfig(validateFileConfig({ rooms: ['a'], allRooms: true }, 'w.yaml', {}), {}, env)).toThrow(/not both/);
  });
});

describe('a sink written the wrong way round', () => {
  it('the kind as its key, or a field left out: says what goes where', () => {
    expect(problem({ sinks: [{ slack: 'https://hooks.slack.com/services/T1/B2/tok123' }] })).toBe(
      'w.yaml: sinks[0].type: the kind of sink goes in type: and its address in url:, e.g. {type: slack, url: "https://…"}, not as "slack:" itself',
    );
    expect(problem({ sinks: [{ stdout: true }] })).toBe('w.yaml: sinks[0].type: the kind of sink goes in type: and its address in url:, e.g. {type: stdout}, not as "stdout:" itself');
    expect(problem({ sinks: [{ type: 'email' }] })).toBe('w.yaml: sinks[0].type: type must be one of stdout, webhook, slack');
    // a misspelt kind is named, with the kind it most likely meant
    expect(problem({ sinks: [{ type: 'webhok', url: 'https://hooks.example/in' }] })).toBe('w.yaml: sinks[0].type: type must be one of stdout, webhook, slack, not "webhok" (did you mean webhook?)');
    expect(problem({ sinks: [{ type: 'Slack', url: 'https://hooks.slack.com/services/T1/B2/tok123' }] })).toBe('w.yaml: sinks[0].type: type must be one of stdout, webhook, slack, not "Slack" (did you mean slack?)');
    expect(problem({ sinks: [{ type: 'slack' }] })).toBe('w.yaml: sinks[0].url: is missing (a string is required here)');
  });
});

describe('${VAR} in a config file', () => {
  const load = (text: string, env: Record<string, string>) => {
    const dir = tempDir('env');
    const file = join(dir, 'w.yaml');
    writeFileSync(file, text);
    return loadConfigFile(file, env);
  };

  it('a number or boolean field set whole from the environment takes its text as that number or boolean', () => {
    const text = 'rooms: ["${ROOM}"]\nmaxRps: ${MAX_RPS}\nqueueCap: ${CAP}\nallRooms: ${ALL}\nignoreInitial: ${QUIET}\nhealth: ${PORT}\n';
    expect(load(text, { ROOM: '2024', MAX_RPS: '2.5', CAP: '500', ALL: 'false', QUIET: 'true', PORT: '9464' })).toEqual({
      rooms: ['2024'], // a string field keeps the text, digits and all
      maxRps: 2.5,
      queueCap: 500,
      allRooms: false,
      ignoreInitial: true,
      health: '9464',
    });
  });

  it('what the text cannot be is an error naming the field, the variable and the value; the same text written in the file stays an error', () => {
    expect(() => load('maxRps: ${MAX_RPS}\n', { MAX_RPS: 'lots' })).toThrow(/^.*w\.yaml: maxRps: must be a number, not the text "lots" \(from environment variable MAX_RPS\)$/);
    expect(() => load('queueCap: ${CAP}\n', { CAP: '2.5' })).toThrow(/queueCap: .*\(from environment variable CAP\)$/);
    expect(() => load('allRooms: ${ALL}\n', { ALL: 'yes' })).toThrow(/allRooms: must be true or false, not the text "yes" \(from environment variable ALL\)$/);
    expect(() => load('maxRps: "5"\n', {})).toThrow(/maxRps: must be a number, not the text "5"$/);
    // part of a value is text whatever the field: "${N}0" is not read as a number
    expect(() => load('maxRps: "${N}0"\n', { N: '1' })).toThrow(/maxRps: must be a number, not the text "10"$/);
  });

  it('${VAR:-default} takes the default when the variable is unset or empty', () => {
    expect(load('interval: ${INTERVAL:-15s}\nmaxRps: ${MAX_RPS:-5}\nrooms: ["team-${TEAM:-a}"]\n', { INTERVAL: '2m', MAX_RPS: '' })).toEqual({
      interval: 120_000,
      maxRps: 5,
      rooms: ['team-a'],
    });
    expect(() => load('apiKey: ${NO_SUCH_KEY}\n', {})).toThrow(/apiKey: environment variable NO_SUCH_KEY is not set$/);
  });

  it('a whole value written $NAME, as a shell or .env file has it, is refused naming the braces it needs (it became a webhook secret of the name itself)', () => {
    expect(() => load('webhookSecret: $PRESENCE_WEBHOOK_SECRET\n', { PRESENCE_WEBHOOK_SECRET: 'whsec_abcd' })).toThrow(
      /webhookSecret: "\$PRESENCE_WEBHOOK_SECRET" would be taken as written, not as the environment variable: in a config file, write "\$\{PRESENCE_WEBHOOK_SECRET\}" \(in braces\)$/,
    );
    expect(() => load('sinks:\n  - type: slack\n    url: " $SLACK_URL "\n', {})).toThrow(/: sinks\[0\]\.url: "\$SLACK_URL" would be taken as written/);
    // a $ inside a value is text, as before
    expect(load('rooms: ["a$b", "$5"]\n', {}).rooms).toEqual(['a$b', '$5']);
  });

  it('$${NAME} is the text ${NAME} itself, not a reference (a header or URL that needs it literally)', () => {
    const text = 'sinks:\n  - type: webhook\n    url: https://example.com/h?t=$${TEMPLATE}&u=${USER_ID}\n    headers: {X-Template: "$${NOT_SET:-x} and ${SET}"}\n';
    expect(load(text, { USER_ID: '7', SET: 'yes' }).sinks).toEqual([
      { type: 'webhook', url: 'https://example.com/h?t=${TEMPLATE}&u=7', headers: { 'X-Template': '${NOT_SET:-x} and yes' } },
    ]);
  });
});

describe('secrets from files (<NAME>_FILE, as Docker and Kubernetes secrets arrive)', () => {
  const dir = tempDir('secret-file');
  const file = (name: string, text: string | Buffer) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };
  const watch = { rooms: ['standup'] };
  const fails = (env: Record<string, string>, file: object = {}): string => {
    try {
      resolveConfig(file, watch, env);
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      return (err as Error).message;
    }
    throw new Error('expected a ConfigError');
  };

  it("DAILY_API_KEY_FILE and PRESENCE_WEBHOOK_SECRET_FILE give the file's content, less its trailing line breaks and a byte order mark", () => {
    const cfg = resolveConfig({}, watch, {
      DAILY_API_KEY_FILE: file('key', 'key-from-file\n'),
      PRESENCE_WEBHOOK_SECRET_FILE: file('secret', '\ufeffwhsec_bmV3IHNlY3JldCBvZiAyNCBieXRlcyE=\r\n\n'),
    });
    expect(cfg.apiKey).toBe('key-from-file');
    expect(cfg.webhookSecret).toBe('whsec_bmV3IHNlY3JldCBvZiAyNCBieXRlcyE=');
    // an empty variable counts as unset, for either of the two
    expect(resolveConfig({}, watch, { DAILY_API_KEY: '', DAILY_API_KEY_FILE: file('key2', 'k2') }).apiKey).toBe('k2');
    expect(resolveConfig({}, watch, { DAILY_API_KEY: 'k3', DAILY_API_KEY_FILE: '' }).apiKey).toBe('k3');
    // the config file's apiKey wins, and the file is then not read at all
    expect(resolveConfig({ apiKey: 'from-config' }, watch, { DAILY_API_KEY_FILE: join(dir, 'missing') }).apiKey).toBe('from-config');
    // where the key came from, as --check-config says it (never the key)
    expect(resolveConfig({ apiKey: 'from-config' }, watch, { DAILY_API_KEY: 'k' }).apiKeyFrom).toBe("the config file's apiKey");
    expect(resolveConfig({}, watch, { DAILY_API_KEY: 'k', DAILY_API_KEY_FILE: '' }).apiKeyFrom).toBe('DAILY_API_KEY');
    expect(resolveConfig({}, watch, { DAILY_API_KEY_FILE: file('key4', 'k4') }).apiKeyFrom).toBe(`DAILY_API_KEY_FILE (${join(dir, 'key4')})`);
  });

  it('refuses the variable and its _FILE both set, a file it cannot read, an empty one and one far larger than a secret, naming the variable and the path, never the content', () => {
    const key = file('both', 'the-secret-in-the-file');
    const both = fails({ DAILY_API_KEY: 'the-secret-in-env', DAILY_API_KEY_FILE: key });
    expect(both).toBe('DAILY_API_KEY and DAILY_API_KEY_FILE are both set: keep one (DAILY_API_KEY_FILE names a file holding the value)');
    expect(fails({ DAILY_API_KEY_FILE: join(dir, 'missing') })).toBe(`DAILY_API_KEY_FILE: cannot read ${join(dir, 'missing')}: no such file`);
    expect(fails({ DAILY_API_KEY_FILE: dir })).toBe(`DAILY_API_KEY_FILE: cannot read ${dir}: it is a directory, not a file`);
    expect(fails({ DAILY_API_KEY_FILE: file('empty', '\n') })).toBe(`DAILY_API_KEY_FILE: ${join(dir, 'empty')} is empty: put the value of DAILY_API_KEY in it`);
    const big = file('big', Buffer.alloc(MAX_SECRET_FILE_BYTES + 1, 'a'));
    expect(fails({ DAILY_API_KEY_FILE: big })).toBe(`DAILY_API_KEY_FILE: ${big} is ${MAX_SECRET_FILE_BYTES + 1} bytes, more than a secret file holds (${MAX_SECRET_FILE_BYTES}): is it the right file?`);
    expect(fails({ DAILY_API_KEY: 'k', PRESENCE_WEBHOOK_SECRET: 'whsec_x', PRESENCE_WEBHOOK_SECRET_FILE: key })).toMatch(/^PRESENCE_WEBHOOK_SECRET and PRESENCE_WEBHOOK_SECRET_FILE are both set/);
    // a file written as an env file line: the key check says so, and says where the key came from
    const line = fails({ DAILY_API_KEY_FILE: file('line', 'DAILY_API_KEY=the-secret-in-the-file\n') });
    expect(line).toBe('DAILY_API_KEY (read from the file DAILY_API_KEY_FILE names): the Daily API key starts with "DAILY_API_KEY=": give the value alone, not the whole line');
    for (const m of [both, line]) expect(m).not.toContain('the-secret-in');
  });

  it("a config file's ${NAME} reads the file NAME_FILE names when NAME is unset; its problems name the field too", () => {
    const cfgDir = tempDir('secret-cfg');
    const cfg = join(cfgDir, 'w.yaml');
    writeFileSync(cfg, 'sinks:\n  - type: slack\n    url: ${SLACK_URL}\n  - type: webhook\n    url: https://example.com/h\n    headers: {Authorization: "Bearer ${TOKEN}"}\n');
    const url = file('slack', 'https://hooks.slack.com/services/T0/B0/abcdefghijklmnop\n');
    const loaded = loadConfigFile(cfg, { SLACK_URL_FILE: url, TOKEN_FILE: file('token', 'tok-123\n') });
    expect(loaded.sinks).toEqual([
      { type: 'slack', url: 'https://hooks.slack.com/services/T0/B0/abcdefghijklmnop' },
      { type: 'webhook', url: 'https://example.com/h', headers: { Authorization: 'Bearer tok-123' } },
    ]);
    expect(() => loadConfigFile(cfg, { SLACK_URL_FILE: join(dir, 'missing'), TOKEN: 't' })).toThrow(
      `${cfg}: sinks[0].url: SLACK_URL_FILE: cannot read ${join(dir, 'missing')}: no such file`,
    );
    expect(() => loadConfigFile(cfg, { SLACK_URL: 'https://hooks.slack.com/services/T0/B0/zzzzzzzzzzzzzzz', SLACK_URL_FILE: url, TOKEN: 't' })).toThrow(
      `${cfg}: sinks[0].url: SLACK_URL and SLACK_URL_FILE are both set: keep one (SLACK_URL_FILE names a file holding the value)`,
    );
  });
});

describe('a config file that does not parse', () => {
  const fails = (name: string, text: string): string => {
    const dir = tempDir('parse');
    const file = join(dir, name);
    writeFileSync(file, text);
    try {
      loadConfigFile(file, {});
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      return (err as Error).message.replace(file, name);
    }
    throw new Error('expected a ConfigError');
  };

  it('JSON: says where (line and column) and the likely slip, and never quotes the file (a value left unquoted may be a secret)', () => {
    const secret = 'sk_live_0123456789abcdef';
    const unquoted = fails('w.json', `{\n  "apiUrl": "https://x.example/v1",\n  "apiKey": ${secret}\n}`);
    expect(unquoted).toBe('config file w.json is not valid JSON at line 3, column 13: unexpected character (text must be in double quotes)');
    for (const part of [secret, secret.slice(0, 4), 'sk_l']) expect(unquoted).not.toContain(part);
    expect(fails('w.json', '{\n  // standup only\n  "rooms": ["standup"]\n}')).toMatch(
      /^config file w\.json is not valid JSON at line 2, column 3: .* \(JSON allows no comments: write the file as YAML, a \.yaml file, which reads this JSON as it is and allows # comments\)$/,
    );
    expect(fails('w.json', '{"rooms": ["standup"],\n}')).toMatch(/^config file w\.json is not valid JSON at line 2, column 1: .* \(a comma before a closing bracket: JSON allows none\)$/);
    expect(fails('w.json', '{"rooms": ["standup"]')).toMatch(/^config file w\.json is not valid JSON at line 1, column 22: /);
  });

  it('YAML: says where', () => {
    expect(fails('w.yaml', 'rooms: [standup]\ninterval: 15s\nrooms: [retro]\n')).toBe('config file w.yaml is not valid YAML at line 3, column 1: Map keys must be unique');
    expect(fails('w.yaml', 'rooms:\n\t- standup\n')).toBe('config file w.yaml is not valid YAML at line 2, column 1: Tabs are not allowed as indentation');
  });
});

describe('a config file saved with a byte order mark (as Windows editors save UTF-8)', () => {
  it('reads as it would without one, JSON and YAML; an error in it still says where', () => {
    const dir = tempDir('bom');
    const json = join(dir, 'w.json');
    writeFileSync(json, '\uFEFF{"rooms": ["standup"], "interval": "30s"}\n');
    expect(loadConfigFile(json, {})).toMatchObject({ rooms: ['standup'], interval: 30000 });
    const yaml = join(dir, 'w.yaml');
    writeFileSync(yaml, '\uFEFFrooms: [standup]\ninterval: 30s\n');
    expect(loadConfigFile(yaml, {})).toMatchObject({ rooms: ['standup'], interval: 30000 });
    writeFileSync(json, '\uFEFF{"rooms": ["standup"],\n}');
    expect(() => loadConfigFile(json, {})).toThrow(/not valid JSON at line 2, column 1: .*a comma before a closing bracket/);
  });
});

describe('paths in a config file', () => {
  it('a relative state or deadLetter is relative to the file (under systemd the working directory is /); an absolute one, or a flag, is taken as it is', () => {
    const dir = tempDir('paths');
    const file = join(dir, 'w.yaml');
    writeFileSync(file, 'rooms: [a]\nstate: data/state.json\ndeadLetter: ./dead.ndjson\n');
    const cfg = loadConfigFile(file, {});
    expect(cfg.state).toBe(join(dir, 'data', 'state.json'));
    expect(cfg.deadLetter).toBe(join(dir, 'dead.ndjson'));
    // a trailing slash stays, for the daemon to refuse by name
    writeFileSync(file, 'rooms: [a]\nstate: data/\n');
    expect(loadConfigFile(file, {}).state).toBe(join(dir, 'data') + '/');
    writeFileSync(file, 'rooms: [a]\nstate: /var/lib/presence/state.json\n');
    expect(loadConfigFile(file, {}).state).toBe('/var/lib/presence/state.json');
    // a flag is the shell's: relative to the working directory, as written
    const resolved = resolveConfig(loadConfigFile(file, {}), { state: 'here.json' }, { DAILY_API_KEY: 'k' });
    expect(resolved.statePath).toBe('here.json');
  });
});

describe('YAML anchors for settings sinks share', () => {
  const load = (text: string, env: Record<string, string> = {}) => {
    const dir = tempDir('anchor');
    const file = join(dir, 'w.yaml');
    writeFileSync(file, text);
    return loadConfigFile(file, env);
  };

  it('an x- block at the top holds them, and each sink merges it in with <<, overriding what it sets itself; the block is not read for ${VAR}s', () => {
    const cfg = load(
      [
        'x-alerts: &alerts',
        '  events: [join]',
        '  rooms: ["stand*"]',
        '  url: ${HOOK_URL}',
        'x-unused: {secret: "${NOT_SET_ANYWHERE}"}',
        'rooms: [standup]',
        'sinks:',
        '  - <<: *alerts',
        '    type: webhook',
        '  - <<: *alerts',
        '    type: slack',
        '    url: https://hooks.slack.com/services/T/B/x',
      ].join('\n'),
      { HOOK_URL: 'https://h.example/hook' },
    );
    expect(cfg.sinks).toEqual([
      { type: 'webhook', url: 'https://h.example/hook', events: ['join'], rooms: ['stand*'] },
      { type: 'slack', url: 'https://hooks.slack.com/services/T/B/x', events: ['join'], rooms: ['stand*'] },
    ]);
    expect(cfg).not.toHaveProperty('x-alerts');
  });

  it("the README's example loads", () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const yaml = /```yaml\n(x-alerts:[\s\S]*?)```/.exec(readme)?.[1];
    expect(yaml).toBeDefined();
    const cfg = load(`allRooms: true\n${yaml}`, { SLACK_WEBHOOK_URL: 'https://hooks.slack.com/services/T/B/x' });
    expect(cfg.sinks!.map((x) => [x.type, x.events, x.rooms])).toEqual([
      ['slack', ['join'], ['interview-*']],
      ['webhook', ['join'], ['interview-*']],
    ]);
  });

  it('a block without the x- is an unknown setting that says how to name it; other unknown settings do not', () => {
    expect(problem({ alerts: { events: ['join'] }, rooms: ['a'] })).toBe(
      'w.yaml: (top level): unknown setting "alerts" (a block of your own, for YAML anchors? name it "x-alerts": top-level keys starting with x- are ignored)',
    );
    expect(problem({ colour: 'red' })).toBe('w.yaml: (top level): unknown setting "colour"');
  });
});

describe('webhook headers', () => {
  const sink = (headers: unknown) => ({ sinks: [{ type: 'webhook', url: 'https://h.example/x', headers }] });
  it('a mapping of header names to text, checked, values never quoted in an error', () => {
    expect(validateFileConfig(sink({ Authorization: 'Bearer ${T}' }), 'w.yaml', { T: 'tok' }).sinks![0]).toMatchObject({ headers: { Authorization: 'Bearer tok' } });
    expect(problem(sink({ 'webhook-signature': 'v1,x' }))).toBe('w.yaml: sinks[0].headers: "webhook-signature" is set by the watcher itself (Standard Webhooks signing: give a secret instead)');
    expect(problem(sink({ 'Content-Type': 'text/plain' }))).toBe('w.yaml: sinks[0].headers: "Content-Type" is set by the watcher itself');
    expect(problem(sink({ 'X Api Key': 'k' }))).toMatch(/^w\.yaml: sinks\[0\]\.headers: "X Api Key" is not a header name/);
    expect(problem(sink({ 'X-Key': 'line\r\nX-Injected: 1' }))).toBe('w.yaml: sinks[0].headers: the value of "X-Key" has a line break or a control character');
    expect(problem(sink({ 'X-Key': 123456789 }))).toBe('w.yaml: sinks[0].headers.X-Key: must be a string, not a number');
    expect(problem({ sinks: [{ type: 'slack', url: 'https://hooks.slack.com/x', headers: { A: 'b' } }] })).toMatch(/unknown setting "headers"/);
    // credentials in the URL go as Basic auth: with an Authorization header as well, which one?
    expect(problem({ sinks: [{ type: 'webhook', url: 'https://u:pw-secret@h.example/x', headers: { authorization: 'Bearer t' } }] })).toBe(
      'w.yaml: sinks[0].headers: the URL carries user:password and headers sets Authorization as well: keep one',
    );
  });
});

describe('Slack messageInterval', () => {
  it('at most one message this often (the sink\'s least interval); under a second is refused', () => {
    const env = { DAILY_API_KEY: 'k' };
    const slack = (messageInterval: unknown) => ({ rooms: ['a'], sinks: [{ type: 'slack', url: 'https://hooks.slack.com/x', messageInterval }] });
    const cfg = resolveConfig(validateFileConfig(slack('1m'), 'w.yaml', {}), {}, env);
    expect(cfg.sinks[0]).toMatchObject({ messageInterval: 60_000 });
    const sink = buildSink(cfg.sinks[0]!, 0, undefined, { stdout: process.stdout, logger: quietLogger, version: '0' });
    expect(sink.minIntervalMs).toBe(60_000);
    expect(buildSink({ type: 'slack', url: 'https://hooks.slack.com/x' }, 0, undefined, { stdout: process.stdout, logger: quietLogger, version: '0' }).minIntervalMs).toBe(1100);
    expect(() => resolveConfig(validateFileConfig(slack('500ms'), 'w.yaml', {}), {}, env)).toThrow(
      /^sinks\[0\]\.messageInterval 500ms is too short: Slack takes about one message a second: 1s at the least/,
    );
    expect(problem({ sinks: [{ type: 'webhook', url: 'https://h.example/x', messageInterval: '1m' }] })).toMatch(/unknown setting "messageInterval"/);
  });
});

describe('signing secrets', () => {
  const A = 'whsec_' + Buffer.from('0123456789abcdef0123456789abcdef').toString('base64');
  const B = 'whsec_' + Buffer.from('the secret before the rotation!!').toString('base64');
  it('a list of whsec_ secrets (a rotation) is accepted, for every sink or one', () => {
    expect(validateFileConfig({ webhookSecret: [A, B] }, 'w.yaml', {}).webhookSecret).toBe(`${A} ${B}`);
    const sinks = validateFileConfig({ sinks: [{ type: 'webhook', url: 'https://h.example/x', secret: ['${NEW}', '${OLD}'] }] }, 'w.yaml', { NEW: A, OLD: B }).sinks!;
    expect(sinks[0]).toMatchObject({ secret: `${A} ${B}` });
    expect(validateFileConfig({ webhookSecret: 'raw with spaces' }, 'w.yaml', {}).webhookSecret).toBe('raw with spaces');
  });

  it("the README's config file example is a valid config", () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const yaml = /### Config file[\s\S]*?```yaml\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(yaml).toBeDefined();
    const dir = tempDir('cfg');
    const file = join(dir, 'readme.yaml');
    writeFileSync(file, yaml!);
    const env = { DAILY_API_KEY: 'k', PRESENCE_WEBHOOK_SECRET: A, SLACK_WEBHOOK_URL: 'https://hooks.slack.com/services/T/B/x', OTHER_SECRET: B, GATEWAY_TOKEN: 'gw' };
    const cfg = resolveConfig(loadConfigFile(file, env), {}, env);
    expect(cfg.sinks.map((x) => x.type)).toEqual(['slack', 'webhook', 'stdout']);
    expect(cfg.sinks[1]).toMatchObject({ headers: { Authorization: 'Bearer gw' } });
    expect(cfg.webhookSecret).toBe(A);
    expect(cfg.logFormat).toBe('json');
  });

  it('the YAML forms the README shows load: a quoted flow list and a block list, with ${VAR}s', () => {
    const dir = tempDir('cfg');
    const env = { NEW_SECRET: A, OLD_SECRET: B };
    const flow = join(dir, 'flow.yaml');
    writeFileSync(flow, 'webhookSecret: ["${NEW_SECRET}", "${OLD_SECRET}"]\n');
    expect(loadConfigFile(flow, env).webhookSecret).toBe(`${A} ${B}`);
    const block = join(dir, 'block.yaml');
    writeFileSync(block, 'sinks:\n  - type: webhook\n    url: https://h.example/x\n    secret:\n      - ${NEW_SECRET}\n      - ${OLD_SECRET}\n');
    expect(loadConfigFile(block, env).sinks![0]).toMatchObject({ secret: `${A} ${B}` });
  });

  it('a list with a raw secret, an empty list or an empty secret is an error that names the field, never the value', () => {
    expect(problem({ webhookSecret: [A, 'raw-secret-value'] })).toBe('w.yaml: webhookSecret: secret 2 of 2 is not whsec_<base64>: only whsec_ secrets can be given together (a rotation)');
    expect(problem({ sinks: [{ type: 'webhook', url: 'https://h.example/x', secret: ['raw-secret-value', A] }] })).toBe(
      'w.yaml: sinks[0].secret: secret 1 of 2 is not whsec_<base64>: only whsec_ secrets can be given together (a rotation)',
    );
    expect(problem({ webhookSecret: [] })).toBe('w.yaml: webhookSecret: is an empty list: give at least one secret');
    expect(problem({ webhookSecret: '' })).toBe('w.yaml: webhookSecret: is empty');
    expect(problem({ sinks: [{ type: 'webhook', url: 'https://h.example/x', secret: { a: 1 } }] })).toBe(
      'w.yaml: sinks[0].secret: must be a secret, or a list of whsec_ secrets (a rotation), not a mapping',
    );
  });
});

describe('sizes', () => {
  it('parse binary and decimal units, any case, or bytes', () => {
    expect(parseSize('32MiB')).toBe(32 * 1024 * 1024);
    expect(parseSize('100mb')).toBe(100_000_000);
    expect(parseSize('1.5 GiB')).toBe(1.5 * 1024 ** 3);
    expect(parseSize('512KiB')).toBe(524_288);
    expect(parseSize(' 2048 ')).toBe(2048);
    expect(parseSize(4096)).toBe(4096);
    for (const bad of ['', 'MiB', '10 XB', '-5MB', '1e9', '5 MB extra', Number.NaN, -1]) expect(parseSize(bad)).toBeUndefined();
    expect(formatSize(32 * 1024 * 1024)).toBe('33554432 bytes (32 MiB)');
    expect(formatSize(1024)).toBe('1024 bytes');
  });

  it('maxBody in a config file reaches the daemon config; the default is 32 MiB', () => {
    const resolve = (file: object) => resolveConfig(validateFileConfig(file, 'w.yaml', {}), {}, { DAILY_API_KEY: 'k' });
    expect(resolve({ rooms: ['a'], maxBody: '64MiB' }).maxBodyBytes).toBe(64 * 1024 * 1024);
    expect(resolve({ rooms: ['a'] }).maxBodyBytes).toBe(32 * 1024 * 1024);
  });
});

describe('sink room filters against the watched rooms', () => {
  const env = { DAILY_API_KEY: 'k' };
  const withSink = (rooms: string[], filter: string[], allRooms = false) =>
    () => resolveConfig(allRooms ? { allRooms: true, sinks: [{ type: 'stdout', rooms: filter }] } : { rooms, sinks: [{ type: 'stdout' }, { type: 'slack', url: 'https://hooks.slack.com/x', rooms: filter }] }, {}, env);
  it('a name or pattern that matches a watched room is accepted', () => {
    expect(withSink(['standup', 'interview-ann'], ['standup', 'interview-*'])).not.toThrow();
  });
  it('a name that is not watched is an error naming the sink, the entry and the rooms watched', () => {
    expect(withSink(['standup', 'retro'], ['standup', 'Retro'])).toThrow(
      'sinks[1].rooms: "Retro" is not a watched room (did you mean "retro"?), so this sink would never get its events; watching standup, retro (--room, or rooms in the config file)',
    );
    expect(withSink(['standup'], ['planning'])).toThrow(/^sinks\[1\]\.rooms: "planning" is not a watched room, so this sink/);
  });
  it('a pattern that matches no watched room is an error too; a long list of rooms is cut short', () => {
    const rooms = Array.from({ length: 9 }, (_, i) => `room-${i}`);
    expect(withSink(rooms, ['sales-*'])).toThrow(
      'sinks[1].rooms: "sales-*" matches none of the watched rooms, so this sink would never get its events; watching room-0, room-1, room-2, room-3, room-4, room-5 and 3 more (--room, or rooms in the config file)',
    );
  });
  it('rooms given by flag are the ones watched (flags override the file)', () => {
    const file = { rooms: ['standup'], sinks: [{ type: 'stdout' as const, rooms: ['standup'] }] };
    expect(() => resolveConfig(file, {}, env)).not.toThrow();
    expect(() => resolveConfig(file, { rooms: ['retro'] }, env)).toThrow(/"standup" is not a watched room/);
  });
  it('with every room of the domain watched, any filter is taken as given', () => {
    expect(withSink([], ['a-room-that-may-appear-later', 'sales-*'], true)).not.toThrow();
  });
});

/** The sinks resolveConfig makes of a file (watching room a) and flags. */
const resolvedSinks = (file: Parameters<typeof resolveConfig>[0], flags: Parameters<typeof resolveConfig>[1] = {}) =>
  resolveConfig({ rooms: ['a'], ...file }, flags, { DAILY_API_KEY: 'k' }).sinks;
const slack = { type: 'slack' as const, url: 'https://hooks.slack.com/x' };

describe('ignoreUsers', () => {
  const lists = (...a: Parameters<typeof resolvedSinks>) => resolvedSinks(...a).map((s) => s.ignoreUsers);
  it('the top-level list goes to every sink without a list of its own; a sink\'s own wins, an empty one too', () => {
    expect(lists({ ignoreUsers: ['*Bot'], sinks: [slack, { ...slack, ignoreUsers: ['recorder'] }, { ...slack, ignoreUsers: [] }, { type: 'stdout' }] })).toEqual([
      ['*Bot'],
      ['recorder'],
      [],
      ['*Bot'],
    ]);
    expect(lists({ ignoreUsers: ['*Bot'] })).toEqual([['*Bot']]); // the default stdout sink too
    expect(lists({})).toEqual([undefined]);
  });
  it('--ignore-user replaces the file\'s top-level list', () => {
    expect(lists({ ignoreUsers: ['*Bot'], sinks: [slack] }, { ignoreUsers: ['Zed'] })).toEqual([['Zed']]);
  });
  it('an entry of stars alone (everyone with a name) is an error, wherever it is given', () => {
    expect(() => lists({ ignoreUsers: ['Bot', '*'] })).toThrow(/^--ignore-user \(ignoreUsers\): "\*" matches every person with a name or user id, so nothing about them would be delivered/);
    expect(() => lists({}, { ignoreUsers: ['**'] })).toThrow(/^--ignore-user \(ignoreUsers\): "\*\*" matches every person/);
    expect(() => lists({ sinks: [slack, { ...slack, ignoreUsers: ['*'] }] })).toThrow(/^sinks\[1\]\.ignoreUsers: "\*" matches every person/);
    expect(() => lists({ ignoreUsers: ['*Bot', 'a*b'] })).not.toThrow();
  });
  it('is checked like any setting', () => {
    expect(problem({ rooms: ['a'], ignoreUsers: 'Bot' })).toBe('w.yaml: ignoreUsers: must be a list (in YAML: [a, b], or one "- item" a line), not the text "Bot"');
    expect(problem({ rooms: ['a'], sinks: [{ type: 'stdout', ignoreUser: ['Bot'] }] })).toBe('w.yaml: sinks[0]: unknown setting "ignoreUser" (did you mean "ignoreUsers"?)');
    expect(problem({ rooms: ['a'], ignoreUsers: [''] })).toMatch(/^w\.yaml: ignoreUsers\[0\]: /);
  });
});

describe('top-level events', () => {
  const events = (...a: Parameters<typeof resolvedSinks>) => resolvedSinks(...a).map((s) => s.events);
  it('go to every sink without events of its own, the default stdout sink included; a sink\'s own win', () => {
    expect(events({ events: ['join'], sinks: [slack, { ...slack, events: ['leave', 'update'] }] })).toEqual([['join'], ['leave', 'update']]);
    expect(events({ events: ['join'] })).toEqual([['join']]);
    expect(events({})).toEqual([undefined]);
  });
  it('--events replaces the file\'s list, and reaches the sinks given by --sink', () => {
    expect(events({ events: ['join'] }, { events: ['leave'], sinks: [slack] })).toEqual([['leave']]);
  });
  it('is checked like any setting', () => {
    expect(problem({ rooms: ['a'], events: ['joins'] })).toBe('w.yaml: events[0]: must be one of "join", "leave", "update", not the text "joins" (did you mean "join"?)');
    expect(problem({ rooms: ['a'], events: [] })).toMatch(/^w\.yaml: events: /);
  });
});

describe('a config file that holds secrets as written and that every user can read', () => {
  const file = (text: string, mode: number) => {
    const path = join(tempDir('exposed'), 'w.yaml');
    writeFileSync(path, text);
    chmodSync(path, mode);
    return path;
  };
  const YAML = [
    'apiKey: sk_live_written',
    'rooms: [a]',
    'x-auth: &auth',
    '  headers: { authorization: "Bearer hook-token" }',
    'sinks:',
    '  - type: slack',
    '    url: https://hooks.slack.com/services/T0/B0/tok',
    '  - type: webhook',
    '    url: ${HOOK_URL}',
    '    secret: whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
    '    <<: *auth',
    '  - type: webhook',
    '    url: http://127.0.0.1:3000/in',
    '',
  ].join('\n');
  const env = { HOOK_URL: 'https://h.example/in' };

  it('is noted, naming the settings (never their values) and the mode', () => {
    const notes: string[] = [];
    const path = file(YAML, 0o644);
    loadConfigFile(path, env, notes);
    expect(notes).toEqual([
      `${path} holds secrets as written (apiKey, sinks[0].url, sinks[1].secret, sinks[1].headers.authorization) and every user of this machine can read it (mode 644): chmod 600 ${path} (or 640 with the daemon's group), or take them from the environment ("\${DAILY_API_KEY}", "\${SLACK_WEBHOOK_URL}"; a <NAME>_FILE names a secrets file)`,
    ]);
    for (const secret of ['sk_live_written', 'tok', 'whsec_', 'hook-token']) expect(notes[0]).not.toContain(secret);
  });

  it('is not noted when others cannot read it, when every secret comes from ${VAR}, or on Windows', () => {
    for (const mode of [0o600, 0o640]) {
      const notes: string[] = [];
      loadConfigFile(file(YAML, mode), env, notes);
      expect(notes).toEqual([]);
    }
    const notes: string[] = [];
    loadConfigFile(file('apiKey: ${KEY}\nrooms: [a]\nsinks: [{ type: slack, url: "${SLACK}" }]\n', 0o644), { KEY: 'k', SLACK: 'https://hooks.slack.com/services/x' }, notes);
    expect(notes).toEqual([]);
    expect(exposedConfigNote(file(YAML, 0o644), { apiKey: 'k' }, 'win32')).toBeUndefined();
    expect(exposedConfigNote(file(YAML, 0o644), { apiKey: 'k' }, 'linux')).toContain('holds secrets as written (apiKey)');
  });
});
