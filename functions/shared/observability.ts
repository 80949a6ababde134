import { Logger } from "@aws-lambda-powertools/logger";
import { Metrics } from "@aws-lambda-powertools/metrics";
import { Tracer } from "@aws-lambda-powertools/tracer";
import type { ErrorCode } from "./http/error-contract.ts";
import type { HeartbeatOutcome } from "./outcomes.ts";

export const METRICS_NAMESPACE = "ChatHeartbeat";

/** Each function's service name: Powertools puts it on every metric as the `service` dimension. */
export const SERVICE = { heartbeat: "heartbeat", reporter: "reporter" } as const;

/**
 * Metric names, defined once because the reporter's idle check queries what the other side emits:
 * a renamed metric there would silently make every deployment look idle.
 */
export const METRIC = {
  accepted: (outcome: HeartbeatOutcome) => `heartbeat_${outcome}`,
  rejected: (code: ErrorCode) => `rejected_${code}`,
  /** The reporter's per-window counts (stamped with the window's start), total and write ratio. */
  reported: (outcome: HeartbeatOutcome) => `reported_${outcome}`,
  reportedAccepted: "reported_accepted",
  reportedWriteRatio: "reported_write_ratio",
  reportIncomplete: "report_incomplete",
  reportSkippedIdle: "report_skipped_idle",
  reportIdleCheckFailed: "report_idle_check_failed",
} as const;

/**
 * Powertools Logger, Metrics and Tracer for one function. The service name is the function's own
 * (SERVICE, passed in: it overrides POWERTOOLS_SERVICE_NAME) and the namespace is fixed by docs/reporter.md;
 * the rest (log level, metrics and tracing switches) comes from the standard POWERTOOLS_* variables.
 */
export function createObservability(serviceName: (typeof SERVICE)[keyof typeof SERVICE]) {
  const logger = new Logger({ serviceName });
  // Metrics' own warnings (e.g. nothing to publish) go through the structured logger.
  const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName, logger });
  const tracer = new Tracer({ serviceName });
  return { logger, metrics, tracer };
}
