import { afterAll } from 'vitest';
import { removeTempDirs } from './tmp.js';

// The tests talk to servers on 127.0.0.1. A proxy set in the developer's or CI's environment would
// route the in-process clients through it (the daemon honours HTTPS_PROXY/HTTP_PROXY): the tests
// that cover the proxy set it themselves, on the child process they start.
for (const name of ['https_proxy', 'HTTPS_PROXY', 'http_proxy', 'HTTP_PROXY']) delete process.env[name];

// Each test file's temporary directories (test/support/tmp.ts) go when the file ends. Child processes
// the file started are stopped by its own hooks, which run before this one.
afterAll(() => {
  removeTempDirs();
});
