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

/**
 * One human line per event, e.g. "Moishe joined standup": Slack's messages and the stdout sink's
 * text format. Plain text: Slack's message escapes it for Slack.
 */
export function describeEvent(e: PresenceEvent): string {
  const notEvent = notEventError('describeEvent', 'its argument', e);
  if (notEvent) throw notEvent;
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
