import { createServer, type Server } from 'node:http';
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DailyClient, encodeRoomSegment } from '../src/daily/client.js';
import { DailyApiError } from '../src/daily/errors.js';
import { parseDomainEntries, parseRoomEntries, type ParticipantEntry } from '../src/daily/parse.js';
import { DomainTracker } from '../src/tracker.js';
import { DailySimulator } from '../src/simulator/simulator.js';
import { WebhookSink } from '../src/sinks/webhook.js';
import { joinOf } from './support/helpers.js';

let sim: DailySimulator;
let client: DailyClient;
/**
 * The simulator's clock, stopped at each test's start: a test that compares two answers (several do)
 * would otherwise see every duration one higher when its requests straddle a second.
 */
let stoppedAt: number | undefined;

beforeAll(async () => {
  sim = new DailySimulator({ rooms: ['standup', '../presence', 'name with spaces/and?query'], now: () => stoppedAt ?? Date.now() });
  await sim.listen();
  client = new DailyClient({ apiKey: sim.apiKey, apiUrl: sim.url, timeoutMs: 300 });
});
afterAll(async () => {
  await client.close();
  await sim.close();
});
beforeEach(() => {
  stoppedAt = Date.now();
});
afterEach(() => {
  sim.clearFaults();
  stoppedAt = undefined;
});

/** Run `fn`, then fail if an exception went uncaught meanwhile (a dropped body's late 'error' crashed the daemon once). */
async function withoutUncaught(fn: () => Promise<void>): Promise<void> {
  const uncaught: unknown[] = [];
  const record = (e: unknown) => uncaught.push(e);
  process.on('uncaughtException', record);
  try {
    await fn();
  } finally {
    process.off('uncaughtException', record);
  }
  expect(uncaught).toEqual([]);
}

async function failure(p: Promise<unknown>): Promise<DailyApiError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(DailyApiError);
  return err as DailyApiError;
}

