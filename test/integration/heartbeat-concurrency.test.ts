import { setTimeout as sleep } from "node:timers/promises";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RecordedHeartbeat } from "../../functions/heartbeat/domain/record-heartbeat.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import {
  ago,
  databaseNow,
  fromNow,
  hours,
  readBuild,
  readLastBump,
  readOutcomeCounts,
  seedRunningWorkspace,
} from "../support/fixtures.ts";
import { pgHeartbeatDriver } from "../support/heartbeat-driver.ts";

/**
 * 50 heartbeats on one workspace at once, each on its own connection (as 50 Lambda invocations
 * would be). To make the race certain rather than likely, a transaction holds the build row's lock
 * until every heartbeat has taken its snapshot (seeing the build as due) and is queued on that lock;
 * then it lets go. Only the guards inside the UPDATEs' own WHERE clauses, re-checked against the row
 * version left by the winner, can stop the other 49.
 */
const HEARTBEATS = 50;

let db: TestDatabase;
let clients: pg.Client[];
let pids: number[];

beforeAll(async () => {
  db = await createTestDatabase();
  clients = Array.from({ length: HEARTBEATS }, () => new pg.Client({ connectionString: db.url }));
  await Promise.all(clients.map((client) => client.connect()));
  pids = await Promise.all(
    clients.map(
      async (client) =>
        (await client.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0]?.pid ?? -1,
    ),
  );
});

afterAll(async () => {
  await Promise.all((clients ?? []).map((client) => client.end().catch(() => {})));
  await db?.drop();
});

/**
 * Rows updated in `table` so far (HOT updates included), once every heartbeat backend has published
 * its statistics: a backend reports them when it goes idle, at most once a second unless told to
 * flush, and pg_stat_force_next_flush() makes it flush as it goes idle after that very call.
 */
async function tuplesUpdated(table: string): Promise<number> {
  await Promise.all(clients.map((client) => client.query("SELECT pg_stat_force_next_flush()")));
  const { rows } = await db.pool.query<{ n: string }>(
    "SELECT n_tup_upd::text AS n FROM pg_stat_user_tables WHERE schemaname = 'public' AND relname = $1",
    [table],
  );
  return Number(rows[0]?.n ?? Number.NaN);
}

/** Waits until every heartbeat backend is blocked on a lock; fails after `timeoutMs`. */
async function untilAllWaitingOnLocks(timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { rows } = await db.pool.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM pg_stat_activity WHERE pid = ANY($1) AND wait_event_type = 'Lock'",
      [pids],
    );
    if (rows[0]?.n === HEARTBEATS) return;
    if (Date.now() > deadline)
      throw new Error(`only ${rows[0]?.n} of ${HEARTBEATS} heartbeats queued`);
    await sleep(20);
  }
}

/** Runs all heartbeats while a transaction holds the build row; releases it once all are queued. */
async function raceOnLockedBuild(
  buildId: string,
  chatId: string,
  userId: string,
): Promise<RecordedHeartbeat[]> {
  const locker = await db.pool.connect();
  try {
    await locker.query("BEGIN");
    await locker.query("SELECT 1 FROM workspace_builds WHERE id = $1 FOR UPDATE", [buildId]);
    const racing = clients.map((client) =>
      pgHeartbeatDriver(client, { bucketSeconds: 300 }).beat(chatId, userId),
    );
    await untilAllWaitingOnLocks();
    await locker.query("COMMIT");
    const results = await Promise.all(racing);
    return results.map((result) => {
      if (result === "not_found") throw new Error("unexpected not_found");
      return result;
    });
  } finally {
    locker.release();
  }
}

/** Like raceOnLockedBuild, but the held row is the workspace (for heartbeats that never touch the build). */
async function raceOnLockedWorkspace(workspaceId: string, chatId: string, userId: string) {
  const locker = await db.pool.connect();
  try {
    await locker.query("BEGIN");
    await locker.query("SELECT 1 FROM workspaces WHERE id = $1 FOR UPDATE", [workspaceId]);
    const racing = clients.map((client) =>
      pgHeartbeatDriver(client, { bucketSeconds: 300 }).beat(chatId, userId),
    );
    await untilAllWaitingOnLocks();
    await locker.query("COMMIT");
    return await Promise.all(racing);
  } finally {
    locker.release();
  }
}

