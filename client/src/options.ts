/** Validates `HeartbeatOptions` and fills in the defaults, once, before the loop starts. */
import { DEFAULT_BACKOFF_BASE_MS, DEFAULT_BACKOFF_CAP_MS } from "./backoff.ts";
import { DEFAULT_INTERVAL_MS, DEFAULT_MAX_INTERVAL_MS, DEFAULT_MIN_INTERVAL_MS } from "./pacing.ts";
import type { Clock, FetchLike, HeartbeatOptions, TokenProvider } from "./types.ts";

export const DEFAULT_REQUEST_TIMEOUT_MS = 60_000;

/** Every option the loop reads, checked and defaulted. */
export interface ResolvedOptions {
  url: string;
  /** True when `getToken` was given (a 401 can then be retried with a fresh token). */
  hasProvider: boolean;
  tokenProvider: TokenProvider;
  intervalMs: number;
  minIntervalMs: number;
  maxIntervalMs: number;
  requestTimeoutMs: number;
  backoffBaseMs: number;
  backoffCapMs: number;
  maxRetries: number;
  fetch: FetchLike;
  clock: Clock;
  random: () => number;
}

function defaultClock(): Clock {
  return {
    now: () => Date.now(),
    setTimeout: (callback, delayMs) => globalThis.setTimeout(callback, delayMs),
    clearTimeout: (handle) => globalThis.clearTimeout(handle as ReturnType<typeof setTimeout>),
  };
}

function positive(name: string, value: number): number {
  if (!(Number.isFinite(value) && value > 0)) {
    throw new RangeError(`${name} must be a positive number, got ${value}`);
  }
  return value;
}

/** Throws a TypeError or RangeError naming the first invalid option. */
export function resolveOptions(options: HeartbeatOptions): ResolvedOptions {
  const hasToken = options.token !== undefined;
  const hasProvider = options.getToken !== undefined;
  if (hasToken === hasProvider) throw new TypeError("pass exactly one of token and getToken");
  if (!options.chatId) throw new TypeError("chatId is required");
  const intervalMs = positive("intervalMs", options.intervalMs ?? DEFAULT_INTERVAL_MS);
  const minIntervalMs = positive("minIntervalMs", options.minIntervalMs ?? DEFAULT_MIN_INTERVAL_MS);
  const maxIntervalMs = positive("maxIntervalMs", options.maxIntervalMs ?? DEFAULT_MAX_INTERVAL_MS);
  if (minIntervalMs > maxIntervalMs) {
    throw new RangeError(
      `minIntervalMs (${minIntervalMs}) must not exceed maxIntervalMs (${maxIntervalMs})`,
    );
  }
  const requestTimeoutMs = positive(
    "requestTimeoutMs",
    options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
  );
  const backoffBaseMs = positive(
    "backoff.baseMs",
    options.backoff?.baseMs ?? DEFAULT_BACKOFF_BASE_MS,
  );
  const backoffCapMs = positive("backoff.capMs", options.backoff?.capMs ?? DEFAULT_BACKOFF_CAP_MS);
  const maxRetries = options.maxRetries ?? Number.POSITIVE_INFINITY;
  if (!(maxRetries >= 0)) throw new RangeError(`maxRetries must be ≥ 0, got ${maxRetries}`);
  return {
    url: `${options.baseUrl.replace(/\/+$/, "")}/chats/${encodeURIComponent(options.chatId)}/heartbeat`,
    hasProvider,
    tokenProvider: options.getToken ?? ((): string => options.token as string),
    intervalMs,
    minIntervalMs,
    maxIntervalMs,
    requestTimeoutMs,
    backoffBaseMs,
    backoffCapMs,
    maxRetries,
    fetch: options.fetch ?? ((url, init) => globalThis.fetch(url, init)),
    clock: options.clock ?? defaultClock(),
    random: options.random ?? Math.random,
  };
}
