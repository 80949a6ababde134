/**
 * A well-behaved heartbeat loop for `POST /chats/{chatId}/heartbeat` (SPEC §3).
 *
 * Dependency-free and free of Node-only APIs: it runs in Node ≥ 20 and in browsers on the global
 * `fetch`, `AbortController` and timers (all injectable for tests).
 */

/** The outcomes of SPEC §2 a 200 response may carry. */
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

/** The 200 body of SPEC §3. Times are ISO-8601 UTC strings; null when zero or unknown. */
export interface HeartbeatResponse {
  chatId: string;
  workspaceId: string | null;
  outcome: HeartbeatOutcome;
  deadline: string | null;
  maxDeadline: string | null;
  lastUsedAt: string | null;
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

export type HeartbeatErrorKind =
  /** The API answered with a non-2xx status. */
  | "http"
  /** fetch rejected (offline, DNS, connection reset, CORS…). */
  | "network"
  /** No response within `requestTimeoutMs`. */
  | "timeout"
  /** A 200 whose body is not the SPEC §3 shape. */
  | "malformed_response"
  /** The token provider threw or returned an empty token. */
  | "token"
  /** `onOutcome` threw; the loop carries on. */
  | "callback"
  /** The loop itself failed (e.g. an injected clock threw); it has stopped. */
  | "internal";

/** One failed attempt, as reported to `onError`. */
export class HeartbeatError extends Error {
  override readonly name = "HeartbeatError";
  readonly kind: HeartbeatErrorKind;
  /** HTTP status, for kind `http`. */
  readonly status: number | undefined;
  /** The API's `error.code` (SPEC §3), when the body carried one. */
  readonly code: string | undefined;
  readonly requestId: string | undefined;
  /** Milliseconds until the next attempt, or null when this error ended the loop. */
  readonly retryInMs: number | null;

  constructor(failure: HeartbeatFailure, retryInMs: number | null) {
    super(failure.message, { cause: failure.cause });
    this.kind = failure.kind;
    this.status = failure.status;
    this.code = failure.code;
    this.requestId = failure.requestId;
    this.retryInMs = retryInMs;
  }
}

interface HeartbeatOptionsBase {
  /** API base URL, including any stage path, e.g. `https://abc.execute-api.eu-west-1.amazonaws.com`. */
  baseUrl: string;
  chatId: string;
  /** Time between successful beats, jittered by ±10 %. Default 30 000. */
  intervalMs?: number;
  /** Aborting it stops the loop (reason `aborted`) and cancels any request in flight. */
  signal?: AbortSignal;
  /** Called with every 200 body. */
  onOutcome: (response: HeartbeatResponse) => void;
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
  /** Resolves (never rejects) with the reason once the loop has ended. */
  readonly stopped: Promise<StopReason>;
}

export const DEFAULT_INTERVAL_MS = 30_000;
export const DEFAULT_BACKOFF_BASE_MS = 1_000;
export const DEFAULT_BACKOFF_CAP_MS = 5 * 60_000;
export const DEFAULT_REQUEST_TIMEOUT_MS = 60_000;
/** Successful beats are spread by ±10 % so clients started together drift apart. */
export const INTERVAL_JITTER = 0.1;

/** `intervalMs` scaled by a uniform factor in [0.9, 1.1). */
export function jitteredInterval(intervalMs: number, random: () => number): number {
  return Math.round(intervalMs * (1 - INTERVAL_JITTER + 2 * INTERVAL_JITTER * random()));
}

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
 * Milliseconds a `Retry-After` header (RFC 9110 §10.2.3: delay-seconds or an HTTP-date) asks to
 * wait, from `nowMs`; undefined when absent or unparseable. A date in the past means 0.
 */
export function parseRetryAfter(
  value: string | null | undefined,
  nowMs: number,
): number | undefined {
  const text = value?.trim();
  if (!text) return undefined;
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  // Every HTTP-date form names a weekday and month; without letters Date.parse guesses wildly.
  if (!/[a-z]/i.test(text)) return undefined;
  const at = Date.parse(text);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - nowMs);
}

