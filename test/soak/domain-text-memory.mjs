// How much of GET /presence's text outlives its poll when it is read room by room (parseDomainText):
// only the last answer may (the DomainTracker keeps it, and where each room's list is in it, to
// compare the next answer's rooms with). A room name taken from the text must not keep its answer
// alive (V8's String#slice makes a view into the text for 13 characters or more), nor may what the
// tracker keeps of a room that the next answer lists the same but for durations. One new room a poll, named in that poll's answer,
// its host's duration ticking from then on, and a tracker that keeps everyone; the same answers
// parsed whole give the state's own size. Prints one JSON line: the text bytes read, the last
// answer's, the heap kept each way, and how many room lists were parsed of those listed.
//   node --expose-gc test/soak/domain-text-memory.mjs
import { DomainTracker, parseDomainEntries, parseDomainText } from '../../dist/index.js';
import { heapAfterGc, requireGc } from './heap.mjs';

requireGc();
const heap = heapAfterGc;

/** Heap kept after 40 polls read by `read`, and the text bytes read. */
function run(read) {
  const tracker = new DomainTracker();
  const rooms = [];
  let textBytes = 0;
  let lastBytes = 0;
  let listed = 0;
  let parsed = 0;
  const before = heap();
  for (let poll = 0; poll < 40; poll++) {
    rooms.push(`weekly-design-review-${poll}`);
    const body = {};
    rooms.forEach((room, i) => (body[room] = [{ id: `${room}-host`, userName: 'Host', duration: 15 * (poll - i) }]));
    // ~0.2 MB of people who change every poll, so each answer is a text of its own worth keeping
    body['all-hands-stream'] = Array.from({ length: 4000 }, (_, i) => ({ id: `viewer-${poll}-${i}`, userName: `Viewer ${i}` }));
    const text = JSON.stringify(body);
    textBytes += text.length;
    lastBytes = text.length;
    const answer = read(text);
    if (typeof answer.readList === 'function') {
      const readList = answer.readList.bind(answer);
      answer.readList = (at, end, room) => (parsed++, readList(at, end, room));
    }
    listed += answer.size;
    tracker.apply(answer, { at: 'now', consume: true });
  }
  const keptBytes = heap() - before;
  if (tracker.size !== 4040) throw new Error(`tracked ${tracker.size}, expected 4040`);
  return { textBytes, lastBytes, keptBytes, tracker, listed, parsed };
}

// the same answers parsed whole (JSON.parse makes strings of their own): the state alone
const whole = run((text) => parseDomainEntries(JSON.parse(text)));
const wholeKept = whole.keptBytes;
whole.tracker = undefined;
const names = new Map();
const byRoom = run((text) => parseDomainText(text, names));
const { textBytes, lastBytes, listed, parsed } = byRoom;
process.stdout.write(`${JSON.stringify({ textBytes, lastBytes, keptRoomByRoom: byRoom.keptBytes, keptWhole: wholeKept, listed, parsed })}\n`);
