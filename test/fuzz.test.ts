import { describe, expect, it } from 'vitest';
import { ConfigError, validateFileConfig } from '../src/config.js';
import { DailyApiError } from '../src/daily/errors.js';
import { parseDomainPresence, parseRoomPresence } from '../src/daily/parse.js';
import { seededRandom } from '../src/simulator/random.js';

const random = seededRandom(20261125);
const pick = <T,>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
const weird: unknown[] = [null, true, false, 0, -1, 1.5, NaN, 1e308, '', 'x', '\u0000', [], {}, [null], { id: 1 }, '__proto__', { toString: 1 }, '${RPS}', '${NOPE:-7}', '${NOPE}', 'a\r\nb'];

function randomValue(depth = 0): unknown {
  const r = random();
  if (depth > 3 || r < 0.4) return pick(weird);
  if (r < 0.7) return Array.from({ length: Math.floor(random() * 4) }, () => randomValue(depth + 1));
  const o: Record<string, unknown> = {};
  for (let i = 0; i < Math.floor(random() * 5); i++) o[pick(['id', 'data', 'total_count', 'userName', 'rooms', 'sinks', 'type', 'url', 'interval', 'x', 'headers', 'roomUrl', 'maxRps', 'Authorization'])] = randomValue(depth + 1);
  return o;
}

/** Replace a random node of a JSON value with a random value. */
function mutate(v: unknown): unknown {
  if (random() < 0.2 || v === null || typeof v !== 'object') return randomValue();
  const copy: Record<string, unknown> | unknown[] = Array.isArray(v) ? [...v] : { ...(v as object) };
  const keys = Object.keys(copy);
  if (keys.length === 0) return randomValue();
  const k = pick(keys);
  if (random() < 0.15) delete (copy as Record<string, unknown>)[k];
  else (copy as Record<string, unknown>)[k] = mutate((copy as Record<string, unknown>)[k]);
  return copy;
}

function mutateText(text: string): string {
  const r = random();
  const i = Math.floor(random() * text.length);
  if (r < 0.33) return text.slice(0, i);
  if (r < 0.66) return text.slice(0, i) + pick(['"', '{', ']', ',', '\\', 'null', '\u2028', '9e999']) + text.slice(i);
  return text.slice(0, i) + text.slice(i + 1 + Math.floor(random() * 10));
}

const participant = { room: 'r', id: 'a-1', userId: 'u', userName: 'N', mtgSessionId: 'm', joinTime: '2026-01-01T00:00:00.000Z', duration: 3 };
const roomBody = { total_count: 2, data: [participant, { ...participant, id: 'a-2' }] };
const domainBody = { r: [participant], s: [{ ...participant, id: 'b', room: 's' }] };
const config = {
  rooms: ['a'],
  interval: '${INTERVAL:-15s}',
  health: 9464,
  logFormat: 'text',
  sinks: [
    { type: 'webhook', url: 'https://x/y', events: ['join'], headers: { Authorization: 'Bearer ${TOKEN}' } },
    { type: 'slack', url: 'https://h/s', roomUrl: 'https://a.daily.co/{room}' },
  ],
  maxRps: '${RPS}',
  allRooms: '${ALL}',
};
/** What the config's ${VAR}s read; a mutation may reference one that is not here. */
const fuzzEnv = { RPS: '5', ALL: 'false', TOKEN: 'tok' };

function onlyTyped(fn: () => unknown, type: new (...a: never[]) => Error): 'ok' | 'typed' {
  try {
    fn();
    return 'ok';
  } catch (err) {
    if (!(err instanceof type)) throw new Error(`untyped error: ${String(err)}`);
    expect((err as Error).message.length).toBeGreaterThan(0);
    return 'typed';
  }
}

