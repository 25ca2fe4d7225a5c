import { notEventError, type PresenceEvent } from '../events.js';
import { describe, happenedEarlier, utcMinute } from './describe.js';
import { HttpTarget, redirectError, snippet } from './http.js';
import { checkSinkName, DeliveryError, type Sink } from './sink.js';
import { unknownOption, type SameKeys } from '../util/options.js';
import { kindOf as shownKind, shownValue } from '../util/text.js';

export { describeEvent } from './describe.js';

/** Least time between two messages by default, ms: Slack allows about one a second. */
export const SLACK_DEFAULT_INTERVAL_MS = 1100;
/** The least a configured interval may be, ms. */
export const SLACK_MIN_INTERVAL_MS = 1000;
/** Lines shown in one message; the rest are counted ("…and 12 more"). */
export const SLACK_MAX_LINES = 30;
/** Slack allows 3000 characters per section block; stay under it. */
const SECTION_LIMIT = 2900;

export interface SlackSinkOptions {
  url: string;
  timeoutMs?: number;
  name?: string;
  /** Least time between two messages, ms. Default 1100 (Slack allows about 1 per second). */
  minIntervalMs?: number;
  userAgent?: string;
  /**
   * A room's page, with `{room}` where its name goes (`https://acme.daily.co/{room}`): each join
   * line then ends with a link to join the call. Checked by `checkRoomUrl`.
   */
  roomUrl?: string;
}

/** Why `template` cannot be a room link, or undefined: an http(s) URL with `{room}`, none of Slack's link delimiters. */
export function checkRoomUrl(template: string): string | undefined {
  // (a library caller's null or number read "template.includes is not a function")
  if (typeof template !== 'string') return `must be a URL with {room} in it (e.g. https://your-domain.daily.co/{room}), not ${shownValue(template)}`;
  if (!template.includes('{room}')) return 'must contain {room}, where the room name goes (e.g. https://your-domain.daily.co/{room})';
  if (/[|<>\s]/.test(template)) return 'must not contain |, <, > or spaces (Slack\'s link syntax)';
  try {
    const u = new URL(template.replaceAll('{room}', 'room'));
    if (u.protocol !== 'https:' && u.protocol !== 'http:') return 'must be an http(s) URL';
  } catch {
    return 'must be an http(s) URL';
  }
  return undefined;
}

/**
 * Slack's three control characters as entities. Every string we send goes through this: a
 * participant chooses their own name, and an unescaped `<!channel>` or `<@U123>` in a name would
 * notify a whole channel or a person.
 */
