import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import { logMetrics } from "@aws-lambda-powertools/metrics/middleware";
import { parser } from "@aws-lambda-powertools/parser/middleware";
import { captureLambdaHandler } from "@aws-lambda-powertools/tracer/middleware";
import middy from "@middy/core";
import * as z from "zod/mini";
import { loadReporterConfig } from "../shared/config.ts";
import { createDataApiDatabase } from "../shared/database/data-api.ts";
import { createObservability } from "../shared/observability.ts";
import { reportCompleteWindows } from "./domain/report-complete-windows.ts";
import type { Report } from "./domain/windows.ts";
import { emitReport } from "./report-emitter.ts";
import { createReportStore } from "./report-store.ts";

const config = loadReporterConfig();
const { logger, metrics, tracer } = createObservability("reporter");
const database = createDataApiDatabase(config.database, {
  instrumentClient: (client) => tracer.captureAWSv3Client(client),
});
const store = createReportStore(database);

/** An EventBridge schedule event, or `{}` from a direct invoke (`npm run report`); fields unused. */
const ReporterEvent = z.looseObject({});

async function report(): Promise<Report> {
  const run = await reportCompleteWindows(store, config);
  // After the commit: a failure before this line means the windows were not reported, never twice.
  emitReport(run.report, { logger, metrics });
  logger.info("report run", {
    windows: run.report.windows.length,
    range: run.range,
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
