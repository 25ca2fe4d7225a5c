import { readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import * as FakeTimers from '@sinonjs/fake-timers';
import { afterEach, describe, expect, it } from 'vitest';
import { eventId } from '../src/diff.js';
import type { PresenceEvent } from '../src/events.js';
import { parseSinkSpec, validateFileConfig } from '../src/config.js';
import { crossesNetworkInClear } from '../src/daemon.js';
import { Dispatcher, nameFilter } from '../src/dispatcher.js';
import { FileDeadLetter, type DeadLetter } from '../src/sinks/dead-letter.js';
import { SecretRegistry, secrets } from '../src/log.js';
import { DeliveryQueue, DRAIN_GAP_MS, type DeliveryQueueOptions } from '../src/sinks/queue.js';
import { joinSecrets, secretKey, secretKeys, sign, signWebhook, verify } from '../src/sinks/signing.js';
import { checkRoomUrl, describeEvent, SlackSink, slackMessage } from '../src/sinks/slack.js';
import { StdoutSink, textLine } from '../src/sinks/stdout.js';
import { WebhookSink } from '../src/sinks/webhook.js';
import { DeliveryError } from '../src/sinks/sink.js';
import { FileStateStore } from '../src/state/file-store.js';
import { capturingLogger, quietLogger, waitFor } from './support/helpers.js';
import { Receiver } from './support/receiver.js';
import { tempDir } from './support/tmp.js';

function ev(n: number, type: PresenceEvent['type'] = 'join', room = 'standup', userName = `Person ${n}`): PresenceEvent {
  const participant = { id: `p${n}`, userId: null, userName, mtgSessionId: null, joinTime: null, duration: 0 };
  const base = { id: eventId(room, `p${n}`, type), room, at: '2026-01-01T00:00:00.000Z', participant };
  if (type === 'update') return { ...base, type, changes: { userName: { from: 'Old', to: userName } } };
  return { ...base, type } as PresenceEvent;
}

class MemoryDeadLetter implements DeadLetter {
  entries: { sink: string; reason: string; event: PresenceEvent }[] = [];
  write(sink: string, reason: string, events: readonly PresenceEvent[]) {
    for (const event of events) this.entries.push({ sink, reason, event });
  }
}

const receivers: Receiver[] = [];
const queues: DeliveryQueue[] = [];
afterEach(async () => {
  for (const q of queues.splice(0)) await q.close();
  for (const r of receivers.splice(0)) await r.close();
});

async function receiver(...args: ConstructorParameters<typeof Receiver>) {
  const r = new Receiver(...args);
  await r.listen();
  receivers.push(r);
  return r;
}

function queue(sink: ConstructorParameters<typeof DeliveryQueue>[0]['sink'], extra: Partial<ConstructorParameters<typeof DeliveryQueue>[0]> = {}) {
  const deadLetter = new MemoryDeadLetter();
  const q = new DeliveryQueue({ sink, deadLetter, logger: quietLogger, backoffMinMs: 10, backoffMaxMs: 50, ...extra });
  queues.push(q);
  return { q, deadLetter };
}

const SECRET = 'whsec_' + Buffer.from('0123456789abcdef0123456789abcdef').toString('base64');
const OLD_SECRET = 'whsec_' + Buffer.from('the secret before the rotation!!').toString('base64');

describe('Standard Webhooks signing', () => {
  it('signs id.timestamp.body with the decoded whsec_ key, and verify() accepts it', () => {
    const key = secretKey(SECRET);
    expect(key.toString()).toBe('0123456789abcdef0123456789abcdef');
    const sig = sign(key, 'msg_1', 1700000000, '{"a":1}');
    expect(sig).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);
    const headers = { 'webhook-id': 'msg_1', 'webhook-timestamp': '1700000000', 'webhook-signature': `v1,bogus ${sig}` };
    expect(verify(SECRET, headers, '{"a":1}', { now: 1700000000_000 })).toBe(true);
    expect(verify(SECRET, headers, '{"a":2}', { now: 1700000000_000 })).toBe(false);
    expect(verify(SECRET, headers, '{"a":1}', { now: 1700000000_000 + 301_000 })).toBe(false);
    expect(verify('whsec_' + Buffer.from('other').toString('base64'), headers, '{"a":1}', { now: 1700000000_000 })).toBe(false);
  });

  it('verify takes the headers as a receiver has them (Fetch Headers, any case, arrays) and the body as bytes', () => {
    const body = '{"name":"Zoë"}';
    const sig = sign(secretKey(SECRET), 'msg_1', 1700000000, body);
    const at = { now: 1700000000_000 };
    const plain = { 'webhook-id': 'msg_1', 'webhook-timestamp': '1700000000', 'webhook-signature': sig };
    expect(verify(SECRET, new Headers(plain), body, at)).toBe(true);
    expect(verify(SECRET, { 'Webhook-Id': 'msg_1', 'WEBHOOK-TIMESTAMP': '1700000000', 'Webhook-Signature': sig }, body, at)).toBe(true);
    expect(verify(SECRET, { ...plain, 'webhook-signature': [sig, 'v1,other'] }, body, at)).toBe(true);
    expect(verify(SECRET, plain, Buffer.from(body), at)).toBe(true);
    expect(verify(SECRET, plain, new TextEncoder().encode(body), at)).toBe(true);
    // and still refuses what it should, in every form
    expect(verify(SECRET, new Headers({ ...plain, 'webhook-id': 'msg_2' }), body, at)).toBe(false);
    expect(verify(SECRET, plain, Buffer.from('{"name":"Zoe"}'), at)).toBe(false);
    expect(verify(SECRET, new Headers({ 'webhook-id': 'msg_1', 'webhook-timestamp': '1700000000' }), body, at)).toBe(false);
  });

  it("verify names a receiver's mistakes instead of failing inside crypto or looking like a bad signature: a parsed body, no headers, a secret not set (whatever the request)", () => {
    const body = '{"name":"Zoë"}';
    const plain = { 'webhook-id': 'msg_1', 'webhook-timestamp': '1700000000', 'webhook-signature': sign(secretKey(SECRET), 'msg_1', 1700000000, body) };
    const at = { now: 1700000000_000 };
    const call = (...args: unknown[]) => () => (verify as (...a: unknown[]) => boolean)(...args);
    // express.json() hands over the parse: its bytes are gone
    expect(call(SECRET, plain, JSON.parse(body), at)).toThrow(
      /^verifyWebhook: the body must be the raw body exactly as received, a string or a Buffer, not an object: a parsed JSON body cannot be verified .*express\.raw\(\{ type: 'application\/json' \}\)$/,
    );
    expect(call(SECRET, plain, undefined, at)).toThrow(/^verifyWebhook: the body must be the raw body .*, not undefined:/);
    expect(call(SECRET, undefined, body, at)).toThrow(/^verifyWebhook: headers must be the request's headers \(Node's req\.headers, or a Fetch Headers\), not undefined$/);
    // process.env.SECRET unset: an error on the first request, not every delivery refused as forged
    expect(call(undefined, plain, body, at)).toThrow(/^verifyWebhook: the secret must be a string \(whsec_<base64>, or raw\), or a list of them, not undefined \(is the variable holding it set\?\)$/);
    expect(call(undefined, {}, body, at)).toThrow(/not undefined/); // even when the request has no signature
    expect(call([SECRET, undefined], plain, body, at)).toThrow(/not undefined/);
    expect(call([], plain, body, at)).toThrow(/^verifyWebhook: no secret given \(an empty list\)$/);
    // a secret of the right kind but malformed: said as verifyWebhook's, as the others are
    expect(call('', plain, body, at)).toThrow(/^verifyWebhook: webhook secret is empty$/);
    expect(call('whsec_!!', plain, body, at)).toThrow(/^verifyWebhook: webhook secret: the part after whsec_ is not base64$/);
    expect(call('whsec_!!', {}, body, at)).toThrow(/not base64/);
    expect(call(SECRET, plain, body, { tolerance: 600 })).toThrow(/^verifyWebhook: unknown option "tolerance" \(did you mean toleranceSec\?\)$/);
    expect(verify([SECRET], plain, body, at)).toBe(true);
  });

  it("signWebhook (for a receiver's tests) takes the secret as set or its key, and names a slip: before, a whsec_ string was signed with as raw bytes and a timestamp in milliseconds was signed as given", () => {
    const body = '{"name":"Zoë"}';
    const at = { now: 1700000000_000 };
    const headers = (sig: string) => ({ 'webhook-id': 'msg_1', 'webhook-timestamp': '1700000000', 'webhook-signature': sig });
    const fromSecret = signWebhook(SECRET, 'msg_1', 1700000000, body);
    expect(fromSecret).toBe(sign(secretKey(SECRET), 'msg_1', 1700000000, body));
    expect(signWebhook(secretKey(SECRET), 'msg_1', 1700000000, Buffer.from(body))).toBe(fromSecret);
    expect(verify(SECRET, headers(fromSecret), body, at)).toBe(true);
    expect(signWebhook('plain-secret', 'msg_1', 1700000000, body)).toBe(sign(Buffer.from('plain-secret'), 'msg_1', 1700000000, body));
    const call = (...args: unknown[]) => () => (signWebhook as (...a: unknown[]) => string)(...args);
    expect(call(SECRET, 'msg_1', 1700000000_000, body)).toThrow(/^signWebhook: timestamp 1700000000000 is in milliseconds: give unix seconds/);
    expect(call(SECRET, 'msg_1', '1700000000', body)).toThrow(/^signWebhook: timestamp must be whole unix seconds .* not the string "1700000000"$/);
    expect(call(undefined, 'msg_1', 1700000000, body)).toThrow(/^signWebhook: the secret must be a string \(whsec_<base64>, or raw\) or its key \(webhookSecretKey\), not undefined$/);
    expect(call(SECRET, '', 1700000000, body)).toThrow(/^signWebhook: id must be the event's id/);
    expect(call(SECRET, 'msg_1', 1700000000, { name: 'Zoë' })).toThrow(/^signWebhook: body must be the body as sent/);
    expect(() => (secretKey as (s: unknown) => Buffer)(42)).toThrow(/^webhookSecretKey: the secret must be a string .* not a number$/);
    expect(() => (secretKeys as (s: unknown) => Buffer[])(undefined)).toThrow(/^webhookSecretKeys: the secret must be a string .* not undefined \(is the variable holding it set\?\)$/);
  });

  it('a raw secret is used as UTF-8 bytes; a bad whsec_ is an error', () => {
    expect(secretKey('plain-secret').toString()).toBe('plain-secret');
    // a secret file's line break: dropped from the whsec_ form, refused in a raw secret (it would be part of the key)
    expect(secretKey(`${SECRET}\n`)).toEqual(secretKey(SECRET));
    expect(() => secretKey('plain-secret\n')).toThrow(/starts or ends with whitespace/);
    expect(() => secretKey('whsec_not-base64!')).toThrow(/not base64/);
  });

  it('a rotation: several whsec_ secrets separated by spaces are several keys; a raw secret with spaces stays one', () => {
    expect(secretKeys(`${SECRET} ${OLD_SECRET}`)).toEqual([secretKey(SECRET), secretKey(OLD_SECRET)]);
    expect(secretKeys(` ${SECRET}\n\t${OLD_SECRET}\n`)).toEqual([secretKey(SECRET), secretKey(OLD_SECRET)]);
    expect(secretKeys(`${SECRET} ${SECRET}`)).toEqual([secretKey(SECRET)]);
    expect(secretKeys(SECRET)).toEqual([secretKey(SECRET)]);
    // a raw secret may contain spaces: it is one key, as it always was
    expect(secretKeys('correct horse battery')).toEqual([Buffer.from('correct horse battery')]);
    expect(() => secretKeys(`${SECRET} plain-secret`)).toThrow(/secret 2 of 2 is not whsec_<base64>/);
    expect(() => secretKeys(`${SECRET} whsec_!!`)).toThrow(/^webhook secret: secret 2 of 2: the part after whsec_ is not base64$/);
    // the one-secret reader says what to use instead of "not base64"
    expect(() => secretKey(`${SECRET} ${OLD_SECRET}`)).toThrow(/several secrets .*secretKeys/);
    expect(joinSecrets([SECRET, ` ${OLD_SECRET}\n`])).toBe(`${SECRET} ${OLD_SECRET}`);
    expect(joinSecrets(['raw with spaces'])).toBe('raw with spaces');
    expect(() => joinSecrets([SECRET, 'raw'])).toThrow(/secret 2 of 2 is not whsec_/);
  });

  it('verify accepts a delivery signed with any of the secrets it is given, and only those', () => {
    const body = '{"a":1}';
    const at = { now: 1700000000_000 };
    const signed = (...secrets: string[]) => ({
      'webhook-id': 'msg_1',
      'webhook-timestamp': '1700000000',
      'webhook-signature': secrets.map((s) => sign(secretKey(s), 'msg_1', 1700000000, body)).join(' '),
    });
    const OTHER = 'whsec_' + Buffer.from('a third secret, never configured').toString('base64');
    // the receiver mid-rotation holds both, as a list or as one setting
    expect(verify([SECRET, OLD_SECRET], signed(OLD_SECRET), body, at)).toBe(true);
    expect(verify(`${SECRET} ${OLD_SECRET}`, signed(SECRET), body, at)).toBe(true);
    // a sender mid-rotation signs with both: a receiver with either accepts
    expect(verify(OLD_SECRET, signed(SECRET, OLD_SECRET), body, at)).toBe(true);
    expect(verify(SECRET, signed(SECRET, OLD_SECRET), body, at)).toBe(true);
    expect(verify([SECRET, OLD_SECRET], signed(OTHER), body, at)).toBe(false);
    expect(verify(OTHER, signed(SECRET, OLD_SECRET), body, at)).toBe(false);
    // no secret at all is a receiver's configuration slip, said as one (next test), not a forged delivery
    expect(() => verify([], signed(SECRET), body, at)).toThrow(/no secret given/);
  });
});