const OUTCOMES: ReadonlySet<string> = new Set(HEARTBEAT_OUTCOMES);

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isNullableTime(value: unknown): value is string | null {
  return value === null || (typeof value === "string" && !Number.isNaN(Date.parse(value)));
}

/** Parses and lightly validates a 200 body; throws a TypeError naming the first problem. */
export function parseHeartbeatResponse(text: string): HeartbeatResponse {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new TypeError("response body is not JSON");
  }
  if (!isRecord(body)) throw new TypeError("response body is not a JSON object");
  const { chatId, workspaceId, outcome, deadline, maxDeadline, lastUsedAt } = body;
  if (typeof chatId !== "string" || chatId === "") throw new TypeError("chatId is missing");
  if (workspaceId !== null && typeof workspaceId !== "string") {
    throw new TypeError("workspaceId is neither a string nor null");
  }
  if (typeof outcome !== "string" || !OUTCOMES.has(outcome)) {
    throw new TypeError(`unknown outcome ${JSON.stringify(outcome)}`);
  }
  for (const [name, value] of Object.entries({ deadline, maxDeadline, lastUsedAt })) {
    if (!isNullableTime(value)) throw new TypeError(`${name} is neither a time nor null`);
  }
  return {
    chatId,
    workspaceId,
    outcome: outcome as HeartbeatOutcome,
    deadline: deadline as string | null,
    maxDeadline: maxDeadline as string | null,
    lastUsedAt: lastUsedAt as string | null,
  };
}

/** What went wrong in one attempt, before the loop decides whether to retry. */
export interface HeartbeatFailure {
  kind: HeartbeatErrorKind;
  message: string;
  status?: number;
  code?: string;
  requestId?: string;
  retryAfterMs?: number;
  cause?: unknown;
}

type Attempt =
  | { kind: "success"; response: HeartbeatResponse }
  | { kind: "unauthorized"; failure: HeartbeatFailure }
  | { kind: "fatal"; reason: StopReason; failure: HeartbeatFailure }
  | { kind: "retryable"; failure: HeartbeatFailure }
  | { kind: "aborted" };

/** Reads SPEC §3's `{"error":{"code","message"},"requestId"}`, tolerating other bodies (a proxy's). */
function describeHttpError(
  status: number,
  headers: Headers,
  text: string,
  nowMs: number,
): HeartbeatFailure {
  let code: string | undefined;
  let message: string | undefined;
  let requestId: string | undefined;
  try {
    const body: unknown = JSON.parse(text);
    if (isRecord(body)) {
      if (isRecord(body.error)) {
        if (typeof body.error.code === "string") code = body.error.code;
        if (typeof body.error.message === "string") message = body.error.message;
      }
      if (typeof body.requestId === "string") requestId = body.requestId;
    }
  } catch {
    // Not ours (a gateway or proxy page): the status alone has to do.
  }
  return {
    kind: "http",
    status,
    code,
    message: message ?? `HTTP ${status}`,
    requestId: requestId ?? headers.get("apigw-requestid") ?? undefined,
    retryAfterMs: parseRetryAfter(headers.get("retry-after"), nowMs),
  };
}

function classifyStatus(status: number, failure: HeartbeatFailure): Attempt {
  if (status === 401) return { kind: "unauthorized", failure };
  if (status === 403) return { kind: "fatal", reason: "forbidden", failure };
  if (status === 404) return { kind: "fatal", reason: "not_found", failure };
  // Timeouts, throttling and server trouble pass; any other client error is a bug retrying repeats.
  if (status >= 500 || status === 408 || status === 429) return { kind: "retryable", failure };
  return { kind: "fatal", reason: "bad_request", failure };
}

const ABORTED = Symbol("aborted");

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

/**
 * Starts heartbeating: the first beat at once, then one per jittered `intervalMs`, never two
 * requests in flight. See {@link HeartbeatOptions} and {@link StopReason}.
 */
