import "../cli/sdk-node-warning.ts";
import { randomUUID } from "node:crypto";
import type { Context } from "aws-lambda";
import { loadReporterConfig } from "../../functions/reporter/config.ts";
import { commandLineOrExit } from "../cli/command-line.ts";
import { DATA_API_TARGET_HELP } from "../cli/data-api-target-help.ts";
import { resolveDataApiTarget } from "./data-api-locator.ts";
import {
  formatReportTable,
  nothingToReportNotice,
  REPORT_FORMATS,
  type ReportFormat,
} from "./report-format.ts";

/**
 * `npm run report`: runs the reporter handler once, as its schedule would, against the database
 * `npm start` uses (or DATABASE_URL, or AWS), and prints the report as one JSON document on stdout
 * (or, with `--format table`, a table). The function's own logs and EMF lines are kept off stdout
 * so it stays parseable.
 */
const USAGE_EXIT = 2;
const USAGE = `usage: npm run report [-- --format json|table]

Reports every complete window not reported yet (marking them reported), as the scheduled reporter
does; a window is complete once its end plus the settle delay has passed. When there is nothing to
report, says on stderr when the next window becomes reportable.

${DATA_API_TARGET_HELP}

  --format json   one JSON document {"windows": [...]} on stdout (default)
  --format table  one row per window, for reading
  -h, --help      show this help

Exit codes: 0 report printed (also when empty); 1 the run failed (nothing was marked reported);
${USAGE_EXIT} unknown flag or --format value.`;

const flags = commandLineOrExit(
  process.argv.slice(2),
  { format: { type: "string", default: "json" } },
  USAGE,
  USAGE_EXIT,
);
if (!(REPORT_FORMATS as readonly string[]).includes(flags.format)) {
  process.stderr.write(
    `error: --format must be json or table (got "${flags.format}")\n\n${USAGE}\n`,
  );
  process.exit(USAGE_EXIT);
}
const format = flags.format as ReportFormat;

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
  process.stdout.write(
    `${format === "table" ? formatReportTable(report) : JSON.stringify(report, null, 2)}\n`,
  );
  if (report.windows.length === 0) {
    // The same settings the handler just used (parsed from the same environment).
    const { windowSeconds, settleSeconds } = loadReporterConfig();
    process.stderr.write(
      `${nothingToReportNotice(Date.now() / 1000, windowSeconds, settleSeconds)}\n`,
    );
  }
} catch (error) {
  console.error(`Report failed on ${target.description}: ${(error as Error).message}`);
  process.exitCode = 1;
} finally {
  await target.close();
}
