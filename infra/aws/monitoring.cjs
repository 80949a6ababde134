"use strict";

/**
 * The CloudWatch dashboard's body and the reporter alarms' period, for infra/aws/monitoring.yml.
 * CommonJS, because the Serverless Framework `require`s variable-resolver files (as cors.cjs).
 *
 * The metric names below are the ones the functions emit (functions/shared/observability.ts: EMF
 * through Powertools Metrics, namespace ChatHeartbeat, one dimension `service`). This file cannot
 * import the TypeScript constants, so it lists them; test/deploy/packaged-template.test.ts derives
 * the emitted names from those constants and fails when a name here is not emitted, or when an
 * outcome or error code is missing from the dashboard.
 */

const NAMESPACE = "ChatHeartbeat";
/** functions/shared/outcomes.ts HEARTBEAT_OUTCOMES. */
const OUTCOMES = [
  "chat_archived",
  "no_workspace",
  "chat_idle",
  "dormant",
  "not_running",
  "bump_disabled",
  "no_autostop",
  "not_due",
  "at_max_deadline",
  "bumped",
];
/** functions/shared/http/error-contract.ts ERROR_CODES. */
const ERROR_CODES = [
  "invalid_request",
  "invalid_token",
  "insufficient_scope",
  "not_found",
  "payload_too_large",
  "unavailable",
  "internal",
];
/** Dashboard graphs sum per 5 minutes; percentiles and ratios use the same period. */
const PERIOD_SECONDS = 300;

const RATE = /^rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)$/;
const UNIT_SECONDS = { minute: 60, hour: 3600, day: 86_400 };

/**
 * Seconds between two runs of an EventBridge `rate(...)` schedule: the period of the reporter
 * alarms. Throws for anything else (a cron schedule has no fixed period to alarm on).
 * @param {unknown} schedule
 * @returns {number}
 */
function scheduleSeconds(schedule) {
  const match = typeof schedule === "string" ? RATE.exec(schedule.trim()) : null;
  const amount = match ? Number(match[1]) : 0;
  if (!match || amount <= 0) {
    throw new Error(
      `reporterSchedule must be a rate(...) expression for the reporter alarms (got ${JSON.stringify(schedule)})`,
    );
  }
  return amount * UNIT_SECONDS[/** @type {"minute"|"hour"|"day"} */ (match[2].replace(/s$/, ""))];
}

/** @param {{ resolveVariable: (address: string) => Promise<unknown> }} serverless */
async function reporterPeriodSeconds({ resolveVariable }) {
  return scheduleSeconds(await resolveVariable("param:reporterSchedule"));
}

// Placeholders for CloudFormation references inside the JSON text; replaced by Fn::Join parts.
const REF = {
  region: "@@AWS::Region@@",
  api: "@@HttpApi@@",
  heartbeat: "@@HeartbeatLambdaFunction@@",
  reporter: "@@ReporterLambdaFunction@@",
};

/** One metric line of a graph widget: [namespace, name, dim, value, ..., { options }]. */
const own = (service, name, options = {}) => [NAMESPACE, name, "service", service, options];
const lambda = (fn, name, options = {}) => ["AWS/Lambda", name, "FunctionName", fn, options];
const api = (name, options = {}) => ["AWS/ApiGateway", name, "ApiId", REF.api, options];

function graph(title, metrics, properties = {}) {
  return {
    type: "metric",
    width: 12,
    height: 6,
    properties: {
      title,
      region: REF.region,
      view: "timeSeries",
      period: PERIOD_SECONDS,
      stat: "Sum",
      metrics,
      ...properties,
    },
  };
}

/**
 * The dashboard's widgets (JSON-ready, with placeholders for the stack's references).
 * @param {number} windowSeconds the reporter's window length (the write ratio's natural period)
 */
function dashboardWidgets(windowSeconds) {
  return [
    graph(
      "Heartbeats by outcome (accepted, per 5 min)",
      OUTCOMES.map((outcome) => own("heartbeat", `heartbeat_${outcome}`)),
      { stacked: true },
    ),
    graph(
      "Reported write ratio (bumped / accepted, per report window)",
      [
        own("reporter", "reported_write_ratio", { stat: "Average", label: "write ratio" }),
        own("reporter", "reported_accepted", { yAxis: "right", label: "accepted (reported)" }),
      ],
      { period: windowSeconds },
    ),
    graph(
      "Rejections by error code (per 5 min)",
      ERROR_CODES.map((code) => own("heartbeat", `rejected_${code}`)),
      { stacked: true },
    ),
    graph("HTTP API: requests, 4xx and 5xx (per 5 min)", [
      api("Count", { label: "requests" }),
      api("4xx"),
      api("5xx"),
    ]),
    graph("Heartbeat duration p50 / p99 (ms)", [
      lambda(REF.heartbeat, "Duration", { stat: "p50", label: "Lambda p50" }),
      lambda(REF.heartbeat, "Duration", { stat: "p99", label: "Lambda p99" }),
      api("Latency", { stat: "p50", label: "API p50" }),
      api("Latency", { stat: "p99", label: "API p99" }),
    ]),
    graph("Throttles (Lambda; API Gateway's 429s are in 4xx)", [
      lambda(REF.heartbeat, "Throttles", { label: "heartbeat" }),
      lambda(REF.reporter, "Throttles", { label: "reporter" }),
      own("heartbeat", "rejected_unavailable", { label: "503 unavailable (database)" }),
    ]),
    graph(
      "Reporter runs and errors",
      [
        lambda(REF.reporter, "Invocations", { label: "runs" }),
        lambda(REF.reporter, "Errors", { label: "failed runs" }),
        own("reporter", "report_incomplete", { label: "incomplete (behind or failed)" }),
        own("reporter", "report_skipped_idle", { label: "skipped: idle" }),
        own("reporter", "report_idle_check_failed", { label: "idle check unanswered" }),
      ],
      { period: 3600 },
    ),
  ];
}

/**
 * `DashboardBody`: the widgets as JSON text, with the stack's references joined in.
 * @param {{ resolveVariable: (address: string) => Promise<unknown> }} serverless
 */
async function dashboardBody({ resolveVariable }) {
  const windowSeconds = Number(await resolveVariable("param:reportWindowSeconds"));
  return joinReferences(JSON.stringify({ widgets: dashboardWidgets(windowSeconds || 300) }));
}

/** `"…@@HttpApi@@…"` → `{ "Fn::Join": ["", ["…", { Ref: "HttpApi" }, "…"]] }`. */
function joinReferences(text) {
  const parts = text.split(/@@([\w:]+)@@/).map((part, index) => (index % 2 ? { Ref: part } : part));
  return { "Fn::Join": ["", parts.filter((part) => part !== "")] };
}

module.exports = {
  NAMESPACE,
  OUTCOMES,
  ERROR_CODES,
  scheduleSeconds,
  reporterPeriodSeconds,
  dashboardWidgets,
  dashboardBody,
};
