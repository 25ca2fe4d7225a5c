#!/usr/bin/env node
import { main } from './cli/main.js';

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
  (err: unknown) => {
    // a bug, not a user mistake: keep the stack for the report
    process.stderr.write(`presence-watcher: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
