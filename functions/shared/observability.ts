import { Logger } from "@aws-lambda-powertools/logger";
import { Metrics } from "@aws-lambda-powertools/metrics";
import { Tracer } from "@aws-lambda-powertools/tracer";

export const METRICS_NAMESPACE = "ChatHeartbeat";

/**
 * Powertools Logger, Metrics and Tracer for one function. Service name and log level come from the
 * standard POWERTOOLS_* variables; the namespace is fixed by SPEC §5.
 */
export function createObservability(serviceName: string) {
  const logger = new Logger({ serviceName });
  // Metrics' own warnings (e.g. nothing to publish) go through the structured logger.
  const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName, logger });
  const tracer = new Tracer({ serviceName });
  return { logger, metrics, tracer };
}
