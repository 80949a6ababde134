import { type BenchStack, log } from "../harness.ts";
import { seedChats } from "../seed.ts";

export interface HourPoint {
  heartbeat: number;
  build: boolean;
  lastUsed: boolean;
}

export interface SimulatedHourResult {
  heartbeats: number;
  buildWrites: number;
  lastUsedWrites: number;
}

export interface SimulatedHourMeasurement {
  result: SimulatedHourResult;
  /** Which heartbeat wrote what, for the chart (not in latest.json). */
  series: HourPoint[];
}

/** 6. Write amplification over a simulated hour of one chat (30 s heartbeats, 1 h bump). */
export async function measureSimulatedHour(stack: BenchStack): Promise<SimulatedHourMeasurement> {
  const { pool, beatViaHandler } = stack;
  log("6/6 simulated hour");
  const [hourChat] = await seedChats(pool, 1, { kind: "not_due" });
  const series: HourPoint[] = [];
  const { rows: workspaceRows } = await pool.query<{ id: string }>(
    "SELECT workspace_id AS id FROM chats WHERE id = $1",
    [hourChat],
  );
  const hourWorkspace = workspaceRows[0]?.id as string;
  await pool.query(
    "UPDATE workspaces SET last_used_at = now() - interval '2 minutes' WHERE id = $1",
    [hourWorkspace],
  );
  await pool.query(
    "UPDATE workspace_builds SET deadline = now() + interval '1 hour' WHERE workspace_id = $1",
    [hourWorkspace],
  );
  const rowTimes = async () =>
    (
      await pool.query<{ deadline: string; lastUsedAt: string }>(
        `SELECT b.deadline::text AS deadline, w.last_used_at::text AS "lastUsedAt"
       FROM workspace_builds b JOIN workspaces w ON w.id = b.workspace_id WHERE w.id = $1`,
        [hourWorkspace],
      )
    ).rows[0];
  for (let beat = 0; beat < 120; beat++) {
    // The database clock cannot be moved: 30 s passing is every stored time moving 30 s back.
    await pool.query(
      `WITH b AS (UPDATE workspace_builds SET deadline = deadline - interval '30 seconds' WHERE workspace_id = $1)
     UPDATE workspaces SET last_used_at = last_used_at - interval '30 seconds' WHERE id = $1`,
      [hourWorkspace],
    );
    const before = await rowTimes();
    await beatViaHandler(hourChat as string);
    const after = await rowTimes();
    series.push({
      heartbeat: beat + 1,
      build: before?.deadline !== after?.deadline,
      lastUsed: before?.lastUsedAt !== after?.lastUsedAt,
    });
  }
  return {
    result: {
      heartbeats: series.length,
      buildWrites: series.filter((point) => point.build).length,
      lastUsedWrites: series.filter((point) => point.lastUsed).length,
    },
    series,
  };
}
