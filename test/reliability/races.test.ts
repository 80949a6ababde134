import type { Context } from "aws-lambda";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { HeartbeatResponse } from "../../functions/heartbeat/domain/record-heartbeat.ts";
import type { Report } from "../../functions/reporter/domain/windows.ts";
import { LOCAL_FUNCTION_LOGINS } from "../../tools/local/dev-secret.ts";
import { signLocalChatToken } from "../../tools/local/token-cli.ts";
import { lambdaContext } from "../support/api-gateway-event.ts";
import {
  fromNow,
  hours,
  insertBuild,
  type RunningWorkspaceOptions,
  readBuild,
  readLastBump,
  readOutcomeCounts,
  seconds,
  seedRunningWorkspace,
} from "../support/fixtures.ts";
import {
  type HandlerResponse,
  type HeartbeatStack,
  startHeartbeatStack,
  TEST_TOKEN_SECRET,
} from "../support/heartbeat-stack.ts";

/**
 * Concurrency through the real handler, the real SDK client and the local Data API, on one real
 * PostgreSQL: racing heartbeats write a build once, never bump a superseded build, and race the
 * reporter without a count being lost or reported twice.
 *
 * Writes are observed with an audit trigger in a schema of this test's own: it records every row
 * version the heartbeat statement writes to a build or a workspace, and when that statement
 * started, so "exactly one write" is counted, not inferred.
 */

const WINDOW_SECONDS = 1;

let stack: HeartbeatStack;
type ReporterHandler = (event: unknown, context: Context) => Promise<Report>;
let reporter: ReporterHandler;

beforeAll(async () => {
  // 1 s report windows that settle after 1 s, so the reporter race completes windows in seconds.
  stack = await startHeartbeatStack({
    REPORT_WINDOW_SECONDS: String(WINDOW_SECONDS),
    REPORT_SETTLE_SECONDS: "1",
  });
  // Same container environment as the heartbeat's (set by the stack before its cold start), but
  // the reporter's own database login, as deployed (each reads its config at import).
  process.env.DB_SECRET_ARN = LOCAL_FUNCTION_LOGINS.reporter.secretArn;
  reporter = (await import("../../functions/reporter/handler.ts"))
    .handler as unknown as ReporterHandler;
  await stack.db.pool.query(`
    CREATE SCHEMA race_audit;
    CREATE TABLE race_audit.row_writes (
      table_name text NOT NULL,
      row_id uuid NOT NULL,
      statement_started timestamptz NOT NULL
    );
    -- The audit, not the heartbeat, owns this table: it writes as its owner (SECURITY DEFINER), so
    -- the heartbeat's role needs no privilege on it.
    CREATE FUNCTION race_audit.record_write() RETURNS trigger LANGUAGE plpgsql
      SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    BEGIN
      INSERT INTO race_audit.row_writes VALUES (TG_TABLE_NAME, NEW.id, statement_timestamp());
      RETURN NEW;
    END $$;
    CREATE TRIGGER race_audit AFTER UPDATE ON public.workspace_builds
      FOR EACH ROW EXECUTE FUNCTION race_audit.record_write();
    CREATE TRIGGER race_audit AFTER UPDATE ON public.workspaces
      FOR EACH ROW EXECUTE FUNCTION race_audit.record_write();
  `);
});
afterAll(async () => {
  await stack?.stop();
});

interface RowWrite {
  statementStarted: Date;
}

async function writesTo(rowId: string): Promise<RowWrite[]> {
  const { rows } = await stack.db.pool.query<{ statement_started: Date }>(
    "SELECT statement_started FROM race_audit.row_writes WHERE row_id = $1 ORDER BY 1",
    [rowId],
  );
  return rows.map((row) => ({ statementStarted: row.statement_started }));
}

const total = (counts: Record<string, number>) => Object.values(counts).reduce((a, b) => a + b, 0);
const bodyOf = (response: HandlerResponse) => response.body as HeartbeatResponse;

async function chatWithToken(options: RunningWorkspaceOptions = {}) {
  const seeded = await seedRunningWorkspace(stack.db.pool, options);
  const token = await signLocalChatToken({ sub: seeded.ownerId, secret: TEST_TOKEN_SECRET });
  return { ...seeded, token };
}

