import type { ReporterConfig } from "../config.ts";
import {
  buildReport,
  type EpochSeconds,
  floorWriteRatio,
  lastCompleteWindowEnd,
  type Report,
  type WindowCount,
  type WindowRange,
  windowsToReport,
} from "./windows.ts";

/** One reporter run's view of the database, all inside one transaction. */
export interface ReportTransaction {
  /** Locks the watermark until the transaction ends; concurrent runs wait here. */
  lockWatermark(): Promise<{
    reportedUntil: EpochSeconds | null;
    earliestCount: EpochSeconds | null;
    now: EpochSeconds;
  }>;
  countsBetween(range: WindowRange, windowSeconds: number): Promise<WindowCount[]>;
  advanceWatermark(until: EpochSeconds): Promise<void>;
}

export interface ReportStore {
  inTransaction<T>(work: (tx: ReportTransaction) => Promise<T>): Promise<T>;
  /** Deletes one batch of expired, already reported counts; returns how many rows went. */
  pruneBatch(retentionSeconds: number, batchSize: number): Promise<number>;
}

/** What a run needs of the reporter's configuration: all of it but the connection and the idle check. */
export type ReportSettings = Omit<ReporterConfig, "database" | "idleCheck">;

export interface ReportRun {
  report: Report;
  /** The range this run covered (empty windows included), or null when nothing was complete. */
  range: WindowRange | null;
  /** False when complete windows were left for the next run (the per-run cap). */
  caughtUp: boolean;
  pruned: number;
}

/**
 * Reports every complete window since the last reported one, exactly once: the counts are read
 * and the watermark advanced in one transaction under the watermark's row lock. The caller emits
 * the report only after this returns (after the commit), so a run that fails part-way has reported
 * nothing and the next run reports it — emission is at most once, never twice.
 */
export async function reportCompleteWindows(
  store: ReportStore,
  settings: ReportSettings,
): Promise<ReportRun> {
  const { report, range, caughtUp } = await store.inTransaction(async (tx) => {
    const state = await tx.lockWatermark();
    const range = windowsToReport({
      ...state,
      windowSeconds: settings.windowSeconds,
      settleSeconds: settings.settleSeconds,
      maxWindows: settings.maxWindowsPerRun,
    });
    if (range === null) return { report: { windows: [] }, range, caughtUp: true };
    const caughtUp =
      range.to >= lastCompleteWindowEnd(state.now, settings.windowSeconds, settings.settleSeconds);
    const counts = await tx.countsBetween(range, settings.windowSeconds);
    await tx.advanceWatermark(range.to);
    return {
      report: buildReport(counts, range, {
        windowSeconds: settings.windowSeconds,
        floorWriteRatio: floorWriteRatio(
          settings.heartbeatIntervalSeconds,
          settings.activityBumpSeconds,
        ),
      }),
      range,
      caughtUp,
    };
  });

  let pruned = 0;
  for (let batch = 0; batch < settings.pruneMaxBatches; batch++) {
    const deleted = await store.pruneBatch(
      settings.retentionDays * 86_400,
      settings.pruneBatchSize,
    );
    pruned += deleted;
    if (deleted < settings.pruneBatchSize) break;
  }
  return { report, range, caughtUp, pruned };
}
