import { notEventError, type PresenceEvent } from '../events.js';
import { oneLine } from '../util/text.js';

/** Longest line describeEvent returns; a longer one is cut with an ellipsis. */
const LINE_LIMIT = 300;

/** A participant's name as shown, or undefined when it has nothing to show (unset, empty, blank). */
function shownName(name: string | null | undefined): string | undefined {
  const n = name ? oneLine(name).trim() : '';
  return n === '' ? undefined : n;
}

function who(e: PresenceEvent): string {
  return shownName(e.participant.userName) ?? `someone (${e.participant.id.slice(0, 8)})`;
}

/** How long before the watcher saw it a join or leave must have happened for a line to say when: past any poll's lag, Daily's ~15 s included. */
export const SEEN_LATE_MS = 5 * 60_000;

/** The furthest a Date reaches from the epoch, either way (ECMAScript's time range). */
const MAX_DATE_MS = 8.64e15;

/**
 * When a join or leave happened, if that was well before the watcher saw it (its `at`): a join's
 * session start (`joinTime`, exact); for a leave, a time the person was still there (the kept
 * snapshot's `joinTime` + `duration`): they left sometime after it. That is their last sighting
 * after a clean stop, which saves the state, but may be earlier after a crash (a state is saved
 * when presence changes, not as durations grow), hence "sometime after", never "last seen".
 * After the watcher was stopped over a weekend, or Daily failed for an hour, the first poll's "Bob
 * left standup" otherwise reads as news in a channel. Undefined for updates, for a join "already
 * there when watching started" (it says so), and where Daily gave no times.
 */
export function happenedEarlier(e: PresenceEvent): { kind: 'joined' | 'left after'; ms: number } | undefined {
  if (e.type === 'update' || (e.type === 'join' && e.initial)) return undefined;
  const seen = Date.parse(e.at);
  const start = typeof e.participant.joinTime === 'string' ? Date.parse(e.participant.joinTime) : NaN;
  const duration = e.participant.duration;
  const ms = e.type === 'join' ? start : typeof duration === 'number' ? start + duration * 1000 : NaN;
  // a time past what a Date holds (±8.64e15 ms: a duration of -1e13 s from a broken answer or a
  // hand-edited state) is no time to show, and would throw where it is formatted
  if (!Number.isFinite(seen) || !(Math.abs(ms) <= MAX_DATE_MS) || seen - ms <= SEEN_LATE_MS) return undefined;
  return { kind: e.type === 'join' ? 'joined' : 'left after', ms };
}

/** A time to the minute in UTC, as a line a person reads shows it ("2026-11-27 18:02 UTC"). */
export function utcMinute(ms: number): string {
  // cut at the seconds, not at a count of characters: a year past 9999 (or before 0) is written
  // with six digits and a sign
  return `${new Date(ms).toISOString().replace(/:\d\d\.\d{3}Z$/, '').replace('T', ' ')} UTC`;
}

/**
 * One human line per event, e.g. "Moishe joined standup": Slack's messages and the stdout sink's
 * text format. Plain text: Slack's message escapes it for Slack. Its argument is checked (it is
 * public); the sinks, whose events the queue checked, call `describe`.
 */
export function describeEvent(e: PresenceEvent): string {
  const notEvent = notEventError('describeEvent', 'its argument', e);
  if (notEvent) throw notEvent;
  return describe(e);
}

/** describeEvent, for an event already known to be one. */
export function describe(e: PresenceEvent): string {
  const room = oneLine(e.room);
  let line: string;
  switch (e.type) {
    case 'join':
      // "joined … (already there …)" said two things at once; for `--once`, "who is in standup now",
      // every line was one
      line = e.initial ? `${who(e)} is in ${room} (already there when watching started)` : `${who(e)} joined ${room}`;
      break;
    case 'leave':
      line = `${who(e)} left ${room}`;
      break;
    case 'update': {
      const rename = e.changes.userName;
      line = rename
        ? `${shownName(rename.from) ?? 'someone'} is now ${shownName(rename.to) ?? 'unnamed'} in ${room}`
        : `${who(e)} changed ${Object.keys(e.changes).join(', ')} in ${room}`;
      break;
    }
  }
  if (line.length <= LINE_LIMIT) return line;
  // not between the two halves of an emoji (a surrogate pair), which would leave half of one
  let cut = LINE_LIMIT - 1;
  if (/[\uD800-\uDBFF]/.test(line[cut - 1]!)) cut--;
  return `${line.slice(0, cut)}…`;
}