describe('DailyClient against the simulator', () => {
  it('a network error says when it went through the proxy in HTTP_PROXY, naming it, for Daily and for a webhook; not for one NO_PROXY sends direct', async () => {
    process.env.HTTP_PROXY = 'http://127.0.0.1:9'; // a proxy that refuses connections
    const viaProxy = new DailyClient({ apiKey: sim.apiKey, apiUrl: sim.url, timeoutMs: 1000 });
    const hook = new WebhookSink({ url: 'http://127.0.0.1:9/hook', timeoutMs: 1000 });
    try {
      const err = await failure(viaProxy.getRoomPresence('standup'));
      expect(err.message).toMatch(/^network error talking to Daily for room "standup" \(through the proxy in HTTP_PROXY, 127\.0\.0\.1:9\): /);
      await expect(hook.deliver([joinOf(1)], new AbortController().signal)).rejects.toThrow(
        /^network error posting to 127\.0\.0\.1:9 \(through the proxy in HTTP_PROXY, 127\.0\.0\.1:9\): /,
      );
    } finally {
      delete process.env.HTTP_PROXY;
      await viaProxy.close();
      await hook.close();
    }
    // NO_PROXY names the host: the request went direct, and the message must not send anyone to the proxy
    process.env.HTTP_PROXY = 'http://127.0.0.1:9';
    process.env.NO_PROXY = '127.0.0.1';
    const direct = new WebhookSink({ url: 'http://127.0.0.1:9/hook', timeoutMs: 1000 });
    try {
      await expect(direct.deliver([joinOf(1)], new AbortController().signal)).rejects.toThrow(/^network error posting to 127\.0\.0\.1:9: connect ECONNREFUSED/);
    } finally {
      delete process.env.HTTP_PROXY;
      delete process.env.NO_PROXY;
      await direct.close();
    }
  });

  it('a refused connection is a network error that names the cause once', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as { port: number }).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const nowhere = new DailyClient({ apiKey: sim.apiKey, apiUrl: `http://127.0.0.1:${port}/v1`, timeoutMs: 1000 });
    try {
      const err = await failure(nowhere.getRoomPresence('standup'));
      expect(err.code).toBe('DAILY_NETWORK_ERROR');
      expect(err.retryable).toBe(true);
      // (in a container, as CI may be, the hint goes on to say where the host machine is)
      expect(err.message.startsWith(`network error talking to Daily for room "standup": connect ECONNREFUSED 127.0.0.1:${port} (nothing accepts connections on that port there: is it running, and is the port right?`)).toBe(true);
      expect(err.message.match(/ECONNREFUSED/g)).toHaveLength(1);
    } finally {
      await nowhere.close();
    }
  });

  it('a web page where JSON belongs (a proxy login, a captive portal) is said to be one, without its content', async () => {
    const portal = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end('\n<!doctype html><html><body>Sign in to the corporate network: portal-secret-token</body></html>');
    });
    await new Promise<void>((r) => portal.listen(0, '127.0.0.1', r));
    const port = (portal.address() as { port: number }).port;
    const c = new DailyClient({ apiKey: sim.apiKey, apiUrl: `http://127.0.0.1:${port}/v1`, timeoutMs: 1000 });
    try {
      for (const call of [() => c.getRoomPresence('standup'), () => c.getDomainPresence(), async () => (await c.getRoomText('standup')).whole(), async () => (await c.getDomainEntriesDeferred()).forEach(() => undefined)]) {
        const err = await failure(call());
        expect(err).toMatchObject({ code: 'DAILY_INVALID_RESPONSE', retryable: true });
        expect(err.message).toMatch(/: the body is an HTML or XML page \(\d+ bytes\), not Daily's JSON: a proxy's or captive portal's page, a gateway's error page, or --api-url pointing elsewhere\?$/);
        expect(err.message).not.toContain('portal-secret-token');
      }
    } finally {
      await c.close();
      await new Promise<void>((r) => portal.close(() => r()));
    }
  });

  it('trims whitespace around the API key; refuses one with whitespace inside, without showing it', async () => {
    const padded = new DailyClient({ apiKey: `\t${sim.apiKey}\r\n`, apiUrl: sim.url, timeoutMs: 1000 });
    try {
      const who = sim.join('standup', { userName: 'Trimmed' });
      expect((await padded.getRoomPresence('standup')).participants.map((p) => p.id)).toContain(who.id);
      sim.leave('standup', who.id);
    } finally {
      await padded.close();
    }
    expect(() => new DailyClient({ apiKey: 'secret-part other-part' })).toThrow(/^DailyClient: apiKey: the Daily API key contains a space/);
    expect(() => new DailyClient({ apiKey: 'secret-part other-part' })).not.toThrow(/secret-part/);
  });

  it('returns validated, typed room presence', async () => {
    const who = sim.join('standup', { userName: 'Moishe' });
    const r = await client.getRoomPresence('standup');
    expect(r.room).toBe('standup');
    expect(r.complete).toBe(true);
    expect(r.totalCount).toBe(1);
    expect(r.participants).toEqual([
      {
        id: who.id,
        userId: who.userId,
        userName: 'Moishe',
        mtgSessionId: expect.any(String),
        joinTime: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
        duration: expect.any(Number),
      },
    ]);
    sim.leave('standup', who.id);
  });

  it('URL-encodes room names into one path segment', async () => {
    expect(encodeRoomSegment('../presence')).toBe('%2E%2E%2Fpresence');
    const sneaky = sim.join('../presence', { userName: 'Sneaky' });
    const r = await client.getRoomPresence('../presence');
    expect(r.participants.map((x) => x.userName)).toEqual(['Sneaky']);
    const last = sim.requests.at(-1)!;
    expect(last.path).toBe('/v1/rooms/%2E%2E%2Fpresence/presence');
    expect(last.target).toBe('../presence');
    const r2 = await client.getRoomPresence('name with spaces/and?query');
    expect(r2.participants).toEqual([]);
    expect(sim.requests.at(-1)!.target).toBe('name with spaces/and?query');
    sim.leave('../presence', sneaky.id);
  });

  it('sends limit/userId/userName as query parameters and reports a partial snapshot', async () => {
    sim.join('standup', { userName: 'A' });
    sim.join('standup', { userName: 'B' });
    const r = await client.getRoomPresence('standup', { limit: 1 });
    expect(r.participants).toHaveLength(1);
    expect(r.totalCount).toBe(2);
    expect(r.complete).toBe(false);
    const byName = await client.getRoomPresence('standup', { userName: 'B' });
    expect(byName.participants.map((x) => x.userName)).toEqual(['B']);
    for (const x of sim.presence('standup')) sim.leave('standup', x.id);
  });

  it('names outside ASCII come through whole on every read path, even split between chunks mid-character', async () => {
    const names = ['José', 'Zoë 👋🏽', '山田 花子', 'plain ascii'];
    const entry = (name: string, i: number) => ({ room: 'intl', id: `0000000${i}-0000-4000-8000-000000000000`, userId: null, userName: name, joinTime: '2026-01-01T00:00:00.000Z', duration: 5 });
    const texts = {
      room: JSON.stringify({ total_count: names.length, data: names.map(entry) }),
      domain: JSON.stringify({ intl: names.map(entry) }),
      ascii: JSON.stringify({ total_count: 1, data: [entry('plain ascii', 0)] }),
    };
    // three bytes at a time, each its own write: a multi-byte character lands across two chunks
    const server = createServer((req, res) => {
      const text = req.url!.endsWith('/rooms/intl/presence') ? texts.room : req.url!.endsWith('/rooms/ascii/presence') ? texts.ascii : texts.domain;
      const bytes = Buffer.from(text);
      res.writeHead(200, { 'content-type': 'application/json' });
      let at = 0;
      const next = () => {
        if (at >= bytes.length) return void res.end();
        res.write(bytes.subarray(at, (at += 3)), next);
      };
      next();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const c = new DailyClient({ apiKey: sim.apiKey, apiUrl: `http://127.0.0.1:${(server.address() as { port: number }).port}/v1`, timeoutMs: 5000 });
    try {
      expect((await c.getRoomPresence('intl')).participants.map((p) => p.userName)).toEqual(names);
      expect((await c.getRoomPresence('ascii')).participants.map((p) => p.userName)).toEqual(['plain ascii']);
      expect((await c.getDomainPresence()).get('intl')!.map((p) => p.userName)).toEqual(names);
      const text = await c.getRoomText('intl');
      expect(text.whole().entries.map((e) => e.userName)).toEqual(names);
      const read: unknown[] = [];
      (await c.getDomainEntriesDeferred()).forEach((list) => read.push(...(list as ParticipantEntry[]).map((e) => e.userName)));
      expect(read).toEqual(names);
    } finally {
      await c.close();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });

  it('returns the whole domain from GET /presence, without empty rooms', async () => {
    const a = sim.join('standup', { userName: 'A' });
    const d = await client.getDomainPresence();
    expect([...d.keys()]).toEqual(['standup']);
    expect(d.get('standup')!.map((x) => x.id)).toEqual([a.id]);
    sim.leave('standup', a.id);
  });

  it('404 on an unknown room is a clear, non-retryable, non-fatal error', async () => {
    const err = await failure(client.getRoomPresence('nope'));
    expect(err).toMatchObject({ code: 'DAILY_NOT_FOUND', status: 404, type: 'not-found', retryable: false, fatal: false, target: 'nope' });
    expect(err.message).toContain('room "nope" not found');
    expect(err.message).not.toContain('wildcard');
    // a room pattern given where a name is polled: the 404 says what to do instead
    const pattern = await failure(client.getRoomPresence('team-*'));
    expect(pattern.message).toMatch(/^room "team-\*" not found \(HTTP 404[^)]*\): check the room name\. Rooms are polled by name \("\*" is not a wildcard there\): to watch every room that matches, use --all-rooms \(allRooms\) with a sink rooms filter$/);
    // what else a name Daily does not know tends to be: a room's URL, a list, a stray space
    const hint = async (name: string) => (await failure(client.getRoomPresence(name))).message.replace(/^.*check the room name/, '');
    expect(await hint('https://acme.daily.co/standup?t=abc')).toBe('. That is a room\'s URL: --room (rooms) takes the room\'s name, the last part of it ("standup")');
    expect(await hint('https://acme.daily.co/bad%')).toContain('the last part of it ("bad%")');
    expect(await hint('standup,retro')).toBe('. One room per --room: repeat the flag (--room standup --room retro), or list them under rooms: in a config file');
    expect(await hint(' standup')).toBe('. The name starts or ends with a space: is it quoted with one by mistake?');
    expect(await hint('nope')).toBe('');
  });

  it('401 is fatal and says the key was rejected, without the key', async () => {
    const bad = new DailyClient({ apiKey: 'wrong-secret-key-123', apiUrl: sim.url });
    const err = await failure(bad.getRoomPresence('standup'));
    await bad.close();
    expect(err).toMatchObject({ code: 'DAILY_AUTH_REJECTED', status: 401, fatal: true, retryable: false });
    expect(err.message).toMatch(/rejected the API key/);
    expect(JSON.stringify(err) + err.message + String(err.stack)).not.toContain('wrong-secret-key-123');
  });

  it('403 is fatal', async () => {
    sim.inject({ kind: 'status', status: 403, body: '{"error":"forbidden-error"}' });
    const err = await failure(client.getRoomPresence('standup'));
    expect(err).toMatchObject({ code: 'DAILY_FORBIDDEN', fatal: true, type: 'forbidden-error' });
  });

  it('429 with Retry-After in seconds or as an HTTP date', async () => {
    sim.inject({ kind: 'status', status: 429, retryAfter: '3' });
    const e1 = await failure(client.getRoomPresence('standup'));
    expect(e1).toMatchObject({ code: 'DAILY_RATE_LIMITED', retryable: true, retryAfterMs: 3000, type: 'rate-limit-error' });
    sim.inject({ kind: 'status', status: 429, retryAfter: new Date(Date.now() + 5000).toUTCString() });
    const e2 = await failure(client.getRoomPresence('standup'));
    expect(e2.retryAfterMs).toBeGreaterThan(3000);
    expect(e2.retryAfterMs).toBeLessThanOrEqual(5000);
    sim.inject({ kind: 'status', status: 429 });
    const e3 = await failure(client.getRoomPresence('standup'));
    expect(e3.retryAfterMs).toBeUndefined();
  });

  it.each([
    [{ kind: 'status', status: 500 }, 'DAILY_SERVER_ERROR'],
    [{ kind: 'status', status: 503 }, 'DAILY_SERVER_ERROR'],
    [{ kind: 'malformed' }, 'DAILY_INVALID_RESPONSE'],
    [{ kind: 'truncated' }, 'DAILY_INVALID_RESPONSE'],
    [{ kind: 'wrong-schema' }, 'DAILY_INVALID_RESPONSE'],
    [{ kind: 'bad-entry' }, 'DAILY_INVALID_RESPONSE'],
    [{ kind: 'bad-list' }, 'DAILY_INVALID_RESPONSE'],
    [{ kind: 'reset' }, 'DAILY_NETWORK_ERROR'],
    [{ kind: 'hang' }, 'DAILY_TIMEOUT'],
    [{ kind: 'delay', ms: 2000 }, 'DAILY_TIMEOUT'],
  ] as const)('%j is a retryable %s', async (fault, code) => {
    sim.inject(fault);
    const err = await failure(client.getRoomPresence('standup'));
    expect(err.code).toBe(code);
    expect(err.retryable).toBe(true);
    expect(err.fatal).toBe(false);
    // and the next request works again
    await expect(client.getRoomPresence('standup')).resolves.toMatchObject({ room: 'standup' });
  });

  it('getRoomText: a failed request rejects at once; a bad answer throws when read whole, as getRoomEntries reports it', async () => {
    const ids = ['Ann', 'Bo', 'Cy'].map((userName) => sim.join('standup', { userName }).id);
    try {
      const good = await client.getRoomText('standup', { limit: 2 });
      expect(good.room).toBe('standup');
      expect(good.piecewise).toBe(false); // too small to be worth reading in pieces
      const want = await client.getRoomEntries('standup', { limit: 2 });
      expect(good.whole()).toEqual(want);
      expect(want).toMatchObject({ totalCount: 3, complete: false });
      expect(want.entries).toHaveLength(2);

      for (const fault of [{ kind: 'status', status: 503 }, { kind: 'reset' }, { kind: 'hang' }] as const) {
        sim.inject(fault);
        const viaText = await failure(client.getRoomText('standup'));
        sim.inject(fault);
        const whole = await failure(client.getRoomEntries('standup'));
        expect(viaText.code).toBe(whole.code);
      }
      for (const kind of ['malformed', 'truncated', 'wrong-schema', 'bad-entry', 'bad-list'] as const) {
        sim.inject({ kind });
        const answer = await client.getRoomText('standup');
        const viaText = (() => {
          try {
            answer.whole();
          } catch (e) {
            return e as DailyApiError;
          }
          throw new Error(`${kind}: did not throw`);
        })();
        sim.inject({ kind });
        const whole = await failure(client.getRoomEntries('standup'));
        expect(viaText, kind).toBeInstanceOf(DailyApiError);
        expect({ code: viaText.code, message: viaText.message }, kind).toEqual({ code: whole.code, message: whole.message });
      }
    } finally {
      for (const id of ids) sim.leave('standup', id);
    }
  });

  it('wrong schema from GET /presence is an invalid response', async () => {
    sim.inject({ fault: { kind: 'wrong-schema' }, on: 'domain' });
    const err = await failure(client.getDomainPresence());
    expect(err.code).toBe('DAILY_INVALID_RESPONSE');
  });

  it.each([
    ['bad-entry', /^invalid response from Daily for GET \/presence: "name with spaces\/and\?query"\[1\] has no string "id"$/],
    ['bad-list', /^invalid response from Daily for GET \/presence: body is not valid JSON \(\d+ bytes\)$/],
  ] as const)('GET /presence read room by room (%s): the fault deep inside surfaces when its room is read, as getDomainEntries reports it up front', async (kind, message) => {
    const spaced = 'name with spaces/and?query';
    const people: [string, string][] = [
      ['standup', sim.join('standup', { userName: 'Ann' }).id],
      [spaced, sim.join(spaced, { userName: 'Bo' }).id],
      [spaced, sim.join(spaced, { userName: 'Cy' }).id],
    ];
    try {
      const whole = [...((await client.getDomainEntries()) as unknown as Iterable<[string, unknown]>)];
      const deferred = await client.getDomainEntriesDeferred();
      expect(deferred.size).toBe(2);
      const read: [string, unknown][] = [];
      deferred.forEach((list, room) => read.push([room, list]));
      expect(read).toEqual(whole);

      sim.inject({ fault: { kind }, on: 'domain' });
      const broken = await client.getDomainEntriesDeferred(); // the shape is right: no error yet
      const rooms: string[] = [];
      const err = (() => {
        try {
          broken.forEach((_list, room) => rooms.push(room));
        } catch (e) {
          return e as DailyApiError;
        }
        throw new Error('did not throw');
      })();
      expect(err).toBeInstanceOf(DailyApiError);
      expect(err).toMatchObject({ code: 'DAILY_INVALID_RESPONSE', retryable: true });
      expect(err.message).toMatch(message);
      expect(rooms).toEqual(['standup']); // the room before it was handed out

      sim.inject({ fault: { kind }, on: 'domain' });
      const upFront = await failure(client.getDomainEntries());
      expect(upFront.message).toMatch(message);
    } finally {
      for (const [room, id] of people) sim.leave(room, id);
    }
  });

  it('a malformed entry is named in the error: data[i] in a room, "room"[i] in the domain', () => {
    const thrown = (fn: () => unknown) => {
      try {
        fn();
      } catch (err) {
        return err as DailyApiError;
      }
      throw new Error('did not throw');
    };
    const room = thrown(() => parseRoomEntries('standup', { total_count: 2, data: [{ id: 'a' }, { userName: 'no id' }] }));
    expect(room.code).toBe('DAILY_INVALID_RESPONSE');
    expect(room.message).toContain('data[1] has no string "id"');
    const domain = thrown(() => parseDomainEntries({ standup: [{ id: 'a' }], design: [{ id: 'b' }, 'not an object'] }));
    expect(domain.code).toBe('DAILY_INVALID_RESPONSE');
    expect(domain.message).toContain('"design"[1] is not an object');
  });

  it('a checked domain answer lists the occupied rooms in the answer\'s order, entries uncopied, as a Map would', () => {
    const standup = [{ id: 'a', userName: 'Ann' }];
    const design = [{ id: 'b' }, { id: 'c' }];
    const body = { standup, empty: [], design, '2': [{ id: 'd' }] };
    const checked = parseDomainEntries(body);
    expect(checked.size).toBe(3);
    const seen: [string, unknown][] = [];
    checked.forEach((entries, room) => seen.push([room, entries]));
    // integer-like keys first, as JSON.parse and Object.keys order them; the empty room skipped
    expect(seen.map(([room]) => room)).toEqual(['2', 'standup', 'design']);
    expect(seen[1]![1]).toBe(standup); // the parsed list itself, not a copy
    expect([...checked]).toEqual(seen);
    expect(parseDomainEntries({}).size).toBe(0);
    // anything a DomainTracker accepts: a custom PresenceClient may answer with a Map
    const tracker = new DomainTracker();
    const fromView = tracker.apply(checked, { at: 'now' });
    const fromMap = new DomainTracker().apply(new Map(seen as [string, ParticipantEntry[]][]), { at: 'now' });
    expect(fromView.map((e) => `${e.type} ${e.room} ${e.participant.id}`)).toEqual(['join 2 d', 'join standup a', 'join design b', 'join design c']);
    expect(fromMap).toEqual(fromView);
  });

  it('an aborted signal rejects with its reason, not a DailyApiError', async () => {
    sim.inject({ kind: 'hang' });
    const ac = new AbortController();
    const p = client.getRoomPresence('standup', { signal: ac.signal });
    ac.abort(new Error('stop now'));
    await expect(p).rejects.toThrow('stop now');
  });

  it('rejects bad options with a clear message', () => {
    expect(() => new DailyClient({ apiKey: '' })).toThrow(/apiKey/);
    expect(() => new DailyClient({ apiKey: 'k', apiUrl: 'not a url' })).toThrow(/apiUrl/);
    expect(() => new DailyClient({ apiKey: 'k', apiUrl: 'ftp://x' })).toThrow(/http or https/);
    // Daily over plain http: the key would leave unencrypted with the first request
    expect(() => new DailyClient({ apiKey: 'k', apiUrl: 'HTTP://API.DAILY.CO/v1' })).toThrow(/^DailyClient: apiUrl: the API URL is plain http \(http:\/\/api\.daily\.co\): the API key would cross the network unencrypted/);
    void new DailyClient({ apiKey: 'k', apiUrl: 'http://127.0.0.1:9/v1' }).close(); // plain http over loopback is fine
    expect(() => new DailyClient({ apiKey: 'k', timeoutMs: -1 })).toThrow(/timeoutMs/);
    expect(() => new DailyClient({ apiKey: 'k', timeout: 5000 } as never)).toThrow(/^DailyClient: unknown option "timeout" \(did you mean timeoutMs\?\)$/);
    expect(() => new DailyClient({ apiKey: 'k', baseUrl: 'http://x' } as never)).toThrow(/^DailyClient: unknown option "baseUrl"$/);
    // no options, or a URL where they go: "Cannot read properties of null (reading 'apiKey')" before
    expect(() => new DailyClient(null as never)).toThrow(/^DailyClient: options must be an object, got null$/);
    expect(() => new DailyClient('k' as never)).toThrow(/^DailyClient: options must be an object, got "k"$/);
    expect(() => new DailyClient({ apiKey: 'k', maxBodyBytes: {} as never })).toThrow(/^DailyClient: maxBodyBytes must be a positive number, got \{\}$/);
    expect(() => new DailySimulator(null as never)).toThrow(/^simulator: options must be an object, got null$/);
  });

  it('a room that is no name, or a limit that is no count, is refused without a request (it was a request to /rooms//presence, or a "network error")', async () => {
    const before = sim.requests.length;
    await expect(client.getRoomPresence('')).rejects.toThrow(/^DailyClient: the room must be a non-empty string, got ""$/);
    await expect(client.getRoomEntries(undefined as never)).rejects.toThrow(/^DailyClient: the room must be a non-empty string, got undefined$/);
    await expect(client.getRoomText('standup', { limit: 0 })).rejects.toThrow(/^DailyClient: limit must be a whole number ≥ 1, got 0$/);
    expect(sim.requests.length).toBe(before);
  });

  it("a room query's misspelt option is named, not ignored (limitt: every person listed, as if no limit were asked)", async () => {
    await expect(client.getRoomPresence('standup', { limitt: 5 } as never)).rejects.toThrow(/^DailyClient: unknown option "limitt" \(did you mean limit\?\)$/);
    await expect(client.getRoomPresence('standup', { limit: 5 })).resolves.toMatchObject({ room: 'standup' });
  });
});

