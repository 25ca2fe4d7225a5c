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

function safeParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text; // the client reports unparseable text itself; the parser must survive whatever it gets
  }
}
