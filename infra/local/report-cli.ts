import { randomUUID } from "node:crypto";
import type { Context } from "aws-lambda";
import { resolveDataApiTarget } from "./data-api-locator.ts";

/**
 * `npm run report`: runs the reporter handler once, as its schedule would, against the database
 * `npm start` uses (or DATABASE_URL, or AWS), and prints the report as one JSON document on stdout.
 * The function's own logs and EMF lines are kept off stdout so it stays parseable.
 */
const target = await resolveDataApiTarget();
Object.assign(process.env, {
  AWS_REGION: target.config.region,
  DATA_API_ENDPOINT: target.config.endpoint ?? "",
  DB_CLUSTER_ARN: target.config.resourceArn,
  // As the reporter's role where the target says which (the running local stack).
  DB_SECRET_ARN: target.reporterSecretArn ?? target.config.secretArn,
  DB_NAME: target.config.database,
  POWERTOOLS_LOG_LEVEL: process.env.POWERTOOLS_LOG_LEVEL ?? "SILENT",
  POWERTOOLS_METRICS_DISABLED: "true",
  POWERTOOLS_TRACE_ENABLED: "false",
  // "Report now" means now: never skipped on CloudWatch's word, even with a deployed stage's env.
  REPORT_SKIP_IDLE: "false",
});
const { handler } = await import("../../functions/reporter/handler.ts");
const context = {
  functionName: "reporter",
  awsRequestId: randomUUID(),
  getRemainingTimeInMillis: () => 60_000,
} as unknown as Context;
try {
  const report = await handler({}, context);
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
} catch (error) {
  console.error(`Report failed on ${target.description}: ${(error as Error).message}`);
  process.exitCode = 1;
} finally {
  await target.close();
}
