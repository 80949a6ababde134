import * as z from "zod/mini";
import { loadDatabaseConfig, REPORTER_DATA_API_TIMEOUT_MS } from "../shared/config/database.ts";
import {
  ConfigError,
  type Env,
  loadReportWindowSeconds,
  nonnegativeInt,
  parseEnv,
  positiveInt,
} from "../shared/config/env.ts";

/**
 * The reporter's configuration, parsed once at cold start (handler.ts): its database, the windows
 * it reports, pruning, and the CloudWatch idle check. A bad value names the variable
 * (shared/config/env.ts).
 */

const ReporterEnv = z.object({
  REPORT_RETENTION_DAYS: positiveInt(14),
  /** Catch-up bound: a long outage is reported over several runs rather than one huge one. */
  REPORT_MAX_WINDOWS_PER_RUN: positiveInt(288),
  /**
   * A window is complete only this long after its end: a heartbeat whose now() fell inside it can
   * commit later, and the Data API cancels statements after 45 s, so 60 s bounds the wait.
   */
  REPORT_SETTLE_SECONDS: nonnegativeInt(60),
  /**
   * The fixed interval of clients that ignore the pacing hint; unset (the default) for clients that
   * follow it. With the bump, it sets the best write ratio `floorRatio` is measured against.
   */
  REPORT_HEARTBEAT_INTERVAL_SECONDS: z.optional(z.coerce.number().check(z.int(), z.positive())),
  REPORT_ACTIVITY_BUMP_SECONDS: positiveInt(3600),
  /** Pruning deletes at most batch × batches rows per run, so one run never holds locks for long. */
  REPORT_PRUNE_BATCH_SIZE: positiveInt(5000),
  REPORT_PRUNE_MAX_BATCHES: positiveInt(10),
  /**
   * Deployed stages: before touching the database, ask CloudWatch whether anything could be left to
   * report, so an idle deployment never wakes its paused cluster. Off unless "true": locally there
   * is no CloudWatch, and the reporter reads the database on every run, as it always did.
   */
  REPORT_SKIP_IDLE: z._default(z.enum(["true", "false"]), "false"),
  /** The reporter's EventBridge schedule, `rate(N unit)`: how far apart two runs are. */
  REPORT_SCHEDULE: z.optional(z.string()),
  /** Added to the idle lookback: late scheduled runs, EMF data points landing late, clock skew. */
  REPORT_IDLE_MARGIN_SECONDS: nonnegativeInt(300),
});

type ReporterEnvValues = z.output<typeof ReporterEnv>;

/** Seconds between runs of an EventBridge `rate(...)` expression; null for anything else (cron). */
export function rateExpressionSeconds(expression: string): number | null {
  const match = /^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$/.exec(expression.trim());
  if (!match) return null;
  const value = Number(match[1]);
  const unit = { minute: 60, hour: 3_600, day: 86_400 }[match[2]?.replace(/s$/, "") ?? ""];
  return value > 0 && unit ? value * unit : null;
}

/** The CloudWatch idle check, or null (local): every run reads the database. */
function idleCheckFrom(
  parsed: ReporterEnvValues,
): { schedulePeriodSeconds: number; marginSeconds: number } | null {
  if (parsed.REPORT_SKIP_IDLE !== "true") return null;
  // The lookback is derived from the period; a cron schedule has none we could trust.
  const period = rateExpressionSeconds(parsed.REPORT_SCHEDULE ?? "");
  if (period === null) {
    throw new ConfigError(
      "Invalid configuration: REPORT_SCHEDULE must be a rate(...) expression when REPORT_SKIP_IDLE is true",
    );
  }
  return { schedulePeriodSeconds: period, marginSeconds: parsed.REPORT_IDLE_MARGIN_SECONDS };
}

export function loadReporterConfig(env: Env = process.env) {
  const database = loadDatabaseConfig(env, REPORTER_DATA_API_TIMEOUT_MS);
  const windowSeconds = loadReportWindowSeconds(env);
  const parsed = parseEnv(ReporterEnv, env);
  const idleCheck = idleCheckFrom(parsed);
  return {
    database,
    windowSeconds,
    retentionDays: parsed.REPORT_RETENTION_DAYS,
    maxWindowsPerRun: parsed.REPORT_MAX_WINDOWS_PER_RUN,
    settleSeconds: parsed.REPORT_SETTLE_SECONDS,
    /** null: clients follow the pacing hint. */
    heartbeatIntervalSeconds: parsed.REPORT_HEARTBEAT_INTERVAL_SECONDS ?? null,
    activityBumpSeconds: parsed.REPORT_ACTIVITY_BUMP_SECONDS,
    pruneBatchSize: parsed.REPORT_PRUNE_BATCH_SIZE,
    pruneMaxBatches: parsed.REPORT_PRUNE_MAX_BATCHES,
    /** The CloudWatch idle check, or null (local): every run reads the database. */
    idleCheck,
  };
}

export type ReporterConfig = ReturnType<typeof loadReporterConfig>;
