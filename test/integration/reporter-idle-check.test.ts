import { CloudWatchClient, CloudWatchServiceException } from "@aws-sdk/client-cloudwatch";
import type { Context } from "aws-lambda";
import { mockClient } from "aws-sdk-client-mock";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import type { Report } from "../../functions/reporter/domain/windows.ts";
import { localDataApiEnvironment } from "../../tools/local/data-api-locator.ts";
import { signLocalChatToken } from "../../tools/local/token-cli.ts";
import { lambdaContext } from "../support/api-gateway-event.ts";
import { captureOutput, emfBackedCloudWatch, emfPoints } from "../support/emf-cloudwatch.ts";
import { seedRunningWorkspace } from "../support/fixtures.ts";
import {
  type HeartbeatStack,
  startHeartbeatStack,
  TEST_TOKEN_SECRET,
} from "../support/heartbeat-stack.ts";

/**
 * The reporter's idle check on a deployed stage, through the real handlers: the heartbeat function
 * prints its EMF, a stubbed CloudWatch (aws-sdk-client-mock) answers GetMetricData from exactly
 * those data points, and the reporter reads the database through the SDK → local Data API endpoint
 * → PostgreSQL only when the answer is not "idle". `cloudWatch.age(3600)` is "an hour later" for
 * CloudWatch; the database clock runs in real time, windows are 2 s long.
 */

const WINDOW = 2;
let stack: HeartbeatStack;
const stub = mockClient(CloudWatchClient);
let cloudWatch: ReturnType<typeof emfBackedCloudWatch>;

type ReporterHandler = (event: unknown, context: Context) => Promise<Report>;

/** A fresh reporter container as deployed: idle check on, hourly schedule. */
async function reporter(env: Record<string, string> = {}): Promise<ReporterHandler> {
  Object.assign(process.env, {
    ...localDataApiEnvironment(stack.dataApi, stack.db.name, "reporter"),
    REPORT_WINDOW_SECONDS: String(WINDOW),
    REPORT_SETTLE_SECONDS: "0",
    REPORT_MAX_WINDOWS_PER_RUN: "100000",
    REPORT_SKIP_IDLE: "true",
    REPORT_SCHEDULE: "rate(60 minutes)",
    POWERTOOLS_LOG_LEVEL: "INFO",
    POWERTOOLS_METRICS_DISABLED: "false",
    POWERTOOLS_DEV: "false",
    POWERTOOLS_TRACE_ENABLED: "false",
    ...env,
  });
  vi.resetModules();
  const module = await import("../../functions/reporter/handler.ts");
  return module.handler as unknown as ReporterHandler;
}

const dataApiCalls = () =>
  Object.values(stack.dataApi.stats()).reduce((total, count) => total + count, 0);

/** One scheduled run: what it returned or threw, its log lines, and its metrics published. */
async function run(handler: ReporterHandler) {
  stack.dataApi.resetStats();
  const out = await captureOutput(() => handler({}, lambdaContext("reporter")));
  cloudWatch.publish(out.lines);
  const logs = out.lines
    .filter((line) => !line.includes('"_aws"'))
    .map((line) => JSON.parse(line) as { level: string; message: string });
  return { ...out, logs, metrics: emfPoints(out.lines), dataApiCalls: dataApiCalls() };
}

/** A heartbeat through the real handler; its EMF reaches the stubbed CloudWatch. */
async function beat(seeded: { chatId: string; ownerId: string }) {
  const token = await signLocalChatToken({ sub: seeded.ownerId, secret: TEST_TOKEN_SECRET });
  const out = await captureOutput(() => stack.send({ chatId: seeded.chatId, token }));
  expect(out.result?.status).toBe(200);
  cloudWatch.publish(out.lines);
  return (out.result?.body as { outcome?: string } | undefined)?.outcome;
}

async function dbEpoch(): Promise<number> {
  const { rows } = await stack.db.pool.query<{ e: number }>(
    "SELECT extract(epoch FROM now())::float8 AS e",
  );
  return rows[0]?.e ?? Number.NaN;
}

async function nextFreshWindow(): Promise<number> {
  const start = Math.floor((await dbEpoch()) / WINDOW) * WINDOW + WINDOW;
  for (;;) {
    const now = await dbEpoch();
    if (now >= start) return start;
    await new Promise((resolve) => setTimeout(resolve, Math.max(10, (start - now) * 1000)));
  }
}

