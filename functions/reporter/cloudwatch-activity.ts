import type { CloudWatchClient, MetricDataQuery } from "@aws-sdk/client-cloudwatch";
import { METRIC, METRICS_NAMESPACE, SERVICE } from "../shared/observability.ts";
import { HEARTBEAT_OUTCOMES } from "../shared/outcomes.ts";
import type { Activity, ActivitySource } from "./domain/idle-check.ts";

/** What each queried metric counts towards. Ids double as GetMetricData query ids. */
const QUERIED: {
  id: string;
  service: string;
  metricName: string;
  counts: "heartbeats" | "incompleteRuns";
}[] = [
  ...HEARTBEAT_OUTCOMES.map((outcome) => ({
    id: METRIC.accepted(outcome),
    service: SERVICE.heartbeat,
    metricName: METRIC.accepted(outcome),
    counts: "heartbeats" as const,
  })),
  // After a 503 (budget spent) or 500 the statement may still have committed: counted, unreported.
  ...(["unavailable", "internal"] as const).map((code) => ({
    id: METRIC.rejected(code),
    service: SERVICE.heartbeat,
    metricName: METRIC.rejected(code),
    counts: "heartbeats" as const,
  })),
  {
    id: METRIC.reportIncomplete,
    service: SERVICE.reporter,
    metricName: METRIC.reportIncomplete,
    counts: "incompleteRuns" as const,
  },
];

/** Standard-resolution EMF metrics: one data point per minute and metric, summed here. */
const PERIOD_SECONDS = 60;

export interface CloudWatchActivityOptions {
  region: string;
  /** Lets the caller instrument the client (Powertools Tracer's `captureAWSv3Client`). */
  instrumentClient?: (client: CloudWatchClient) => CloudWatchClient;
}

/**
 * The idle check's one `GetMetricData` call. The metrics are named exactly, with the one dimension
 * set Powertools emits (`service`), rather than found with a SEARCH expression: SEARCH finds only
 * metrics that reported in the last two weeks, through the metric listing, which AWS documents to
 * lag a new metric by up to 15 minutes; an exact metric's data points are read as soon as they land.
 *
 * The SDK is loaded on the first check, not at cold start (cloudwatch-sdk.ts; the bundle keeps it
 * external: the Lambda runtime ships it).
 */
export function createCloudWatchActivitySource(options: CloudWatchActivityOptions): ActivitySource {
  let loaded: Promise<{ client: CloudWatchClient; sdk: typeof import("./cloudwatch-sdk.ts") }>;
  const load = async () => {
    const sdk = await import("./cloudwatch-sdk.ts");
    const client = new sdk.CloudWatchClient({
      region: options.region,
      // Bounded: when CloudWatch is slow the run falls back to the database instead of waiting.
      maxAttempts: 2,
      requestHandler: { connectionTimeout: 2_000, requestTimeout: 5_000 },
    });
    return { sdk, client: options.instrumentClient?.(client) ?? client };
  };

  return {
    async activityBetween(from, to) {
      loaded ??= load();
      const { sdk, client } = await loaded;
      const queries: MetricDataQuery[] = QUERIED.map((metric) => ({
        Id: metric.id,
        MetricStat: {
          Metric: {
            Namespace: METRICS_NAMESPACE,
            MetricName: metric.metricName,
            Dimensions: [{ Name: "service", Value: metric.service }],
          },
          Period: PERIOD_SECONDS,
          Stat: "Sum",
        },
        ReturnData: true,
      }));
      const response = await client.send(
        new sdk.GetMetricDataCommand({ StartTime: from, EndTime: to, MetricDataQueries: queries }),
      );
      const activity: Activity = { heartbeats: 0, incompleteRuns: 0, complete: true };
      const answered = new Set<string>();
      for (const result of response.MetricDataResults ?? []) {
        const metric = QUERIED.find((candidate) => candidate.id === result.Id);
        if (!metric) continue;
        answered.add(metric.id);
        if (result.StatusCode !== "Complete") activity.complete = false;
        const sum = (result.Values ?? []).reduce((total, value) => total + value, 0);
        activity[metric.counts] += sum;
      }
      // Another page, or a query with no result at all: the zeros seen so far prove nothing.
      if (response.NextToken || answered.size < QUERIED.length) activity.complete = false;
      return activity;
    },
  };
}
