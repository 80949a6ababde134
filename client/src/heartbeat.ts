/**
 * A well-behaved heartbeat loop for `POST /chats/{chatId}/heartbeat` (docs/api.md).
 *
 * Dependency-free and free of Node-only APIs: it runs in Node ≥ 20 and in browsers on the global
 * `fetch`, `AbortController` and timers (all injectable for tests).
 */
import { retryDelay } from "./backoff.ts";
import { HeartbeatError, type HeartbeatFailure } from "./errors.ts";
import { resolveOptions } from "./options.ts";
import { nextPace } from "./pacing.ts";
import {
  type Attempt,
  classifyStatus,
  describeHttpError,
  parseHeartbeatResponse,
  readPaceHint,
} from "./response.ts";
import type {
  BeatSchedule,
  HeartbeatHandle,
  HeartbeatOptions,
  HeartbeatResponse,
  StopReason,
} from "./types.ts";

const ABORTED = Symbol("aborted");

/**
 * Starts heartbeating: the first beat at once, then each beat when the server's pacing hint says
 * (bounded by `minIntervalMs`/`maxIntervalMs`, jittered only downwards), or one per jittered
 * `intervalMs` when the server sends none; never two requests in flight. See
 * {@link HeartbeatOptions} and {@link StopReason}.
 */
export function startHeartbeat(options: HeartbeatOptions): HeartbeatHandle {
  const {
    url,
    hasProvider,
    tokenProvider,
    intervalMs,
    minIntervalMs,
    maxIntervalMs,
    requestTimeoutMs,
    backoffBaseMs,
    backoffCapMs,
    maxRetries,
    fetch: fetchImpl,
    clock,
    random,
  } = resolveOptions(options);

  let lastResponse: HeartbeatResponse | undefined;
  /** `clock.now()` at which the pending sleep ends; null while no sleep is pending. */
  let nextBeatAtMs: number | null = null;
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
    const sentAt = clock.now();
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
          const body = parseHeartbeatResponse(text);
          return {
            kind: "success",
            response: body,
            hint: readPaceHint(body, response.headers),
            sentAt,
          };
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
    /** Sets the wait before the next attempt (null: at once) and what `nextBeatAt` shows. */
    const waitFor = (ms: number | null): void => {
      delayMs = ms;
      nextBeatAtMs = ms === null ? null : clock.now() + ms;
    };
    while (!lifetime.signal.aborted) {
      if (delayMs !== null) await sleep(delayMs);
      nextBeatAtMs = null;
      if (lifetime.signal.aborted) break;
      const result = await attempt();
      if (result.kind === "aborted" || lifetime.signal.aborted) break;
      if (result.kind !== "unauthorized") unauthorizedInARow = 0;
      switch (result.kind) {
        case "success": {
          failuresInARow = 0;
          lastResponse = result.response;
          const pace = nextPace(result.hint, { intervalMs, minIntervalMs, maxIntervalMs, random });
          // A hint counts from the server's "now", which lies between sending and receiving: count
          // it from the send, so a slow answer cannot make the next beat late. A request slower
          // than the whole delay is followed at once (through the timer, like a 0 ms backoff). The
          // fixed interval of older servers keeps counting from the answer, as it always has.
          const dueAt = (pace.source === "interval" ? clock.now() : result.sentAt) + pace.delayMs;
          waitFor(options.once ? null : Math.max(0, dueAt - clock.now()));
          const schedule: BeatSchedule = {
            nextBeatAt: nextBeatAtMs === null ? null : new Date(nextBeatAtMs),
            delayMs,
            source: pace.source,
            hintSeconds: pace.hintSeconds,
          };
          try {
            options.onOutcome(result.response, schedule);
          } catch (error) {
            const failure: HeartbeatFailure = {
              kind: "callback",
              message: "onOutcome threw",
              cause: error,
            };
            report(new HeartbeatError(failure, delayMs));
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
          waitFor(null);
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
          // Retry-After and the backoff alone decide this wait: a hint only ever comes with a 200,
          // so it can never shorten the wait a 503/429 asked for.
          waitFor(
            retryDelay(
              failuresInARow - 1,
              result.failure.retryAfterMs,
              random,
              backoffBaseMs,
              backoffCapMs,
            ),
          );
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
    get nextBeatAt() {
      return stopReason !== undefined || nextBeatAtMs === null ? null : new Date(nextBeatAtMs);
    },
    stopped,
  };
}
