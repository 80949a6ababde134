import type pg from "pg";

/** Every table a heartbeat may write, Coder's and ours. */
const TABLES = [
  "public.templates",
  "public.workspaces",
  "public.provisioner_jobs",
  "public.workspace_builds",
  "public.chats",
  "chat_heartbeat.outcome_counts",
] as const;

/**
 * Every row of every table a heartbeat could touch, as text, in a stable order: two snapshots are
 * equal exactly when nothing was written in between (xmin catches even a same-value rewrite).
 */
export async function snapshotRows(db: Pick<pg.Pool, "query">): Promise<Record<string, string[]>> {
  const snapshot: Record<string, string[]> = {};
  for (const table of TABLES) {
    const { rows } = await db.query<{ row: string }>(
      `SELECT t.xmin::text || ' ' || row_to_json(t)::text AS row FROM ${table} t ORDER BY 1`,
    );
    snapshot[table] = rows.map((r) => r.row);
  }
  return snapshot;
}
