import type { Logger } from "@aws-lambda-powertools/logger";
import { type Metrics, MetricUnit } from "@aws-lambda-powertools/metrics";
import { METRIC } from "../shared/observability.ts";
import { HEARTBEAT_OUTCOMES } from "../shared/outcomes.ts";
import type { Report } from "./domain/windows.ts";

/**
 * Per window: one EMF document (namespace ChatHeartbeat) stamped with the window's start, holding
 * one metric per outcome (zeros included, so dashboards see a continuous series), the accepted
 * total and the write ratio; and one structured log line.
 */
export function emitReport(
  report: Report,
  { logger, metrics }: { logger: Logger; metrics: Metrics },
) {
  for (const window of report.windows) {
    // CloudWatch drops EMF older than 14 days (Powertools warns): a backlog that old after a long
    // outage still reaches the log line and the returned report, not the metrics.
    metrics.setTimestamp(new Date(window.start));
    for (const outcome of HEARTBEAT_OUTCOMES) {
      metrics.addMetric(METRIC.reported(outcome), MetricUnit.Count, window.outcomes[outcome] ?? 0);
    }
    metrics.addMetric(METRIC.reportedAccepted, MetricUnit.Count, window.accepted);
    metrics.addMetric(METRIC.reportedWriteRatio, MetricUnit.NoUnit, window.writeRatio);
    metrics.publishStoredMetrics();
    logger.info("report window", { window });
  }
}
