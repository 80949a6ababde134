/**
 * Set-based seeding of many chats (one user, each chat with its own running workspace), in one
 * statement: 100 k chats take seconds, where row-by-row fixtures would take minutes.
 */
import type pg from "pg";

export const BENCH_USER = "5b0f4a7e-0f57-4d67-9a36-6f0c1a2b3c4d";
const TEMPLATE = "00000000-0000-4000-8000-000000000001";

/**
 * How the seeded rows stand when each chat's heartbeat arrives.
 * - `not_due`: deadline 59 min away, just marked used: the heartbeat writes no Coder row.
 * - `steady_state`: as if every chat had been heartbeating every 30 s for a while (1 h bump): at
 *   its heartbeat a chat is at a random point of the 6-beat bump cycle (1 in 6 is due) and of the
 *   2-beat last-used cycle (1 in 2 is over 60 s old), with up to 28 s of jitter. Chat number k
 *   (in the returned order) is expected at `firstVisitAt + k / visitsPerSecond` and its times are
 *   set relative to that instant, so time passing during seeding and the window does not skew
 *   the mix. The caller starts the window at `firstVisitAt`.
 */
export type SeedShape =
  | { kind: "not_due" }
  | { kind: "steady_state"; visitsPerSecond: number; firstVisitAt: Date };

export async function seedChats(pool: pg.Pool, count: number, shape: SeedShape): Promise<string[]> {
  const steady = shape.kind === "steady_state";
  // The instant chat i's heartbeat is expected ($3 is the first visit, $4 visits per second).
  const visit = "($3::timestamptz + ((i - 1) / $4::float8) * interval '1 second')";
  const deadline = steady
    ? `${visit} + interval '57 minutes' + floor(random() * 6) * interval '30 seconds' - (1 + random() * 28) * interval '1 second'`
    : "now() + interval '59 minutes'";
  const lastUsed = steady
    ? `${visit} - interval '30 seconds' - floor(random() * 2) * interval '30 seconds' - (1 + random() * 28) * interval '1 second'`
    : "now()";
  const { rows } = await pool.query<{ chat_id: string }>(
    `WITH t AS (
       INSERT INTO templates (id, created_at, updated_at, organization_id, name)
       VALUES ('${TEMPLATE}', now(), now(), gen_random_uuid(), 'bench') ON CONFLICT DO NOTHING),
     n AS MATERIALIZED (
       SELECT i, gen_random_uuid() AS ws, gen_random_uuid() AS job, gen_random_uuid() AS chat,
              ${deadline} AS deadline, ${lastUsed} AS last_used_at
       FROM generate_series(1, $1::int) AS i),
     w AS (INSERT INTO workspaces (id, created_at, updated_at, owner_id, organization_id, template_id, name, last_used_at)
           SELECT ws, now(), now(), $2::uuid, gen_random_uuid(), '${TEMPLATE}', 'ws', last_used_at FROM n),
     j AS (INSERT INTO provisioner_jobs (id, created_at, updated_at, completed_at, organization_id)
           SELECT job, now(), now(), now(), gen_random_uuid() FROM n),
     b AS (INSERT INTO workspace_builds (id, created_at, updated_at, workspace_id, build_number, transition, job_id, deadline)
           SELECT gen_random_uuid(), now(), now(), ws, 1, 'start', job, deadline FROM n),
     c AS (INSERT INTO chats (id, owner_id, organization_id, workspace_id, status)
           SELECT chat, $2::uuid, gen_random_uuid(), ws, 'running' FROM n)
     SELECT chat AS chat_id FROM n ORDER BY i`,
    steady
      ? [count, BENCH_USER, shape.firstVisitAt.toISOString(), shape.visitsPerSecond]
      : [count, BENCH_USER],
  );
  // Fresh statistics, so the planner sees the tables at their new size.
  await pool.query("ANALYZE workspaces, workspace_builds, chats, provisioner_jobs");
  return rows.map((row) => row.chat_id);
}
