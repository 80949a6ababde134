/** Failed attempts: what went wrong (HeartbeatFailure) and what `onError` receives (HeartbeatError). */

export type HeartbeatErrorKind =
  /** The API answered with a non-2xx status. */
  | "http"
  /** fetch rejected (offline, DNS, connection reset, CORS…). */
  | "network"
  /** No response within `requestTimeoutMs`. */
  | "timeout"
  /** A 200 whose body is not the docs/api.md shape. */
  | "malformed_response"
  /** The token provider threw or returned an empty token. */
  | "token"
  /** `onOutcome` threw; the loop carries on. */
  | "callback"
  /** The loop itself failed (e.g. an injected clock threw); it has stopped. */
  | "internal";

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

/** One failed attempt, as reported to `onError`. */
export class HeartbeatError extends Error {
  override readonly name = "HeartbeatError";
  readonly kind: HeartbeatErrorKind;
  /** HTTP status, for kind `http`. */
  readonly status: number | undefined;
  /** The API's `error.code` (docs/api.md), when the body carried one. */
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
