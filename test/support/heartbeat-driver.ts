import type pg from "pg";
import type { RecordedHeartbeat } from "../../functions/heartbeat/domain/record-heartbeat.ts";
import { HeartbeatRow, heartbeatFromRow } from "../../functions/heartbeat/heartbeat-store.ts";
import heartbeatSql from "../../sql/queries/heartbeat.sql";
import { toPositionalParameters } from "../../tools/sql-lexer.ts";

/**
 * One heartbeat for `chatId` by the token subject `userId`. The rule tests are written against this
 * interface so the same cases can run through the statement alone or through the whole handler.
 */
export interface HeartbeatDriver {
  beat(chatId: string, userId: string): Promise<RecordedHeartbeat | "not_found">;
}

const statement = toPositionalParameters(heartbeatSql);

/** Runs `sql/queries/heartbeat.sql` (the function) directly over `pool`, each heartbeat on one autocommit connection. */
export function pgHeartbeatDriver(
  pool: Pick<pg.Pool, "query">,
  options: { bucketSeconds: number },
): HeartbeatDriver {
  return {
    async beat(chatId, userId) {
      const parameters: Record<string, string> = {
        chatId,
        userId,
        bucketSeconds: String(options.bucketSeconds),
      };
      const values = statement.names.map((name) => {
        const value = parameters[name];
        if (value === undefined)
          throw new Error(`heartbeat.sql uses an unknown parameter :${name}`);
        return value;
      });
      const { rows } = await pool.query<Record<string, unknown>>(statement.text, values);
      if (rows.length > 1) throw new Error(`heartbeat returned ${rows.length} rows`);
      const row = rows[0];
      if (!row) return "not_found";
      // node-pg returns bigint as text; the Data API returns it as a JSON number.
      const number = (value: unknown) => (value === null ? null : Number(value));
      return heartbeatFromRow(
        HeartbeatRow.parse({
          ...row,
          deadline_ms: number(row.deadline_ms),
          max_deadline_ms: number(row.max_deadline_ms),
          last_used_at_ms: number(row.last_used_at_ms),
          next_heartbeat_seconds: number(row.next_heartbeat_seconds),
        }),
      );
    },
  };
}
