import * as z from "zod/mini";
import heartbeatSql from "../../sql/queries/heartbeat.sql";
import { type SqlDatabase, sqlParameter } from "../shared/database/database.ts";
import { HEARTBEAT_OUTCOMES } from "./domain/outcomes.ts";
import type { HeartbeatStore } from "./domain/record-heartbeat.ts";

const isoTime = z.nullable(z.iso.datetime());

const HeartbeatRow = z.object({
  outcome: z.enum(HEARTBEAT_OUTCOMES),
  workspace_id: z.nullable(z.string()),
  deadline: isoTime,
  max_deadline: isoTime,
  last_used_at: isoTime,
});

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
      if (!row) return null;
      return {
        outcome: row.outcome,
        workspaceId: row.workspace_id,
        deadline: row.deadline,
        maxDeadline: row.max_deadline,
        lastUsedAt: row.last_used_at,
      };
    },
  };
}