/** Counts left unreported by earlier runs: one `not_due` in each of these windows, watermark before. */
async function unreportedCounts(starts: number[]) {
  for (const start of starts) {
    await stack.db.pool.query(
      "INSERT INTO chat_heartbeat.outcome_counts VALUES (to_timestamp($1::bigint), 'not_due', 0, 1)",
      [start],
    );
  }
  await stack.db.pool.query(
    "UPDATE chat_heartbeat.report_watermark SET reported_until = to_timestamp($1::bigint)",
    [Math.min(...starts)],
  );
}

async function watermark(): Promise<number | null> {
  const { rows } = await stack.db.pool.query<{ at: number | null }>(
    "SELECT extract(epoch FROM reported_until)::float8 AS at FROM chat_heartbeat.report_watermark",
  );
  return rows[0]?.at ?? null;
}

const iso = (epoch: number) => new Date(epoch * 1000).toISOString();

const throttled = () =>
  new CloudWatchServiceException({
    name: "Throttling",
    $fault: "client",
    $metadata: { httpStatusCode: 400 },
    message: "Rate exceeded",
  });

beforeAll(async () => {
  stack = await startHeartbeatStack({
    REPORT_WINDOW_SECONDS: String(WINDOW),
    POWERTOOLS_METRICS_DISABLED: "false",
    POWERTOOLS_DEV: "false",
  });
});
afterAll(async () => {
  stub.restore();
  await stack?.stop();
});
beforeEach(async () => {
  stub.reset();
  cloudWatch = emfBackedCloudWatch(stub);
  stack.dataApi.faults.clear();
  await stack.db.pool.query("DELETE FROM chat_heartbeat.outcome_counts");
  await stack.db.pool.query("UPDATE chat_heartbeat.report_watermark SET reported_until = NULL");
});

describe("an idle deployment", () => {
  it("without the check, every hourly run opens a transaction: 96 Data API calls a day", async () => {
    const handler = await reporter({ REPORT_SKIP_IDLE: "false" });
    const perRun: number[] = [];
    for (let hour = 0; hour < 24; hour++) perRun.push((await run(handler)).dataApiCalls);
    // Begin, lock the watermark, commit, one prune batch: each run wakes a paused cluster.
    expect(perRun).toEqual(Array(24).fill(4));
    expect(cloudWatch.calls()).toBe(0);
  });

  it("asks CloudWatch once, never calls the Data API, logs one line and counts the skip", async () => {
    const handler = await reporter();
    const skipped = await run(handler);
    expect(skipped.result).toEqual({ windows: [] });
    expect(skipped.dataApiCalls).toBe(0);
    expect(cloudWatch.calls()).toBe(1);
    expect(skipped.logs).toHaveLength(1);
    expect(skipped.logs[0]).toMatchObject({
      level: "INFO",
      message: "report run skipped: no heartbeat accepted in the lookback, database not called",
      lookback: { from: expect.any(String), to: expect.any(String) },
    });
    const { from, to } = (skipped.logs[0] as unknown as { lookback: { from: string; to: string } })
      .lookback;
    expect(Date.parse(to) - Date.parse(from)).toBe((3600 + WINDOW + 0 + 300) * 1000);
    expect(skipped.metrics).toEqual([
      {
        namespace: "ChatHeartbeat",
        name: "report_skipped_idle",
        dimensions: { service: "reporter" },
        timestamp: expect.any(Number),
        value: 1,
      },
    ]);
    // 24 hourly runs of an idle day: not one Data API call.
    let calls = 0;
    for (let hour = 1; hour < 24; hour++) {
      cloudWatch.age(3600);
      calls += (await run(handler)).dataApiCalls;
    }
    expect(calls).toBe(0);
  });

  it("without the check (local, npm run report) reads the database and never asks CloudWatch", async () => {
    const old = Math.floor((await dbEpoch()) / WINDOW) * WINDOW - 20 * WINDOW;
    await unreportedCounts([old]);
    const handler = await reporter({ REPORT_SKIP_IDLE: "false" });
    const local = await run(handler);
    expect((local.result as Report).windows.map((window) => window.start)).toEqual([iso(old)]);
    expect(local.dataApiCalls).toBeGreaterThan(0);
    expect(cloudWatch.calls()).toBe(0);
  });
});

