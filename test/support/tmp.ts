// Temporary directories for the tests, removed when their test file ends (setup.ts registers the
// hook). Before, each run of the suite left ~300 directories in the system's temporary directory,
// and a developer's /tmp filled with thousands. PW_KEEP_TMP=1 keeps them, to look at after a failure.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const made: string[] = [];

/** A new directory under the system's temporary directory, named `pw-<prefix>-XXXXXX`. */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `pw-${prefix}-`));
  made.push(dir);
  return dir;
}

/** Removes every directory `tempDir` made in this test file; returns how many. */
export function removeTempDirs(): number {
  const dirs = made.splice(0);
  if (process.env.PW_KEEP_TMP === '1') return 0;
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
  return dirs.length;
}
