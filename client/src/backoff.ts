/** How long to wait after a failed attempt: exponential backoff with full jitter, and Retry-After. */

export const DEFAULT_BACKOFF_BASE_MS = 1_000;
export const DEFAULT_BACKOFF_CAP_MS = 5 * 60_000;

/**
 * "Full jitter" backoff: uniform in [0, min(cap, base·2^attempt)), attempt counted from 0. Spreads
 * retries of many clients hit by the same outage (e.g. an Aurora resume) instead of synchronising them.
 */
export function fullJitterBackoff(
  attempt: number,
  random: () => number,
  baseMs = DEFAULT_BACKOFF_BASE_MS,
  capMs = DEFAULT_BACKOFF_CAP_MS,
): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** attempt);
  return Math.floor(random() * ceiling);
}

/**
 * The wait before retry number `attempt` (from 0): the backoff draw, but never sooner than the
 * server's `Retry-After` asked, and never longer than the cap (a bogus header must not park the loop
 * for days).
 */
export function retryDelay(
  attempt: number,
  retryAfterMs: number | undefined,
  random: () => number,
  baseMs: number,
  capMs: number,
): number {
  const backoffMs = fullJitterBackoff(attempt, random, baseMs, capMs);
  const askedMs = Math.min(retryAfterMs ?? 0, capMs);
  return Math.max(askedMs, backoffMs);
}
