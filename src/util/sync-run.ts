/**
 * Tells the first call of a synchronous run from the rest: the watcher emits one poll's events in
 * one synchronous run, so "as a poll's events begin" is the first call since the event loop last
 * turned (a microtask ends the run).
 */
export class SyncRun {
  #running = false;

  /** True for the first call of a run, false for the others in it. */
  starts(): boolean {
    if (this.#running) return false;
    this.#running = true;
    queueMicrotask(() => (this.#running = false));
    return true;
  }
}
