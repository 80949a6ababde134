import * as z from "zod/mini";
import heartbeatSql from "../../sql/queries/heartbeat.sql";
import { type SqlDatabase, sqlParameter } from "../shared/database/database.ts";
import { HEARTBEAT_OUTCOMES } from "../shared/outcomes.ts";
import type { HeartbeatStore, RecordedHeartbeat } from "./domain/record-heartbeat.ts";

/** Times come back as epoch milliseconds (null = unset): no zone or format to agree on. */
const epochMs = z.nullable(z.number());

/** One row of `chat_heartbeat.record_heartbeat`, as `sql/queries/heartbeat.sql` selects it. */
export const HeartbeatRow = z.object({
  outcome: z.enum(HEARTBEAT_OUTCOMES),
  workspace_id: z.nullable(z.string()),
  deadline_ms: epochMs,
  max_deadline_ms: epochMs,
  last_used_at_ms: epochMs,
  next_heartbeat_seconds: z.number().check(z.int(), z.gte(15), z.lte(300)),
});

const isoTime = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** The row as the domain (and docs/api.md) speaks of it: ISO-8601 UTC times, lower-case ids. */
export function heartbeatFromRow(row: z.output<typeof HeartbeatRow>): RecordedHeartbeat {
  return {
    outcome: row.outcome,
    workspaceId: row.workspace_id,
    deadline: isoTime(row.deadline_ms),
    maxDeadline: isoTime(row.max_deadline_ms),
    lastUsedAt: isoTime(row.last_used_at_ms),
    nextHeartbeatSeconds: row.next_heartbeat_seconds,
  };
}

/** The activity bump as one Data API call: `sql/queries/heartbeat.sql`. */
export function createHeartbeatStore(
  db: SqlDatabase,
  options: { bucketSeconds: number },
): HeartbeatStore {
  return {
    async beat({ chatId, userId }) {
      const rows = await db.query(
        heartbeatSql,
        [
          sqlParameter.uuid("chatId", chatId),
          sqlParameter.uuid("userId", userId),
          sqlParameter.bigint("bucketSeconds", options.bucketSeconds),
        ],
        HeartbeatRow,
      );
      const row = rows[0];
      return row ? heartbeatFromRow(row) : null;
    },
  };
}
