/** Reading the API's answers (docs/api.md): the 200 body, error bodies, statuses and headers. */
import type { HeartbeatFailure } from "./errors.ts";
import {
  HEARTBEAT_OUTCOMES,
  type HeartbeatOutcome,
  type HeartbeatResponse,
  type StopReason,
} from "./types.ts";

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
  const { chatId, workspaceId, outcome, deadline, maxDeadline, lastUsedAt, nextHeartbeatSeconds } =
    body;
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
  const response: HeartbeatResponse = {
    chatId,
    workspaceId,
    outcome: outcome as HeartbeatOutcome,
    deadline: deadline as string | null,
    maxDeadline: maxDeadline as string | null,
    lastUsedAt: lastUsedAt as string | null,
  };
  // The pacing hint is advice, not part of the contract older servers honour: a missing or invalid
  // one is left out (the loop then falls back to X-Poll-Interval or its own interval), never an error.
  if (isHintSeconds(nextHeartbeatSeconds)) response.nextHeartbeatSeconds = nextHeartbeatSeconds;
  return response;
}

/** A usable pacing hint: a positive whole number of seconds (docs/heartbeat.md sends 15–300). */
function isHintSeconds(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value > 0;
}

/**
 * Seconds an `X-Poll-Interval` header asks for (a positive integer, GitHub's polling convention);
 * undefined when absent, zero or not a plain integer.
 */
export function parsePollInterval(value: string | null | undefined): number | undefined {
  const text = value?.trim();
  if (!text || !/^\d+$/.test(text)) return undefined;
  const seconds = Number(text);
  return isHintSeconds(seconds) ? seconds : undefined;
}

/** The server's pacing hint of one 200 answer, and where it was read. */
export interface PaceHint {
  seconds: number;
  source: "body" | "header";
}

/**
 * The hint of a 200: the body's `nextHeartbeatSeconds`, else the `X-Poll-Interval` header (the same
 * value, docs/api.md), else undefined (an older server: the loop keeps its own interval).
 */
export function readPaceHint(response: HeartbeatResponse, headers: Headers): PaceHint | undefined {
  if (response.nextHeartbeatSeconds !== undefined) {
    return { seconds: response.nextHeartbeatSeconds, source: "body" };
  }
  const seconds = parsePollInterval(headers.get("x-poll-interval"));
  return seconds === undefined ? undefined : { seconds, source: "header" };
}

/** What one attempt came to, before the loop decides what to do next. */
export type Attempt =
  | {
      kind: "success";
      response: HeartbeatResponse;
      hint: PaceHint | undefined;
      /** `clock.now()` just before the request went out: hinted delays count from here. */
      sentAt: number;
    }
  | { kind: "unauthorized"; failure: HeartbeatFailure }
  | { kind: "fatal"; reason: StopReason; failure: HeartbeatFailure }
  | { kind: "retryable"; failure: HeartbeatFailure }
  | { kind: "aborted" };

/** Reads docs/api.md's `{"error":{"code","message"},"requestId"}`, tolerating other bodies (a proxy's). */
export function describeHttpError(
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

/** Sorts a non-200 status into retry, refresh-and-retry, or stop. */
export function classifyStatus(status: number, failure: HeartbeatFailure): Attempt {
  if (status === 401) return { kind: "unauthorized", failure };
  if (status === 403) return { kind: "fatal", reason: "forbidden", failure };
  if (status === 404) return { kind: "fatal", reason: "not_found", failure };
  // Timeouts, throttling and server trouble pass; any other client error is a bug retrying repeats.
  if (status >= 500 || status === 408 || status === 429) return { kind: "retryable", failure };
  return { kind: "fatal", reason: "bad_request", failure };
}
