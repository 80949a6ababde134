/** How long to wait after a successful beat. */

export const DEFAULT_INTERVAL_MS = 30_000;
/** Successful beats are spread by ±10 % so clients started together drift apart. */
export const INTERVAL_JITTER = 0.1;

/** `intervalMs` scaled by a uniform factor in [0.9, 1.1). */
export function jitteredInterval(intervalMs: number, random: () => number): number {
  return Math.round(intervalMs * (1 - INTERVAL_JITTER + 2 * INTERVAL_JITTER * random()));
}
