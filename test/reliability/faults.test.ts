import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import type { FaultKind } from "../../tools/data-api/server.ts";
import { signLocalChatToken } from "../../tools/local/token-cli.ts";
import { heartbeatEvent } from "../support/api-gateway-event.ts";
import {
  readBuild,
  readOutcomeCounts,
  type SeededWorkspace,
  seedRunningWorkspace,
} from "../support/fixtures.ts";
import {
  type HandlerResponse,
  type HeartbeatStack,
  startHeartbeatStack,
  TEST_TOKEN_SECRET,
} from "../support/heartbeat-stack.ts";
import { snapshotRows } from "../support/snapshot.ts";

/**
 * Faults injected at the local Data API endpoint (the way Aurora Serverless and the Data API fail:
 * resuming from auto-pause, throttling, statement timeouts, dropped connections, SQL errors),
 * through the real handler and the real SDK client. For each: the answer docs/api.md gives, exactly
 * one structured error log per 5xx, outcome counts that stay exact (a failed heartbeat counts
 * nothing, a retried one counts once), and a function that keeps serving the next request.
 */

let stack: HeartbeatStack;
/** Everything the function wrote to stdout/stderr during the current test. */
let output: string[] = [];

beforeAll(async () => {
  // Not dev mode: one JSON document per line, as CloudWatch receives them. The budget for one
  // database round trip is the stack's DATA_API_TIMEOUT_MS (1.5 s).
  stack = await startHeartbeatStack({ POWERTOOLS_LOG_LEVEL: "INFO", POWERTOOLS_DEV: "false" });
  for (const stream of [process.stdout, process.stderr]) {
    vi.spyOn(stream, "write").mockImplementation((chunk) => {
      output.push(String(chunk));
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
  stack.dataApi.resetStats();
  output = [];
});

interface LogEntry {
  level?: string;
  message?: string;
  code?: string;
  function_request_id?: string;
  [key: string]: unknown;
}

function logEntries(): LogEntry[] {
  return output
    .flatMap((chunk) => chunk.split("\n"))
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line) as LogEntry);
}
const errorLogs = () => logEntries().filter((entry) => entry.level === "ERROR");

const total = (counts: Record<string, number>) => Object.values(counts).reduce((a, b) => a + b, 0);

async function seededChat(): Promise<SeededWorkspace & { token: string }> {
  const seeded = await seedRunningWorkspace(stack.db.pool);
  const token = await signLocalChatToken({ sub: seeded.ownerId, secret: TEST_TOKEN_SECRET });
  return { ...seeded, token };
}

/** Nothing internal may reach the client: not the SQL, the injected text, the ARNs or a stack. */
function expectNothingRevealed(response: HandlerResponse) {
  const text = JSON.stringify(response.body);
  for (const secret of [
    "SELECT",
    "SQLState",
    "injected",
    "Exception",
    "ERROR:",
    "arn:aws",
    stack.db.name,
    "    at ",
  ]) {
    expect(text).not.toContain(secret);
  }
}

/** The next request on the same container is served: 200, counted once, nothing logged as error. */
async function expectServesNext(chat: { chatId: string; token: string }) {
  const countsBefore = await readOutcomeCounts(stack.db.pool);
  output = [];
  const next = await stack.send({ chatId: chat.chatId, token: chat.token });
  expect(next.status, JSON.stringify(next.body)).toBe(200);
  expect(total(await readOutcomeCounts(stack.db.pool)) - total(countsBefore)).toBe(1);
  expect(errorLogs()).toEqual([]);
  return next;
}

describe("faults that outlast the request: the client is told, nothing is written", () => {
  it.each<{
    name: string;
    /** A resume lasts `seconds` of wall-clock time; the other faults meet `count` calls. */
    fault: { kind: FaultKind; count?: number; seconds?: number };
    status: 500 | 503;
    /** Whether the adapter retries it: only failures that prove the statement never ran. */
    retried: boolean;
  }>([
    {
      name: "resuming from auto-pause beyond the budget",
      fault: { kind: "resuming", seconds: 60 },
      status: 503,
      retried: true,
    },
    {
      name: "throttling beyond the budget",
      fault: { kind: "throttling", count: 100 },
      status: 503,
      retried: true,
    },
    { name: "a statement timeout", fault: { kind: "timeout" }, status: 503, retried: false },
    {
      name: "a reset connection",
      fault: { kind: "connection_reset" },
      status: 503,
      retried: false,
    },
    { name: "a SQL error", fault: { kind: "sql_error" }, status: 500, retried: false },
  ])("$name → $status", async ({ fault, status, retried }) => {
    const chat = await seededChat();
    const before = await snapshotRows(stack.db.pool);
    const event = heartbeatEvent({ chatId: chat.chatId, token: chat.token });

    stack.dataApi.faults.inject(fault);
    const failed = await stack.invoke(event);
    stack.dataApi.faults.clear();

    expect(failed.status, JSON.stringify(failed.body)).toBe(status);
    expect(failed.headers["content-type"]).toBe("application/json");
    expect(failed.body).toEqual({
      error: {
        code: status === 503 ? "unavailable" : "internal",
        message: expect.any(String),
      },
      requestId: event.requestContext.requestId,
    });
    if (status === 503) expect(failed.headers["retry-after"]).toMatch(/^[1-9]\d*$/);
    else expect(failed.headers["retry-after"]).toBeUndefined();
    expectNothingRevealed(failed);

    // Ambiguous failures (timeout, reset) and SQL errors are never retried: they may have committed.
    const attempts = stack.dataApi.stats().executeStatement;
    if (retried) expect(attempts).toBeGreaterThan(1);
    else expect(attempts).toBe(1);

    // One structured error line, with the contract code and the Lambda request id, never the token.
    const errors = errorLogs();
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({
      code: status === 503 ? "unavailable" : "internal",
      function_request_id: expect.any(String),
    });
    expect(output.join("")).not.toContain(chat.token);

    // The fault met the call before the database: no row, no count.
    expect(await snapshotRows(stack.db.pool)).toEqual(before);

    const next = await expectServesNext(chat);
    expect((next.body as { outcome: string }).outcome).toBe("bumped");
  });
});

describe("faults the adapter rides out: 200, counted exactly once", () => {
  it.each<{
    name: string;
    fault: { kind: FaultKind; count?: number; seconds?: number };
    /** Data API calls the heartbeat makes: the failed ones and the one that gets through. */
    calls: number;
  }>([
    // Backoff 250, 500 ms: calls at ~0, 0.25, 0.75 s.
    {
      name: "a 0.1 s resume (one resuming answer)",
      fault: { kind: "resuming", seconds: 0.1 },
      calls: 2,
    },
    {
      name: "a 0.6 s resume (two resuming answers)",
      fault: { kind: "resuming", seconds: 0.6 },
      calls: 3,
    },
    { name: "two throttling answers", fault: { kind: "throttling", count: 2 }, calls: 3 },
  ])("$name", async ({ fault, calls }) => {
    const chat = await seededChat();
    const countsBefore = await readOutcomeCounts(stack.db.pool);
    const buildBefore = await readBuild(stack.db.pool, chat.buildId);

    stack.dataApi.faults.inject(fault);
    const response = await stack.send({ chatId: chat.chatId, token: chat.token });

    expect(response.status, JSON.stringify(response.body)).toBe(200);
    expect((response.body as { outcome: string }).outcome).toBe("bumped");
    expect(stack.dataApi.stats().executeStatement).toBe(calls);
    const countsAfter = await readOutcomeCounts(stack.db.pool);
    expect(total(countsAfter) - total(countsBefore)).toBe(1);
    expect((countsAfter.bumped ?? 0) - (countsBefore.bumped ?? 0)).toBe(1);
    // One build write, not one per attempt.
    const buildAfter = await readBuild(stack.db.pool, chat.buildId);
    expect(buildAfter.xmin).not.toBe(buildBefore.xmin);
    expect(buildAfter.deadline?.toISOString()).toBe(
      (response.body as { deadline: string }).deadline,
    );
    expect(errorLogs()).toEqual([]);

    const next = await expectServesNext(chat);
    expect((next.body as { outcome: string }).outcome).toBe("not_due");
  });
});

describe("a real statement that outlives the budget", () => {
  it("503 while it waits on a lock, not retried, and counted once when it commits later", async () => {
    const chat = await seededChat();
    const countsBefore = await readOutcomeCounts(stack.db.pool);
    const buildBefore = await readBuild(stack.db.pool, chat.buildId);

    // Another transaction holds the build row: the heartbeat's UPDATE waits past the 1.5 s budget.
    const locker = await stack.db.pool.connect();
    try {
      await locker.query("BEGIN");
      await locker.query("SELECT 1 FROM public.workspace_builds WHERE id = $1 FOR UPDATE", [
        chat.buildId,
      ]);
      const failed = await stack.send({ chatId: chat.chatId, token: chat.token });
      expect(failed.status, JSON.stringify(failed.body)).toBe(503);
      expect(failed.body).toMatchObject({ error: { code: "unavailable" } });
      expect(failed.headers["retry-after"]).toMatch(/^[1-9]\d*$/);
      expect(stack.dataApi.stats().executeStatement).toBe(1);
      expect(errorLogs()).toHaveLength(1);
      // Still blocked: nothing committed yet.
      expect(await readOutcomeCounts(stack.db.pool)).toEqual(countsBefore);
      await locker.query("COMMIT");
    } finally {
      locker.release();
    }

    // Like the Data API, the endpoint lets an abandoned statement run on; once the lock is gone it
    // commits its one write and its one count — the client's 503 was ambiguous, never doubled.
    await vi.waitFor(
      async () =>
        expect(total(await readOutcomeCounts(stack.db.pool)) - total(countsBefore)).toBe(1),
      { timeout: 10_000, interval: 50 },
    );
    const countsAfter = await readOutcomeCounts(stack.db.pool);
    expect((countsAfter.bumped ?? 0) - (countsBefore.bumped ?? 0)).toBe(1);
    const buildAfter = await readBuild(stack.db.pool, chat.buildId);
    expect(buildAfter.deadline?.getTime()).toBeGreaterThan(buildBefore.deadline?.getTime() ?? 0);

    const next = await expectServesNext(chat);
    expect((next.body as { outcome: string }).outcome).toBe("not_due");
  });
});
