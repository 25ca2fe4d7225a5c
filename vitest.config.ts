import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 20_000,
    hookTimeout: 20_000,
    pool: 'forks',
    // Vitest's default is one worker fewer than the cores: on CI's 2 cores, one file at a time, and the
    // suite's time was the sum of its files'. Most of it is waiting on child processes and sockets
    // (the CLI's daemons, the simulator), so two files side by side took ~125 s where one at a time
    // took ~200 s, the same 672 tests passing in each of three runs (session 33)
    maxWorkers: Math.max(2, availableParallelism() - 1),
    setupFiles: ['test/support/setup.ts'],
  },
});
