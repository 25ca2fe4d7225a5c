// Heap figures for the scripts in this folder, which run in processes of their own with --expose-gc.

/** Exit (code 2, saying why) unless the process was started with --expose-gc. */
export function requireGc() {
  if (typeof globalThis.gc !== 'function') {
    console.error('run with node --expose-gc');
    process.exit(2);
  }
}

/** Heap used after three full collections, bytes. */
export function heapAfterGc() {
  for (let i = 0; i < 3; i++) globalThis.gc();
  return process.memoryUsage().heapUsed;
}
