// Child process for the latency benchmark: a simulated domain with churn, in its own process (as
// the real Daily API would be), printing each change as {"key","at"} NDJSON on stdout.
import { DailySimulator } from '../dist/index.js';

const rooms = Number(process.argv[2] ?? 1000);
const perTick = Number(process.argv[3] ?? 4);
const sim = new DailySimulator({ rooms: Array.from({ length: rooms }, (_, i) => `room-${i}`), initialParticipants: rooms });
sim.on('change', (c) => process.stdout.write(JSON.stringify({ key: `${c.type}:${c.room}:${c.participant.id}`, at: c.at }) + '\n'));
const url = await sim.listen();
process.stdout.write(JSON.stringify({ url, apiKey: sim.apiKey, rooms: sim.roomNames.length }) + '\n');
let timer;
process.stdin.on('data', (d) => {
  if (String(d).includes('start')) timer = setInterval(() => { for (let i = 0; i < perTick; i++) sim.randomChange(); }, 50);
  if (String(d).includes('stop')) clearInterval(timer);
});
process.stdin.on('end', async () => {
  clearInterval(timer);
  await sim.close();
  process.exit(0);
});
