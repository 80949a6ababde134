/** The public shapes of the heartbeat client: the docs/api.md body, options, the handle, injectables. */
import type { HeartbeatError } from "./errors.ts";

/** The outcomes of docs/heartbeat.md a 200 response may carry. */
export const HEARTBEAT_OUTCOMES = [
  "bumped",
  "not_due",
  "not_running",
  "no_autostop",
  "bump_disabled",
  "at_max_deadline",
  "dormant",
  "no_workspace",
  "chat_archived",
  "chat_idle",
] as const;

export type HeartbeatOutcome = (typeof HEARTBEAT_OUTCOMES)[number];

/** The 200 body of docs/api.md. Times are ISO-8601 UTC strings; null when zero or unknown. */
export interface HeartbeatResponse {
  chatId: string;
  workspaceId: string | null;
  outcome: HeartbeatOutcome;
  deadline: string | null;
  maxDeadline: string | null;
  lastUsedAt: string | null;
  /**
   * Seconds until the next heartbeat can matter (docs/api.md: an integer, 15–300). Absent when the
   * server is older or sent no usable value (not a positive integer).
   */
  nextHeartbeatSeconds?: number;
}

/** What the loop decided after a 200, passed to `onOutcome` next to the body. */
export interface BeatSchedule {
  /** When the next beat will be sent; null when none will be (`once`). */
  nextBeatAt: Date | null;
  /** Milliseconds from now until then; null with `nextBeatAt`. */
  delayMs: number | null;
  /**
   * What set the pace: the body's `nextHeartbeatSeconds`, the `X-Poll-Interval` header, or
   * `intervalMs` because the answer carried no usable hint.
   */
  source: "body" | "header" | "interval";
  /** The server's hint as received, in seconds (before clamping and jitter); null for `interval`. */
  hintSeconds: number | null;
}

/**
 * Why the loop ended: `stopped` (stop() was called), `aborted` (the caller's signal fired),
 * `completed` (`once` and the beat succeeded), `unauthorized` (401 again after a token refresh, or
 * 401 with a fixed token), `forbidden` (403), `not_found` (404), `bad_request` (400, 413 or another
 * client error retrying cannot fix), `unavailable` (more than `maxRetries` failures in a row).
 */
export type StopReason =
  | "stopped"
  | "aborted"
  | "completed"
  | "unauthorized"
  | "forbidden"
  | "not_found"
  | "bad_request"
  | "unavailable";

/** The time source and timers the loop uses; the globals by default. */
export interface Clock {
  now(): number;
  setTimeout(callback: () => void, delayMs: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** The part of `fetch` the loop needs. */
export type FetchLike = (url: string, init: RequestInit) => Promise<Response>;

/**
 * Supplies the bearer token before every request. `forceRefresh` is true right after a 401: return
 * a fresh token then; otherwise a cached one is fine.
 */
export type TokenProvider = (request: { forceRefresh: boolean }) => string | Promise<string>;

interface HeartbeatOptionsBase {
  /** API base URL, including any stage path, e.g. `https://abc.execute-api.eu-west-1.amazonaws.com`. */
  baseUrl: string;
  chatId: string;
  /**
   * Time between successful beats when the server sends no pacing hint (an older server), jittered
   * by ±10 %. Default 30 000. Not bounded by `minIntervalMs`/`maxIntervalMs`, which apply to hints.
   */
  intervalMs?: number;
  /**
   * Lower bound for a hinted delay (the server's `nextHeartbeatSeconds` or `X-Poll-Interval`):
   * a hint below it is raised to it. Default 15 000 (docs/heartbeat.md's smallest hint).
   */
  minIntervalMs?: number;
  /**
   * Upper bound for a hinted delay: a hint above it is lowered to it. Default 300 000 (docs/heartbeat.md's
   * largest hint). Must not be below `minIntervalMs`.
   */
  maxIntervalMs?: number;
  /** Aborting it stops the loop (reason `aborted`) and cancels any request in flight. */
  signal?: AbortSignal;
  /** Called with every 200 body, and when the next beat will be sent. */
  onOutcome: (response: HeartbeatResponse, schedule: BeatSchedule) => void;
  /** Called with every failed attempt, whether it is retried or ends the loop. */
  onError?: (error: HeartbeatError) => void;
  /** Stop (reason `completed`) after the first successful beat. */
  once?: boolean;
  /** Failed attempts in a row retried before stopping with `unavailable`. Default: retry forever. */
  maxRetries?: number;
  /** Exponential backoff with full jitter on 5xx, 408/429, network errors and timeouts. */
  backoff?: { baseMs?: number; capMs?: number };
  /** A request that has not answered by then is aborted and retried. Default 60 000. */
  requestTimeoutMs?: number;
  fetch?: FetchLike;
  clock?: Clock;
  /** Uniform in [0, 1); Math.random by default. */
  random?: () => number;
}

export type HeartbeatOptions = HeartbeatOptionsBase &
  ({ token: string; getToken?: undefined } | { getToken: TokenProvider; token?: undefined });

export interface HeartbeatHandle {
  /** Stops the loop, cancelling the timer and any request in flight; resolves once it has ended. */
  stop(): Promise<void>;
  /** The outcome of the latest successful beat; undefined before the first one. */
  readonly lastOutcome: HeartbeatOutcome | undefined;
  /** The workspace build deadline the latest successful beat returned; null if none yet or unset. */
  readonly lastDeadline: Date | null;
  /** The latest 200 body. */
  readonly lastResponse: HeartbeatResponse | undefined;
  /**
   * When the next request (a beat, or a retry after a failure) will be sent; null before the first
   * one has settled, while a request is under way or about to go, and once the loop has ended.
   */
  readonly nextBeatAt: Date | null;
  /** Resolves (never rejects) with the reason once the loop has ended. */
  readonly stopped: Promise<StopReason>;
}
