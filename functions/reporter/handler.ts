import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import { MetricUnit } from "@aws-lambda-powertools/metrics";
import { logMetrics } from "@aws-lambda-powertools/metrics/middleware";
import { parser } from "@aws-lambda-powertools/parser/middleware";
import { captureLambdaHandler } from "@aws-lambda-powertools/tracer/middleware";
import middy from "@middy/core";
import * as z from "zod/mini";
import { createDataApiDatabase } from "../shared/database/data-api.ts";
import { createObservability, METRIC, SERVICE } from "../shared/observability.ts";
import { createCloudWatchActivitySource } from "./cloudwatch-activity.ts";
import { loadReporterConfig } from "./config.ts";
import { checkIdle } from "./domain/idle-check.ts";
import { type ReportRun, reportCompleteWindows } from "./domain/report-complete-windows.ts";
import type { Report } from "./domain/windows.ts";
import { emitReport } from "./report-emitter.ts";
import { createReportStore } from "./report-store.ts";

const config = loadReporterConfig();
const { logger, metrics, tracer } = createObservability(SERVICE.reporter);
const database = createDataApiDatabase(config.database, {
  instrumentClient: (client) => tracer.captureAWSv3Client(client),
});
const store = createReportStore(database);
// Deployed stages only; the SDK itself loads on the first check, not here.
const activity =
  config.idleCheck &&
  createCloudWatchActivitySource({
    region: config.database.region,
    instrumentClient: (client) => tracer.captureAWSv3Client(client),
  });

/** An EventBridge schedule event, or `{}` from a direct invoke (`npm run report`); fields unused. */
const ReporterEvent = z.looseObject({});

/** True when CloudWatch shows nothing that could be unreported: the database is left asleep. */
async function skipIdleRun(): Promise<boolean> {
  if (!activity || !config.idleCheck) return false;
  const check = await checkIdle(
    activity,
    {
      ...config.idleCheck,
      windowSeconds: config.windowSeconds,
      settleSeconds: config.settleSeconds,
    },
    new Date(),
  );
  if (check.skip) {
    metrics.addMetric(METRIC.reportSkippedIdle, MetricUnit.Count, 1);
    logger.info("report run skipped: no heartbeat accepted in the lookback, database not called", {
      lookback: { from: check.from.toISOString(), to: check.to.toISOString() },
    });
    return true;
  }
  if (check.because === "no-answer") {
    metrics.addMetric(METRIC.reportIdleCheckFailed, MetricUnit.Count, 1);
    // Now, stamped now: left stored, it would ride in the first window's back-dated document.
    metrics.publishStoredMetrics();
    logger.warn("idle check unanswered: reporting from the database", {
      error: check.error as Error,
    });
  }
  return false;
}

async function report(): Promise<Report> {
  if (await skipIdleRun()) return { windows: [] };
  let run: ReportRun;
  try {
    run = await reportCompleteWindows(store, config);
  } catch (error) {
    // Tells the next run's idle check that windows are waiting, whatever the traffic since.
    metrics.addMetric(METRIC.reportIncomplete, MetricUnit.Count, 1);
    throw error;
  }
  // After the commit: a failure before this line means the windows were not reported, never twice.
  emitReport(run.report, { logger, metrics });
  // Only now: each window's document carries the window's timestamp; this one must carry the run's.
  if (!run.caughtUp) metrics.addMetric(METRIC.reportIncomplete, MetricUnit.Count, 1);
  logger.info("report run", {
    windows: run.report.windows.length,
    range: run.range,
    caughtUp: run.caughtUp,
    pruned: run.pruned,
  });
  return run.report;
}

export const handler = middy()
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(captureLambdaHandler(tracer))
  .use(logMetrics(metrics))
  .use(parser({ schema: ReporterEvent }))
  .handler(report);
