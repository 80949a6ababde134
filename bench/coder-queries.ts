import type pg from "pg";

/**
 * What coderd runs per activity heartbeat, restated as the two statements bench/coder-path.ts and
 * bench/chat-hour.ts prepare over direct connections (Coder's own path, for comparison).
 */

// A GetWorkspaceByID-style read: the workspace row and the template fields coderd needs with it.
export const CODER_GET_WORKSPACE = `
  SELECT w.*, t.name AS template_name, t.activity_bump, t.allow_user_autostop, t.default_ttl
  FROM workspaces w JOIN templates t ON t.id = w.template_id
  WHERE w.id = $1 LIMIT 1`;

// Coder's ActivityBumpWorkspace, restated from its facts (coderd/database/queries/activitybump.sql):
// the latest build with its job and template, then one UPDATE that bumps by activity_bump (or to
// next autostart + TTL), never lowers the deadline, caps at max_deadline, and writes only when the
// 5 % guard holds. $2 is the next autostart ('0001-01-01' when none), as coderd passes it.
export const CODER_ACTIVITY_BUMP = `
  WITH latest AS (
    SELECT b.id AS build_id, b.deadline AS build_deadline, b.max_deadline AS build_max_deadline,
           b.transition AS build_transition, j.completed_at AS job_completed_at,
           t.activity_bump,
           CASE WHEN now() + (t.activity_bump / 1000 / 1000 / 1000 || ' seconds')::interval > $2::timestamptz
                     AND $2::timestamptz > now()
                THEN ($2::timestamptz - now()) + CASE WHEN t.allow_user_autostop
                       THEN (w.ttl / 1000 / 1000 / 1000 || ' seconds')::interval
                       ELSE (t.default_ttl / 1000 / 1000 / 1000 || ' seconds')::interval END
                ELSE (t.activity_bump / 1000 / 1000 / 1000 || ' seconds')::interval
           END AS ttl_interval
    FROM workspace_builds b
    JOIN provisioner_jobs j ON j.id = b.job_id
    JOIN workspaces w ON w.id = b.workspace_id
    JOIN templates t ON t.id = w.template_id
    WHERE b.workspace_id = $1::uuid
    ORDER BY b.build_number DESC
    LIMIT 1
  )
  UPDATE workspace_builds wb
  SET updated_at = now(),
      deadline = CASE WHEN l.build_max_deadline = '0001-01-01 00:00:00+00'
                      THEN greatest(wb.deadline, now() + l.ttl_interval)
                      ELSE least(greatest(wb.deadline, now() + l.ttl_interval), l.build_max_deadline) END
  FROM latest l
  WHERE wb.id = l.build_id
    AND l.job_completed_at IS NOT NULL
    AND l.activity_bump > 0
    AND l.build_transition = 'start'
    AND l.ttl_interval > '0 seconds'::interval
    AND l.build_deadline != '0001-01-01 00:00:00+00'
    AND l.build_deadline - (l.ttl_interval * 0.95) < now()`;

/**
 * One heartbeat on Coder's path for `workspaceId`: both statements, prepared on `client` (no next
 * autostart). Resolves "bumped" when ActivityBumpWorkspace moved the deadline, else "not_due".
 */
export async function coderHeartbeat(
  client: Pick<pg.ClientBase, "query">,
  workspaceId: string,
): Promise<"bumped" | "not_due"> {
  await client.query({ name: "get_workspace", text: CODER_GET_WORKSPACE, values: [workspaceId] });
  const bumped = await client.query({
    name: "activity_bump",
    text: CODER_ACTIVITY_BUMP,
    values: [workspaceId, "0001-01-01 00:00:00+00"],
  });
  return bumped.rowCount ? "bumped" : "not_due";
}