describe("50 concurrent heartbeats on one due workspace", () => {
  it.each([1, 2, 3])("round %i: one build write, one bump, 50 counts", async () => {
    // Deadline 30 min ahead, activity bump 1 h: due.
    const chat = await chatWithToken();
    const buildBefore = await readBuild(stack.db.pool, chat.buildId);
    const countsBefore = await readOutcomeCounts(stack.db.pool);
    stack.dataApi.resetStats();

    const responses = await Promise.all(
      Array.from({ length: 50 }, () => stack.send({ chatId: chat.chatId, token: chat.token })),
    );

    expect(responses.map((response) => response.status)).toEqual(Array(50).fill(200));
    const outcomes = responses.map((response) => bodyOf(response).outcome);
    expect(outcomes.filter((outcome) => outcome === "bumped")).toHaveLength(1);
    expect(outcomes.filter((outcome) => outcome === "not_due")).toHaveLength(49);
    // One statement per heartbeat, no transactions around it.
    expect(stack.dataApi.stats()).toMatchObject({ executeStatement: 50, beginTransaction: 0 });

    // Exactly one row version written to the build, and one to the workspace (marked used once).
    expect(await writesTo(chat.buildId)).toHaveLength(1);
    expect(await writesTo(chat.workspaceId)).toHaveLength(1);

    const winning = responses.find((response) => bodyOf(response).outcome === "bumped");
    if (!winning) throw new Error("no heartbeat bumped");
    const winner = bodyOf(winning);
    const buildAfter = await readBuild(stack.db.pool, chat.buildId);
    expect(buildAfter.xmin).not.toBe(buildBefore.xmin);
    expect(buildAfter.deadline?.toISOString()).toBe(winner.deadline);
    // A single bump: now + 1 h of the one writing statement, whose now() is also its updated_at
    // and the workspace's last_used_at.
    expect(buildAfter.updatedAt.toISOString()).toBe(winner.lastUsedAt);
    expect((buildAfter.deadline?.getTime() ?? 0) - buildAfter.updatedAt.getTime()).toBe(
      hours(1) / 1e6,
    );
    const lastBump = await readLastBump(stack.db.pool, chat.workspaceId);
    expect(lastBump?.bumpedAt.toISOString()).toBe(winner.lastUsedAt);
    expect(lastBump?.chatId).toBe(chat.chatId);
    // Every loser reports the deadline the winner wrote or the one before it, never another.
    for (const response of responses) {
      expect([winner.deadline, buildBefore.deadline?.toISOString()]).toContain(
        bodyOf(response).deadline,
      );
    }

    const countsAfter = await readOutcomeCounts(stack.db.pool);
    expect(total(countsAfter) - total(countsBefore)).toBe(50);
    expect((countsAfter.bumped ?? 0) - (countsBefore.bumped ?? 0)).toBe(1);
    expect((countsAfter.not_due ?? 0) - (countsBefore.not_due ?? 0)).toBe(49);
  });
});