function esc(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** What {@link slackMessage} takes besides the events. */
export interface SlackMessageOptions {
  /** A room's page with `{room}` (the sink's `roomUrl`): each join line links to the call. */
  roomUrl?: string;
  /**
   * The time the message is sent (ms since the epoch). With it, a line whose event is older than
   * `lateAfterMs` says when it happened: without a time, "Ann joined standup" posted after a Slack
   * outage, a restart's re-delivery or a dead-letter replay reads as news. Without it, only a line
   * whose event happened well before it was seen says when (happenedEarlier: a join's joinTime, a
   * time a leaver was still there), as it does with it.
   */
  now?: number;
  /** How old an event may be before its line carries its time (ms). Default 60 000. */
  lateAfterMs?: number;
}

const SLACK_MESSAGE_OPTIONS = ['roomUrl', 'now', 'lateAfterMs'] as const;
const slackMessageOptionsChecked: SameKeys<keyof SlackMessageOptions, (typeof SLACK_MESSAGE_OPTIONS)[number]> = true;
void slackMessageOptionsChecked;

/** The age past which a line carries its event's time, when slackMessage is given `now`. */
export const SLACK_LATE_AFTER_MS = 60_000;

/**
 * When the event happened, for a line sent late: Slack shows it in each reader's own time zone and
 * format ("today at 9:18 AM"), and a client that cannot shows the UTC text after the `|`.
 */
function slackTime(ms: number): { mrkdwn: string; plain: string } {
  const plain = utcMinute(ms);
  return { mrkdwn: `<!date^${Math.floor(ms / 1000)}^{date_short_pretty} at {time}|${plain}>`, plain };
}

/** The Slack message for a burst of events: fallback `text` plus section blocks under the limits. */
export function slackMessage(events: readonly PresenceEvent[], opts: SlackMessageOptions = {}): { text: string; blocks: unknown[] } {
  if (!Array.isArray(events)) throw new TypeError(`slackMessage: events must be an array of presence events, not ${shownKind(events)}`);
  for (let i = 0; i < events.length; i++) {
    const notEvent = notEventError('slackMessage', `events[${i}]`, events[i]);
    if (notEvent) throw notEvent;
  }
  const unknown = unknownOption(opts, SLACK_MESSAGE_OPTIONS);
  if (unknown) throw new TypeError(`slackMessage: ${unknown}`);
  if (opts.now !== undefined && !(typeof opts.now === 'number' && Number.isFinite(opts.now))) throw new TypeError(`slackMessage: now must be the time in ms since the epoch (Date.now()), not ${shownValue(opts.now)}`);
  if (opts.lateAfterMs !== undefined && !(typeof opts.lateAfterMs === 'number' && opts.lateAfterMs >= 0)) throw new TypeError(`slackMessage: lateAfterMs must be a number of ms ≥ 0, not ${shownValue(opts.lateAfterMs)}`);
  const firsts = events.slice(0, SLACK_MAX_LINES);
  const { now } = opts;
  const lateAfter = opts.lateAfterMs ?? SLACK_LATE_AFTER_MS;
  // when it happened, if well before it was seen (a restart's or an outage's first poll: "Bob left
  // standup (sometime after Fri at 6:02 PM)"); else, for a line sent late, when it was seen. An `at`
  // that is no time (a hand-edited dead-letter line) is shown without one
  const times = firsts.map((e) => {
    const earlier = happenedEarlier(e);
    if (earlier) {
      const t = slackTime(earlier.ms);
      return earlier.kind === 'joined' ? t : { mrkdwn: `sometime after ${t.mrkdwn}`, plain: `sometime after ${t.plain}` };
    }
    if (now === undefined) return undefined;
    const at = Date.parse(e.at);
    return now - at > lateAfter ? slackTime(at) : undefined;
  });
  const described = firsts.map(describe); // each checked above
  // the notification and the fallback text: plain, the time in UTC
  const shown = described.map((line, i) => (times[i] ? `${line} (${times[i]!.plain})` : line));
  const more = events.length - shown.length;
  const text =
    events.length === 1
      ? shown[0]!
      : `${events.length} presence changes: ${shown.slice(0, 3).join('; ')}${events.length > 3 ? '; …' : ''}`;
  // verbatim: Slack neither turns a URL in someone's name into a link nor links channel names
  const blocks: unknown[] = [];
  let section = '';
  for (const [i, e] of firsts.entries()) {
    // the room's name is encoded, so the link can hold neither Slack's delimiters nor a space
    const link = opts.roomUrl && e.type === 'join' ? ` · <${opts.roomUrl.replaceAll('{room}', encodeURIComponent(e.room))}|join>` : '';
    const when = times[i] ? ` (${times[i]!.mrkdwn})` : '';
    // a line is at most ~1,600 characters (300 escaped, and a time) but a link to a room of a long
    // name can be longer than a section holds: the line goes without its link
    const line = `• ${esc(described[i]!)}${when}`;
    const l = line.length + link.length <= SECTION_LIMIT ? `${line}${link}` : line;
    if (section && section.length + 1 + l.length > SECTION_LIMIT) {
      blocks.push({ type: 'section', text: { type: 'mrkdwn', text: section, verbatim: true } });
      section = '';
    }
    section = section ? `${section}\n${l}` : l;
  }
  if (section) blocks.push({ type: 'section', text: { type: 'mrkdwn', text: section, verbatim: true } });
  if (more > 0) blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: `…and ${more} more change${more === 1 ? '' : 's'}` }] });
  // cut before escaping, so the cut cannot split an entity
  return { text: esc(text.length > 2000 ? `${text.slice(0, 1999)}…` : text), blocks };
}