const tally = (results: Array<RecordedHeartbeat | "not_found">) =>
  results.reduce<Record<string, number>>((acc, result) => {
    const key = result === "not_found" ? "not_found" : result.outcome;
    acc[key] = (acc[key] ?? 0) + 1;
    return acc;
  }, {});

describe(`${HEARTBEATS} concurrent heartbeats on one workspace`, () => {
  it("bump a due build exactly once; the others report not_due, and all 50 are counted", async () => {
    const seeded = await seedRunningWorkspace(db.pool, {
      build: { deadline: fromNow(10 * 60) },
      workspace: { lastUsedAt: ago(3600) },
    });
    const countsBefore = await readOutcomeCounts(db.pool);
    const buildUpdatesBefore = await tuplesUpdated("workspace_builds");
    const workspaceUpdatesBefore = await tuplesUpdated("workspaces");
    const before = await databaseNow(db.pool);

    const results = await raceOnLockedBuild(seeded.buildId, seeded.chatId, seeded.ownerId);
    const after = await databaseNow(db.pool);

    expect(tally(results)).toEqual({ bumped: 1, not_due: HEARTBEATS - 1 });

    // One bump's worth: now + 1 h, not 50 successive extensions.
    const build = await readBuild(db.pool, seeded.buildId);
    expect(build.deadline?.getTime()).toBeGreaterThanOrEqual(before.getTime() + hours(1) / 1e6 - 1);
    expect(build.deadline?.getTime()).toBeLessThanOrEqual(after.getTime() + hours(1) / 1e6 + 1);
    const winner = results.find((result) => result.outcome === "bumped");
    expect(winner?.deadline).toBe(build.deadline?.toISOString());

    expect((await readLastBump(db.pool, seeded.workspaceId))?.deadline.toISOString()).toBe(
      winner?.deadline,
    );

    // Exactly one row version written per row, counted by PostgreSQL itself (no triggers).
    expect((await tuplesUpdated("workspace_builds")) - buildUpdatesBefore).toBe(1);
    expect((await tuplesUpdated("workspaces")) - workspaceUpdatesBefore).toBe(1);

    const countsAfter = await readOutcomeCounts(db.pool);
    expect((countsAfter.bumped ?? 0) - (countsBefore.bumped ?? 0)).toBe(1);
    expect((countsAfter.not_due ?? 0) - (countsBefore.not_due ?? 0)).toBe(HEARTBEATS - 1);
    const total = (counts: Record<string, number>) =>
      Object.values(counts).reduce((a, b) => a + b, 0);
    expect(total(countsAfter) - total(countsBefore)).toBe(HEARTBEATS);
  });

  it("mark a stale workspace used exactly once when no bump is due", async () => {
    const seeded = await seedRunningWorkspace(db.pool, {
      build: { deadline: fromNow(10 * 3600) },
      workspace: { lastUsedAt: ago(3600) },
    });
    const buildBefore = await readBuild(db.pool, seeded.buildId);
    const workspaceUpdatesBefore = await tuplesUpdated("workspaces");
    const countsBefore = await readOutcomeCounts(db.pool);

    const results = await raceOnLockedWorkspace(seeded.workspaceId, seeded.chatId, seeded.ownerId);

    expect(tally(results)).toEqual({ not_due: HEARTBEATS });
    expect(await readBuild(db.pool, seeded.buildId)).toEqual(buildBefore);
    expect((await tuplesUpdated("workspaces")) - workspaceUpdatesBefore).toBe(1);
    const countsAfter = await readOutcomeCounts(db.pool);
    expect((countsAfter.not_due ?? 0) - (countsBefore.not_due ?? 0)).toBe(HEARTBEATS);
  });
});