describe("heartbeats racing a new build", () => {
  it.each([1, 2, 3, 4, 5])(
    "round %i: once build 2 exists, only build 2 is bumped, never build 1",
    async () => {
      // A 1 s activity bump keeps the latest build due every ~50 ms, so a heartbeat that picked
      // the wrong build would write it: the race can be lost, and this test would see it.
      const chat = await chatWithToken({
        template: { activityBump: seconds(1) },
        build: { deadline: fromNow(0.5) },
      });
      const countsBefore = await readOutcomeCounts(stack.db.pool);
      const responses: HandlerResponse[] = [];
      let afterInsert = -1;
      const beat = async () => {
        // Each worker keeps beating until 40 heartbeats have completed after the insert.
        while (afterInsert < 0 || responses.length < afterInsert + 40) {
          responses.push(await stack.send({ chatId: chat.chatId, token: chat.token }));
        }
      };
      const workers = Array.from({ length: 8 }, beat);

      await vi.waitFor(() => expect(responses.length).toBeGreaterThanOrEqual(10), {
        timeout: 10_000,
        interval: 5,
      });
      const newBuild = await insertBuild(stack.db.pool, {
        workspaceId: chat.workspaceId,
        buildNumber: 2,
        transition: "start",
        deadline: fromNow(0.5),
      });
      // Taken after build 2 committed: a heartbeat statement that started later has a snapshot
      // that contains build 2, so it must not write build 1.
      const { rows } = await stack.db.pool.query<{ t: Date }>("SELECT clock_timestamp() AS t");
      const insertedBy = rows[0]?.t as Date;
      afterInsert = responses.length;
      await Promise.all(workers);

      expect(responses.every((response) => response.status === 200)).toBe(true);
      const oldWrites = await writesTo(chat.buildId);
      const newWrites = await writesTo(newBuild.id);
      const lateOldWrites = oldWrites.filter(
        (write) => write.statementStarted.getTime() > insertedBy.getTime(),
      );
      expect(lateOldWrites, `build 2 committed by ${insertedBy.toISOString()}`).toEqual([]);
      // Both sides of the race really happened.
      expect(oldWrites.length).toBeGreaterThanOrEqual(1);
      expect(newWrites.length).toBeGreaterThanOrEqual(1);

      // Afterwards build 1 stays as it was, and the outcome counts match the responses exactly.
      const oldBuild = await readBuild(stack.db.pool, chat.buildId);
      for (let i = 0; i < 3; i++) {
        await new Promise((resolve) => setTimeout(resolve, 60));
        const after = await stack.send({ chatId: chat.chatId, token: chat.token });
        expect(bodyOf(after).outcome).toBe("bumped");
        responses.push(after);
      }
      expect((await readBuild(stack.db.pool, chat.buildId)).xmin).toBe(oldBuild.xmin);
      const countsAfter = await readOutcomeCounts(stack.db.pool);
      expect(total(countsAfter) - total(countsBefore)).toBe(responses.length);
      const bumped = responses.filter((response) => bodyOf(response).outcome === "bumped");
      expect((countsAfter.bumped ?? 0) - (countsBefore.bumped ?? 0)).toBe(bumped.length);
      expect(bumped.length).toBe(oldWrites.length + (await writesTo(newBuild.id)).length);
    },
  );
});

describe("heartbeats racing the reporter", () => {
  it("every accepted heartbeat is reported exactly once, none lost, none twice", async () => {
    // Different chats for different outcomes, one of them due every ~50 ms.
    const chats = await Promise.all([
      chatWithToken(),
      chatWithToken({ template: { activityBump: seconds(1) }, build: { deadline: fromNow(0.5) } }),
      chatWithToken({ chat: { status: "waiting" } }),
      chatWithToken({ chat: { archived: true } }),
    ]);
    // Everything counted earlier in this file is reported too (the first run starts at the
    // earliest count), so the expectation starts from the counts as they stand.
    const expected = await readOutcomeCounts(stack.db.pool);
    const reported: Report["windows"] = [];
    const until = Date.now() + 4_000;

    const beating = Promise.all(
      chats.map(async (chat) => {
        while (Date.now() < until) {
          const response = await stack.send({ chatId: chat.chatId, token: chat.token });
          expect(response.status, JSON.stringify(response.body)).toBe(200);
          const { outcome } = bodyOf(response);
          expected[outcome] = (expected[outcome] ?? 0) + 1;
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

    // Let the last windows end and settle; a count lost to an early report never comes back, so
    // waiting cannot hide one, and a double report overshoots for good.
    const sumOf = (outcome: string) =>
      reported.reduce(
        (sum, window) => sum + (window.outcomes[outcome as keyof typeof window.outcomes] ?? 0),
        0,
      );
    await vi.waitFor(
      async () => {
        reported.push(...(await reporter({}, lambdaContext("reporter"))).windows);
        expect(reported.reduce((sum, window) => sum + window.accepted, 0)).toBe(total(expected));
      },
      { timeout: 10_000, interval: 250 },
    );

    const starts = reported.map((window) => window.start);
    expect(new Set(starts).size).toBe(starts.length);
    for (const [outcome, count] of Object.entries(expected)) expect(sumOf(outcome)).toBe(count);
    for (const outcome of ["bumped", "not_due", "chat_idle", "chat_archived"]) {
      expect(sumOf(outcome), outcome).toBeGreaterThan(0);
    }
    // Each window is one window long and counts what its outcomes say.
    for (const window of reported) {
      expect(Date.parse(window.end) - Date.parse(window.start)).toBe(WINDOW_SECONDS * 1000);
      expect(Object.values(window.outcomes).reduce((a, b) => a + (b ?? 0), 0)).toBe(
        window.accepted,
      );
    }
  }, 30_000);
});
