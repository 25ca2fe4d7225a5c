/**
 * Milliseconds on a clock that moves only forward, at the pace of real time: for how long something
 * has waited or lasted. `Date.now()` is the wall clock, which NTP, a restored VM or an admin can step
 * back or forward by hours: a rate-limit window, a leave grace or a health check's age measured on it
 * would then hold every poll or a pending leave for that long, or cut a grace short. The wall clock
 * is for timestamps people read.
 */
export const monotonicNow = (): number => performance.now();