export function startHeartbeat(options: HeartbeatOptions): HeartbeatHandle {
  const hasToken = options.token !== undefined;
  const hasProvider = options.getToken !== undefined;
  if (hasToken === hasProvider) throw new TypeError("pass exactly one of token and getToken");
  if (!options.chatId) throw new TypeError("chatId is required");
  const intervalMs = positive("intervalMs", options.intervalMs ?? DEFAULT_INTERVAL_MS);
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
  const fetchImpl: FetchLike = options.fetch ?? ((url, init) => globalThis.fetch(url, init));
  const clock = options.clock ?? defaultClock();
  const random = options.random ?? Math.random;
  const url = `${options.baseUrl.replace(/\/+$/, "")}/chats/${encodeURIComponent(options.chatId)}/heartbeat`;
  const tokenProvider: TokenProvider = options.getToken ?? ((): string => options.token as string);

  let lastResponse: HeartbeatResponse | undefined;
  let stopReason: StopReason | undefined;
  const lifetime = new AbortController();

  /** Ends the loop; the first reason wins. */
  function halt(reason: StopReason): void {
    if (stopReason !== undefined) return;
    stopReason = reason;
    lifetime.abort();
  }
  const onCallerAbort = (): void => halt("aborted");
  options.signal?.addEventListener("abort", onCallerAbort, { once: true });
  if (options.signal?.aborted) halt("aborted");

  function report(error: HeartbeatError): void {
    try {
      options.onError?.(error);
    } catch {
      // An error handler that throws has nowhere left to report to; keep the loop alive.
    }
  }

  /** Resolves after `delayMs`, or as soon as the loop is halted. */
  function sleep(delayMs: number): Promise<void> {
    return new Promise((resolve) => {
      if (lifetime.signal.aborted) return resolve();
      const wake = (): void => {
        clock.clearTimeout(timer);
        lifetime.signal.removeEventListener("abort", wake);
        resolve();
      };
      const timer = clock.setTimeout(wake, delayMs);
      lifetime.signal.addEventListener("abort", wake, { once: true });
    });
  }

  /** `promise`, or ABORTED as soon as the loop is halted (a token provider cannot be cancelled). */
  function untilHalted<T>(promise: Promise<T>): Promise<T | typeof ABORTED> {
    if (lifetime.signal.aborted) return Promise.resolve(ABORTED);
    return new Promise((resolve, reject) => {
      const onAbort = (): void => resolve(ABORTED);
      lifetime.signal.addEventListener("abort", onAbort, { once: true });
      promise.then(resolve, reject).finally(() => {
        lifetime.signal.removeEventListener("abort", onAbort);
      });
    });
  }

  async function send(token: string): Promise<Attempt> {
    const request = new AbortController();
    const cancel = (): void => request.abort(lifetime.signal.reason);
    lifetime.signal.addEventListener("abort", cancel, { once: true });
    let timedOut = false;
    const timeout = clock.setTimeout(() => {
      timedOut = true;
      request.abort();
    }, requestTimeoutMs);
    try {
      const response = await fetchImpl(url, {
        method: "POST",
        headers: {
          authorization: `Bearer ${token}`,
          "content-type": "application/json",
          accept: "application/json",
        },
        body: "{}",
        signal: request.signal,
      });
      // The body is read under the same signal: a stalled body is a stalled request.
      const text = await response.text();
      if (response.status === 200) {
        try {
          return { kind: "success", response: parseHeartbeatResponse(text) };
        } catch (error) {
          const message = `malformed heartbeat response: ${(error as Error).message}`;
          return {
            kind: "retryable",
            failure: { kind: "malformed_response", message, status: 200, cause: error },
          };
        }
      }
      const failure = describeHttpError(response.status, response.headers, text, clock.now());
      return classifyStatus(response.status, failure);
    } catch (error) {
      if (lifetime.signal.aborted) return { kind: "aborted" };
      if (timedOut) {
        const message = `no response within ${requestTimeoutMs} ms`;
        return { kind: "retryable", failure: { kind: "timeout", message, cause: error } };
      }
      const message = `request failed: ${(error as Error)?.message ?? String(error)}`;
      return { kind: "retryable", failure: { kind: "network", message, cause: error } };
    } finally {
      clock.clearTimeout(timeout);
      lifetime.signal.removeEventListener("abort", cancel);
    }
  }

  /** Set by a 401; cleared once the provider has handed out a token, not only after a success. */
  let refreshDue = false;

  async function attempt(): Promise<Attempt> {
    let token: string | typeof ABORTED;
    try {
      token = await untilHalted(Promise.resolve(tokenProvider({ forceRefresh: refreshDue })));
    } catch (error) {
      const message = `token provider failed: ${(error as Error)?.message ?? String(error)}`;
      return { kind: "retryable", failure: { kind: "token", message, cause: error } };
    }
    if (token === ABORTED) return { kind: "aborted" };
    if (typeof token !== "string" || token.trim() === "") {
      return {
        kind: "retryable",
        failure: { kind: "token", message: "token provider gave no token" },
      };
    }
    refreshDue = false;
    return send(token.trim());
  }

  async function run(): Promise<StopReason> {
    // null: send at once (first beat, retry after a token refresh). A backoff of 0 ms still goes
    // through the timer, so a failing fetch can never spin without yielding to the event loop.
    let delayMs: number | null = null;
    let failuresInARow = 0;
    let unauthorizedInARow = 0;
    while (!lifetime.signal.aborted) {
      if (delayMs !== null) await sleep(delayMs);
      if (lifetime.signal.aborted) break;
      const result = await attempt();
      if (result.kind === "aborted" || lifetime.signal.aborted) break;
      if (result.kind !== "unauthorized") unauthorizedInARow = 0;
      switch (result.kind) {
        case "success": {
          failuresInARow = 0;
          lastResponse = result.response;
          delayMs = jitteredInterval(intervalMs, random);
          try {
            options.onOutcome(result.response);
          } catch (error) {
            const failure: HeartbeatFailure = {
              kind: "callback",
              message: "onOutcome threw",
              cause: error,
            };
            report(new HeartbeatError(failure, options.once ? null : delayMs));
          }
          if (options.once) halt("completed");
          break;
        }
        case "unauthorized": {
          unauthorizedInARow += 1;
          // A fixed token cannot get better; a refreshed one gets exactly one more try.
          if (!hasProvider || unauthorizedInARow >= 2) {
            report(new HeartbeatError(result.failure, null));
            halt("unauthorized");
            break;
          }
          report(new HeartbeatError(result.failure, 0));
          refreshDue = true;
          delayMs = null;
          break;
        }
        case "fatal": {
          report(new HeartbeatError(result.failure, null));
          halt(result.reason);
          break;
        }
        case "retryable": {
          failuresInARow += 1;
          if (failuresInARow > maxRetries) {
            report(new HeartbeatError(result.failure, null));
            halt("unavailable");
            break;
          }
          const backoffMs = fullJitterBackoff(
            failuresInARow - 1,
            random,
            backoffBaseMs,
            backoffCapMs,
          );
          // Never sooner than the server asked, never longer than the cap (a bogus header must not
          // park the loop for days).
          const askedMs = Math.min(result.failure.retryAfterMs ?? 0, backoffCapMs);
          delayMs = Math.max(askedMs, backoffMs);
          report(new HeartbeatError(result.failure, delayMs));
          break;
        }
      }
    }
    options.signal?.removeEventListener("abort", onCallerAbort);
    return stopReason ?? "stopped";
  }

  const stopped = run().catch((error: unknown): StopReason => {
    // Only a broken injected dependency gets here; `stopped` must still settle, and never reject.
    const message = `heartbeat loop failed: ${(error as Error)?.message ?? String(error)}`;
    report(new HeartbeatError({ kind: "internal", message, cause: error }, null));
    halt("stopped");
    options.signal?.removeEventListener("abort", onCallerAbort);
    return stopReason ?? "stopped";
  });

  return {
    stop: async () => {
      halt("stopped");
      await stopped;
    },
    get lastOutcome() {
      return lastResponse?.outcome;
    },
    get lastDeadline() {
      return lastResponse?.deadline ? new Date(lastResponse.deadline) : null;
    },
    get lastResponse() {
      return lastResponse;
    },
    stopped,
  };
}
