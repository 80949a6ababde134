/** Public API of the chat-heartbeat client library (browser- and Node-safe; the CLI is separate). */
export { DEFAULT_BACKOFF_BASE_MS, DEFAULT_BACKOFF_CAP_MS, fullJitterBackoff } from "./backoff.ts";
export { HeartbeatError, type HeartbeatErrorKind, type HeartbeatFailure } from "./errors.ts";
export { startHeartbeat } from "./heartbeat.ts";
export { DEFAULT_REQUEST_TIMEOUT_MS } from "./options.ts";
export {
  DEFAULT_INTERVAL_MS,
  DEFAULT_MAX_INTERVAL_MS,
  DEFAULT_MIN_INTERVAL_MS,
  HINT_JITTER,
  hintedDelay,
  INTERVAL_JITTER,
  jitteredInterval,
} from "./pacing.ts";
export {
  type PaceHint,
  parseHeartbeatResponse,
  parsePollInterval,
  parseRetryAfter,
  readPaceHint,
} from "./response.ts";
export {
  type BeatSchedule,
  type Clock,
  type FetchLike,
  HEARTBEAT_OUTCOMES,
  type HeartbeatHandle,
  type HeartbeatOptions,
  type HeartbeatOutcome,
  type HeartbeatResponse,
  type StopReason,
  type TokenProvider,
} from "./types.ts";
