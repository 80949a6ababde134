import {
  type CloudWatchClient,
  GetMetricDataCommand,
  type GetMetricDataCommandInput,
  type GetMetricDataCommandOutput,
  type MetricDataResult,
} from "@aws-sdk/client-cloudwatch";
import type { AwsClientStub } from "aws-sdk-client-mock";
import { vi } from "vitest";

/** One data point as CloudWatch would store it from an EMF document. */
export interface MetricPoint {
  namespace: string;
  name: string;
  dimensions: Record<string, string>;
  timestamp: number;
  value: number;
}

/** The data points of the EMF documents among these stdout lines (one per metric and dimension set). */
export function emfPoints(lines: string[]): MetricPoint[] {
  const points: MetricPoint[] = [];
  for (const line of lines) {
    if (!line.includes('"_aws"')) continue;
    const doc = JSON.parse(line) as Record<string, unknown> & {
      _aws: {
        Timestamp: number;
        CloudWatchMetrics: {
          Namespace: string;
          Dimensions: string[][];
          Metrics: { Name: string }[];
        }[];
      };
    };
    for (const directive of doc._aws.CloudWatchMetrics) {
      for (const dimensionSet of directive.Dimensions) {
        const dimensions = Object.fromEntries(
          dimensionSet.map((name) => [name, String(doc[name])]),
        );
        for (const metric of directive.Metrics) {
          const raw = doc[metric.Name];
          const value = Array.isArray(raw) ? raw.reduce((a: number, b: number) => a + b, 0) : raw;
          points.push({
            namespace: directive.Namespace,
            name: metric.Name,
            dimensions,
            timestamp: doc._aws.Timestamp,
            value: Number(value),
          });
        }
      }
    }
  }
  return points;
}

/**
 * Runs `work` with stdout and stderr captured (Powertools writes EMF and info logs to stdout,
 * warnings and errors to stderr); returns their lines.
 */
export async function captureOutput<T>(
  work: () => Promise<T>,
): Promise<{ lines: string[]; result?: T; error?: unknown }> {
  const chunks: string[] = [];
  const capture = (chunk: unknown) => {
    chunks.push(String(chunk));
    return true;
  };
  const stdout = vi.spyOn(process.stdout, "write").mockImplementation(capture);
  const stderr = vi.spyOn(process.stderr, "write").mockImplementation(capture);
  const lines = () => chunks.join("").split("\n").filter(Boolean);
  try {
    const result = await work();
    return { lines: lines(), result };
  } catch (error) {
    return { lines: lines(), error };
  } finally {
    stdout.mockRestore();
    stderr.mockRestore();
  }
}

/**
 * A stubbed CloudWatch (aws-sdk-client-mock) that answers GetMetricData from the EMF the functions
 * really printed: a metric matches only on namespace, name and its exact dimension set, as in
 * CloudWatch, so a query that asks for the wrong metric finds nothing.
 */
export function emfBackedCloudWatch(stub: AwsClientStub<CloudWatchClient>) {
  let points: MetricPoint[] = [];
  const failures: Error[] = [];
  const answer = async (
    input: GetMetricDataCommandInput,
  ): Promise<Partial<GetMetricDataCommandOutput>> => {
    const failure = failures.shift();
    if (failure) throw failure;
    // GetMetricData rounds a recent StartTime down to the minute.
    const start = Math.floor((input.StartTime?.getTime() ?? 0) / 60_000) * 60_000;
    const end = input.EndTime?.getTime() ?? 0;
    const results: MetricDataResult[] = (input.MetricDataQueries ?? []).map((query) => {
      const wanted = query.MetricStat?.Metric;
      const dims = Object.fromEntries(
        (wanted?.Dimensions ?? []).map((dimension) => [dimension.Name, dimension.Value]),
      );
      const matching = points.filter(
        (point) =>
          point.namespace === wanted?.Namespace &&
          point.name === wanted?.MetricName &&
          JSON.stringify(Object.entries(point.dimensions).sort()) ===
            JSON.stringify(Object.entries(dims).sort()) &&
          point.timestamp >= start &&
          point.timestamp < end,
      );
      return {
        Id: query.Id,
        Timestamps: matching.map((point) => new Date(point.timestamp)),
        Values: matching.map((point) => point.value),
        StatusCode: "Complete",
      };
    });
    return { MetricDataResults: results, Messages: [] };
  };
  stub.on(GetMetricDataCommand).callsFake(answer);
  return {
    /** Makes what these stdout lines published visible to later queries. */
    publish(lines: string[]) {
      points.push(...emfPoints(lines));
    },
    /** Time passes for CloudWatch: every data point so far moves this much into the past. */
    age(seconds: number) {
      points = points.map((point) => ({ ...point, timestamp: point.timestamp - seconds * 1000 }));
    },
    /** The next GetMetricData call fails with this error. */
    failNext(error: Error) {
      failures.push(error);
    },
    points: () => [...points],
    calls: () => stub.commandCalls(GetMetricDataCommand).length,
  };
}