describe('fuzz: only typed errors, never a crash', () => {
  it('room presence parser (mutated structures and mutated text)', () => {
    const outcomes = { ok: 0, typed: 0 };
    for (let i = 0; i < 5000; i++) {
      const body = i % 2 ? mutate(roomBody) : safeParse(mutateText(JSON.stringify(roomBody)));
      const r = onlyTyped(() => {
        const p = parseRoomPresence('r', body);
        for (const x of p.participants) expect(typeof x.id).toBe('string');
      }, DailyApiError);
      outcomes[r]++;
    }
    expect(outcomes.ok).toBeGreaterThan(100);
    expect(outcomes.typed).toBeGreaterThan(100);
  });

  it('domain presence parser', () => {
    const outcomes = { ok: 0, typed: 0 };
    for (let i = 0; i < 5000; i++) {
      const body = i % 2 ? mutate(domainBody) : safeParse(mutateText(JSON.stringify(domainBody)));
      outcomes[onlyTyped(() => parseDomainPresence(body), DailyApiError)]++;
    }
    expect(outcomes.ok).toBeGreaterThan(100);
    expect(outcomes.typed).toBeGreaterThan(100);
  });

  it('config validation', () => {
    // the seed itself is valid: mutations start from every field the schema has something to say about
    expect(validateFileConfig(config, 'fuzz.yaml', fuzzEnv)).toMatchObject({ maxRps: 5, allRooms: false, health: '9464' });
    const outcomes = { ok: 0, typed: 0 };
    for (let i = 0; i < 3000; i++) {
      const raw = i % 3 === 0 ? randomValue() : mutate(config);
      outcomes[onlyTyped(() => validateFileConfig(raw, 'fuzz.yaml', fuzzEnv), ConfigError)]++;
    }
    expect(outcomes.ok).toBeGreaterThan(50);
    expect(outcomes.typed).toBeGreaterThan(50);
  });
});

/** Words from inside JavaScript or zod that a message for a person must not show (each was found once). */
const RAW_WORDS = /Invalid input|expected \w+, received|Too (small|big)|\[object \w+\]|Cannot read properties|Cannot convert|is not a function|is not iterable|Do not know how to serialize|not a number \((Infinity|NaN)\)|\.(inf|nan)\): quote it/;

/** Every setting the config file takes, valid: mutations start from each of them. */
const fullConfig = {
  rooms: ['a'],
  interval: '15s',
  maxRps: 5,
  queueCap: 100,
  outboxCap: 100,
  limit: 10,
  maxBody: '1MiB',
  leaveGrace: '30s',
  saveEvery: '1m',
  drainTimeout: '10s',
  requestTimeout: '10s',
  logLevel: 'info',
  logFormat: 'json',
  health: 9464,
  samePerson: 'name',
  events: ['join'],
  ignoreUsers: ['bot'],
  apiUrl: 'https://api.daily.co/v1',
  state: '/tmp/x.json',
  deadLetter: '/tmp/dl.ndjson',
  ignoreInitial: false,
  sinks: [
    { type: 'webhook', url: 'https://hooks.example/in', timeout: '10s', headers: { 'X-A': 'b' }, events: ['join'], rooms: ['a*'], ignoreUsers: ['bot'], concurrency: 2 },
    { type: 'slack', url: 'https://hooks.slack.com/services/T/B/x', messageInterval: '2s', roomUrl: 'https://acme.daily.co/{room}' },
    { type: 'stdout', format: 'text' },
  ],
};
const oddValues: unknown[] = [null, true, 0, -1, 1.5, NaN, Infinity, -Infinity, 1e308, '', 'x', [], {}, [null], ['a'], [1], { type: 'stdout' }, '15s', '-5s', 'https://hooks.slack.com/services/T/B/x'];

