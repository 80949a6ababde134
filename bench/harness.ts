import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import * as z from "zod";
import heartbeatSql from "../sql/queries/heartbeat.sql";
import { heartbeatEvent, lambdaContext } from "../test/support/api-gateway-event.ts";
import { toPositionalParameters } from "../tools/sql-lexer.ts";
import type { CpuShare } from "./cpu-meter.ts";
import { BENCH_USER, seedChats } from "./seed.ts";
import { BUCKET_SECONDS, startBenchDatabase, startBenchHeartbeat } from "./stack.ts";

export const startedAt = Date.now();
/** The local endpoint's pool size: the database never sees more concurrent statements than this. */
export const ENDPOINT_CONNECTIONS = 20;
/** A backend flushes its table statistics at most once a second, and when it has been idle for
 * PGSTAT_IDLE_INTERVAL (10 s, src/backend/utils/activity/pgstat.c); pg_stat_force_next_flush()
 * only reaches our own backend, not the endpoint's, so we wait that long before reading them. */
export const STATS_SETTLE_MS = 11_000;
export const P99_TARGET_MS = 50;

// --- settings: --quick and the BENCH_* sizes ---
const positive = z.coerce.number().int().positive();
const Settings = z.object({
  chats: z.string().transform((list) => list.split(",").map((size) => positive.parse(size.trim()))),
  loadSeconds: positive,
  concurrency: positive,
  windowSeconds: positive,
  latencyIterations: positive,
  cpuProfile: z.string().optional(),
  synchronousCommitOff: z.boolean(),
});
export type BenchSettings = z.output<typeof Settings>;

export function benchSettings(quick: boolean, env = process.env): BenchSettings {
  return Settings.parse({
    chats: env.BENCH_CHATS ?? (quick ? "10000" : "10000,100000"),
    loadSeconds: env.BENCH_LOAD_SECONDS ?? (quick ? 5 : 30),
    concurrency: env.BENCH_CONCURRENCY ?? 32,
    windowSeconds: env.BENCH_WINDOW_SECONDS ?? (quick ? 2 : 8),
    latencyIterations: env.BENCH_LATENCY_ITERATIONS ?? (quick ? 300 : 3_000),
    cpuProfile: env.BENCH_CPU_PROFILE,
    synchronousCommitOff: env.BENCH_SYNCHRONOUS_COMMIT === "off",
  });
}

// --- statistics and formatting ---
export interface Stats {
  n: number;
  p50: number;
  p95: number;
  p99: number;
}
const percentile = (sorted: number[], p: number) =>
  sorted.length === 0
    ? Number.NaN
    : (sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number);
export const stats = (samples: number[]): Stats => {
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    n: sorted.length,
    p50: percentile(sorted, 50),
    p95: percentile(sorted, 95),
    p99: percentile(sorted, 99),
  };
};
export const ms = (value: number) => value.toFixed(2);
export const pct = (share: number) => `${(share * 100).toFixed(1)} %`;
export const log = (line: string) =>
  process.stderr.write(`[${((Date.now() - startedAt) / 1000).toFixed(0)} s] ${line}\n`);

/** One heartbeat by some path; its outcome. */
export type Beat = (chatId: string) => Promise<string>;

export interface Window extends Stats {
  seconds: number;
  heartbeats: number;
  perSecond: number;
  errors: number;
  outcomes: Record<string, number>;
  cpu: CpuShare | null;
}

export const perHeartbeat = (total: number, heartbeats: number, digits = 3) =>
  Number((total / Math.max(heartbeats, 1)).toFixed(digits));
export const cpuMsPerHeartbeat = (cores: number | undefined, window: Window) =>
  cores === undefined
    ? null
    : Number(((cores * window.seconds * 1000) / window.heartbeats).toFixed(2));

// --- the stack: embedded PostgreSQL, migrations, local Data API, the real handler in-process ---
export async function startBenchStack(settings: BenchSettings) {
  const { server, dbUrl, pool, postgresVersion, meter } = await startBenchDatabase("bench", {
    synchronousCommitOff: settings.synchronousCommitOff,
  });
  const { dataApi, handler, token } = await startBenchHeartbeat(server, "bench");
  const statement = toPositionalParameters(heartbeatSql);
  const statementValues = (chatId: string) =>
    statement.names.map((name) =>
      name === "chatId" ? chatId : name === "userId" ? BENCH_USER : String(BUCKET_SECONDS),
    );

  /** One heartbeat through the real handler (→ SDK → local Data API → PostgreSQL); its outcome. */
  const beatViaHandler: Beat = async (chatId) => {
    const result = await handler(heartbeatEvent({ chatId, token }), lambdaContext());
    if (result.statusCode !== 200)
      throw new Error(`handler answered ${result.statusCode}: ${result.body}`);
    return (JSON.parse(result.body ?? "{}") as { outcome: string }).outcome;
  };

  return {
    server,
    dbUrl,
    pool,
    postgresVersion,
    meter,
    dataApi,
    token,
    statement,
    statementValues,
    beatViaHandler,
    async stop() {
      await pool.end();
      await dataApi.close();
      await server.stop();
    },
  };
}

