import type { Context } from "aws-lambda";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import type { Report } from "../../functions/reporter/domain/windows.ts";
import { REPORTER_DATA_API_TIMEOUT_MS } from "../../functions/shared/config/database.ts";
import { type DataApiServer, startDataApiServer } from "../../tools/data-api/server.ts";
import {
  LOCAL_SECRET_LOGINS,
  localDataApiEnvironment,
} from "../../tools/local/data-api-locator.ts";
import { lambdaContext } from "../support/api-gateway-event.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { seedRunningWorkspace } from "../support/fixtures.ts";
import { pgHeartbeatDriver } from "../support/heartbeat-driver.ts";

/**
 * The reporter through its real handler → SDK → local Data API endpoint → PostgreSQL, fed by the
 * real heartbeat statement. Windows are 2 s long so a test can watch several of them close.
 */

const WINDOW = 2;
let db: TestDatabase;
let server: DataApiServer;

type ReporterHandler = (event: unknown, context: Context) => Promise<Report>;

/** A fresh reporter container with this configuration (config is read at cold start). */
async function reporter(env: Record<string, string> = {}): Promise<ReporterHandler> {
  Object.assign(process.env, {
    ...localDataApiEnvironment(server, db.name, "reporter"),
    REPORT_WINDOW_SECONDS: String(WINDOW),
    REPORT_SETTLE_SECONDS: "0",
    REPORT_MAX_WINDOWS_PER_RUN: "288",
    REPORT_RETENTION_DAYS: "14",
    POWERTOOLS_LOG_LEVEL: "SILENT",
    POWERTOOLS_METRICS_DISABLED: "true",
    POWERTOOLS_TRACE_ENABLED: "false",
    ...env,
  });
  vi.resetModules();
  const module = await import("../../functions/reporter/handler.ts");
  return module.handler as unknown as ReporterHandler;
}

const run = (handler: ReporterHandler) => handler({}, lambdaContext("reporter"));

async function dbEpoch(): Promise<number> {
  const { rows } = await db.pool.query<{ e: number }>(
    "SELECT extract(epoch FROM now())::float8 AS e",
  );
  return rows[0]?.e ?? Number.NaN;
}

/** Waits until the database clock is in a window that has just begun (≥ 0.2 s left of it). */
async function nextFreshWindow(): Promise<number> {
  const start = Math.floor((await dbEpoch()) / WINDOW) * WINDOW + WINDOW;
  for (;;) {
    const now = await dbEpoch();
    if (now >= start) return start;
    await new Promise((resolve) => setTimeout(resolve, Math.max(10, (start - now) * 1000)));
  }
}

async function resetReporting(watermarkSql = "NULL") {
  await db.pool.query("DELETE FROM chat_heartbeat.outcome_counts");
  await db.pool.query(
    `UPDATE chat_heartbeat.report_watermark SET reported_until = ${watermarkSql}`,
  );
}

beforeAll(async () => {
  db = await createTestDatabase();
  server = await startDataApiServer({
    connectionUrlFor: db.serverUrlFor,
    logins: LOCAL_SECRET_LOGINS,
  });
});
afterAll(async () => {
  await server?.close();
  await db?.drop();
});

describe("a known sequence of heartbeats", () => {
  beforeEach(() => resetReporting());

  it("is reported window by window, exactly, and only once", async () => {
    const driver = pgHeartbeatDriver(db.pool, { bucketSeconds: WINDOW });
    const due = await seedRunningWorkspace(db.pool);
    const idle = await seedRunningWorkspace(db.pool, { chat: { status: "waiting" } });

    const first = await nextFreshWindow();
    await driver.beat(due.chatId, due.ownerId); // bumped
    await driver.beat(due.chatId, due.ownerId); // not_due
    await driver.beat(idle.chatId, idle.ownerId); // chat_idle
    const second = await nextFreshWindow();
    await driver.beat(due.chatId, due.ownerId); // not_due
    await driver.beat(due.chatId, due.ownerId); // not_due
    await nextFreshWindow(); // the second window is complete now

    const handler = await reporter();
    const report = await run(handler);
    const iso = (epoch: number) => new Date(epoch * 1000).toISOString();
    expect(report).toEqual({
      windows: [
        {
          start: iso(first),
          end: iso(first + WINDOW),
          accepted: 3,
          outcomes: { bumped: 1, not_due: 1, chat_idle: 1 },
          writeRatio: 0.3333,
          // Clients follow the hint by default: of the two beats that could write, one did.
          floorRatio: 0.5,
        },
        {
          start: iso(second),
          end: iso(second + WINDOW),
          accepted: 2,
          outcomes: { not_due: 2 },
          writeRatio: 0,
          floorRatio: 0,
        },
      ],
    });
    expect(await run(handler)).toEqual({ windows: [] });
  });

  it("does not report the window that is still open", async () => {
    const driver = pgHeartbeatDriver(db.pool, { bucketSeconds: WINDOW });
    const seeded = await seedRunningWorkspace(db.pool);
    await nextFreshWindow();
    await driver.beat(seeded.chatId, seeded.ownerId);
    const handler = await reporter();
    expect(await run(handler)).toEqual({ windows: [] });
    await nextFreshWindow();
    expect((await run(handler)).windows.map((window) => window.accepted)).toEqual([1]);
  });
});

