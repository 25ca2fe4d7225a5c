// A bot that greets people when they join a Daily room, using the library.
//
//   npm run build && node examples/greeter-bot.mjs            # against a built-in simulated domain
//   DAILY_API_KEY=… ROOMS=standup,retro node examples/greeter-bot.mjs   # against your Daily domain
//
// Replace `greet` with a call to your chat system.
import { DailySimulator, PresenceWatcher } from 'daily-presence-watcher';

let sim;
let apiKey = process.env.DAILY_API_KEY;
let apiUrl = process.env.DAILY_API_URL;
let rooms = process.env.ROOMS?.split(',').filter(Boolean);
if (!apiKey) {
  sim = new DailySimulator({ rooms: 3, churn: 1, initialParticipants: 3 });
  apiUrl = await sim.listen();
  apiKey = sim.apiKey;
  rooms ??= sim.roomNames;
  console.error(`no DAILY_API_KEY: using a simulated domain at ${apiUrl}`);
}

const watcher = new PresenceWatcher({
  apiKey,
  apiUrl,
  rooms: rooms ?? ['standup'],
  intervalMs: Number(process.env.INTERVAL_MS ?? 2000),
  ignoreInitial: true, // greet arrivals, not the people already there when the bot starts
});

function greet(room, name) {
  console.log(`Welcome to ${room}, ${name ?? 'friend'}!`);
}

// sameUserAs: a new session of someone still in the room (a reconnect, a second device), or the
// end of one while another of theirs is there; they neither arrived nor left, so say nothing
watcher.on('join', (e) => e.sameUserAs === undefined && greet(e.room, e.participant.userName));
watcher.on('leave', (e) => e.sameUserAs === undefined && console.log(`Bye ${e.participant.userName ?? 'friend'}, see you in ${e.room} next time.`));
watcher.on('error', (err) => console.error(`watcher: ${err.message}`)); // polling goes on by itself
watcher.on('ready', () => console.error(`watching ${watcher.targets.join(', ')}`));
watcher.start();

const shutdown = async () => {
  await watcher.stop();
  await sim?.close();
};
process.once('SIGINT', shutdown);
process.once('SIGTERM', shutdown);
