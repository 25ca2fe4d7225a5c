// A webhook receiver for daily-presence-watcher: verifies Standard Webhooks signatures and
// dedupes re-deliveries by `webhook-id` (the event id, identical on every retry).
//
//   PRESENCE_WEBHOOK_SECRET=whsec_… node examples/webhook-receiver.mjs [port]
//   presence-watcher --all-rooms --sink webhook:http://127.0.0.1:<port>/presence
//
// Rotating the secret: give both, "whsec_new whsec_old", and a delivery signed with either passes.
//
// It needs nothing but Node; `verifyWebhook` from the library does the constant-time check. In
// production keep the seen-ids set in your database with the event, in one transaction.
import { createServer } from 'node:http';
import { verifyWebhook, webhookSecretKeys } from 'daily-presence-watcher';

const secret = process.env.PRESENCE_WEBHOOK_SECRET;
if (!secret) {
  console.error('set PRESENCE_WEBHOOK_SECRET to the secret the watcher signs with');
  process.exit(2);
}
try {
  webhookSecretKeys(secret); // a malformed secret is a start-up error, not a throw per request
} catch (err) {
  console.error(err.message);
  process.exit(2);
}
const port = Number(process.argv[2] ?? 8788);
const seen = new Set(); // grows forever here; bound it (or use a TTL) in real code

const server = createServer((req, res) => {
  if (req.method !== 'POST') return res.writeHead(405).end();
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks).toString('utf8');
    if (!verifyWebhook(secret, req.headers, body)) {
      console.error('rejected: bad or missing signature');
      return res.writeHead(401).end('bad signature');
    }
    const id = req.headers['webhook-id'];
    if (seen.has(id)) {
      console.error(`duplicate ${id} ignored`);
      return res.writeHead(200).end('duplicate');
    }
    seen.add(id);
    const event = JSON.parse(body);
    // sameUserAs: this session's user stays in the room through it (a reconnect, a second device)
    const same = event.sameUserAs ? ` (same user as session ${event.sameUserAs})` : '';
    console.log(`${event.type} ${event.room} ${event.participant.userName ?? event.participant.id}${same}`);
    res.writeHead(204).end();
  });
});
server.listen(port, '127.0.0.1', () => console.error(`listening on http://127.0.0.1:${server.address().port}/presence`));
process.once('SIGTERM', () => server.close());
process.once('SIGINT', () => server.close());