/** Counts inserted directly: 40 one-per-window heartbeats, in windows long past. */
async function insertPastCounts(windows: number, windowSeconds = WINDOW) {
  const now = Math.floor((await dbEpoch()) / windowSeconds) * windowSeconds;
  const first = now - (windows + 5) * windowSeconds;
  await db.pool.query(
    `INSERT INTO chat_heartbeat.outcome_counts (bucket_start, outcome, shard, heartbeats)
     SELECT to_timestamp($1::bigint + i * $2::bigint), 'not_due', 0, 1 FROM generate_series(0, $3::int - 1) i`,
    [first, windowSeconds, windows],
  );
  return first;
}

describe("settling", () => {
  beforeEach(() => resetReporting());

  it("holds back a complete window until the settle period has passed, then reports it", async () => {
    const now = Math.floor((await dbEpoch()) / WINDOW) * WINDOW;
    const settled = now - 30 * WINDOW; // ended long before the settle period
    const settling = now - 3 * WINDOW; // complete, but ended < 20 s ago
    for (const start of [settled, settling]) {
      await db.pool.query(
        "INSERT INTO chat_heartbeat.outcome_counts VALUES (to_timestamp($1::bigint), 'bumped', 0, 1)",
        [start],
      );
    }
    const iso = (epoch: number) => new Date(epoch * 1000).toISOString();
    const patient = await reporter({ REPORT_SETTLE_SECONDS: "20" });
    expect((await run(patient)).windows.map((window) => window.start)).toEqual([iso(settled)]);
    // The watermark stopped before the settling window, so a later run still reports it.
    const eager = await reporter({ REPORT_SETTLE_SECONDS: "0" });
    expect((await run(eager)).windows.map((window) => window.start)).toEqual([iso(settling)]);
  });
});

describe("concurrency and catch-up", () => {
  beforeEach(() => resetReporting());

  it("two runs at once never report a window twice and lose none", async () => {
    await insertPastCounts(40);
    const [a, b] = [await reporter(), await reporter()];
    const [first, second] = await Promise.all([run(a), run(b)]);
    const starts = [...first.windows, ...second.windows].map((window) => window.start);
    expect(starts).toHaveLength(40);
    expect(new Set(starts).size).toBe(40);
  });

  it("catches up a backlog over several runs, at most REPORT_MAX_WINDOWS_PER_RUN each", async () => {
    await insertPastCounts(25);
    const handler = await reporter({ REPORT_MAX_WINDOWS_PER_RUN: "10" });
    const sizes = [];
    for (let i = 0; i < 4; i++) sizes.push((await run(handler)).windows.length);
    expect(sizes).toEqual([10, 10, 5, 0]);
  });
});

describe("pruning", () => {
  it("removes only counts that are both expired and reported", async () => {
    const day = 86_400;
    await db.pool.query("DELETE FROM chat_heartbeat.outcome_counts");
    const now = Math.floor(await dbEpoch());
    const rows: [string, number][] = [
      ["expired, reported", now - 31 * day],
      ["expired, not yet reported", now - 20 * day],
      ["recent", now - 1 * day],
    ];
    for (const [, at] of rows) {
      await db.pool.query(
        "INSERT INTO chat_heartbeat.outcome_counts VALUES (to_timestamp($1::bigint), 'bumped', 0, 1)",
        [Math.floor(at / 300) * 300],
      );
    }
    // Reported up to 30 days ago; this run reports one more day (288 × 300 s) and then prunes.
    await db.pool.query(
      "UPDATE chat_heartbeat.report_watermark SET reported_until = to_timestamp($1::bigint)",
      [Math.floor((now - 30 * day) / 300) * 300],
    );
    const handler = await reporter({ REPORT_WINDOW_SECONDS: "300" });
    await run(handler);
    const { rows: left } = await db.pool.query<{ at: number }>(
      "SELECT extract(epoch FROM bucket_start)::float8 AS at FROM chat_heartbeat.outcome_counts ORDER BY 1",
    );
    expect(left.map((row) => row.at)).toEqual(
      rows.slice(1).map(([, at]) => Math.floor(at / 300) * 300),
    );
  });
});

