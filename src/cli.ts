#!/usr/bin/env node
import { main } from './cli/main.js';
import { secrets } from './log.js';

/**
 * A bug (never a user mistake, which is a one-line message and exit 2): the stack, for the report,
 * with every registered secret scrubbed (an error's message can quote a URL or a header), then exit
 * 1. Also for what escapes a callback or a promise nobody awaits: Node's default printed the same
 * stack unscrubbed. With --state nothing is lost: the outbox replays what was not delivered.
 */
function internalError(what: string) {
  return (err: unknown): never => {
    const text = err instanceof Error ? (err.stack ?? err.message) : String(err);
    process.stderr.write(`presence-watcher: internal error (${what}; a bug: please report it): ${secrets.scrub(text)}\n`);
    process.exit(1);
  };
}
process.on('uncaughtException', internalError('uncaught exception'));
process.on('unhandledRejection', internalError('unhandled rejection'));

// a closed stdout (a pipe whose reader went away) is reported to the stdout sink by its write
// callback, which disables it; without a listener here the stream's 'error' would crash the daemon
process.stdout.on('error', () => undefined);
// the same for stderr ('… 2>&1 | head'): a message or log line that cannot be written is lost, but
// must not turn a clean shutdown into an uncaught exception halfway through
process.stderr.on('error', () => undefined);

main(process.argv.slice(2), {
  env: process.env,
  stdout: process.stdout,
  stderr: process.stderr,
  signals: process,
  exitNow: (code) => process.exit(code),
}).then(
  (code) => {
    process.exitCode = code;
    // stdout may still be flushing to a pipe: let the event loop end by itself, but never hang
    setTimeout(() => process.exit(code), 2000).unref();
  },
  internalError('the command failed'),
);
