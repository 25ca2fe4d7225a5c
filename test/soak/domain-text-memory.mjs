// How much of GET /presence's text outlives its poll when it is read room by room (parseDomainText):
// a room name taken from the text must not keep the whole text alive (V8's String#slice makes a
// view into the text for 13 characters or more). One new room a poll, named in that poll's answer,
// and a tracker that keeps everyone; the same answers parsed whole give the state's own size.
// Prints one JSON line: the text bytes read, and the heap kept each way.
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
  const before = heap();
  for (let poll = 0; poll < 40; poll++) {
    rooms.push(`weekly-design-review-${poll}`);
    const body = {};
    for (const room of rooms) body[room] = [{ id: `${room}-host`, userName: 'Host' }];
    // ~0.2 MB of people who change every poll, so each answer is a text of its own worth keeping
    body['all-hands-stream'] = Array.from({ length: 4000 }, (_, i) => ({ id: `viewer-${poll}-${i}`, userName: `Viewer ${i}` }));
    const text = JSON.stringify(body);
    textBytes += text.length;
    tracker.apply(read(text), { at: 'now', consume: true });
  }
  const keptBytes = heap() - before;
  if (tracker.size !== 4040) throw new Error(`tracked ${tracker.size}, expected 4040`);
  return { textBytes, keptBytes, tracker };
}

// the same answers parsed whole (JSON.parse makes strings of their own): the state alone
const whole = run((text) => parseDomainEntries(JSON.parse(text)));
const wholeKept = whole.keptBytes;
whole.tracker = undefined;
const names = new Map();
const byRoom = run((text) => parseDomainText(text, names));
process.stdout.write(`${JSON.stringify({ textBytes: byRoom.textBytes, keptRoomByRoom: byRoom.keptBytes, keptWhole: wholeKept })}\n`);