describe("pruning in bounded batches", () => {
  beforeEach(() => resetReporting());

  it("deletes at most batch size × batches rows per run and the rest in later runs", async () => {
    const day = 86_400;
    const now = Math.floor(await dbEpoch());
    // 10 expired counts in distinct 5-minute buckets, all before the watermark.
    await db.pool.query(
      `INSERT INTO chat_heartbeat.outcome_counts (bucket_start, outcome, shard, heartbeats)
       SELECT to_timestamp($1::bigint + i * 300), 'not_due', 0, 1 FROM generate_series(0, 9) i`,
      [Math.floor((now - 20 * day) / 300) * 300],
    );
    await db.pool.query(
      "UPDATE chat_heartbeat.report_watermark SET reported_until = to_timestamp($1::bigint)",
      [Math.floor(now / 300) * 300 - 300],
    );
    const remaining = async () =>
      Number(
        (await db.pool.query("SELECT count(*) AS n FROM chat_heartbeat.outcome_counts")).rows[0]?.n,
      );
    const handler = await reporter({
      REPORT_WINDOW_SECONDS: "300",
      REPORT_PRUNE_BATCH_SIZE: "3",
      REPORT_PRUNE_MAX_BATCHES: "2",
    });
    await run(handler);
    expect(await remaining()).toBe(4);
    await run(handler);
    expect(await remaining()).toBe(0);
  });
});

describe("a paused cluster", () => {
  beforeEach(() => resetReporting());
  afterEach(() => server.faults.clear());

  it("wakes it: the run's BeginTransaction waits out a 20 s resume within the reporter's budget, then reports", async () => {
    await insertPastCounts(3);
    // DATA_API_TIMEOUT_MS unset: the reporter's own default budget, as deployed (serverless.yml).
    const handler = await reporter({ DATA_API_TIMEOUT_MS: "" });
    expect(REPORTER_DATA_API_TIMEOUT_MS).toBeGreaterThan(20_000 + 2_000); // resume + one backoff step
    server.resetStats();
    server.faults.inject({ kind: "resuming", seconds: 20 });
    const started = Date.now();
    const report = await run(handler);
    expect(Date.now() - started).toBeGreaterThanOrEqual(20_000);
    expect(report.windows.map((window) => window.accepted)).toEqual([1, 1, 1]);
    const stats = server.stats();
    // The run's first call met the resume and was retried (with backoff, ~13 attempts); nothing
    // else was: the transaction's statements, commit and pruning each went through once.
    expect(stats.beginTransaction).toBeGreaterThan(5);
    expect(stats.beginTransaction).toBeLessThan(20);
    expect(stats).toMatchObject({ commitTransaction: 1, rollbackTransaction: 0 });
    expect(await run(handler)).toEqual({ windows: [] });
  }, 60_000);
});

describe("EMF", () => {
  beforeEach(() => resetReporting());

  it("emits one parseable EMF document per window with one metric per outcome", async () => {
    await insertPastCounts(3);
    const handler = await reporter({
      POWERTOOLS_METRICS_DISABLED: "false",
      POWERTOOLS_DEV: "false",
    });
    const lines: string[] = [];
    const write = vi.spyOn(process.stdout, "write").mockImplementation((chunk) => {
      lines.push(String(chunk));
      return true;
    });
    let report: Report;
    try {
      report = await run(handler);
    } finally {
      write.mockRestore();
    }
    const documents = lines
      .flatMap((chunk) => chunk.split("\n"))
      .filter((line) => line.includes('"_aws"'))
      .map((line) => JSON.parse(line));
    const windowDocuments = documents.filter((doc) => "reported_accepted" in doc);
    expect(windowDocuments).toHaveLength(3);
    // Each document is stamped with its window's start, not the time of the run.
    expect(windowDocuments.map((doc) => doc._aws.Timestamp)).toEqual(
      report.windows.map((window) => Date.parse(window.start)),
    );
    for (const doc of windowDocuments) {
      const directive = doc._aws.CloudWatchMetrics[0];
      expect(directive.Namespace).toBe("ChatHeartbeat");
      const names = directive.Metrics.map((metric: { Name: string }) => metric.Name);
      expect(names).toEqual(
        expect.arrayContaining([
          "reported_bumped",
          "reported_not_due",
          "reported_not_running",
          "reported_no_autostop",
          "reported_bump_disabled",
          "reported_at_max_deadline",
          "reported_dormant",
          "reported_no_workspace",
          "reported_chat_archived",
          "reported_chat_idle",
          "reported_accepted",
        ]),
      );
      expect(doc.reported_not_due).toBe(1);
      expect(doc.reported_accepted).toBe(1);
    }
  });
});