export type BenchStack = Awaited<ReturnType<typeof startBenchStack>>;

// --- shared machinery for the throughput windows ---
/**
 * Windows of heartbeats over the stack: seeds its calibration chats (only for rate estimates)
 * when made, so it is made after the latency experiment, as the chats it seeds come after those.
 */
export async function throughputWindows(stack: BenchStack) {
  const { pool, meter, dataApi } = stack;

  /** `concurrency` clients, each taking the next chat (each chat at most once) until time is up. */
  async function runWindow(
    chats: string[],
    seconds: number,
    concurrency: number,
    beat: Beat,
  ): Promise<Window> {
    const samples: number[] = [];
    const outcomes: Record<string, number> = {};
    let errors = 0;
    let next = 0;
    const stopCpu = meter?.start();
    const started = performance.now();
    const deadline = started + seconds * 1000;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (performance.now() < deadline && next < chats.length) {
          const chat = chats[next++] as string;
          const began = performance.now();
          try {
            const outcome = await beat(chat);
            samples.push(performance.now() - began);
            outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
          } catch {
            errors++;
          }
        }
      }),
    );
    const elapsed = (performance.now() - started) / 1000;
    return {
      seconds: Number(elapsed.toFixed(1)),
      heartbeats: samples.length + errors,
      perSecond: Math.round(samples.length / elapsed),
      ...stats(samples),
      errors,
      outcomes,
      cpu: stopCpu?.() ?? null,
    };
  }

  /** Chats whose heartbeat never writes a Coder row, revisited freely: only for rate estimates. */
  const calibrationChats = await seedChats(pool, 4_000, { kind: "not_due" });
  async function calibrate(concurrency: number, beat: Beat): Promise<number> {
    const sample = [...calibrationChats, ...calibrationChats];
    return Math.max(50, (await runWindow(sample, 1, concurrency, beat)).perSecond);
  }

  /**
   * Seeds `count` chats in the steady state of 30 s heartbeats (bench/seed.ts) for a window that
   * starts at least `settleMs` from now, at the rate the calibration saw, and waits for that start.
   */
  async function seedSteadyState(count: number, visitsPerSecond: number, settleMs: number) {
    // Seeding runs at ~25 k chats/s here; the start must lie after it.
    const firstVisitAt = new Date(Date.now() + Math.max(settleMs, 500 + count / 10));
    const chats = await seedChats(pool, count, {
      kind: "steady_state",
      visitsPerSecond,
      firstVisitAt,
    });
    const lateMs = Date.now() - firstVisitAt.getTime();
    if (lateMs > 0) log(`  seeding finished ${lateMs} ms after the planned start`);
    else await sleep(-lateMs);
    return { chats, lateMs: Math.max(0, lateMs) };
  }

  async function databaseCounters() {
    const { rows } = await pool.query<{ relname: string; n_tup_upd: string }>(
      "SELECT relname, n_tup_upd FROM pg_stat_user_tables WHERE relname IN ('workspace_builds', 'workspaces')",
    );
    const wal = await pool.query<{ lsn: string }>("SELECT pg_current_wal_lsn()::text AS lsn");
    const updated = Object.fromEntries(rows.map((row) => [row.relname, Number(row.n_tup_upd)]));
    return {
      builds: updated.workspace_builds ?? 0,
      workspaces: updated.workspaces ?? 0,
      lsn: wal.rows[0]?.lsn ?? "0/0",
      dataApiCalls: dataApi.stats().executeStatement ?? 0,
    };
  }

  async function walBytes(from: string, to: string): Promise<number> {
    const { rows } = await pool.query<{ bytes: string }>(
      "SELECT pg_wal_lsn_diff($2, $1)::text AS bytes",
      [from, to],
    );
    return Number(rows[0]?.bytes ?? 0);
  }

  return { runWindow, calibrate, seedSteadyState, databaseCounters, walBytes };
}

export type ThroughputWindows = Awaited<ReturnType<typeof throughputWindows>>;