const SLACK_SINK_OPTIONS = ['url', 'timeoutMs', 'name', 'minIntervalMs', 'userAgent', 'roomUrl'] as const;
const slackOptionsChecked: SameKeys<keyof SlackSinkOptions, (typeof SLACK_SINK_OPTIONS)[number]> = true;
void slackOptionsChecked;

/**
 * Posts to a Slack incoming webhook: a burst of events becomes one message, at most about one
 * message per second. The URL is the credential and is never shown.
 */
export class SlackSink implements Sink {
  readonly kind = 'slack';
  readonly forPeople = true;
  readonly name: string;
  readonly maxBatch = 500;
  readonly minIntervalMs: number;
  readonly #target: HttpTarget;
  readonly #userAgent: string;
  /** Whether the URL has taken a message (2xx): a redirect after that is retried, not disabling (redirectError). */
  #answered = false;
  readonly #roomUrl: string | undefined;

  constructor(o: SlackSinkOptions) {
    const unknown = unknownOption(o as unknown as Record<string, unknown>, SLACK_SINK_OPTIONS);
    if (unknown) throw new TypeError(`SlackSink: ${unknown}`);
    const wrong = o.roomUrl === undefined ? undefined : checkRoomUrl(o.roomUrl);
    if (wrong) throw new TypeError(`SlackSink: roomUrl ${wrong}`);
    this.#roomUrl = o.roomUrl;
    try {
      this.#target = new HttpTarget(o.url, o.timeoutMs ?? 15_000);
    } catch (err) {
      throw new TypeError(`SlackSink: ${(err as Error).message}`);
    }
    checkSinkName('SlackSink', o.name);
    this.name = o.name ?? `slack(${this.#target.host})`;
    const gap: unknown = o.minIntervalMs;
    if (gap !== undefined && !(typeof gap === 'number' && Number.isFinite(gap) && gap >= 0)) {
      throw new TypeError(`SlackSink: minIntervalMs must be a number of milliseconds ≥ 0, got ${shownValue(gap)}`);
    }
    this.minIntervalMs = o.minIntervalMs ?? SLACK_DEFAULT_INTERVAL_MS;
    this.#userAgent = o.userAgent ?? 'daily-presence-watcher';
  }

  async deliver(events: PresenceEvent[], signal: AbortSignal): Promise<void> {
    // late: older than a message's usual wait (the gap between messages) by a minute
    const opts: SlackMessageOptions = { now: Date.now(), lateAfterMs: SLACK_LATE_AFTER_MS + this.minIntervalMs };
    if (this.#roomUrl) opts.roomUrl = this.#roomUrl;
    const body = JSON.stringify(slackMessage(events, opts));
    const r = await this.#target.post(body, { 'content-type': 'application/json', 'user-agent': this.#userAgent }, signal);
    if (r.status >= 200 && r.status < 300) {
      this.#answered = true;
      return;
    }
    if (r.status >= 300 && r.status < 400) throw redirectError(`Slack answered HTTP ${r.status}`, r, this.#answered);
    const reason = snippet(r.text) || `HTTP ${r.status}`;
    const what = `Slack answered HTTP ${r.status} "${reason}"`;
    if (r.status === 429 || r.status >= 500) throw new DeliveryError(what, 'retry', r.status, r.retryAfterMs);
    if (r.status === 404 || r.status === 410) {
      throw new DeliveryError(`${what}: the webhook's channel is gone or the webhook was disabled; create a new incoming webhook`, 'disable', r.status);
    }
    // a 403 is about the webhook, not this message: a revoked URL (invalid_token), or a workspace
    // that no longer lets it post (action_prohibited). Every later message would fail the same way,
    // each dead-lettered in turn while /healthz said ok: disable the sink and say why instead.
    if (r.status === 401 || r.status === 403) {
      const fix = reason === 'action_prohibited' ? 'a workspace admin has restricted this webhook' : 'the webhook URL is no longer valid; create a new incoming webhook';
      throw new DeliveryError(`${what}: ${fix}`, 'disable', r.status);
    }
    throw new DeliveryError(`${what}${reason === 'invalid_payload' ? ' (the message was rejected)' : ''}`, 'permanent', r.status);
  }

  close(): Promise<void> {
    return this.#target.close();
  }
}
