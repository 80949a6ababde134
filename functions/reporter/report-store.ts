import * as z from "zod/mini";
import pruneSql from "../../sql/queries/prune-outcome-counts.sql";
import advanceWatermarkSql from "../../sql/queries/report-advance-watermark.sql";
import lockWatermarkSql from "../../sql/queries/report-lock-watermark.sql";
import windowCountsSql from "../../sql/queries/report-window-counts.sql";
import { type SqlDatabase, sqlParameter } from "../shared/database/database.ts";
import { HEARTBEAT_OUTCOMES } from "../shared/outcomes.ts";
import type { ReportStore } from "./domain/report-complete-windows.ts";

const WatermarkRow = z.object({
  reported_until_epoch: z.nullable(z.number()),
  now_epoch: z.number(),
  earliest_epoch: z.nullable(z.number()),
});

const CountRow = z.object({
  window_start_epoch: z.number(),
  outcome: z.enum(HEARTBEAT_OUTCOMES),
  heartbeats: z.number(),
});

/** The reporter's SQL (`sql/queries/report-*.sql`, `prune-*.sql`) over the Data API. */
export function createReportStore(db: SqlDatabase): ReportStore {
  return {
    inTransaction: (work) =>
      db.transaction((session) =>
        work({
          async lockWatermark() {
            const [row] = await session.query(lockWatermarkSql, [], WatermarkRow);
            if (!row)
              throw new Error("chat_heartbeat.report_watermark has no row: run the migrations");
            return {
              reportedUntil: row.reported_until_epoch,
              earliestCount: row.earliest_epoch,
              now: row.now_epoch,
            };
          },
          async countsBetween(range, windowSeconds) {
            const rows = await session.query(
              windowCountsSql,
              [
                sqlParameter.bigint("fromEpoch", range.from),
                sqlParameter.bigint("toEpoch", range.to),
                sqlParameter.bigint("windowSeconds", windowSeconds),
              ],
              CountRow,
            );
            return rows.map((row) => ({
              windowStart: row.window_start_epoch,
              outcome: row.outcome,
              heartbeats: row.heartbeats,
            }));
          },
          async advanceWatermark(until) {
            await session.execute(advanceWatermarkSql, [sqlParameter.bigint("untilEpoch", until)]);
          },
        }),
      ),
    async pruneBatch(retentionSeconds, batchSize) {
      const { updated } = await db.execute(pruneSql, [
        sqlParameter.bigint("retentionSeconds", retentionSeconds),
        sqlParameter.bigint("batchSize", batchSize),
      ]);
      return updated;
    },
  };
}
