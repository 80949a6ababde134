import type { Context } from "aws-lambda";
import { afterAll, beforeAll, expect, it, vi } from "vitest";
import type { Report } from "../../functions/reporter/domain/windows.ts";
import { type DataApiServer, startDataApiServer } from "../../infra/local/data-api/server.ts";
import { localDataApiEnvironment } from "../../infra/local/data-api-target.ts";
import { lambdaContext } from "../support/api-gateway-event.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { seedRunningWorkspace } from "../support/fixtures.ts";
import { pgHeartbeatDriver } from "../support/heartbeat-driver.ts";

/**
 * Heartbeats racing reporter runs: while heartbeats keep landing in 1 s windows, the reporter runs
 * over and over; at the end every accepted heartbeat has been reported exactly once — none lost to
 * a window reported before its last heartbeat committed, none counted twice.
 */

let db: TestDatabase;
let server: DataApiServer;
type ReporterHandler = (event: unknown, context: Context) => Promise<Report>;
let reporter: ReporterHandler;

beforeAll(async () => {
  db = await createTestDatabase();
  server = await startDataApiServer({ connectionUrlFor: db.serverUrlFor });
  Object.assign(process.env, {
    ...localDataApiEnvironment(server, db.name),
    REPORT_WINDOW_SECONDS: "1",
    // Longer than any heartbeat statement here takes: a window is complete once it has settled.
    REPORT_SETTLE_SECONDS: "1",
    POWERTOOLS_LOG_LEVEL: "SILENT",
    POWERTOOLS_METRICS_DISABLED: "true",
    POWERTOOLS_TRACE_ENABLED: "false",
  });
  vi.resetModules();
  reporter = (await import("../../functions/reporter/handler.ts"))
    .handler as unknown as ReporterHandler;
});
afterAll(async () => {
  await server?.close();
  await db?.drop();
});

it("reports every accepted heartbeat exactly once while both run concurrently", async () => {
  const driver = pgHeartbeatDriver(db.pool, { bucketSeconds: 1 });
  const chats = await Promise.all(Array.from({ length: 4 }, () => seedRunningWorkspace(db.pool)));
  const reported: Report["windows"] = [];
  let accepted = 0;
  const until = Date.now() + 4_000;

  const beating = Promise.all(
    chats.map(async (chat) => {
      while (Date.now() < until) {
        if ((await driver.beat(chat.chatId, chat.ownerId)) !== "not_found") accepted++;
      }
    }),
  );
  const reporting = (async () => {
    while (Date.now() < until) {
      reported.push(...(await reporter({}, lambdaContext("reporter"))).windows);
      await new Promise((resolve) => setTimeout(resolve, 150));
    }
  })();
  await Promise.all([beating, reporting]);

  // Let the last windows close and settle, then report the rest.
  await new Promise((resolve) => setTimeout(resolve, 2_500));
  reported.push(...(await reporter({}, lambdaContext("reporter"))).windows);

  const starts = reported.map((window) => window.start);
  expect(new Set(starts).size).toBe(starts.length);
  expect(accepted).toBeGreaterThan(50);
  expect(reported.reduce((sum, window) => sum + window.accepted, 0)).toBe(accepted);
}, 30_000);