describe('DailyClient body limits', () => {
  let server: Server;
  let url: string;
  beforeAll(async () => {
    server = createServer((req, res) => {
      const big = JSON.stringify({ total_count: 0, data: [], pad: 'x'.repeat(req.url?.includes('small') ? 2000 : 200_000) });
      if (req.url?.includes('declared')) {
        res.writeHead(200, { 'content-length': Buffer.byteLength(big) });
        res.end(big);
      } else {
        res.writeHead(200); // chunked: no length up front
        res.write(big.slice(0, 100_000));
        res.end(big.slice(100_000));
      }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const addr = server.address() as { port: number };
    url = `http://127.0.0.1:${addr.port}/v1`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('caps the response body, declared or streamed', async () => {
    await withoutUncaught(async () => {
      // a large body is still arriving when it is dropped; a small one (over a small cap) has arrived whole
      for (const [max, size] of [[50_000, ''], [1024, '-small']] as const) {
        const c = new DailyClient({ apiKey: 'k', apiUrl: url, maxBodyBytes: max });
        const e1 = await failure(c.getRoomPresence(`declared${size}`));
        const e2 = await failure(c.getRoomPresence(`streamed${size}`));
        // a dropped body must not emit an unhandled 'error' afterwards (it crashed the daemon):
        // undici emits it a few event-loop turns later
        for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
        await c.close();
        expect(e1.code).toBe('DAILY_RESPONSE_TOO_LARGE');
        expect(e2.code).toBe('DAILY_RESPONSE_TOO_LARGE');
        expect(e1.message).toMatch(new RegExp(`^response from Daily for room "declared${size}" exceeds ${max} bytes: if the domain is that large, raise the cap \\(--max-body`));
      }
    });
    const ok = new DailyClient({ apiKey: 'k', apiUrl: url });
    await expect(ok.getRoomPresence('streamed')).resolves.toMatchObject({ participants: [] });
    await ok.close();
  });
});

describe('DailyClient and compressed answers', () => {
  let server: Server;
  let url: string;
  const body = (pad: string) => JSON.stringify({ total_count: 0, data: [], pad });
  beforeAll(async () => {
    server = createServer((req, res) => {
      const what = (req.url ?? '').split('/')[3] ?? '';
      const send = (payload: Buffer, encoding: string, status = 200) => {
        res.writeHead(status, { 'content-type': 'application/json', 'content-encoding': encoding, 'content-length': payload.length });
        res.end(payload);
      };
      const gz = gzipSync(body('ok'));
      if (what === 'bomb') send(gzipSync(body('x'.repeat(4_000_000))), 'gzip'); // ~4 KB that inflate to 4 MB
      else if (what === 'corrupt') send(Buffer.from('this is not gzip at all'), 'gzip');
      else if (what === 'cut') send(gz.subarray(0, gz.length - 12), 'gzip'); // a whole HTTP body, half a gzip stream
      else if (what === 'zstd') send(Buffer.from(body('ok')), 'zstd');
      else if (what === 'deflate') send(deflateSync(body('deflated')), 'deflate');
      else if (what === 'br') send(brotliCompressSync(body('brotli')), 'br');
      else if (what === 'gone') send(gzipSync(JSON.stringify({ error: 'not-found', info: 'room gone not found' })), 'gzip', 404);
      else send(gz, 'x-gzip');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}/v1`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('asks for gzip and reads it, from the simulator on every read path, names outside ASCII included', async () => {
    const zipped = new DailySimulator({ rooms: ['intl'], compress: true });
    await zipped.listen();
    try {
      const people = ['Zoë', '李小龙', 'Ann'].map((userName) => zipped.join('intl', { userName }));
      // what the simulator sends a request that asks for gzip, and one that does not
      const raw = async (encoding?: string) => {
        const res = await fetch(`${zipped.url}/presence`, { headers: { authorization: `Bearer ${zipped.apiKey}`, ...(encoding ? { 'accept-encoding': encoding } : {}) } });
        return res.headers.get('content-encoding');
      };
      expect(await raw('gzip')).toBe('gzip');
      const c = new DailyClient({ apiKey: zipped.apiKey, apiUrl: zipped.url });
      const names = people.map((p) => p.userName);
      expect((await c.getRoomPresence('intl')).participants.map((p) => p.userName)).toEqual(names);
      expect(((await c.getRoomText('intl')).whole().entries as ParticipantEntry[]).map((e) => e.userName)).toEqual(names);
      expect(((await c.getDomainPresence()).get('intl') ?? []).map((p) => p.userName)).toEqual(names);
      const read: unknown[] = [];
      (await c.getDomainEntriesDeferred()).forEach((list) => read.push(...(list as ParticipantEntry[]).map((e) => e.userName)));
      expect(read).toEqual(names);
      // every answer the client got came gzipped: it asked for gzip each time
      expect(zipped.requests.filter((r) => r.path.includes('presence')).map((r) => r.gzip)).toEqual([true, true, true, true, true]);
      await c.close();
    } finally {
      await zipped.close();
    }
  });

  it('caps what a compressed body inflates to; a corrupt, cut or unknown encoding is an invalid (retryable) answer saying so; deflate and br are read if sent unasked; an error body is read through gzip too; nothing crashes', async () => {
    await withoutUncaught(async () => {
      const c = new DailyClient({ apiKey: 'k', apiUrl: url, maxBodyBytes: 1_000_000 });
      const bomb = await failure(c.getRoomPresence('bomb'));
      expect(bomb.code).toBe('DAILY_RESPONSE_TOO_LARGE');
      expect(bomb.message).toMatch(/^response from Daily for room "bomb" exceeds 1000000 bytes/);
      const corrupt = await failure(c.getRoomPresence('corrupt'));
      expect(corrupt).toMatchObject({ code: 'DAILY_INVALID_RESPONSE', retryable: true });
      expect(corrupt.message).toMatch(/^invalid response from Daily for room "corrupt": the body is not valid gzip \(Z_DATA_ERROR\), 23 bytes$/);
      const cut = await failure(c.getRoomPresence('cut'));
      expect(cut.message).toMatch(/^invalid response from Daily for room "cut": the body is not valid gzip \(Z_BUF_ERROR\)/);
      const zstd = await failure(c.getRoomPresence('zstd'));
      expect(zstd.message).toBe('invalid response from Daily for room "zstd": the body is encoded as "zstd", which the watcher did not ask for and cannot read (it asks for gzip)');
      expect(zstd.retryable).toBe(true);
      await expect(c.getRoomEntries('deflate')).resolves.toMatchObject({ entries: [] });
      await expect(c.getRoomEntries('br')).resolves.toMatchObject({ entries: [] });
      await expect(c.getRoomEntries('plain')).resolves.toMatchObject({ entries: [] });
      const gone = await failure(c.getRoomPresence('gone'));
      expect(gone).toMatchObject({ code: 'DAILY_NOT_FOUND', type: 'not-found', status: 404 });
      for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
      await c.close();
    });
  });
});

describe('DailyClient and a body cut short', () => {
  let server: Server;
  let url: string;
  beforeAll(async () => {
    server = createServer((req, res) => {
      const big = JSON.stringify({ total_count: 0, data: [], pad: 'x'.repeat(200_000) });
      // the headers and half the body, then the connection drops (cut) or nothing more comes (stall)
      res.writeHead(200, { 'content-length': Buffer.byteLength(big) });
      res.write(big.slice(0, 100_000), () => {
        if (req.url?.includes('cut')) setImmediate(() => req.socket.destroy());
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}/v1`;
  });
  afterAll(() => {
    server.closeAllConnections();
    return new Promise<void>((r) => server.close(() => r()));
  });

  it('a connection dropped mid-body is a network error, a body that stops coming a timeout; neither crashes', async () => {
    await withoutUncaught(async () => {
      const c = new DailyClient({ apiKey: 'k', apiUrl: url, timeoutMs: 300 });
      const cut = await failure(c.getRoomPresence('cut'));
      expect(cut.code).toBe('DAILY_NETWORK_ERROR');
      expect(cut.retryable).toBe(true);
      expect(cut.message).toMatch(/^network error talking to Daily for room "cut": /);
      const stall = await failure(c.getRoomPresence('stall'));
      expect(stall.code).toBe('DAILY_TIMEOUT');
      expect(stall.message).toBe('no complete answer from Daily for room "stall" within 300ms');
      for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
      await c.close();
    });
  });
});

describe('DailyClient and redirects', () => {
  let server: Server;
  let url: string;
  beforeAll(async () => {
    // what an http:// API URL meets: a redirect to https, which a GET with a bearer key must not follow blindly
    server = createServer((req, res) => {
      res.writeHead(301, { location: `https://api.daily.co${req.url ?? '/'}` });
      res.end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}/v1`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('reports a redirect as one, naming where it points and what to check, without following it', async () => {
    const c = new DailyClient({ apiKey: 'k', apiUrl: url });
    const e = await failure(c.getDomainEntries());
    await c.close();
    expect(e.code).toBe('DAILY_BAD_REQUEST');
    expect(e.status).toBe(301);
    expect(e.retryable).toBe(false);
    expect(e.fatal).toBe(false);
    expect(e.message).toBe(
      "the API answered GET /presence with a redirect (HTTP 301 to https://api.daily.co), which is not followed: check --api-url (Daily's is https://api.daily.co/v1)",
    );
  });
});

describe('DailySimulator random churn', () => {
  it('keeps the number of people present around max(initialParticipants, 2 a room) over a long run, instead of drifting', () => {
    for (const [rooms, initialParticipants, target] of [[5, 20, 20], [3, 0, 6]] as const) {
      const sim = new DailySimulator({ rooms, initialParticipants, seed: 7 });
      const present = () => sim.roomNames.reduce((n, r) => n + sim.presence(r).length, 0);
      const seen: number[] = [];
      for (let i = 0; i < 20_000; i++) {
        sim.randomChange();
        if (i % 100 === 99) seen.push(present());
      }
      // with joins at 45% and leaves at 40% whatever the count, 20,000 changes added ~1,000 people
      const mean = seen.reduce((a, b) => a + b, 0) / seen.length;
      expect(mean).toBeGreaterThan(target * 0.5);
      expect(mean).toBeLessThan(target * 1.5 + 2);
      expect(Math.max(...seen)).toBeLessThan(target * 3 + 10);
    }
  });
});

describe('DailySimulator random faults', () => {
  /** `n` requests, every third one GET /presence, the rest rooms a and b in turn; what the simulator logged. */
  const requestAll = async (sim: DailySimulator, n: number) => {
    const url = await sim.listen(0);
    try {
      for (let i = 0; i < n; i++) {
        const path = i % 3 === 2 ? '/presence' : `/rooms/${i % 3 ? 'b' : 'a'}/presence`;
        // a delay fault answers after 2 s: cut short, it is logged when the request arrives all the same
        await fetch(url + path, { headers: { authorization: `Bearer ${sim.apiKey}` }, signal: AbortSignal.timeout(200) })
          .then((r) => r.text())
          .catch(() => undefined);
      }
      return sim.requests.slice();
    } finally {
      await sim.close();
    }
  };
  const kindOf = (r: { fault?: string; status: unknown }) => (r.fault === 'status' ? String(r.status) : r.fault);

  it('answers that share of requests with passing faults of every kind it lists, never one that stops a watcher', async () => {
    const log = await requestAll(new DailySimulator({ rooms: ['a', 'b'], initialParticipants: 6, seed: 3, faults: 0.3 }), 450);
    expect(log).toHaveLength(450);
    const faulted = log.filter((r) => r.fault !== undefined);
    expect(faulted.length / log.length).toBeGreaterThan(0.22);
    expect(faulted.length / log.length).toBeLessThan(0.38);
    const roomKinds = new Set(faulted.filter((r) => r.target !== '*').map(kindOf));
    expect([...roomKinds].sort()).toEqual(['429', '500', '502', '503', '504', 'delay', 'malformed', 'partial', 'reset', 'truncated']);
    const domainKinds = new Set(faulted.filter((r) => r.target === '*').map(kindOf));
    // a partial GET /presence cannot be told apart from a full one, so it is never served
    expect(domainKinds.has('partial')).toBe(false);
    expect(domainKinds.size).toBeGreaterThanOrEqual(6);
    // everything else is the plain answer
    expect(log.filter((r) => r.fault === undefined).every((r) => r.status === 200)).toBe(true);

    const none = await requestAll(new DailySimulator({ rooms: ['a', 'b'], seed: 3 }), 60);
    expect(none.filter((r) => r.fault !== undefined)).toEqual([]);
  });

  it('draws apart from the presence: a seed gives the same people with faults or without; an injected fault comes first', async () => {
    const run = async (faults: number) => {
      const sim = new DailySimulator({ rooms: ['a', 'b'], initialParticipants: 6, seed: 9, faults, now: () => 1_700_000_000_000 });
      const changes: string[] = [];
      sim.on('change', (c) => changes.push(`${c.type} ${c.room} ${c.participant.id} ${c.participant.userName}`));
      const url = await sim.listen(0);
      try {
        for (let i = 0; i < 40; i++) {
          sim.randomChange();
          await fetch(`${url}/rooms/a/presence`, { headers: { authorization: `Bearer ${sim.apiKey}` }, signal: AbortSignal.timeout(200) })
            .then((r) => r.text())
            .catch(() => undefined);
        }
      } finally {
        await sim.close();
      }
      return { changes, faults: sim.requests.filter((r) => r.fault).length, people: sim.presence('a').concat(sim.presence('b')) };
    };
    const [plain, flaky] = [await run(0), await run(0.5)];
    expect(flaky.faults).toBeGreaterThan(10);
    expect(flaky.changes).toEqual(plain.changes);
    expect(flaky.people).toEqual(plain.people);

    const sim = new DailySimulator({ rooms: ['a'], faults: 1 });
    sim.inject({ kind: 'status', status: 418 });
    const log = await requestAll(sim, 2);
    // the queued one first, then (faults: 1) a random one of the list, which has no 418
    expect(log).toHaveLength(2);
    expect(log[0]).toMatchObject({ status: 418, fault: 'status' });
    expect(log[1]!.fault).toBeDefined();
    expect(log[1]!.status).not.toBe(418);

    for (const faults of [1.5, -0.1, '0.5', Number.NaN]) {
      expect(() => new DailySimulator({ faults } as never), String(faults)).toThrow(/^simulator: faults must be a share of requests from 0 to 1, got /);
    }
  });
});

describe('DailySimulator reconnects', () => {
  type Change = { type: string; room: string; participant: { id: string; userId: string | null; userName: string | null } };
  const record = (sim: DailySimulator) => {
    const changes: Change[] = [];
    sim.on('change', (c) => changes.push({ type: c.type, room: c.room, participant: { ...c.participant } }));
    return changes;
  };

  it('reconnect(): the session ends and the same user is back in a new one, in the same meeting; with overlap, the old one stays until it leaves', () => {
    const sim = new DailySimulator({ rooms: ['a'] });
    const ann = sim.join('a', { userName: 'Ann', userId: 'u-ann' });
    const meeting = sim.presence('a')[0]!.mtgSessionId;
    const back = sim.reconnect('a', ann.id)!;
    expect(back.id).not.toBe(ann.id);
    expect(sim.presence('a').map((p) => [p.id, p.userId, p.userName, p.mtgSessionId])).toEqual([[back.id, 'u-ann', 'Ann', meeting]]);
    const again = sim.reconnect('a', back.id, { overlap: true })!;
    expect(sim.presence('a').map((p) => p.id)).toEqual([back.id, again.id]);
    expect(sim.reconnect('a', 'nobody')).toBeUndefined();
  });

  it('random churn with reconnects: that share of departures is the same person back at once; without, a seed gives the changes it always gave', () => {
    const sim = new DailySimulator({ rooms: 3, initialParticipants: 9, seed: 5, reconnects: 0.5 });
    const changes = record(sim);
    for (let i = 0; i < 2000; i++) sim.randomChange();
    const leaves = changes.flatMap((c, i) => (c.type === 'leave' ? [i] : []));
    // the new session comes first: a room emptied for a moment would start a new meeting
    const reconnects = leaves.filter((i) => changes[i - 1]?.type === 'join' && changes[i - 1]!.participant.userId === changes[i]!.participant.userId);
    for (const i of reconnects) expect(changes[i - 1]).toMatchObject({ room: changes[i]!.room, participant: { userName: changes[i]!.participant.userName } });
    expect(reconnects.length / leaves.length).toBeGreaterThan(0.4);
    expect(reconnects.length / leaves.length).toBeLessThan(0.6);

    const plain = (opts: object) => {
      // one fixed clock for both: join times come from it, and two runs on the real one could straddle a second
      const s = new DailySimulator({ rooms: 3, initialParticipants: 9, seed: 5, now: () => 1_700_000_000_000, ...opts });
      const c = record(s);
      for (let i = 0; i < 300; i++) s.randomChange();
      return c;
    };
    expect(plain({ reconnects: 0 })).toEqual(plain({}));
    expect(() => new DailySimulator({ reconnects: 1.5 })).toThrow(/reconnects must be a share from 0 to 1, got 1.5/);
    // the rest of its options, as a test writes them wrong
    const bad: [object, RegExp][] = [
      [{ rooms: -1 }, /^simulator: rooms must be a whole number ≥ 0, got -1$/],
      [{ rooms: ['a', ''] }, /^simulator: rooms must be a number of rooms or an array of non-empty room names$/],
      [{ churn: '2' }, /^simulator: churn must be a number of changes a second ≥ 0, got "2"$/],
      [{ initialParticipants: 2.5 }, /^simulator: initialParticipants must be a whole number ≥ 0, got 2.5$/],
      [{ seed: 'x' }, /^simulator: seed must be a whole number ≥ 0, got "x"$/],
      [{ defaultLimit: 0 }, /^simulator: defaultLimit must be a whole number ≥ 1, got 0$/],
      [{ apiKey: 'two words' }, /^simulator: apiKey must be a non-empty string of printable ASCII without spaces/],
      [{ room: ['a'] }, /^simulator: unknown option "room" \(did you mean rooms\?\)$/],
      [{ compress: 'yes' }, /^simulator: compress must be true or false, got "yes"$/],
      [{ seed: 5n }, /^simulator: seed must be a whole number ≥ 0, got 5n \(a BigInt: give a number\)$/],
      [{ reconnects: Symbol('x') }, /^simulator: reconnects must be a share from 0 to 1, got a symbol$/],
      [{ reconnects: {} }, /^simulator: reconnects must be a share from 0 to 1, got \{\}$/],
    ];
    for (const [opts, message] of bad) expect(() => new DailySimulator(opts as never), Object.keys(opts).join()).toThrow(message);
    expect(new DailySimulator({ rooms: 0, churn: 0.5, seed: 0 }).roomNames).toEqual([]);
    // a fault it does not know was served as a normal answer: the test meant to see it passed for nothing
    const s = new DailySimulator({ rooms: 1 });
    expect(() => s.inject({ kind: 'timeout' } as never)).toThrow(/^simulator: inject: fault kind "timeout" is not one of status, malformed, .*, reset$/);
    expect(() => s.inject({ fault: { kind: 'wrong_schema' }, on: 'domain' } as never)).toThrow(/is not one of .* \(did you mean "wrong-schema"\?\)$/);
    expect(() => s.inject({ kind: 'status', status: '503' } as never)).toThrow(/^simulator: inject: a status fault needs an HTTP status \(100–599\), got "503"$/);
    expect(s.pendingFaults).toBe(0);
  });
});

describe('DailyClient error text', () => {
  it("keeps Daily's error type and info on one line: a line break or an escape sequence in them neither forges a log line nor drives a terminal", async () => {
    const server = createServer((_req, res) => {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: 'not-\nfound', info: 'room x\n12:00:00.000 ERROR forged line \u001b[31mred\u001b[0m\u2028' }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const c = new DailyClient({ apiKey: 'k', apiUrl: `http://127.0.0.1:${(server.address() as { port: number }).port}/v1` });
    try {
      const err = await failure(c.getRoomPresence('x'));
      expect(err).toMatchObject({ code: 'DAILY_NOT_FOUND', type: 'not- found', info: 'room x 12:00:00.000 ERROR forged line  [31mred [0m' });
      expect(err.message).toBe('room "x" not found (HTTP 404 not- found "room x 12:00:00.000 ERROR forged line  [31mred [0m"): check the room name');
    } finally {
      await c.close();
      server.close();
    }
  });
});
