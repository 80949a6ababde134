import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { signLocalChatToken } from "../../infra/local/token-cli.ts";
import {
  fromNow,
  insertBuild,
  readBuild,
  readOutcomeCounts,
  seedRunningWorkspace,
} from "../support/fixtures.ts";
import {
  type HeartbeatStack,
  startHeartbeatStack,
  TEST_TOKEN_SECRET,
} from "../support/heartbeat-stack.ts";

/**
 * Faults injected at the local Data API endpoint, through the whole handler: each failure is
 * answered per SPEC §3, logged once as a structured error, counts nothing (a retried heartbeat
 * counts once), and the function keeps serving. And a race with a new build being inserted.
 */

let stack: HeartbeatStack;
let lines: string[] = [];

beforeAll(async () => {
  // Not dev mode: one JSON document per line, as CloudWatch receives them.
  stack = await startHeartbeatStack({ POWERTOOLS_LOG_LEVEL: "INFO", POWERTOOLS_DEV: "false" });
  // Powertools Logger writes JSON lines (errors to stderr in dev mode); keep them for assertions.
  for (const stream of [process.stdout, process.stderr]) {
    vi.spyOn(stream, "write").mockImplementation((chunk) => {
      lines.push(String(chunk));
      return true;
    });
  }
});
afterAll(async () => {
  vi.restoreAllMocks();
  await stack?.stop();
});
beforeEach(() => {
  stack.dataApi.faults.clear();
  lines = [];
});

const total = (counts: Record<string, number>) => Object.values(counts).reduce((a, b) => a + b, 0);
const errorLogs = () =>
  lines
    .flatMap((chunk) => chunk.split("\n"))
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line) as { level?: string; message?: string; code?: string })
    .filter((entry) => entry.level === "ERROR");

describe("injected faults", () => {
  it.each([
    ["resuming beyond the budget", "resuming", 1000, 503],
    ["throttling beyond the budget", "throttling", 1000, 503],
    ["a statement timeout", "timeout", 1, 503],
    ["a reset connection", "connection_reset", 1, 503],
    ["a SQL error", "sql_error", 1, 500],
  ] as const)(
    "%s: %s, one error log, nothing counted, next request served",
    async (_name, kind, count, status) => {
      const seeded = await seedRunningWorkspace(stack.db.pool);
      const token = await signLocalChatToken({ sub: seeded.ownerId, secret: TEST_TOKEN_SECRET });
      const countsBefore = await readOutcomeCounts(stack.db.pool);
      const buildBefore = await readBuild(stack.db.pool, seeded.buildId);

      stack.dataApi.faults.inject({ kind, count });
      const failed = await stack.send({ chatId: seeded.chatId, token });
      stack.dataApi.faults.clear();

      expect(failed.status).toBe(status);
      if (status === 503) expect(failed.headers["retry-after"]).toMatch(/^\d+$/);
      expect(JSON.stringify(failed.body)).not.toMatch(/SELECT|ERROR:|stack|at /);
      const errors = errorLogs();
      expect(errors).toHaveLength(1);
      expect(errors[0]?.code).toBe(status === 503 ? "unavailable" : "internal");
      expect(await readOutcomeCounts(stack.db.pool)).toEqual(countsBefore);
      expect(await readBuild(stack.db.pool, seeded.buildId)).toEqual(buildBefore);

      const next = await stack.send({ chatId: seeded.chatId, token });
      expect(next.status).toBe(200);
      expect((next.body as { outcome: string }).outcome).toBe("bumped");
      expect(total(await readOutcomeCounts(stack.db.pool)) - total(countsBefore)).toBe(1);
    },
  );

  it("a heartbeat retried through a resume counts once", async () => {
    const seeded = await seedRunningWorkspace(stack.db.pool);
    const token = await signLocalChatToken({ sub: seeded.ownerId, secret: TEST_TOKEN_SECRET });
    const countsBefore = await readOutcomeCounts(stack.db.pool);
    stack.dataApi.faults.inject({ kind: "resuming", count: 2 });
    const response = await stack.send({ chatId: seeded.chatId, token });
    expect(response.status).toBe(200);
    const countsAfter = await readOutcomeCounts(stack.db.pool);
    expect(total(countsAfter) - total(countsBefore)).toBe(1);
    expect((countsAfter.bumped ?? 0) - (countsBefore.bumped ?? 0)).toBe(1);
    expect(errorLogs()).toHaveLength(0);
  });
});

describe("racing a new build", () => {
  it("bumps the new latest build or none, never the superseded one", async () => {
    for (let round = 0; round < 10; round++) {
      const seeded = await seedRunningWorkspace(stack.db.pool);
      const token = await signLocalChatToken({ sub: seeded.ownerId, secret: TEST_TOKEN_SECRET });
      const beats = Array.from({ length: 10 }, () => stack.send({ chatId: seeded.chatId, token }));
      const newBuild = insertBuild(stack.db.pool, {
        workspaceId: seeded.workspaceId,
        buildNumber: 2,
        transition: "start",
        deadline: fromNow(10 * 60),
      });
      const [responses, inserted] = await Promise.all([Promise.all(beats), newBuild]);
      expect(responses.every((response) => response.status === 200)).toBe(true);
      const oldAfter = await readBuild(stack.db.pool, seeded.buildId);
      // Racing heartbeats whose snapshot predates the insert may legitimately bump build 1. Once
      // build 2 is visible, heartbeats bump build 2 and never touch build 1 again.
      for (let beat = 0; beat < 3; beat++) {
        const after = await stack.send({ chatId: seeded.chatId, token });
        expect(after.status).toBe(200);
        expect(["bumped", "not_due"]).toContain((after.body as { outcome: string }).outcome);
      }
      expect((await readBuild(stack.db.pool, seeded.buildId)).xmin).toBe(oldAfter.xmin);
      const newFinal = await readBuild(stack.db.pool, inserted.id);
      const { rows } = await stack.db.pool.query<{ ahead: boolean }>(
        "SELECT deadline > now() + interval '55 minutes' AS ahead FROM workspace_builds WHERE id = $1",
        [inserted.id],
      );
      expect(rows[0]?.ahead, `build 2 deadline ${newFinal.deadline?.toISOString()}`).toBe(true);
    }
  });
});
