/**
 * How long to wait after a successful beat: the server's pacing hint when it sends one (docs/heartbeat.md
 * `nextHeartbeatSeconds` / `X-Poll-Interval`), bounded by the client's own limits, else the fixed
 * `intervalMs` of older servers.
 */
import type { PaceHint } from "./response.ts";
import type { BeatSchedule } from "./types.ts";

export const DEFAULT_INTERVAL_MS = 30_000;
/** docs/heartbeat.md's smallest hint: by default the client follows every hint the server may send. */
export const DEFAULT_MIN_INTERVAL_MS = 15_000;
/** docs/heartbeat.md's largest hint. */
export const DEFAULT_MAX_INTERVAL_MS = 5 * 60_000;
/** Successful beats are spread by ±10 % so clients started together drift apart. */
export const INTERVAL_JITTER = 0.1;
/** Hinted delays are spread over the 10 % below the hint, never above it. */
export const HINT_JITTER = 0.1;

/**
 * `intervalMs` scaled by a uniform factor in [0.9, 1.1): the fixed pace, used when the server sends
 * no hint. Symmetric on purpose: such a server promises nothing about when the next beat comes, so
 * being 10 % late costs nothing, and the average rate stays the one the user configured.
 */
export function jitteredInterval(intervalMs: number, random: () => number): number {
  return Math.round(intervalMs * (1 - INTERVAL_JITTER + 2 * INTERVAL_JITTER * random()));
}

/**
 * The delay for a server hint of `hintMs`: the hint clamped to [minMs, maxMs], then jittered
 * **downwards only**, uniformly in [max(minMs, 0.9·clamped), clamped].
 *
 * Downwards because the hint is a deadline, not a period: the server promises the workspace stays
 * up (docs/heartbeat.md: at least 0.95·I − 15 s of headroom) only if the client beats by the hinted time, so
 * a client that jitters late could see its workspace stopped. Jitter is still needed so clients
 * that started together drift apart; spending it early costs at most 10 % more requests. The
 * client's own floor wins over the jitter: the result is never below `minMs` (a hint at or below
 * the floor gives exactly `minMs`), never above `maxMs`, and never above the hint when the hint is
 * at least `minMs`.
 */
export function hintedDelay(
  hintMs: number,
  minMs: number,
  maxMs: number,
  random: () => number,
): number {
  const upper = Math.min(maxMs, Math.max(minMs, hintMs));
  const lower = Math.max(minMs, upper * (1 - HINT_JITTER));
  const drawn = Math.floor(upper - (upper - lower) * random());
  return Math.min(upper, Math.max(Math.ceil(lower), drawn));
}

/** Everything {@link nextPace} needs besides the hint. */
export interface PaceSettings {
  intervalMs: number;
  minIntervalMs: number;
  maxIntervalMs: number;
  random: () => number;
}

/** The delay chosen after a 200, and why. */
export interface Pace {
  delayMs: number;
  source: BeatSchedule["source"];
  hintSeconds: number | null;
}

/** Follows the hint when there is one (see {@link hintedDelay}), else the jittered `intervalMs`. */
export function nextPace(hint: PaceHint | undefined, settings: PaceSettings): Pace {
  if (hint === undefined) {
    return {
      delayMs: jitteredInterval(settings.intervalMs, settings.random),
      source: "interval",
      hintSeconds: null,
    };
  }
  return {
    delayMs: hintedDelay(
      hint.seconds * 1000,
      settings.minIntervalMs,
      settings.maxIntervalMs,
      settings.random,
    ),
    source: hint.source,
    hintSeconds: hint.seconds,
  };
}