describe("skipping loses nothing", () => {
  it("a heartbeat wakes the next run, which reports everything since the watermark, once", async () => {
    const now = Math.floor(await dbEpoch());
    // Left by an earlier run (e.g. its window was still settling): 3 h old, far outside the lookback.
    const old = Math.floor((now - 3 * 3600) / WINDOW) * WINDOW;
    await unreportedCounts([old]);
    const handler = await reporter();

    const quiet = await run(handler);
    expect(quiet.result).toEqual({ windows: [] });
    expect(quiet.dataApiCalls).toBe(0);
    expect(await watermark()).toBe(old);

    const seeded = await seedRunningWorkspace(stack.db.pool);
    const heartbeatWindow = await nextFreshWindow();
    const outcome = await beat(seeded);
    expect(cloudWatch.points().map((point) => [point.name, point.dimensions])).toContainEqual([
      `heartbeat_${outcome}`,
      { service: "heartbeat" },
    ]);
    await nextFreshWindow();

    const woken = await run(handler);
    expect(
      (woken.result as Report).windows.map((window) => [window.start, window.accepted]),
    ).toEqual([
      [iso(old), 1],
      [iso(heartbeatWindow), 1],
    ]);
    expect(woken.dataApiCalls).toBeGreaterThan(0);

    // An hour later the heartbeat is still in the lookback: the run reads, finds nothing new.
    cloudWatch.age(3600);
    const again = await run(handler);
    expect(again.dataApiCalls).toBeGreaterThan(0);
    expect(again.result).toEqual({ windows: [] });

    // Two hours later it is not: idle again.
    cloudWatch.age(3600);
    expect((await run(handler)).dataApiCalls).toBe(0);
  });

  it("when CloudWatch cannot answer, the run reports from the database and says so", async () => {
    const old = Math.floor((await dbEpoch()) / WINDOW) * WINDOW - 20 * WINDOW;
    await unreportedCounts([old]);
    const handler = await reporter();
    cloudWatch.failNext(throttled());
    const fallback = await run(handler);
    expect((fallback.result as Report).windows.map((window) => window.start)).toEqual([iso(old)]);
    expect(fallback.dataApiCalls).toBeGreaterThan(0);
    const warnings = fallback.logs.filter((line) => line.message.startsWith("idle check"));
    expect(warnings).toEqual([
      expect.objectContaining({
        level: "WARN",
        message: "idle check unanswered: reporting from the database",
        error: expect.objectContaining({ name: "Throttling" }),
      }),
    ]);
    // Stamped with the run's time, not carried in a back-dated window document.
    expect(fallback.metrics).toContainEqual({
      namespace: "ChatHeartbeat",
      name: "report_idle_check_failed",
      dimensions: { service: "reporter" },
      timestamp: expect.closeTo(Date.now(), -4),
      value: 1,
    });
  });

  it("a run that fails in the database makes the next run report, though no heartbeat came", async () => {
    const old = Math.floor((await dbEpoch()) / WINDOW) * WINDOW - 20 * WINDOW;
    await unreportedCounts([old]);
    const handler = await reporter();
    cloudWatch.failNext(throttled());
    stack.dataApi.faults.inject({ kind: "sql_error" });
    const failed = await run(handler);
    expect(failed.error).toBeDefined();
    expect(failed.metrics).toContainEqual(
      expect.objectContaining({
        name: "report_incomplete",
        dimensions: { service: "reporter" },
        timestamp: expect.closeTo(Date.now(), -4),
      }),
    );

    cloudWatch.age(3600);
    const next = await run(handler);
    expect((next.result as Report).windows.map((window) => window.start)).toEqual([iso(old)]);

    cloudWatch.age(3600);
    expect((await run(handler)).dataApiCalls).toBe(0);
  });

  it("a run stopped by the per-run cap keeps the following runs reading until caught up", async () => {
    const first = Math.floor((await dbEpoch()) / WINDOW) * WINDOW - 10 * WINDOW;
    const starts = [first, first + 5 * WINDOW, first + 8 * WINDOW];
    await unreportedCounts(starts);
    const handler = await reporter({ REPORT_MAX_WINDOWS_PER_RUN: "4" });
    cloudWatch.failNext(throttled()); // the first run reaches the database by the fallback
    const reported: string[] = [];
    const readers: boolean[] = [];
    for (let hour = 0; hour < 20; hour++) {
      const hourly = await run(handler);
      readers.push(hourly.dataApiCalls > 0);
      if (hourly.dataApiCalls === 0) break;
      reported.push(...(hourly.result as Report).windows.map((window) => window.start));
      cloudWatch.age(3600);
    }
    expect(reported).toEqual(starts.map(iso));
    // Several reading runs in a row, then the first skip once caught up.
    expect(readers.length).toBeGreaterThanOrEqual(4);
    expect(readers.slice(0, -1).every(Boolean)).toBe(true);
    expect(readers.at(-1)).toBe(false);
  });
});