describe('fuzz: messages a person reads', () => {
  it("config file: every mistake is named in words, none in zod's or JavaScript's own (Invalid input, [object Object], Too big, …)", () => {
    expect(validateFileConfig(fullConfig, 'w.yaml', {})).toMatchObject({ maxRps: 5 });
    const bad: string[] = [];
    for (let i = 0; i < 4000; i++) {
      let raw: unknown = fullConfig;
      for (let m = 0; m < 1 + (i % 3); m++) raw = random() < 0.5 ? mutate(raw) : setRandomLeaf(raw);
      try {
        validateFileConfig(raw, 'w.yaml', {});
      } catch (err) {
        expect(err).toBeInstanceOf(ConfigError);
        for (const line of (err as Error).message.split('\n')) if (RAW_WORDS.test(line)) bad.push(line);
      }
    }
    expect([...new Set(bad)]).toEqual([]);
  });

  it('library constructors: a value of the wrong kind is a TypeError or RangeError naming the class, in words', async () => {
    const lib = await import('../src/index.js');
    const quiet = { debug() {}, info() {}, warn() {}, error() {} };
    const kinds: unknown[] = [...oddValues, undefined, () => {}, Symbol('s'), 10n, new Map()];
    const made: [string, () => unknown][] = [];
    for (let i = 0; i < 3000; i++) {
      const v = pick(kinds);
      const which = i % 6;
      if (which === 0) made.push(['PresenceWatcher', () => new lib.PresenceWatcher({ apiKey: 'k', rooms: ['a'], logger: quiet, [pick(['intervalMs', 'maxRps', 'maxPer5s', 'limit', 'leaveGraceMs', 'saveEveryMs', 'requestTimeoutMs', 'maxBodyBytes', 'backoffMinMs', 'samePerson', 'ignoreInitial', 'rooms'])]: v } as never)]);
      if (which === 1) made.push(['WebhookSink', () => new lib.WebhookSink(random() < 0.2 ? (v as never) : ({ url: 'http://127.0.0.1:9/h', [pick(['timeoutMs', 'concurrency', 'headers', 'secret', 'name'])]: v } as never))]);
      if (which === 2) made.push(['SlackSink', () => new lib.SlackSink(random() < 0.2 ? (v as never) : ({ url: 'https://hooks.slack.com/services/T/B/x', [pick(['timeoutMs', 'minIntervalMs', 'roomUrl', 'name'])]: v } as never))]);
      if (which === 3) made.push(['DailyClient', () => new lib.DailyClient(random() < 0.2 ? (v as never) : ({ apiKey: 'k', [pick(['apiUrl', 'timeoutMs', 'maxBodyBytes'])]: v } as never))]);
      if (which === 4) made.push(['simulator', () => new lib.DailySimulator(random() < 0.2 ? (v as never) : ({ [pick(['rooms', 'churn', 'reconnects', 'initialParticipants', 'seed', 'defaultLimit', 'compress', 'faults', 'apiKey'])]: v } as never))]);
      if (which === 5) made.push(['RateLimiter', () => new lib.RateLimiter({ [pick(['maxRps', 'maxPer5s'])]: v } as never)]);
    }
    const bad: string[] = [];
    for (const [name, make] of made) {
      try {
        const made = make() as { close?: () => unknown; stop?: () => unknown };
        void (made instanceof lib.PresenceWatcher ? made.stop() : made.close?.());
      } catch (err) {
        const message = String((err as Error).message);
        const named = message.startsWith(`${name}:`) || message.startsWith(`PresenceWatcher:`);
        if (!(err instanceof TypeError || err instanceof RangeError || err instanceof lib.WatcherOptionsError) || !named || RAW_WORDS.test(message)) bad.push(`${name}: ${(err as Error).constructor.name}: ${message}`);
      }
    }
    expect([...new Set(bad)]).toEqual([]);
  });

  it("sinks' lines: an event is refused where it enters, in words, or formatted on one line each, under Slack's limits (never a throw where a sink formats it: that dead-lettered the whole batch)", async () => {
    const { slackMessage, describeEvent } = await import('../src/sinks/slack.js');
    const { textLine } = await import('../src/sinks/stdout.js');
    const { isEvent } = await import('../src/events.js');
    const texts: unknown[] = [...oddValues, undefined, 'Ann', '<!channel>', '&<>', 'x'.repeat(5000), '\u{1F600}'.repeat(400), 'a\nb', '\u202e', '-271821-04-20T00:00:00.000Z', '+275760-09-13T00:00:00.000Z', -1e13, 8.64e12];
    const bad = new Set<string>();
    for (let i = 0; i < 3000; i++) {
      const events = Array.from({ length: 1 + (i % 4) }, (_, k) => {
        const type = pick(['join', 'leave', 'update'] as const);
        const e: Record<string, unknown> = {
          id: `evt_${i}_${k}`, type, room: pick(['standup', 'r'.repeat(3000), 'a\nb', '']), at: '2026-11-28T01:00:00.000Z',
          participant: { id: `p${k}`, userId: 'u', userName: 'Ann', mtgSessionId: 'm', joinTime: '2026-11-27T00:00:00.000Z', duration: 60 },
          ...(type === 'update' ? { changes: { userName: { from: 'A', to: 'B' } } } : {}),
        };
        for (let m = 0; m < 1 + (i % 3); m++) {
          const where = pick(['at', 'initial', 'changes', 'participant', 'participant', 'participant'] as const);
          if (where === 'participant') (e.participant as Record<string, unknown>)[pick(['userId', 'userName', 'mtgSessionId', 'joinTime', 'duration'])] = pick(texts);
          else if (where === 'changes') e.changes = random() < 0.5 ? pick(texts) : { [pick(['userName', 'userId', 'joinTime'])]: random() < 0.5 ? pick(texts) : { from: pick(texts), to: pick(texts) } };
          else e[where] = pick(texts);
        }
        return e as never;
      });
      for (const [name, format] of [
        ['describeEvent', () => events.map((e) => describeEvent(e))],
        ['textLine', () => events.filter(isEvent).map((e) => textLine(e))],
        ['slackMessage', () => {
          const m = slackMessage(events, { now: Date.parse('2026-11-28T02:00:00Z'), roomUrl: 'https://acme.daily.co/{room}' });
          const sections = m.blocks.flatMap((b) => ((b as { text?: { text: string } }).text ? [(b as { text: { text: string } }).text.text] : []));
          if (m.blocks.length > 50 || sections.some((t) => t.length > 3000)) bad.add('slackMessage: over a limit');
          return [m.text];
        }],
      ] as const) {
        try {
          for (const line of format()) if (/\n|\[object Object\]|undefined|NaN|Invalid Date/.test(line)) bad.add(`${name}: ${JSON.stringify(line).slice(0, 120)}`);
        } catch (err) {
          const typed = err instanceof TypeError && /^(describeEvent: its argument|slackMessage: events\[\d\]) must be a presence event \(as the watcher emits\): /.test((err as Error).message);
          if (!typed || RAW_WORDS.test((err as Error).message)) bad.add(`${name}: ${(err as Error).constructor.name}: ${(err as Error).message.slice(0, 160)}`);
        }
      }
    }
    expect([...bad]).toEqual([]);
  });
});

/** Set a random leaf of a JSON value (not the root) to one of oddValues. */
function setRandomLeaf(v: unknown): unknown {
  if (v === null || typeof v !== 'object') return pick(oddValues);
  const copy: Record<string, unknown> | unknown[] = Array.isArray(v) ? [...v] : { ...(v as object) };
  const keys = Object.keys(copy);
  if (keys.length === 0) return copy;
  const k = pick(keys);
  const child = (copy as Record<string, unknown>)[k];
  (copy as Record<string, unknown>)[k] = child !== null && typeof child === 'object' && random() < 0.6 ? setRandomLeaf(child) : pick(oddValues);
  return copy;
}

function safeParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text; // the client reports unparseable text itself; the parser must survive whatever it gets
  }
}