describe('webhook sink', () => {
  it('POSTs the event JSON with content-type, user-agent and a verifiable signature', async () => {
    const r = await receiver();
    const { q } = queue(new WebhookSink({ url: r.url, secret: SECRET, userAgent: 'daily-presence-watcher/9.9.9' }));
    const e = ev(1);
    q.push(e);
    await waitFor(r, 'request', () => r.requests.length >= 1);
    const got = r.requests[0]!;
    expect(JSON.parse(got.body)).toEqual(e);
    expect(got.headers['content-type']).toBe('application/json');
    expect(got.headers['user-agent']).toBe('daily-presence-watcher/9.9.9');
    expect(got.headers['webhook-id']).toBe(e.id);
    expect(verify(SECRET, got.headers as Record<string, string>, got.body)).toBe(true);
  });

  it('with several secrets (a rotation), each delivery carries one signature per secret', async () => {
    const r = await receiver();
    const { q } = queue(new WebhookSink({ url: r.url, secret: `${SECRET} ${OLD_SECRET}` }));
    q.push(ev(1));
    await waitFor(r, 'request', () => r.requests.length >= 1);
    const got = r.requests[0]!;
    const headers = got.headers as Record<string, string>;
    expect(headers['webhook-signature']!.split(' ')).toHaveLength(2);
    // a receiver that has moved to the new secret, and one that has not yet
    expect(verify(SECRET, headers, got.body)).toBe(true);
    expect(verify(OLD_SECRET, headers, got.body)).toBe(true);
    expect(verify('whsec_' + Buffer.from('neither of the two').toString('base64'), headers, got.body)).toBe(false);
  });

  it('without a secret, sends no signature, but the webhook-id (the event id, to dedupe on) and webhook-timestamp all the same', async () => {
    const r = await receiver();
    const { q } = queue(new WebhookSink({ url: r.url, now: () => 1_700_000_000_500 }));
    const e = ev(1);
    q.push(e);
    await waitFor(r, 'request', () => r.requests.length >= 1);
    expect(r.requests[0]!.headers['webhook-signature']).toBeUndefined();
    expect(r.requests[0]!.headers['webhook-id']).toBe(e.id);
    expect(r.requests[0]!.headers['webhook-timestamp']).toBe('1700000000');
  });

  it('retries 5xx, 429 (Retry-After) and dropped connections with the same webhook-id; order is kept', async () => {
    const r = await receiver();
    r.script = [{ status: 500 }, { drop: true }, { status: 429, headers: { 'retry-after': '1' } }, { status: 503 }];
    const { q, deadLetter } = queue(new WebhookSink({ url: r.url, secret: SECRET, concurrency: 1 }));
    const events = [ev(1), ev(2, 'leave'), ev(3, 'update')];
    for (const e of events) q.push(e);
    await waitFor(r, 'request', () => r.accepted.length >= 3, 10_000);
    const first = r.requests.slice(0, 5);
    expect(first.map((x) => x.status)).toEqual([500, 'dropped', 429, 503, 200]);
    expect(new Set(first.map((x) => x.headers['webhook-id']))).toEqual(new Set([events[0]!.id]));
    for (const x of first) expect(verify(SECRET, x.headers as Record<string, string>, x.body)).toBe(true);
    // Retry-After: 1 was waited out
    expect(first[3]!.at - first[2]!.at).toBeGreaterThanOrEqual(990);
    expect(r.accepted.map((x) => JSON.parse(x.body).id)).toEqual(events.map((e) => e.id));
    expect(deadLetter.entries).toEqual([]);
  });

  it('sends up to `concurrency` (default 4) events at once; one person\'s events never overlap and arrive in order', async () => {
    const r = await receiver();
    // every answer late enough that what can overlap does, even on a loaded machine
    r.fallback = { delayMs: 200, then: { status: 200 } };
    const { q, deadLetter } = queue(new WebhookSink({ url: r.url }));
    // p1 joins and leaves: the leave waits for the join's answer, whatever else is in flight
    const events = [ev(1), ev(2), ev(1, 'leave'), ev(3), ev(4), ev(5), ev(6), ev(7), ev(3, 'update'), ev(8)];
    const answeredBefore = new Map<string, string[]>();
    r.decide = ({ body }) => {
      answeredBefore.set(JSON.parse(body).id, r.requests.map((x) => JSON.parse(x.body).id));
      return undefined;
    };
    for (const e of events) q.push(e);
    await waitFor(q, 'delivered', () => r.accepted.length >= events.length, 10_000);
    expect(r.maxOpen).toBe(4);
    expect(answeredBefore.get(ev(1, 'leave').id)).toContain(ev(1).id);
    expect(answeredBefore.get(ev(3, 'update').id)).toContain(ev(3).id);
    expect(new Set(r.accepted.map((x) => JSON.parse(x.body).id))).toEqual(new Set(events.map((e) => e.id)));
    expect(r.requests).toHaveLength(events.length);
    expect(deadLetter.entries).toEqual([]);

    // concurrency 1: one at a time, in the queue's order
    const one = await receiver();
    one.fallback = { delayMs: 5, then: { status: 200 } };
    const strict = queue(new WebhookSink({ url: one.url, concurrency: 1 }));
    for (const e of events) strict.q.push(e);
    await waitFor(strict.q, 'delivered', () => one.accepted.length >= events.length, 10_000);
    expect(one.maxOpen).toBe(1);
    expect(one.accepted.map((x) => JSON.parse(x.body).id)).toEqual(events.map((e) => e.id));
  });

  it('concurrency: a delivery still out holds its place only, not the others\': the next events go as places free up, but not the same person\'s, which the others pass', async () => {
    const r = await receiver();
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const p1Join = ev(1).id;
    r.decide = ({ body }) => (JSON.parse(body).id === p1Join ? { until: held, then: { status: 200 } } : { status: 200 });
    const { q, deadLetter } = queue(new WebhookSink({ url: r.url })); // 4 at once
    const ids = (xs: { body: string }[]) => xs.map((x) => JSON.parse(x.body).id as string);
    const events = [1, 2, 3, 4, 5, 6, 7, 8].map((n) => ev(n));
    // p1's leave early in the queue: it waits for p1's join; the events behind it do not
    for (const e of [...events.slice(0, 2), ev(1, 'leave'), ...events.slice(2)]) q.push(e);
    // with the four taken together, the window waited for p1's answer and p5 to p8 with it; taken
    // in the queue's order, everyone behind p1's leave waited with it
    await waitFor(r, 'request', () => r.accepted.length >= 7, 10_000);
    expect(new Set(ids(r.accepted))).toEqual(new Set(events.slice(1).map((e) => e.id)));
    expect(ids(r.requests)).not.toContain(ev(1, 'leave').id); // p1's leave waits for p1's join to land
    expect(r.maxOpen).toBeLessThanOrEqual(4);
    release();
    await waitFor(r, 'request', () => r.accepted.length >= 9, 10_000);
    expect(ids(r.accepted).slice(-2)).toEqual([p1Join, ev(1, 'leave').id]);
    await waitFor(q, 'depth', () => q.depth === 0, 10_000);
    expect(deadLetter.entries).toEqual([]);
  });

  it('concurrency: a Retry-After pauses the sink, not only the request it answered: nothing new starts until it has passed', async () => {
    const r = await receiver();
    const { q, deadLetter } = queue(new WebhookSink({ url: r.url })); // 4 at once
    // p2 to p4, out with p1, land only once the queue has taken p1's 429 in (so their places free
    // up while the pause is on, whatever the machine's timing)
    let seen!: () => void;
    const throttleSeen = new Promise<void>((resolve) => (seen = resolve));
    q.on('outcome', (o) => o === 'retried' && seen());
    let throttled429 = false;
    r.decide = ({ body }) => {
      const id = JSON.parse(body).participant.id;
      if (id === 'p1' && !throttled429) {
        throttled429 = true;
        return { status: 429, headers: { 'retry-after': '1' } };
      }
      return ['p2', 'p3', 'p4'].includes(id) ? { until: throttleSeen, then: { status: 200 } } : { status: 200 };
    };
    const events = [1, 2, 3, 4, 5, 6, 7, 8].map((n) => ev(n));
    for (const e of events) q.push(e);
    await waitFor(q, 'depth', () => q.depth === 0, 10_000);
    const throttled = r.requests.find((x) => x.status === 429);
    expect(throttled).toBeDefined();
    // the four first were out together, before the 429 came back; every request after waited it out
    const after = r.requests.slice(4);
    expect(after).toHaveLength(5); // p5 to p8, and p1 again
    for (const x of after) expect(x.at - throttled!.at).toBeGreaterThanOrEqual(990);
    expect(new Set(r.accepted.map((x) => JSON.parse(x.body).id))).toEqual(new Set(events.map((e) => e.id)));
    expect(deadLetter.entries).toEqual([]);
  });

  it('concurrency: an event pushed while another is out goes at once, without waiting for that one to land', async () => {
    const r = await receiver();
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    r.decide = ({ body }) => (JSON.parse(body).participant.id === 'p1' ? { until: held, then: { status: 200 } } : { status: 200 });
    const { q } = queue(new WebhookSink({ url: r.url }));
    q.push(ev(1));
    await waitFor(r, 'arrival', () => r.arrivals >= 1);
    q.push(ev(2)); // the next poll's event, p1's still unanswered
    await waitFor(r, 'request', () => r.accepted.length >= 1, 10_000);
    expect(r.accepted.map((x) => JSON.parse(x.body).id)).toEqual([ev(2).id]);
    release();
    await waitFor(q, 'depth', () => q.depth === 0, 10_000);
  });

  it('concurrency: a 410 disables the sink mid-window; what was confirmed is delivered, what was still in flight goes to the dead-letter with the rest, in order', async () => {
    const r = await receiver();
    let release!: () => void;
    const never = new Promise<void>((resolve) => (release = resolve));
    // p2's 410 waits until the sink has confirmed p1 (on a loaded machine a timer could let it overtake)
    const hook = new WebhookSink({ url: r.url });
    let p1Done!: () => void;
    const p1Confirmed = new Promise<void>((resolve) => (p1Done = resolve));
    const sink = {
      kind: hook.kind,
      name: hook.name,
      maxBatch: hook.maxBatch,
      minIntervalMs: hook.minIntervalMs,
      concurrency: hook.concurrency,
      deliver: async (events: PresenceEvent[], signal: AbortSignal) => {
        await hook.deliver(events, signal);
        if (events[0]!.participant.id === 'p1') p1Done();
      },
      close: () => hook.close(),
    };
    r.decide = ({ body }) => {
      const id = JSON.parse(body).participant.id;
      if (id === 'p1') return { status: 200 };
      if (id === 'p2') return { until: p1Confirmed, then: { status: 410 } };
      return { until: never, then: { status: 200 } }; // p3, p4: held until the end
    };
    const { q, deadLetter } = queue(sink);
    const delivered: string[] = [];
    q.on('delivered', (b) => delivered.push(...b.map((e) => e.id)));
    for (let i = 1; i <= 6; i++) q.push(ev(i));
    // an event that comes as p2's refusal is dead-lettered, while p3 and p4 are still out: it goes
    // behind p5 and p6, which waited before it (a person's join before their leave, for a replay)
    q.once('abandoned', () => q.push(ev(7)));
    await waitFor(q, 'disabled', () => q.disabled && q.depth === 0);
    release();
    expect(delivered).toEqual([ev(1).id]);
    expect(deadLetter.entries.map((x) => x.event.id)).toEqual([2, 3, 4, 5, 6, 7].map((n) => ev(n).id));
    for (const x of deadLetter.entries) expect(x.reason).toMatch(/^sink disabled: .*HTTP 410.*the endpoint is gone$/);
    expect(q.depth).toBe(0);
  });

  it('concurrency: four deliveries refused with 410 at once disable the sink with one error line, not four', async () => {
    const r = await receiver();
    // the four answers held until all four have arrived, then sent together
    let all!: () => void;
    const arrived = new Promise<void>((resolve) => (all = resolve));
    r.on('arrival', () => r.arrivals >= 4 && all());
    r.fallback = { until: arrived, then: { status: 410, body: 'gone' } };
    const { logger, lines } = capturingLogger('info');
    const { q, deadLetter } = queue(new WebhookSink({ url: r.url }), { logger });
    for (let i = 1; i <= 6; i++) q.push(ev(i));
    await waitFor(q, 'disabled', () => q.disabled);
    expect(r.requests).toHaveLength(4);
    expect(deadLetter.entries.map((x) => x.event.id)).toEqual([1, 2, 3, 4, 5, 6].map((n) => ev(n).id));
    const errors = lines.map((l) => JSON.parse(l)).filter((l) => l.level === 50);
    expect(errors.map((l) => l.msg)).toEqual([expect.stringMatching(/HTTP 410 "gone": the endpoint is gone: sink disabled; its events go to the dead-letter from now on$/)]);
  });

  it('concurrency: closing mid-window keeps what was not confirmed, in order, and drops what was', async () => {
    const r = await receiver();
    r.decide = ({ body }) => (JSON.parse(body).participant.id === 'p1' ? { status: 200 } : { until: new Promise(() => {}), then: { status: 200 } });
    const { q, deadLetter } = queue(new WebhookSink({ url: r.url }));
    const delivered: string[] = [];
    q.on('delivered', (b) => delivered.push(...b.map((e) => e.id)));
    for (let i = 1; i <= 6; i++) q.push(ev(i));
    await waitFor(r, 'arrival', () => r.arrivals >= 4 && r.requests.length >= 1);
    const left = await q.close();
    expect(delivered).toEqual([ev(1).id]);
    expect(left.map((e) => e.id)).toEqual([2, 3, 4, 5, 6].map((n) => ev(n).id));
    expect(deadLetter.entries).toEqual([]);
  });

  it('a sink of the library user\'s own with a concurrency or maxBatch under 1 is refused by the queue (its loop would spin, taking nothing)', () => {
    const sink = (concurrency: number, maxBatch = 1) => ({ kind: 'x', name: 'mine', maxBatch, minIntervalMs: 0, concurrency, deliver: async () => {} });
    expect(() => queue(sink(0))).toThrow(/^DeliveryQueue: sink mine: concurrency must be a whole number ≥ 1, got 0$/);
    expect(() => queue(sink(Number.NaN))).toThrow(/concurrency must be a whole number ≥ 1, got NaN$/);
    expect(() => queue(sink(1, 0))).toThrow(/^DeliveryQueue: sink mine: maxBatch must be a whole number ≥ 1, got 0$/);
  });

  it('concurrency must be a whole number from 1 to 64', () => {
    for (const bad of [0, 65, 1.5, Number.NaN]) expect(() => new WebhookSink({ url: 'http://127.0.0.1:9/h', concurrency: bad })).toThrow(/^WebhookSink: concurrency must be a whole number from 1 to 64, got /);
    expect(() => new WebhookSink({ url: 'http://127.0.0.1:9/h', concurrency: '4' as unknown as number })).toThrow(/, got "4"$/);
    expect(new WebhookSink({ url: 'http://127.0.0.1:9/h', concurrency: 64 }).concurrency).toBe(64);
  });

  it("the library's sink constructors and Dispatcher.add name a caller's slip: a misspelt option, an options object where StdoutSink takes a stream, a sink where add takes its queue", () => {
    expect(() => new WebhookSink({ url: 'http://127.0.0.1:9/h', timout: 5 } as never)).toThrow(/^WebhookSink: unknown option "timout"$/);
    expect(() => new SlackSink({ url: 'https://hooks.slack.com/services/T/B/x', roomURL: 'https://a.daily.co/{room}' } as never)).toThrow(/^SlackSink: unknown option "roomURL" \(did you mean roomUrl\?\)$/);
    expect(() => new StdoutSink({ format: 'text' } as never)).toThrow(/^StdoutSink: the first argument is the stream to write to/);
    expect(() => new StdoutSink(new PassThrough(), 'stdout', 'txt' as never)).toThrow(/^StdoutSink: format must be "json" or "text", got "txt"$/);
    expect(() => new StdoutSink(new PassThrough(), 'stdout', 1n as never)).toThrow(/^StdoutSink: format must be "json" or "text", got 1n \(a BigInt: give a number\)$/);
    // the URL where the options go, or none: "Cannot convert undefined or null to object" before, and a
    // string's characters read as options ('unknown option "0"')
    expect(() => new WebhookSink('http://127.0.0.1:9/h' as never)).toThrow(/^WebhookSink: options must be an object, got "http:\/\/127\.0\.0\.1:9\/h"$/);
    expect(() => new SlackSink(null as never)).toThrow(/^SlackSink: options must be an object, got null$/);
    // (found by the constructors' fuzz test: "template.includes is not a function", and a secret's
    // problem that did not say which constructor it came from)
    expect(() => new SlackSink({ url: 'https://hooks.slack.com/services/T/B/x', roomUrl: null as never })).toThrow(/^SlackSink: roomUrl must be a URL with \{room\} in it \(e\.g\. https:\/\/your-domain\.daily\.co\/\{room\}\), not null$/);
    expect(() => new WebhookSink({ url: 'http://127.0.0.1:9/h', secret: '' })).toThrow(/^WebhookSink: secret: webhook secret is empty$/);
    expect(() => new WebhookSink({ url: 'http://127.0.0.1:9/h', secret: 42 as never })).toThrow(/^WebhookSink: secret must be a string \(whsec_<base64>, or raw\), not a number$/);
    // slackMessage and describeEvent, public too, given what is not an event: "Cannot read
    // properties of null (reading 'room')", "events.slice is not a function" before
    const any = (f: unknown) => f as (...a: unknown[]) => unknown;
    expect(() => any(describeEvent)(null)).toThrow(/^describeEvent: its argument must be a presence event \(as the watcher emits\), not null$/);
    expect(() => any(slackMessage)('Ann joined')).toThrow(/^slackMessage: events must be an array of presence events, not the string "Ann joined"$/);
    expect(() => any(slackMessage)([{ type: 'joined', room: 'a' }])).toThrow(/^slackMessage: events\[0\] must be a presence event \(as the watcher emits\): its type is "joined", not join, leave or update$/);
    expect(() => any(slackMessage)([], null)).toThrow(/^slackMessage: options must be an object, got null$/);
    expect(() => any(slackMessage)([], { now: new Date() })).toThrow(/^slackMessage: now must be the time in ms since the epoch \(Date\.now\(\)\), not "20/);
    expect(() => any(slackMessage)([], { lateAfter: 5 })).toThrow(/^slackMessage: unknown option "lateAfter" \(did you mean lateAfterMs\?\)$/);
    const sink = new StdoutSink(new PassThrough(), 'stdout', 'text');
    expect(sink.forPeople).toBe(true);
    const base = { sink, deadLetter: { write() {} }, logger: quietLogger };
    expect(() => new DeliveryQueue({ ...base, capp: 5 } as never)).toThrow(/^DeliveryQueue: unknown option "capp" \(did you mean cap\?\)$/);
    expect(() => new DeliveryQueue({ ...base, cap: '5' } as never)).toThrow(/^DeliveryQueue: cap must be a number ≥ 1, got "5"$/);
    expect(() => new DeliveryQueue({ ...base, maxAttempts: 0 })).toThrow(/^DeliveryQueue: maxAttempts must be a number ≥ 1, got 0$/);
    const q = new DeliveryQueue(base);
    // before, taken: a webhook then posted the body "null", a text sink threw inside its delivery
    expect(() => q.push(null as never)).toThrow(/^DeliveryQueue\.push: the event must be a presence event \(as the watcher emits\), not null$/);
    expect(() => q.push({ type: 'join', room: 'a' } as never)).toThrow(/^DeliveryQueue\.push: the event must be a presence event/);
    expect(q.depth).toBe(0);
    expect(() => q.on('deliverd' as never, () => {})).toThrow(/^DeliveryQueue: no event "deliverd" \(did you mean "delivered"\?\); its events are delivered, abandoned, outcome, depth, disabled$/);
    expect(q.on('delivered', () => {}).listenerCount('delivered')).toBe(1);
    expect(() => new Dispatcher().add(sink as never)).toThrow(/^Dispatcher\.add: the first argument must be a DeliveryQueue \(new DeliveryQueue\(\{ sink, deadLetter, logger \}\)\), not the sink itself$/);
    // values of the wrong kind, each named (a header's value is not shown: headers carry credentials)
    expect(() => new WebhookSink({ url: 'http://127.0.0.1:9/h', timeoutMs: 0 })).toThrow(/^WebhookSink: timeoutMs must be a number of milliseconds above 0, got 0$/);
    expect(() => new WebhookSink({ url: 'http://127.0.0.1:9/h', headers: { 'x-key': 12345 } } as never)).toThrow(/^WebhookSink: headers: the value of "x-key" must be text, not a number$/);
    expect(() => new WebhookSink({ url: 'http://127.0.0.1:9/h', name: '' })).toThrow(/^WebhookSink: name must be a non-empty string/);
    expect(() => new SlackSink({ url: 'https://hooks.slack.com/services/T/B/x', minIntervalMs: '1000' } as never)).toThrow(/^SlackSink: minIntervalMs must be a number of milliseconds ≥ 0, got "1000"$/);
    expect(() => new SlackSink({ url: 'https://hooks.slack.com/services/T/B/x', timeoutMs: -5 })).toThrow(/^SlackSink: timeoutMs must be a number of milliseconds above 0, got -5$/);
    expect(() => new FileDeadLetter(undefined as never, quietLogger)).toThrow(/^FileDeadLetter: give the file's path, then a logger/);
    expect(() => new FileDeadLetter('/tmp/dead.ndjson', undefined as never)).toThrow(/^FileDeadLetter: the logger must be a pino logger/);
    // what the daemon builds is accepted: every option it passes is known
    expect(new WebhookSink({ url: 'http://127.0.0.1:9/h', secret: SECRET, timeoutMs: 1000, name: 'w', userAgent: 'x', headers: { 'x-a': '1' }, concurrency: 2, now: Date.now }).name).toBe('w');
    expect(new SlackSink({ url: 'https://hooks.slack.com/services/T/B/x', timeoutMs: 1000, name: 's', minIntervalMs: 0, userAgent: 'x', roomUrl: 'https://a.daily.co/{room}' }).name).toBe('s');
  });

  it('a 4xx is permanent: dead-lettered, and the next event still goes', async () => {
    const r = await receiver();
    r.script = [{ status: 400, body: 'bad' }];
    const { q, deadLetter } = queue(new WebhookSink({ url: r.url, concurrency: 1 }));
    q.push(ev(1));
    q.push(ev(2));
    await waitFor(r, 'request', () => r.accepted.length >= 1);
    expect(deadLetter.entries.map((x) => x.event.id)).toEqual([ev(1).id]);
    expect(deadLetter.entries[0]!.reason).toMatch(/permanent error: .*HTTP 400 "bad"/);
    expect(deadLetter.entries[0]!.reason).not.toContain(r.url);
  });

  it.each([
    ['webhook', (url: string) => new WebhookSink({ url }), 301, 'https://example.org/hooks/tok-SECRET-123', 'https://example.org'],
    ['webhook', (url: string) => new WebhookSink({ url }), 308, '/elsewhere/tok-SECRET-123', 'SELF'],
    ['slack', (url: string) => new SlackSink({ url, minIntervalMs: 0 }), 302, 'https://slack.example/x/tok-SECRET-123', 'https://slack.example'],
  ] as const)('%s: a redirect (%i) disables the sink, naming where it points without the path', async (_kind, make, status, location, origin) => {
    const r = new Receiver();
    await r.listen('/hook/tok-ORIGINAL');
    receivers.push(r);
    expect(r.url).toContain('tok-ORIGINAL');
    r.script = [{ status, headers: { location } }];
    const { q, deadLetter } = queue(make(r.url));
    q.push(ev(1));
    await waitFor(q, 'abandoned', () => deadLetter.entries.length >= 1);
    expect(q.disabled).toBe(true);
    const to = origin === 'SELF' ? new URL(r.url).origin : origin;
    expect(q.disabledReason).toMatch(new RegExp(`answered HTTP ${status}: a redirect to ${to.replace(/[.]/g, '\\.')}, which is not followed; configure the final URL$`));
    expect(q.disabledReason).not.toContain('SECRET');
    expect(q.disabledReason).not.toContain('ORIGINAL');
    expect(r.requests).toHaveLength(1);
  });

  it.each([
    ['webhook', (url: string) => new WebhookSink({ url, concurrency: 1 })],
    ['slack', (url: string) => new SlackSink({ url, minIntervalMs: 0 })],
  ] as const)('%s: a redirect from a URL that has taken deliveries (a maintenance page) is retried, and what waited is delivered after it', async (_kind, make) => {
    // before, one 302 disabled the sink for good: every later event went to the dead-letter until a restart
    const r = await receiver();
    r.script = [{ status: 200, body: 'ok' }, { status: 302, headers: { location: 'https://status.example/maintenance' } }, { status: 302, headers: { location: 'https://status.example/maintenance' } }];
    const { q, deadLetter } = queue(make(r.url));
    const retried: string[] = [];
    q.on('outcome', (o) => retried.push(o));
    q.push(ev(1));
    await waitFor(r, 'request', () => r.accepted.length >= 1);
    q.push(ev(2));
    await waitFor(r, 'request', () => r.accepted.length >= 2);
    expect(r.requests.map((x) => x.status)).toEqual([200, 302, 302, 200]);
    expect(q.disabled).toBe(false);
    expect(deadLetter.entries).toEqual([]);
    expect(retried.filter((o) => o === 'retried')).toHaveLength(2);
    expect(r.accepted[1]!.body).toContain(_kind === 'webhook' ? ev(2).id : 'standup');
  });

  it.each([
    [401, 'raw-secret-value', /HTTP 401 "bad signature" 3 times in a row: check the signing secret the receiver expects, and the URL$/],
    [403, undefined, /HTTP 403 "bad signature" 3 times in a row: the receiver wants credentials: sign deliveries \(--webhook-secret\) or check the URL$/],
  ] as const)('a receiver refusing our credentials (%i) three times in a row disables the sink, saying what to check', async (status, secret, reason) => {
    const r = await receiver();
    r.script = [1, 2, 3].map(() => ({ status, body: 'bad signature' }));
    // one at a time (with several in flight, the fourth may already be on its way)
    const { q, deadLetter } = queue(new WebhookSink({ url: r.url, secret, concurrency: 1 }));
    for (let i = 1; i <= 4; i++) q.push(ev(i));
    await waitFor(q, 'abandoned', () => deadLetter.entries.length >= 4);
    expect(q.disabled).toBe(true);
    expect(q.disabledReason).toMatch(reason);
    expect(q.disabledReason).not.toContain('raw-secret-value');
    expect(deadLetter.entries[0]!.reason).toMatch(/the sink is disabled after 3 refusals in a row\)$/);
    // the fourth event is not sent to be refused in turn
    expect(r.requests).toHaveLength(3);
  });

  it.each([
    [401, 'disabled'],
    [400, 'dead-lettered'],
  ] as const)('a signed delivery refused (%i) by a receiver whose clock is far from ours: the reason says so, not only the secret (%s)', async (status, _outcome) => {
    const r = await receiver();
    r.script = [1, 2, 3].map(() => ({ status, body: 'timestamp too old' }));
    // this machine's clock 12 minutes behind the receiver's (whose Date header is the real time)
    const { q, deadLetter } = queue(new WebhookSink({ url: r.url, secret: 'raw-secret-value', now: () => Date.now() - 12 * 60_000 }));
    for (let i = 1; i <= 3; i++) q.push(ev(i));
    await waitFor(q, 'abandoned', () => deadLetter.entries.length >= 3);
    const reason = status === 401 ? q.disabledReason : deadLetter.entries[0]!.reason;
    expect(reason).toContain(`this machine's clock is 12 minutes behind ${new URL(r.url).host}'s, and receivers refuse a signature more than 5 minutes off theirs: set the clock (NTP)`);
    // the timestamp it signed is the one it says is off
    expect(Number(r.requests[0]!.headers['webhook-timestamp'])).toBeLessThan(Date.now() / 1000 - 11 * 60);
  });

  it('an unsigned sink, or a clock within 5 minutes of the receiver\'s, gets no clock note', async () => {
    const r = await receiver();
    r.script = [{ status: 400, body: 'no' }, { status: 400, body: 'no' }];
    const signed = queue(new WebhookSink({ url: r.url, secret: 'raw-secret-value', now: () => Date.now() - 4 * 60_000 }));
    const unsigned = queue(new WebhookSink({ url: r.url, now: () => Date.now() - 60 * 60_000 }));
    signed.q.push(ev(1));
    unsigned.q.push(ev(2));
    await waitFor(signed.q, 'abandoned', () => signed.deadLetter.entries.length >= 1);
    await waitFor(unsigned.q, 'abandoned', () => unsigned.deadLetter.entries.length >= 1);
    expect([signed.deadLetter.entries[0]!.reason, unsigned.deadLetter.entries[0]!.reason]).toEqual([expect.stringMatching(/HTTP 400 "no"$/), expect.stringMatching(/HTTP 400 "no"$/)]);
  });

  it('a refusal before the receiver took any delivery dead-letters that event only; once it has taken one, a refusal is retried, and no run of them disables the sink', async () => {
    const r = await receiver();
    r.script = [{ status: 401, body: 'no' }, { status: 200 }, ...[1, 2, 3, 4].map(() => ({ status: 401, body: 'no' })), { status: 200 }];
    // one at a time: the script's answers go to the events in order
    const { q, deadLetter } = queue(new WebhookSink({ url: r.url, concurrency: 1 }));
    const outcomes: string[] = [];
    q.on('outcome', (o) => outcomes.push(o));
    for (let i = 1; i <= 4; i++) q.push(ev(i));
    await waitFor(r, 'request', () => r.accepted.length >= 3);
    expect(q.disabled).toBe(false);
    expect(deadLetter.entries.map((x) => x.event.id)).toEqual([ev(1).id]);
    // the third event was refused four times in a row, each retried, then taken
    expect(r.requests.map((x) => [JSON.parse(x.body).id, x.status])).toEqual([
      [ev(1).id, 401],
      [ev(2).id, 200],
      ...[1, 2, 3, 4].map(() => [ev(3).id, 401]),
      [ev(3).id, 200],
      [ev(4).id, 200],
    ]);
    expect(outcomes.filter((o) => o === 'retried')).toHaveLength(4);
  });

  it('with several requests in flight, a receiver that took deliveries and refuses all of them at once is not disabled: each is retried', async () => {
    const r = await receiver();
    r.script = [{ status: 200 }, ...[1, 2, 3, 4].map(() => ({ status: 403, body: 'auth layer restarting' }))];
    const { q, deadLetter } = queue(new WebhookSink({ url: r.url, concurrency: 4 }));
    q.push(ev(0));
    await waitFor(r, 'request', () => r.accepted.length >= 1);
    for (let i = 1; i <= 4; i++) q.push(ev(i));
    await waitFor(r, 'request', () => r.accepted.length >= 5);
    expect(q.disabled).toBe(false);
    expect(deadLetter.entries).toEqual([]);
    expect(r.requests.filter((x) => x.status === 403)).toHaveLength(4);
    expect(new Set(r.accepted.map((x) => JSON.parse(x.body).id))).toEqual(new Set([0, 1, 2, 3, 4].map((i) => ev(i).id)));
  });

  it('failing: set after 5 batches in a row given up on, cleared by a delivery', async () => {
    const r = await receiver();
    r.script = [1, 2, 3, 4].map(() => ({ status: 400, body: 'no' }));
    const { q, deadLetter } = queue(new WebhookSink({ url: r.url }));
    for (let i = 1; i <= 4; i++) q.push(ev(i));
    await waitFor(q, 'abandoned', () => deadLetter.entries.length >= 4);
    expect(q.failing).toBeUndefined(); // four is not yet a pattern
    r.script = [{ status: 400, body: 'still no' }];
    q.push(ev(5));
    await waitFor(q, 'abandoned', () => deadLetter.entries.length >= 5);
    expect(q.failing).toMatch(/^the last 5 deliveries all failed, the last with: permanent error: .*HTTP 400 "still no"$/);
    q.push(ev(6)); // the fallback answers 200
    await waitFor(q, 'delivered', () => r.accepted.length >= 1);
    expect(q.failing).toBeUndefined();
    expect(q.disabled).toBe(false);
  });

  it('credentials in the URL (user:password@, as curl takes them) go as Basic auth, and stay out of errors', async () => {
    const r = await receiver();
    const url = r.url.replace('http://', 'http://hook%40user:p%3Ass-w0rd@');
    r.script = [{ status: 200 }, { status: 400, body: 'bad credentials hook@user:p:ss-w0rd' }];
    const { q, deadLetter } = queue(new WebhookSink({ url }));
    q.push(ev(1));
    q.push(ev(2));
    await waitFor(q, 'abandoned', () => deadLetter.entries.length >= 1);
    expect(r.requests[0]!.headers.authorization).toBe(`Basic ${Buffer.from('hook@user:p:ss-w0rd').toString('base64')}`);
    expect(r.requests[0]!.path).toBe(new URL(r.url).pathname); // the credentials are not in the request line
    expect(deadLetter.entries[0]!.reason).not.toContain('p:ss-w0rd');
    // both ways at once is a mistake, said as such
    expect(() => new WebhookSink({ url, headers: { Authorization: 'Bearer t' } })).toThrow(/^WebhookSink: the URL carries user:password and headers sets Authorization as well: keep one$/);
    expect(() => new WebhookSink({ url: r.url, headers: { Authorization: 'Bearer t' } })).not.toThrow();
  });

  it('a 2xx whose body never ends is a delivery, not a timeout to retry', async () => {
    const r = await receiver();
    r.script = [{ stream: 200 }];
    const { q, deadLetter } = queue(new WebhookSink({ url: r.url, timeoutMs: 1000 }));
    const delivered: PresenceEvent[] = [];
    q.on('delivered', (events) => delivered.push(...events));
    q.push(ev(1));
    q.push(ev(2));
    await waitFor(q, 'delivered', () => delivered.length >= 2);
    expect(delivered.map((e) => e.id)).toEqual([ev(1).id, ev(2).id]);
    expect(r.requests.map((x) => x.status)).toEqual([200, 200]); // each sent once
    expect(deadLetter.entries).toEqual([]);
  });

  it('a 2xx whose body stalls after the headers is a delivery too, and the stalled connections do not starve the next deliveries', async () => {
    const r = await receiver();
    // more stalls than the pool's four connections: each is cut at the deadline, not held for good
    r.script = Array.from({ length: 6 }, () => ({ stall: 200 }));
    const { q, deadLetter } = queue(new WebhookSink({ url: r.url, timeoutMs: 1000 }));
    const delivered: PresenceEvent[] = [];
    q.on('delivered', (events) => delivered.push(...events));
    for (let i = 1; i <= 8; i++) q.push(ev(i));
    await waitFor(q, 'delivered', () => delivered.length >= 8);
    expect(delivered.map((e) => e.id)).toEqual(Array.from({ length: 8 }, (_, i) => ev(i + 1).id));
    expect(r.requests.map((x) => x.status)).toEqual(Array.from({ length: r.requests.length }, () => 200));
    expect(r.requests.length).toBeLessThanOrEqual(8); // none sent twice
    expect(deadLetter.entries).toEqual([]);
  });

  it('a refusal whose body stalls after the headers is judged by its status, not retried as a timeout', async () => {
    const r = await receiver();
    r.script = [{ stall: 400 }];
    const { q, deadLetter } = queue(new WebhookSink({ url: r.url, timeoutMs: 500 }));
    q.push(ev(1));
    await waitFor(q, 'abandoned', () => deadLetter.entries.length >= 1);
    expect(deadLetter.entries[0]!.reason).toMatch(/permanent error: .*answered HTTP 400$/);
    expect(r.requests.map((x) => x.status)).toEqual([400]);
  });

  it('a receiver that echoes the URL in its error text: the token stays out of the error (library use, no daemon)', async () => {
    const r = new Receiver();
    await r.listen('/hook/tok-LIB-SECRET-7');
    receivers.push(r);
    r.script = [{ status: 400, body: 'no such hook: /hook/tok-LIB-SECRET-7' }];
    const { q, deadLetter } = queue(new WebhookSink({ url: r.url }));
    q.push(ev(1));
    await waitFor(q, 'abandoned', () => deadLetter.entries.length >= 1);
    expect(deadLetter.entries[0]!.reason).toContain('HTTP 400 "no such hook: [REDACTED]"');
    expect(deadLetter.entries[0]!.reason).not.toContain('tok-LIB-SECRET-7');
  });

  it('410 disables the sink: everything after goes to the dead-letter', async () => {
    const r = await receiver();
    r.script = [{ status: 410 }];
    const { q, deadLetter } = queue(new WebhookSink({ url: r.url, concurrency: 1 }));
    q.push(ev(1));
    q.push(ev(2));
    await waitFor(q, 'abandoned', () => deadLetter.entries.length >= 2);
    q.push(ev(3));
    expect(q.disabled).toBe(true);
    expect(deadLetter.entries.map((x) => x.event.id)).toEqual([ev(1).id, ev(2).id, ev(3).id]);
    expect(r.requests).toHaveLength(1);
  });

  it('gives up after maxAttempts and dead-letters the event', async () => {
    const r = await receiver({ status: 502 });
    const { q, deadLetter } = queue(new WebhookSink({ url: r.url }), { maxAttempts: 3 });
    q.push(ev(1));
    await waitFor(q, 'abandoned', () => deadLetter.entries.length >= 1);
    expect(r.requests).toHaveLength(3);
    expect(deadLetter.entries[0]!.reason).toMatch(/gave up after 3 attempts/);
  });

  it('a request that hangs past the timeout is retried', async () => {
    const r = await receiver();
    r.script = [{ delayMs: 2000, then: { status: 200 } }];
    const { q } = queue(new WebhookSink({ url: r.url, timeoutMs: 200 }));
    q.push(ev(1));
    await waitFor(r, 'request', () => r.requests.filter((x) => x.status === 200).length >= 2, 5000);
  });

  it('bounded: when full, the oldest waiting event goes to the dead-letter, counted', async () => {
    const r = await receiver();
    r.fallback = { delayMs: 300, then: { status: 200 } };
    const { q, deadLetter } = queue(new WebhookSink({ url: r.url, concurrency: 1 }), { cap: 3 });
    const dropped: number[] = [];
    q.on('outcome', (o, n) => o === 'dropped' && dropped.push(n));
    const turn = () => new Promise((resolve) => setImmediate(resolve));
    q.push(ev(1));
    await turn(); // the queue takes what woke it once the burst that did is over: 1 alone
    // one event a poll, the receiver slower than that
    for (let i = 2; i <= 6; i++) {
      q.push(ev(i));
      await turn();
    }
    expect(q.depth).toBe(3);
    // event 1 is in flight; 2, 3, 4 were pushed out by 4, 5, 6… in order of age
    expect(deadLetter.entries.map((x) => x.event.participant.id)).toEqual(['p2', 'p3', 'p4']);
    expect(dropped).toEqual([1, 1, 1]);
    await waitFor(r, 'request', () => r.accepted.length >= 3, 5000);
    expect(r.accepted.map((x) => JSON.parse(x.body).participant.id)).toEqual(['p1', 'p5', 'p6']);
  });

  it('the events of one poll, pushed together, never push each other out: held whole past the cap, which applies when the next ones come', async () => {
    const r = await receiver();
    let release!: () => void;
    r.fallback = { until: new Promise<void>((resolve) => (release = resolve)), then: { status: 200 } };
    const { logger, lines: raw } = capturingLogger('info');
    const logged = () => raw.map((l) => JSON.parse(l) as { msg: string; cap?: number });
    const { q, deadLetter } = queue(new WebhookSink({ url: r.url, concurrency: 1 }), { cap: 3, logger });
    const dropped: number[] = [];
    q.on('outcome', (o, n) => o === 'dropped' && dropped.push(n));
    const turn = () => new Promise((resolve) => setImmediate(resolve));
    // a first snapshot of 6 people: all of it is held, though the cap is 3
    for (let i = 1; i <= 6; i++) q.push(ev(i));
    expect(q.depth).toBe(6);
    expect(deadLetter.entries).toEqual([]);
    await turn();
    expect(logged().filter((l) => l.cap === 3).map((l) => l.msg)).toEqual([
      '6 events arrived at once (a poll\'s), more than the queue\'s cap of 3: all are held, as every poll\'s are; the cap applies to what is still waiting when the next ones come (raise it, --queue-cap, to hold more while a sink is down)',
    ]);
    // the next poll's 2 events, the receiver still holding event 1: the oldest waiting make room for
    // them, down to the cap (1 in flight, 7 and 8 waiting)
    q.push(ev(7));
    q.push(ev(8));
    expect(deadLetter.entries.map((x) => x.event.participant.id)).toEqual(['p2', 'p3', 'p4', 'p5', 'p6']);
    expect(q.depth).toBe(3);
    await turn();
    for (let i = 9; i <= 13; i++) q.push(ev(i));
    // a poll larger than the cap pushes out every event of earlier polls still waiting, none of its own
    expect(deadLetter.entries.map((x) => x.event.participant.id)).toEqual(['p2', 'p3', 'p4', 'p5', 'p6', 'p7', 'p8']);
    expect(q.depth).toBe(6);
    // the room a poll past the cap left to make was made at once (one splice, not one per event)
    expect(dropped).toEqual([4, 1, 1, 1]);
    release();
    await waitFor(r, 'request', () => r.accepted.length >= 6, 5000);
    expect(r.accepted.map((x) => JSON.parse(x.body).participant.id)).toEqual(['p1', 'p9', 'p10', 'p11', 'p12', 'p13']);
    expect(logged().filter((l) => /arrived at once/.test(l.msg))).toHaveLength(1); // said once
  });

  it('says each delivery at debug level', async () => {
    const { logger, lines } = capturingLogger('debug');
    const out = new PassThrough();
    out.resume();
    const { q } = queue(new StdoutSink(out), { logger });
    for (let i = 1; i <= 3; i++) q.push(ev(i));
    await q.drain(2000);
    expect(lines.map((l) => JSON.parse(l) as { msg: string; sink: string; events: number }).filter((l) => l.msg.startsWith('delivered'))).toMatchObject([
      { msg: 'delivered 3 event(s)', sink: 'stdout', events: 3 },
    ]);
  });

  it('queue full is warned of when it starts, then at most every 10 minutes with how many events went unsaid (a per-1,000 count still wrote a line every few seconds on a large domain)', async () => {
    const clock = FakeTimers.install({ toFake: ['Date', 'performance'] });
    try {
      const { logger, lines } = capturingLogger('info');
      // a receiver that never answers (until the queue closes)
      const stuck: DeliveryQueueOptions['sink'] = {
        kind: 'test',
        name: 'stuck',
        maxBatch: 1,
        minIntervalMs: 0,
        deliver: (_batch, signal) => new Promise<void>((_resolve, reject) => signal.addEventListener('abort', () => reject(signal.reason as Error))),
      };
      const { q, deadLetter } = queue(stuck, { cap: 2, logger });
      const warned = () => lines.splice(0).map((l) => JSON.parse(l) as { msg: string; repeated?: number }).filter((l) => /queue full/.test(l.msg));
      const turn = () => new Promise((resolve) => setImmediate(resolve));
      for (let i = 1; i <= 3000; i++) {
        q.push(ev(i)); // one event a poll
        if (i % 500 === 0) await turn();
        await Promise.resolve();
      }
      expect(deadLetter.entries.length).toBe(3000 - q.depth);
      expect(q.depth).toBeLessThanOrEqual(2);
      const first = warned();
      expect(first).toMatchObject([{ msg: 'delivery queue full: the oldest events are moved to the dead-letter (sink too slow or down)', cap: 2, sink: 'stuck', level: 40 }]);
      expect(first[0]).not.toHaveProperty('repeated');
      clock.tick(10 * 60_000);
      q.push(ev(3001));
      const unsaid = deadLetter.entries.length; // every drop since the first, and this one's
      expect(warned()).toMatchObject([{ msg: `delivery queue full: the oldest events are moved to the dead-letter (sink too slow or down) (again; ${unsaid - 2} more like it since it was last logged)`, repeated: unsaid - 2 }]);
    } finally {
      clock.uninstall();
    }
  });

  it('a listener that throws (an outbox on a full disk) neither re-sends, skips nor stops anything', async () => {
    const r = await receiver();
    r.script = [{ status: 200 }, { status: 400, body: 'bad' }];
    const { q, deadLetter } = queue(new WebhookSink({ url: r.url, concurrency: 1 }));
    let throws = 3;
    const boom = () => {
      if (throws-- > 0) throw new Error('ENOSPC: no space left on device');
    };
    q.on('delivered', boom);
    q.on('abandoned', boom);
    for (let i = 1; i <= 5; i++) q.push(ev(i));
    await waitFor(r, 'request', () => r.requests.length >= 5, 5000);
    await q.drain(2000);
    // one request per event: ev(2) got the 400 and is dead-lettered, the rest arrived once, in order
    expect(r.requests.map((x) => JSON.parse(x.body).participant.id)).toEqual(['p1', 'p2', 'p3', 'p4', 'p5']);
    expect(r.accepted.map((x) => JSON.parse(x.body).participant.id)).toEqual(['p1', 'p3', 'p4', 'p5']);
    expect(deadLetter.entries.map((x) => x.event.participant.id)).toEqual(['p2']);
    expect(q.depth).toBe(0);
  });

  it('a slow sink does not delay another one', async () => {
    const slow = await receiver({ delayMs: 1500, then: { status: 200 } });
    const fast = await receiver();
    const d = new Dispatcher();
    const a = queue(new WebhookSink({ url: slow.url })).q;
    const b = queue(new WebhookSink({ url: fast.url })).q;
    d.add(a);
    d.add(b);
    for (let i = 1; i <= 5; i++) d.dispatch(ev(i));
    await waitFor(fast, 'request', () => fast.accepted.length >= 5, 1000);
    expect(slow.accepted.length).toBe(0);
  });
});

describe('delivery pacing (fake timers)', () => {
  /** A sink that takes every batch at once, recording when and what, with a least interval of `gapMs`. */
  function pacedSink(gapMs: number) {
    const batches: { at: number; ids: string[] }[] = [];
    const sink = {
      kind: 'slack',
      name: 'paced',
      maxBatch: 500,
      minIntervalMs: gapMs,
      deliver: async (events: PresenceEvent[]) => void batches.push({ at: performance.now(), ids: events.map((e) => e.participant.id) }),
    };
    return { sink, batches };
  }
  const underClock = async (fn: (clock: ReturnType<typeof FakeTimers.install>) => Promise<void>) => {
    const clock = FakeTimers.install({ toFake: ['setTimeout', 'clearTimeout', 'performance', 'Date'] });
    try {
      await fn(clock);
    } finally {
      clock.uninstall();
    }
  };

  it('what arrives while the sink\'s interval runs goes out together once it ends, not one now and the rest later', async () => {
    await underClock(async (clock) => {
      const { sink, batches } = pacedSink(1000);
      const { q } = queue(sink);
      q.push(ev(1)); // at once: nothing was sent before
      await clock.tickAsync(100);
      q.push(ev(2));
      await clock.tickAsync(400);
      q.push(ev(3));
      await clock.tickAsync(2000);
      expect(batches).toEqual([
        { at: 0, ids: ['p1'] },
        { at: 1000, ids: ['p2', 'p3'] },
      ]);
      await q.close();
    });
  });

  it('a burst that wakes an idle paced sink goes as one batch: a poll\'s events are one Slack message, not its first event and then the rest', async () => {
    await underClock(async (clock) => {
      const { sink, batches } = pacedSink(60_000);
      const { q } = queue(sink);
      for (let i = 1; i <= 5; i++) q.push(ev(i)); // one poll's events, pushed in one go
      await clock.tickAsync(0);
      expect(batches.map((b) => b.ids)).toEqual([['p1', 'p2', 'p3', 'p4', 'p5']]);
      expect(batches[0]!.at).toBe(0); // at once: a microtask, not a timer
      await q.close();
    });
  });

  it('a drain cuts a long interval (a Slack sink sending a message a minute) down to DRAIN_GAP_MS, so the last events go before the deadline', async () => {
    await underClock(async (clock) => {
      const { sink, batches } = pacedSink(60_000);
      const { q } = queue(sink);
      q.push(ev(1));
      await clock.tickAsync(5000);
      q.push(ev(2));
      await clock.tickAsync(5000); // 50 s of the interval still to go
      expect(batches.map((b) => b.ids)).toEqual([['p1']]);
      const left = q.drain(10_000);
      await clock.tickAsync(100);
      expect(await left).toBe(0);
      expect(batches.map((b) => b.ids)).toEqual([['p1'], ['p2']]);
      expect(batches[1]!.at).toBe(10_000); // the last start was 10 s ago, past the drain's gap: at once
      await q.close();
      // and with the last start closer than the drain's gap, it waits for the rest of that gap only
      const again = pacedSink(60_000);
      const { q: q2 } = queue(again.sink);
      q2.push(ev(3));
      await clock.tickAsync(0); // 3 goes alone (it woke the queue), 4 comes after it
      q2.push(ev(4));
      await clock.tickAsync(200);
      const done = q2.drain(10_000);
      await clock.tickAsync(DRAIN_GAP_MS);
      expect(await done).toBe(0);
      expect(again.batches.map((b) => [b.at - again.batches[0]!.at, b.ids])).toEqual([
        [0, ['p3']],
        [DRAIN_GAP_MS, ['p4']],
      ]);
      await q2.close();
    });
  });
});

describe('the sinks as a library, from plain JavaScript', () => {
  it('a filter, sink, queue or store that would not do what it says is refused with what is wrong, a URL never quoted', () => {
    const { q } = queue(new StdoutSink(new PassThrough()));
    const d = new Dispatcher();
    expect(() => d.add(q, { events: ['joined'] } as never)).toThrow(/^Dispatcher\.add: events: "joined" is not an event type \(join, leave, update\) \(did you mean "join"\?\)$/);
    expect(() => d.add(q, { room: ['standup'] } as never)).toThrow(/^Dispatcher\.add: unknown option "room" \(did you mean rooms\?\)$/);
    expect(() => d.add(q, { rooms: 'standup' } as never)).toThrow(/^Dispatcher\.add: rooms must be a list of non-empty strings$/);
    expect(() => d.add(q, { ignoreUsers: [''] })).toThrow(/^Dispatcher\.add: ignoreUsers must be a list of non-empty strings$/);
    expect(d.queues).toEqual([]);
    d.add(q, { events: ['join'], rooms: ['stand*'], ignoreUsers: undefined });
    expect(d.queues).toEqual([q]);

    // Node's own URL error carries the text it was given; a webhook or Slack URL is a credential
    const slip = 'hooks.slack.com/services/T0/B0/tokSECRET';
    for (const make of [() => new SlackSink({ url: slip }), () => new WebhookSink({ url: slip })]) {
      let err: unknown;
      try {
        make();
      } catch (e) {
        err = e;
      }
      expect((err as Error).message).toMatch(/^(SlackSink|WebhookSink): url is not a URL: give the whole address, https:\/\/ included$/);
      expect(JSON.stringify(err)).not.toContain('tokSECRET');
      expect(String((err as { input?: unknown }).input)).not.toContain('tokSECRET');
    }
    expect(() => new FileStateStore('' as string)).toThrow(/^FileStateStore: give the state file's path$/);
    expect(() => new DeliveryQueue({ sink: {} as never, deadLetter: new MemoryDeadLetter(), logger: quietLogger })).toThrow(/^DeliveryQueue: sink must be a Sink/);
    expect(() => new DeliveryQueue({ sink: new StdoutSink(new PassThrough()), deadLetter: new MemoryDeadLetter(), logger: console as never })).toThrow(/^DeliveryQueue: logger must be a pino logger/);
  });
});

describe('events from outside the watcher (a caller, a hand-edited dead-letter line)', () => {
  it('one a sink could not format is refused where it enters, naming the field: before, the queue took it and the text and Slack sinks threw (a name that is a number: "text.replace is not a function"), and the whole batch was dead-lettered with it', async () => {
    const good = ev(1, 'join');
    const bad: [unknown, string][] = [
      [{ ...good, participant: { ...good.participant, userName: 42 } }, 'participant.userName is 42, not a string or null'],
      [{ ...good, participant: { ...good.participant, duration: '60' } }, 'participant.duration is "60", not a number or null'],
      [{ ...ev(2, 'update'), changes: null }, "an update's changes are null, not an object of at least one field's { from, to }"],
      [{ ...ev(2, 'update'), changes: {} }, "an update's changes are {}, not an object of at least one field's { from, to }"],
      [{ ...ev(2, 'update'), changes: { userName: 'Ann' } }, 'changes.userName is "Ann", not { from, to } of strings or null'],
      [{ ...good, at: 1767225600000 }, 'its at is 1767225600000, not a string (an ISO time)'],
      [{ ...good, initial: 'yes' }, 'its initial is "yes", not true (or absent)'],
      [{ ...ev(3, 'leave'), sameUserAs: 7 }, 'its sameUserAs is 7, not a session id of a join or leave'],
    ];
    const out = new PassThrough();
    const { q, deadLetter } = queue(new StdoutSink(out, 'stdout', 'text'));
    for (const [e, problem] of bad) {
      expect(() => q.push(e as PresenceEvent)).toThrow(`DeliveryQueue.push: the event must be a presence event (as the watcher emits): ${problem}`);
      expect(() => slackMessage([good, e as PresenceEvent])).toThrow(`slackMessage: events[1] must be a presence event (as the watcher emits): ${problem}`);
      expect(() => describeEvent(e as PresenceEvent)).toThrow(`describeEvent: its argument must be a presence event (as the watcher emits): ${problem}`);
    }
    // what the watcher writes, and a caller's participant without its optional fields, are taken
    const bare = { ...good, participant: { id: 'p9' } } as unknown as PresenceEvent;
    expect(describeEvent(bare)).toBe('someone (p9) joined standup');
    q.push(good);
    q.push(bare);
    await waitFor(q, 'delivered', () => q.depth === 0);
    expect(String(out.read())).toBe('2026-01-01T00:00:00.000Z Person 1 joined standup\n2026-01-01T00:00:00.000Z someone (p9) joined standup\n');
    expect(deadLetter.entries).toEqual([]);
  });

  it("a text line's time is on one line, and a Slack line that a long room name's link would push past a section's 3,000 characters goes without the link", () => {
    expect(textLine({ ...ev(1), at: '2026-01-01\nforged line' })).toBe('2026-01-01 forged line Person 1 joined standup');
    const room = 'r'.repeat(3000);
    const m = slackMessage([ev(1, 'join', room), ev(2, 'join', 'standup')], { roomUrl: 'https://acme.daily.co/{room}' });
    const sections = m.blocks.map((b) => (b as { text: { text: string } }).text.text);
    for (const text of sections) expect(text.length).toBeLessThanOrEqual(3000);
    const lines = sections.join('\n').split('\n');
    expect(lines[0]).toBe(`• Person 1 joined ${room.slice(0, 300 - 'Person 1 joined '.length - 1)}…`);
    expect(lines[1]).toBe('• Person 2 joined standup · <https://acme.daily.co/standup|join>');
  });
});

describe('delivery retries in the log (fake timers)', () => {
  it('a receiver down for half an hour, four deliveries in flight: one warning, then one every 10 minutes saying how many went unsaid, and one line when it delivers again', async () => {
    const clock = FakeTimers.install({ toFake: ['setTimeout', 'clearTimeout', 'performance', 'Date'] });
    try {
      let down = true;
      const sink = {
        kind: 'webhook',
        name: 'down',
        maxBatch: 1,
        minIntervalMs: 0,
        concurrency: 4,
        deliver: async () => {
          if (down) throw new DeliveryError('h.example answered HTTP 503', 'retry', 503);
        },
      };
      const { logger, lines } = capturingLogger('info');
      // attempts enough for the half hour (backoff capped at 60 s)
      const { q, deadLetter } = queue(sink, { logger, maxAttempts: 1000, backoffMinMs: 1000, backoffMaxMs: 60_000 });
      for (let i = 1; i <= 6; i++) q.push(ev(i));
      await clock.tickAsync(30 * 60_000);
      const msgs = () => lines.map((l) => JSON.parse(l)).map((l) => [l.level, l.msg] as const);
      const warned = msgs().filter(([level]) => level === 40);
      expect(warned.map(([, m]) => m.replace(/\d+ more/, 'N more'))).toEqual([
        'delivery failed, will retry: h.example answered HTTP 503',
        'delivery failed, will retry: h.example answered HTTP 503 (again; N more like it since it was last logged)',
        'delivery failed, will retry: h.example answered HTTP 503 (again; N more like it since it was last logged)',
      ]);
      // four in flight, each retried about once a minute: the unsaid ones are counted, not lost
      const unsaid = warned.slice(1).map(([, m]) => Number(/(\d+) more/.exec(m)![1]));
      for (const n of unsaid) expect(n).toBeGreaterThan(4 * 8);
      down = false;
      await clock.tickAsync(61_000);
      expect(q.depth).toBe(0);
      expect(deadLetter.entries).toEqual([]);
      const after = msgs().slice(-1)[0]!;
      expect(after[0]).toBe(30);
      expect(after[1]).toMatch(/^delivering again, after \d+ failed attempt\(s\) since \d{4}-/);
      await q.close();
    } finally {
      clock.uninstall();
    }
  });
});

describe('dispatcher filters', () => {
  it('routes by event type and room', async () => {
    const d = new Dispatcher();
    const joinsInStandup = queue(new StdoutSink(new PassThrough(), 'a')).q;
    const everything = queue(new StdoutSink(new PassThrough(), 'b')).q;
    d.add(joinsInStandup, { events: ['join'], rooms: ['standup'] });
    d.add(everything);
    expect(d.routesFor(ev(1, 'join', 'standup'))).toEqual([joinsInStandup, everything]);
    expect(d.routesFor(ev(1, 'leave', 'standup'))).toEqual([everything]);
    expect(d.routesFor(ev(1, 'join', 'retro'))).toEqual([everything]);
  });

  it('a room entry with * takes every room it matches, beside names', () => {
    const d = new Dispatcher();
    const interviews = queue(new StdoutSink(new PassThrough(), 'a')).q;
    d.add(interviews, { rooms: ['interview-*', 'standup'] });
    const taken = (room: string) => d.routesFor(ev(1, 'join', room)).length === 1;
    expect(['interview-', 'interview-ann', 'interview-*', 'standup'].filter(taken)).toEqual(['interview-', 'interview-ann', 'interview-*', 'standup']);
    expect(['interview', 'my-interview-ann', 'Interview-ann', 'standup-2', 'stand'].filter(taken)).toEqual([]);
  });

  it('ignoreUsers drops the events of people whose userName or userId it lists or matches', () => {
    const d = new Dispatcher();
    const humans = queue(new StdoutSink(new PassThrough(), 'a')).q;
    const everything = queue(new StdoutSink(new PassThrough(), 'b')).q;
    d.add(humans, { ignoreUsers: ['*Bot', 'recorder', 'svc-7'] });
    d.add(everything);
    const as = (userName: string | null, userId: string | null = null, type: PresenceEvent['type'] = 'join') => {
      const e = ev(1, type);
      return { ...e, participant: { ...e.participant, userName, userId } } as PresenceEvent;
    };
    const to = (e: PresenceEvent) => d.routesFor(e).map((q) => (q === humans ? 'humans' : 'everything'));
    for (const e of [as('Pipecat Bot'), as('Bot'), as('recorder'), as('Ann', 'svc-7'), as(null, 'svc-7'), as('Pipecat Bot', null, 'leave'), as('Pipecat Bot', null, 'update')]) {
      expect(to(e)).toEqual(['everything']);
    }
    for (const e of [as('Ann'), as('Bot Ann'), as('Recorder'), as('recorder 2'), as(null, null), as(null, 'svc-70')]) {
      expect(to(e)).toEqual(['humans', 'everything']);
    }
  });
});

describe('sinks for people and the sessions of someone who stays (sameUserAs)', () => {
  it('Slack and text lines are not handed a marked join or leave; JSON lines and webhooks are, and every sink gets the unmarked ones', () => {
    const d = new Dispatcher();
    const slack = queue(new SlackSink({ url: 'https://hooks.slack.com/services/T0/B0/x' })).q;
    const text = queue(new StdoutSink(new PassThrough(), 'text', 'text')).q;
    const json = queue(new StdoutSink(new PassThrough(), 'json', 'json')).q;
    const webhook = queue(new WebhookSink({ url: 'https://example.com/hook' })).q;
    for (const q of [slack, text, json, webhook]) d.add(q);
    const names = (e: PresenceEvent) => d.routesFor(e).map((q) => q.sink.name);
    for (const type of ['join', 'leave'] as const) {
      expect(names({ ...ev(1, type), sameUserAs: 'p2' } as PresenceEvent)).toEqual(['json', webhook.sink.name]);
      expect(names(ev(1, type))).toEqual([slack.sink.name, 'text', 'json', webhook.sink.name]);
    }
    expect(names(ev(1, 'update'))).toEqual([slack.sink.name, 'text', 'json', webhook.sink.name]);
    expect([slack, text, json, webhook].map((q) => q.sink.forPeople === true)).toEqual([true, true, false, false]);
  });
});

describe('nameFilter', () => {
  const matches = (entry: string, rooms: string[]) => rooms.filter(nameFilter([entry]));
  it('* matches any run of characters, none included, anywhere in the entry', () => {
    expect(matches('*', ['', 'a', 'any room'])).toEqual(['', 'a', 'any room']);
    expect(matches('*-retro', ['team-retro', '-retro', 'retro', 'team-retro-2'])).toEqual(['team-retro', '-retro']);
    expect(matches('a*b*c', ['abc', 'aXbYc', 'abbc', 'ab', 'acb', 'aXbYcZ', 'abcbc'])).toEqual(['abc', 'aXbYc', 'abbc', 'abcbc']);
    // the prefix and suffix may not overlap: "ab*ba" needs at least "abba"
    expect(matches('ab*ba', ['aba', 'abba', 'abXba'])).toEqual(['abba', 'abXba']);
    expect(matches('a**b', ['ab', 'aXb', 'ba'])).toEqual(['ab', 'aXb']);
  });
  it('every other character stands for itself, regular-expression ones too', () => {
    expect(matches('q3.review (v2)*', ['q3.review (v2)', 'q3.review (v2) final', 'q3Xreview (v2)', 'q3.review v2'])).toEqual(['q3.review (v2)', 'q3.review (v2) final']);
    expect(matches('[a]+?*', ['[a]+?', '[a]+?x', 'a', 'aa'])).toEqual(['[a]+?', '[a]+?x']);
    expect(matches('standup', ['standup', 'Standup', 'standup-2'])).toEqual(['standup']);
  });
  it('agrees with a regular expression on 20,000 random patterns and names over a small alphabet', () => {
    let seed = 17;
    const random = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
    const word = (alphabet: string, max: number) => Array.from({ length: Math.floor(random() * (max + 1)) }, () => alphabet[Math.floor(random() * alphabet.length)]).join('');
    let matched = 0;
    for (let i = 0; i < 20_000; i++) {
      const pattern = word('ab*.', 6);
      const name = word('ab*.', 8);
      const reference = new RegExp(`^${pattern.split('*').map((p) => p.replace(/\./g, '\\.')).join('.*')}$`, 's').test(name);
      if (nameFilter([pattern])(name) !== reference) throw new Error(`pattern ${JSON.stringify(pattern)}, name ${JSON.stringify(name)}: expected ${reference}`);
      if (reference) matched++;
    }
    // both answers came up often enough for the comparison to mean something
    expect(matched).toBeGreaterThan(1_000);
    expect(matched).toBeLessThan(19_000);
  });
  it('stays fast on a pattern of many stars against a long name that does not match', () => {
    // a regular expression built as a.*a.*a.*…b backtracks for minutes on this; the matcher walks it once
    const pattern = `${'a*'.repeat(30)}b`;
    expect(matches(pattern, ['a'.repeat(5000), `${'a'.repeat(40)}b`])).toEqual([`${'a'.repeat(40)}b`]);
  });
});

describe('stdout sink', () => {
  it('writes one JSON event per line and nothing else', async () => {
    const out = new PassThrough();
    let text = '';
    out.on('data', (c) => (text += c));
    const { q } = queue(new StdoutSink(out));
    const events = [ev(1), ev(2, 'leave'), ev(3, 'update')];
    for (const e of events) q.push(e);
    await q.drain(1000);
    expect(text.endsWith('\n')).toBe(true);
    expect(text.trimEnd().split('\n').map((l) => JSON.parse(l))).toEqual(events);
  });

  it('in text format, writes one line a person reads per event, with no control character from a name or a room', async () => {
    const out = new PassThrough();
    let text = '';
    out.on('data', (c) => (text += c));
    const { q } = queue(new StdoutSink(out, 'stdout', 'text'));
    const initial = { ...ev(1, 'join', 'standup', 'Ada'), initial: true } as PresenceEvent;
    // a name that would drive the terminal (ESC, CSI) or break the line
    const hostile = ev(2, 'leave', 'design\nreview', '\u001b[2JEve\u009b31m\r\nroot');
    for (const e of [initial, hostile, ev(3, 'update', 'standup', 'Bobby')]) q.push(e);
    await q.drain(1000);
    expect(text.split('\n')).toEqual([
      '2026-01-01T00:00:00.000Z Ada is in standup (already there when watching started)',
      '2026-01-01T00:00:00.000Z [2JEve 31m root left design review',
      '2026-01-01T00:00:00.000Z Old is now Bobby in standup',
      '',
    ]);
  });
});

describe('--sink specs', () => {
  it('stdout takes a format: json (the default) or text; anything else is an error that says so', () => {
    expect(parseSinkSpec('stdout')).toEqual({ type: 'stdout' });
    expect(parseSinkSpec('stdout:json')).toEqual({ type: 'stdout' });
    expect(parseSinkSpec('stdout:text')).toEqual({ type: 'stdout', format: 'text' });
    expect(() => parseSinkSpec('stdout:pretty')).toThrow(/^--sink "stdout:pretty": stdout's format is json \(the default\) or text$/);
    expect(() => parseSinkSpec('stdout:txt')).toThrow(/^--sink "stdout:txt": stdout's format is json \(the default\) or text \(did you mean "text"\?\)$/);
    expect(() => parseSinkSpec('stdout:ndjson')).toThrow(/ \(did you mean "json"\?\)$/);
  });

  it('a URL that is empty (an unset shell variable) or a reference never expanded is said as such', () => {
    expect(() => parseSinkSpec('webhook:')).toThrow(/^--sink webhook: the URL is empty \(an unset shell variable, as in --sink webhook:\$URL\?\)$/);
    expect(() => parseSinkSpec("slack:${SLACK_URL}")).toThrow(/^--sink slack:…: the URL is a variable's reference that was never expanded: .*; give the URL itself$/);
    expect(() => parseSinkSpec('webhook:hooks.example/x')).toThrow(/^--sink webhook:…: the URL must be an http\(s\) URL$/);
  });

  it('a spec with no kind it knows says what it most likely meant, and never repeats a URL', () => {
    const problem = (spec: string) => {
      try {
        parseSinkSpec(spec);
      } catch (e) {
        return (e as Error).message;
      }
      return 'accepted';
    };
    const expected = 'expected stdout, stdout:text, webhook:<url> or slack:<url>';
    expect(problem('webhok:https://hooks.example/in?token=s3cr3t')).toBe(`--sink "webhok…": ${expected} (did you mean webhook:<url>?)`);
    expect(problem('Slack:https://hooks.slack.com/services/T1/B2/s3cr3t')).toBe(`--sink "Slack…": ${expected} (did you mean slack:<url>?)`);
    expect(problem('stdou')).toBe(`--sink "stdou…": ${expected} (did you mean stdout?)`);
    // a URL given bare: the kind goes first, and Slack's own host says which
    expect(problem('https://hooks.slack.com/services/T1/B2/s3cr3t')).toBe(`--sink "https…": ${expected} (a Slack webhook URL goes after the kind: slack:https://hooks.slack.com/…)`);
    expect(problem('https://receiver.example/in?token=s3cr3t')).toBe(`--sink "https…": ${expected} (a URL goes after its kind: webhook:https://… or slack:https://…)`);
    expect(problem('carrier-pigeon')).toBe(`--sink "carrier-pigeon…": ${expected}`);
  });
});

describe('plain http', () => {
  it('tells which sink URLs post over http to another machine (loopback and https do not)', () => {
    const cases: [string, boolean][] = [
      ['http://127.0.0.1:8080/in', false],
      ['http://localhost/in', false],
      ['http://[::1]:9000/in', false],
      ['https://hooks.example/in', false],
      ['http://receiver:8080/in', true],
      ['http://hooks.slack.example/services/T/B/tok', true],
      ['http://127.0.0.1.example.net/in', true],
    ];
    expect(cases.map(([url]) => [url, crossesNetworkInClear(url)])).toEqual(cases);
  });
});

describe('dead-letter file', () => {
  it('appends one NDJSON line per event with sink and reason', () => {
    const dir = tempDir('dl');
    const file = join(dir, 'dead.ndjson');
    const dl = new FileDeadLetter(file, quietLogger);
    dl.write('webhook-1(x)', 'permanent error', [ev(1), ev(2)]);
    dl.write('webhook-1(x)', 'again', [ev(3)]);
    const lines = readFileSync(file, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((l) => [l.sink, l.reason, l.event.id])).toEqual([
      ['webhook-1(x)', 'permanent error', ev(1).id],
      ['webhook-1(x)', 'permanent error', ev(2).id],
      ['webhook-1(x)', 'again', ev(3).id],
    ]);
    // moved aside (logrotate, or before a replay): the next event starts a new file, none is lost
    renameSync(file, `${file}.1`);
    dl.write('webhook-1(x)', 'after the move', [ev(4)]);
    expect(readFileSync(`${file}.1`, 'utf8').trimEnd().split('\n')).toHaveLength(3);
    expect(readFileSync(file, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l).event.id)).toEqual([ev(4).id]);
  });

  it('says it wrote to the file once per sink, then at most every 10 minutes with how many went unsaid (a sink down with its queue full sends events one at a time), and what is still unsaid at a stop; every event is in the file', () => {
    const clock = FakeTimers.install({ toFake: ['Date', 'performance'] });
    try {
      const file = join(tempDir('dl'), 'dead.ndjson');
      const { logger, lines } = capturingLogger('info');
      const dl = new FileDeadLetter(file, logger);
      const said = () => lines.splice(0).map((l) => JSON.parse(l) as { msg: string; sink: string; repeated?: number });
      for (let i = 1; i <= 50; i++) dl.write('webhook-1(x)', 'queue full (cap 5)', [ev(i)]);
      dl.write('slack-2(y)', 'permanent error: HTTP 400', [ev(51), ev(52)]);
      expect(said().map((l) => [l.sink, l.msg])).toEqual([
        ['webhook-1(x)', '1 event(s) written to the dead-letter file'],
        ['slack-2(y)', '2 event(s) written to the dead-letter file'],
      ]);
      clock.tick(9 * 60_000);
      dl.write('webhook-1(x)', 'queue full (cap 5)', [ev(53)]);
      expect(said()).toEqual([]);
      clock.tick(60_000);
      dl.write('webhook-1(x)', 'queue full (cap 5)', [ev(54)]);
      expect(said()).toMatchObject([{ sink: 'webhook-1(x)', repeated: 50, msg: '1 event(s) written to the dead-letter file (again; 50 more like it since it was last logged)' }]);
      // at a stop, what went unsaid since is said, once (the slack sink has nothing unsaid)
      dl.write('webhook-1(x)', 'not delivered within the 10s shutdown deadline', [ev(55), ev(56), ev(57)]);
      expect(said()).toEqual([]);
      dl.flush();
      expect(said()).toMatchObject([{ sink: 'webhook-1(x)', repeated: 3, file, msg: '3 more event(s) written to the dead-letter file since it was last logged' }]);
      dl.flush();
      expect(said()).toEqual([]);
      expect(readFileSync(file, 'utf8').trimEnd().split('\n')).toHaveLength(57);
    } finally {
      clock.uninstall();
    }
  });

  it('a URL registers its path as a secret only when it is long enough to hold a token', () => {
    const r = new SecretRegistry();
    r.addUrl('http://127.0.0.1:8788/presence');
    r.addUrl('https://hooks.slack.com/services/T0/B0/tok123');
    r.addUrl('https://user:pa55word@hooks.example/x');
    expect(r.scrub('GET /presence was not found')).toBe('GET /presence was not found');
    expect(r.scrub('posting to http://127.0.0.1:8788/presence failed')).toBe('posting to [REDACTED] failed');
    expect(r.scrub('no route /services/T0/B0/tok123')).toBe('no route [REDACTED]');
    expect(r.scrub('auth pa55word')).toBe('auth [REDACTED]');
  });

  it('keeps a registered secret out of the reason (a receiver may echo its URL in its error text)', () => {
    secrets.addUrl('https://hooks.example/services/tok-SECRET-42');
    const file = join(tempDir('dl'), 'dead.ndjson');
    new FileDeadLetter(file, quietLogger).write('webhook-1(hooks.example)', 'permanent error: HTTP 404 "no route /services/tok-SECRET-42"', [ev(1)]);
    const text = readFileSync(file, 'utf8');
    expect(text).not.toContain('tok-SECRET-42');
    expect(JSON.parse(text).reason).toBe('permanent error: HTTP 404 "no route [REDACTED]"');
  });
});

describe('slack sink', () => {
  it('says who did what where', () => {
    expect(describeEvent(ev(1, 'join', 'standup', 'Moishe'))).toBe('Moishe joined standup');
    expect(describeEvent(ev(1, 'leave', 'standup', 'Moishe'))).toBe('Moishe left standup');
    expect(describeEvent(ev(1, 'update', 'standup', 'Moishe K.'))).toBe('Old is now Moishe K. in standup');
  });

  it('escapes names so a participant cannot mention a channel or a person, in the blocks and in the notification text', () => {
    const one = slackMessage([ev(1, 'join', 'standup', '<!channel> & <@U123>')]);
    const two = slackMessage([ev(1, 'join', 'standup', '<!here>'), ev(2, 'leave', 'standup', 'x>y')]);
    for (const m of [one, two]) {
      const all = JSON.stringify(m);
      expect(all).not.toMatch(/<[!@]/);
      expect(m.text).toContain('&lt;');
    }
    expect(one.text).toBe('&lt;!channel&gt; &amp; &lt;@U123&gt; joined standup');
    expect(one.blocks[0]).toEqual({ type: 'section', text: { type: 'mrkdwn', text: '• &lt;!channel&gt; &amp; &lt;@U123&gt; joined standup', verbatim: true } });
    // a name that is a URL stays text: verbatim keeps Slack from linking it
    for (const b of slackMessage([ev(1, 'join', 'standup', 'Log in at https://evil.example/login')]).blocks) {
      if ((b as { type: string }).type === 'section') expect((b as { text: { verbatim?: boolean } }).text.verbatim).toBe(true);
    }
  });

  it('roomUrl: each join line links to its room, the name encoded so it cannot break the link; leaves and updates, and the notification text, get none', () => {
    const roomUrl = 'https://acme.daily.co/{room}';
    const m = slackMessage([ev(1, 'join', 'team sync|<!here>', 'Ann'), ev(2, 'leave', 'standup', 'Bob'), ev(3, 'join', 'standup', 'Cy')], { roomUrl });
    const lines = (m.blocks[0] as { text: { text: string } }).text.text.split('\n');
    expect(lines).toEqual([
      '• Ann joined team sync|&lt;!here&gt; · <https://acme.daily.co/team%20sync%7C%3C!here%3E|join>',
      '• Bob left standup',
      '• Cy joined standup · <https://acme.daily.co/standup|join>',
    ]);
    expect(m.text).not.toContain('acme.daily.co');
    expect(JSON.stringify(slackMessage([ev(1)]))).not.toContain('|join>'); // none without roomUrl
  });

  it('with `now`, a line whose event is older than lateAfterMs carries its time: Slack\'s date token for the blocks, UTC in the notification text', () => {
    const at = Date.parse('2026-01-01T09:05:30.000Z');
    const e = { ...ev(1, 'join', 'standup', 'Ann'), at: new Date(at).toISOString() };
    const line = (m: { blocks: unknown[] }) => (m.blocks[0] as { text: { text: string } }).text.text;
    const late = slackMessage([e], { now: at + 61_000, roomUrl: 'https://acme.daily.co/{room}' });
    expect(line(late)).toBe('• Ann joined standup (<!date^1767258330^{date_short_pretty} at {time}|2026-01-01 09:05 UTC>) · <https://acme.daily.co/standup|join>');
    expect(late.text).toBe('Ann joined standup (2026-01-01 09:05 UTC)');
    // within the minute, or no `now` (the function alone has no clock), or a custom threshold
    expect(line(slackMessage([e], { now: at + 60_000 }))).toBe('• Ann joined standup');
    expect(line(slackMessage([e]))).toBe('• Ann joined standup');
    expect(line(slackMessage([e], { now: at + 11_000, lateAfterMs: 10_000 }))).toContain('<!date^1767258330^');
    // an `at` that is no time (a dead-letter line edited by hand) is shown without one
    expect(line(slackMessage([{ ...e, at: 'yesterday' }], { now: at + 3_600_000 }))).toBe('• Ann joined standup');
  });

  it('a join or leave that happened well before the watcher saw it says when (a restart\'s or an outage\'s first poll): in Slack and in text lines', () => {
    // before, "Bob left standup" after a weekend's downtime read as news: the event's `at` is when it was seen
    const seen = Date.parse('2026-11-30T09:00:00.000Z');
    const at = new Date(seen).toISOString();
    const person = (name: string, joinTime: string | null, duration: number | null) => ({ id: name, userId: null, userName: name, mtgSessionId: null, joinTime, duration });
    const bob: PresenceEvent = { id: 'evt_b', type: 'leave', room: 'standup', at, participant: person('Bob', '2026-11-27T17:00:00.000Z', 3720) }; // still there Fri 18:02, as the kept snapshot says
    const ann: PresenceEvent = { id: 'evt_a', type: 'join', room: 'standup', at, participant: person('Ann', '2026-11-30T08:50:00.000Z', 0) };
    const cy: PresenceEvent = { id: 'evt_c', type: 'join', room: 'standup', at, participant: person('Cy', '2026-11-30T08:59:30.000Z', 0) }; // a poll's lag: nothing to say
    const dee: PresenceEvent = { id: 'evt_d', type: 'join', room: 'standup', at, initial: true, participant: person('Dee', '2026-11-30T07:00:00.000Z', 0) }; // says "already there"
    const eve: PresenceEvent = { id: 'evt_e', type: 'leave', room: 'standup', at, participant: person('Eve', null, null) }; // Daily gave no times
    const m = slackMessage([bob, ann, cy, dee, eve]);
    expect((m.blocks[0] as { text: { text: string } }).text.text.split('\n')).toEqual([
      '• Bob left standup (sometime after <!date^1795802520^{date_short_pretty} at {time}|2026-11-27 18:02 UTC>)',
      '• Ann joined standup (<!date^1796028600^{date_short_pretty} at {time}|2026-11-30 08:50 UTC>)',
      '• Cy joined standup',
      '• Dee is in standup (already there when watching started)',
      '• Eve left standup',
    ]);
    expect(slackMessage([bob]).text).toBe('Bob left standup (sometime after 2026-11-27 18:02 UTC)');
    // sent late as well: when it happened, not when it was seen, is what the line says
    expect(slackMessage([bob], { now: seen + 3_600_000 }).text).toBe('Bob left standup (sometime after 2026-11-27 18:02 UTC)');
    expect(textLine(bob)).toBe('2026-11-30T09:00:00.000Z Bob left standup (sometime after 2026-11-27 18:02 UTC)');
    expect(textLine(ann)).toBe('2026-11-30T09:00:00.000Z Ann joined standup (at 2026-11-30 08:50 UTC)');
    expect(textLine(cy)).toBe('2026-11-30T09:00:00.000Z Cy joined standup');
    // times past what a Date holds (a broken answer's duration, a hand-edited state) are no time to
    // show: the line is said without one, never a RangeError where a sink formats it
    const farOff = [
      { ...bob, participant: person('Bob', '2026-11-27T17:00:00.000Z', -1e13) },
      { ...bob, participant: person('Bob', '-271821-04-20T00:00:00.000Z', -1) },
      { ...ann, participant: person('Ann', '-271821-04-20T00:00:00.000Z', 0) },
    ];
    expect(farOff.map((e) => textLine(e))).toEqual([
      '2026-11-30T09:00:00.000Z Bob left standup',
      '2026-11-30T09:00:00.000Z Bob left standup',
      '2026-11-30T09:00:00.000Z Ann joined standup (at -271821-04-20 00:00 UTC)',
    ]);
    expect(slackMessage(farOff.slice(0, 2)).text).toBe('2 presence changes: Bob left standup; Bob left standup');
  });

  it('roomUrl is checked: {room} in an http(s) URL without Slack\'s delimiters', () => {
    expect(checkRoomUrl('https://acme.daily.co/{room}')).toBeUndefined();
    expect(checkRoomUrl('https://acme.daily.co/')).toMatch(/^must contain \{room\}/);
    expect(checkRoomUrl('https://acme.daily.co/{room}|x')).toMatch(/must not contain \|/);
    expect(checkRoomUrl('ftp://acme/{room}')).toBe('must be an http(s) URL');
    expect(() => new SlackSink({ url: 'https://hooks.slack.com/x', roomUrl: 'nope' })).toThrow(/^SlackSink: roomUrl must contain \{room\}/);
    expect(() => validateFileConfig({ sinks: [{ type: 'slack', url: 'https://hooks.slack.com/x', roomUrl: 'https://a/{room} x' }] }, 'w.yaml', {})).toThrow(
      "w.yaml: sinks[0].roomUrl: must not contain |, <, > or spaces (Slack's link syntax)",
    );
  });

  it('keeps one line per event when a name holds line breaks', () => {
    expect(describeEvent(ev(1, 'join', 'standup', 'Eve\n• Mallory left standup'))).toBe('Eve • Mallory left standup joined standup');
    const m = slackMessage([ev(1, 'join', 'standup', 'A\r\nB'), ev(2, 'join', 'standup', 'C')]);
    expect((m.blocks[0] as { text: { text: string } }).text.text.split('\n')).toEqual(['• A B joined standup', '• C joined standup']);
  });

  it('a name of blanks reads as no name; bidirectional-text controls in a name or room cannot reorder the line as shown', () => {
    const unnamed = ev(1, 'join', 'standup', '   ');
    expect(describeEvent(unnamed)).toBe(`someone (${unnamed.participant.id.slice(0, 8)}) joined standup`);
    const renamed = { ...ev(2, 'update', 'standup', 'Ann'), changes: { userName: { from: ' ', to: '\t' } } } as PresenceEvent;
    expect(describeEvent(renamed)).toBe('someone is now unnamed in standup');
    // U+202E (right-to-left override) would show the rest of the line backwards: "Mallory" + the
    // reversed text of "left standup" reads as if Mallory had left
    const spoof = describeEvent(ev(3, 'join', 'standup', 'Mallory\u202epudnats tfel\u202c'));
    expect(spoof).toBe('Mallory pudnats tfel joined standup');
    expect(describeEvent(ev(4, 'join', 'stand\u2066up\u2069', 'Ann\u200f'))).toBe('Ann joined stand up ');
  });

  it('cuts a long line at 300 characters, never between the halves of an emoji', () => {
    for (const pad of [297, 298]) {
      const line = describeEvent(ev(1, 'join', 'standup', `${'x'.repeat(pad)}${'😀'.repeat(10)}`));
      expect(line.length).toBeLessThanOrEqual(300);
      expect(line.endsWith('…')).toBe(true);
      // well formed: no lone surrogate left at the cut
      expect(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(line)).toBe(false);
    }
  });

  it('groups a burst into one message under Slack limits and says how many more', () => {
    const events = Array.from({ length: 120 }, (_, i) => ev(i, 'join', 'r', `N<&>${'x'.repeat(400)}`));
    const m = slackMessage(events);
    expect(m.text).toMatch(/^120 presence changes: /);
    const sections = m.blocks.filter((b) => (b as { type: string }).type === 'section') as { text: { text: string } }[];
    expect(sections.length).toBeGreaterThan(1);
    expect(m.blocks.length).toBeLessThanOrEqual(50);
    for (const s of sections) expect(s.text.text.length).toBeLessThanOrEqual(3000);
    expect(sections.map((s) => s.text.text).join('\n')).toContain('&lt;&amp;&gt;');
    expect(JSON.stringify(m.blocks.at(-1))).toContain('…and 90 more changes');
  });

  it('posts {text, blocks}, one message per burst, at most about one per second', async () => {
    const r = await receiver();
    const { q } = queue(new SlackSink({ url: r.url }));
    // seen just now (a late event's line says when: the test after next)
    const now = (e: PresenceEvent) => ({ ...e, at: new Date().toISOString() });
    q.push(now(ev(1, 'join', 'standup', 'Moishe')));
    await waitFor(r, 'request', () => r.requests.length >= 1);
    for (let i = 2; i <= 6; i++) q.push(now(ev(i)));
    await waitFor(r, 'request', () => r.requests.length >= 2, 5000);
    const [m1, m2] = r.requests.map((x) => JSON.parse(x.body));
    expect(m1.text).toBe('Moishe joined standup');
    expect(m1.blocks[0].text.text).toBe('• Moishe joined standup');
    expect(m2.text).toMatch(/^5 presence changes/);
    expect(r.requests[1]!.at - r.requests[0]!.at).toBeGreaterThanOrEqual(1000);
  });

  it('a line sent over a minute after its event (Slack was down, a re-delivery after a restart) says when it happened; one sent on time does not', async () => {
    const r = await receiver();
    const { q } = queue(new SlackSink({ url: r.url, minIntervalMs: 0 }));
    const hourAgo = Date.now() - 3_600_000;
    q.push({ ...ev(1, 'join', 'standup', 'Ann'), at: new Date(hourAgo).toISOString() });
    q.push({ ...ev(2, 'leave', 'standup', 'Bob'), at: new Date().toISOString() });
    await waitFor(r, 'request', () => r.accepted.length >= 1, 5000);
    const m = JSON.parse(r.accepted[0]!.body);
    const utc = `${new Date(hourAgo).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
    expect(m.blocks[0].text.text.split('\n')).toEqual([`• Ann joined standup (<!date^${Math.floor(hourAgo / 1000)}^{date_short_pretty} at {time}|${utc}>)`, '• Bob left standup']);
    expect(m.text).toBe(`2 presence changes: Ann joined standup (${utc}); Bob left standup`);
  });

  it('waits out 429 Retry-After', async () => {
    const r = await receiver();
    r.script = [{ status: 429, body: 'rate_limited', headers: { 'retry-after': '1' } }];
    const { q } = queue(new SlackSink({ url: r.url, minIntervalMs: 0 }));
    q.push(ev(1));
    await waitFor(r, 'request', () => r.accepted.length >= 1, 5000);
    expect(r.requests.map((x) => x.status)).toEqual([429, 200]);
    expect(r.requests[1]!.at - r.requests[0]!.at).toBeGreaterThanOrEqual(990);
  });

  it.each([
    [400, 'invalid_payload', 'permanent'],
    [403, 'invalid_token', 'disable'],
    [403, 'action_prohibited', 'disable'],
    [404, 'channel_not_found', 'disable'],
    [410, 'channel_is_archived', 'disable'],
  ] as const)('%i %s is not retried (%s)', async (status, body, kind) => {
    const r = await receiver();
    r.script = [{ status, body }];
    const { q, deadLetter } = queue(new SlackSink({ url: r.url, minIntervalMs: 0 }));
    q.push(ev(1));
    await waitFor(q, 'abandoned', () => deadLetter.entries.length >= 1);
    expect(deadLetter.entries[0]!.reason).toContain(body);
    expect(deadLetter.entries[0]!.reason).not.toContain(r.url);
    expect(q.disabled).toBe(kind === 'disable');
    expect(r.requests).toHaveLength(1);
  });
});
