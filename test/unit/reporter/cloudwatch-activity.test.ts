import {
  CloudWatchClient,
  CloudWatchServiceException,
  GetMetricDataCommand,
  type MetricDataResult,
} from "@aws-sdk/client-cloudwatch";
import { mockClient } from "aws-sdk-client-mock";
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { createCloudWatchActivitySource } from "../../../functions/reporter/cloudwatch-activity.ts";
import { checkIdle } from "../../../functions/reporter/domain/idle-check.ts";
import { HEARTBEAT_OUTCOMES } from "../../../functions/shared/outcomes.ts";

/** The idle check's GetMetricData call against a stubbed SDK client (aws-sdk-client-mock). */

const cloudWatch = mockClient(CloudWatchClient);
beforeEach(() => cloudWatch.reset());
afterAll(() => cloudWatch.restore());

const from = new Date("2026-11-25T08:49:30.000Z");
const to = new Date("2026-11-25T10:00:30.000Z");

const HEARTBEAT_IDS = [
  ...HEARTBEAT_OUTCOMES.map((outcome) => `heartbeat_${outcome}`),
  "rejected_unavailable",
  "rejected_internal",
];

/** One complete result per queried metric, with these values for the named ones. */
function results(values: Record<string, number[]> = {}): MetricDataResult[] {
  return [...HEARTBEAT_IDS, "report_incomplete"].map((id) => ({
    Id: id,
    Label: id,
    Timestamps: (values[id] ?? []).map((_, i) => new Date(from.getTime() + i * 60_000)),
    Values: values[id] ?? [],
    StatusCode: "Complete",
  }));
}

const source = () => createCloudWatchActivitySource({ region: "us-east-1" });

describe("the GetMetricData request", () => {
  it("is one call for the lookback, Sum per minute of each exact metric the functions emit", async () => {
    cloudWatch.on(GetMetricDataCommand).resolves({ MetricDataResults: results() });
    await source().activityBetween(from, to);
    const calls = cloudWatch.commandCalls(GetMetricDataCommand);
    expect(calls).toHaveLength(1);
    const input = calls[0]?.args[0].input;
    expect(input?.StartTime).toEqual(from);
    expect(input?.EndTime).toEqual(to);
    expect(input?.NextToken).toBeUndefined();
    const queries = input?.MetricDataQueries ?? [];
    expect(queries.map((query) => query.Id)).toEqual([...HEARTBEAT_IDS, "report_incomplete"]);
    for (const query of queries) {
      expect(query.ReturnData).toBe(true);
      expect(query.Expression).toBeUndefined();
      expect(query.MetricStat).toEqual({
        Metric: {
          Namespace: "ChatHeartbeat",
          MetricName: query.Id,
          Dimensions: [
            {
              Name: "service",
              Value: query.Id === "report_incomplete" ? "reporter" : "heartbeat",
            },
          ],
        },
        Period: 60,
        Stat: "Sum",
      });
    }
  });

  it("reuses one client across runs of a warm container", async () => {
    cloudWatch.on(GetMetricDataCommand).resolves({ MetricDataResults: results() });
    const activity = source();
    await activity.activityBetween(from, to);
    await activity.activityBetween(from, to);
    const clients = new Set(cloudWatch.send.thisValues);
    expect(cloudWatch.send.callCount).toBe(2);
    expect(clients.size).toBe(1);
  });
});

describe("the answer", () => {
  it("sums every data point of the heartbeat metrics, and the reporter's own separately", async () => {
    cloudWatch.on(GetMetricDataCommand).resolves({
      MetricDataResults: results({
        heartbeat_not_due: [3, 0, 5],
        heartbeat_bumped: [1],
        rejected_unavailable: [2],
        report_incomplete: [1],
      }),
    });
    expect(await source().activityBetween(from, to)).toEqual({
      heartbeats: 11,
      incompleteRuns: 1,
      complete: true,
    });
  });

  it("is all zeros and complete when nothing happened", async () => {
    cloudWatch.on(GetMetricDataCommand).resolves({ MetricDataResults: results() });
    expect(await source().activityBetween(from, to)).toEqual({
      heartbeats: 0,
      incompleteRuns: 0,
      complete: true,
    });
  });

  it("is incomplete on PartialData, another page, or a metric left unanswered", async () => {
    const partial = results().map((result, i) =>
      i === 0 ? { ...result, StatusCode: "PartialData" as const } : result,
    );
    const answers = [
      { MetricDataResults: partial },
      { MetricDataResults: results(), NextToken: "more" },
      { MetricDataResults: results().slice(1) },
      {},
    ];
    for (const answer of answers) {
      cloudWatch.reset();
      cloudWatch.on(GetMetricDataCommand).resolves(answer);
      expect((await source().activityBetween(from, to)).complete, JSON.stringify(answer)).toBe(
        false,
      );
    }
  });

  it("is not skipped on when CloudWatch throttles or refuses: the error reaches checkIdle", async () => {
    const settings = {
      schedulePeriodSeconds: 3600,
      windowSeconds: 300,
      settleSeconds: 60,
      marginSeconds: 300,
    };
    for (const name of ["Throttling", "AccessDenied", "InternalServiceFault"]) {
      cloudWatch.reset();
      const error = new CloudWatchServiceException({
        name,
        $fault: name === "InternalServiceFault" ? "server" : "client",
        $metadata: {},
        message: name,
      });
      cloudWatch.on(GetMetricDataCommand).rejects(error);
      const check = await checkIdle(source(), settings, to);
      expect(check).toMatchObject({ skip: false, because: "no-answer", error: { name } });
    }
  });
});
