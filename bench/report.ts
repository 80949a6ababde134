/** The Markdown report of `npm run bench` (bench/results/latest.md), from its typed results. */
import { cpus, totalmem } from "node:os";
import type { ColdStartResult } from "./experiments/cold-start.ts";
import type { ConcurrencySweepResult } from "./experiments/concurrency-sweep.ts";
import type { DatabaseCeilingResult } from "./experiments/database-ceiling.ts";
import type { LatencyResult } from "./experiments/latency.ts";
import type { LoadRun } from "./experiments/load.ts";
import type { ProfileResult } from "./experiments/profile.ts";
import type { SimulatedHourResult } from "./experiments/simulated-hour.ts";
import { type BenchSettings, ms, P99_TARGET_MS, pct } from "./harness.ts";

/** bench/results/latest.json, key by key in the order it is written. */
export type BenchResults = {
  machine: {
    cpus: number;
    cpu: string | undefined;
    memoryGiB: number;
    node: string;
    postgres: string;
  };
  quick: boolean;
  settings: BenchSettings;
} & LatencyResult & {
    load: LoadRun[];
    concurrencySweep: ConcurrencySweepResult;
    databaseCeiling: DatabaseCeilingResult;
    profile: ProfileResult;
    simulatedHour: SimulatedHourResult;
    coldStart: ColdStartResult;
    runSeconds: number;
  };

export function renderReport(results: BenchResults): string {
  const { quick: QUICK, settings } = results;
  const postgresVersion = results.machine.postgres;
  const { handler: handlerStats, floor: floorStats } = results.latency;
  const overhead = results.requestPathWithoutDatabase;
  const loadRuns = results.load;
  const sweep = results.concurrencySweep.windows;
  const bestUnderTarget = results.concurrencySweep.bestWithP99Under50ms;
  const ceiling = results.databaseCeiling.variants;
  const explain = results.databaseCeiling;
  const hour = results.simulatedHour;
  const cold = results.coldStart;
  const profileSummary = results.profile;
  const profiledWindow = results.profile.window;
  const ENDPOINT_CONNECTIONS = results.databaseCeiling.connections;

  const cores = (value: number | undefined) => (value === undefined ? "?" : value.toFixed(2));
  const outcomeMix = (outcomes: Record<string, number>) => {
    const total = Object.values(outcomes).reduce((sum, n) => sum + n, 0);
    return Object.entries(outcomes)
      .sort((a, b) => b[1] - a[1])
      .map(([outcome, n]) => `${outcome} ${pct(n / Math.max(total, 1))}`)
      .join(", ");
  };
  const loadRows = loadRuns
    .map(
      (run) =>
        `| load, ${run.chats.toLocaleString("en")} chats, ${run.concurrency} in flight | ≥ 3,333 hb/s, p99 < ${P99_TARGET_MS} ms | ${run.perSecond} hb/s, p50 ${ms(run.p50)} ms, p99 ${ms(run.p99)} ms, ${run.errors} errors over ${run.heartbeats.toLocaleString("en")} heartbeats in ${run.seconds} s |`,
    )
    .join("\n");
  const dataApiCalls = loadRuns.map((run) => run.dataApiCallsPerHeartbeat).join(" / ");
  const databaseWorkRows = loadRuns
    .map(
      (run) =>
        `| ${run.chats.toLocaleString("en")} | ${outcomeMix(run.outcomes)} | ${run.dataApiCallsPerHeartbeat} | ${run.buildWritesPerHeartbeat} | ${run.workspaceWritesPerHeartbeat} | ${run.walBytesPerHeartbeat} | ${run.nodeCpuMsPerHeartbeat ?? "?"} | ${run.postgresCpuMsPerHeartbeat ?? "?"} | ${cores(run.cpu?.machine)} / ${cores(run.cpu?.others)} | ${run.cpu ? pct(run.cpu.nodeMainThreadWaitingForCore) : "?"} |`,
    )
    .join("\n");
  const sweepRows = sweep
    .map(
      (point) =>
        `| ${point.concurrency} | ${point.perSecond} | ${ms(point.p50)} | ${ms(point.p99)} | ${point.errors} |`,
    )
    .join("\n");
  const ceilingRows = ceiling
    .map(
      (variant) =>
        `| ${variant.name} | ${variant.perSecond} | ${ms(variant.p50)} | ${ms(variant.p99)} | ${variant.postgresCpuMsPerHeartbeat ?? "?"} | ${variant.errors} |`,
    )
    .join("\n");
  const profileRows = profileSummary.components
    .filter((entry) => entry.share >= 0.005)
    .map((entry) => `| ${entry.component} | ${pct(entry.share)} |`)
    .join("\n");
  const selfRows = profileSummary.topSelf
    .map((entry) => `| \`${entry.frame}\` | ${entry.component} | ${pct(entry.share)} |`)
    .join("\n");

  const idleShare =
    profileSummary.components.find((entry) => entry.component === "(idle)")?.share ?? 0;
  const profileNote =
    profiledWindow.cpu === null
      ? ""
      : `The sampler runs on wall-clock time. In this window Node's process was on a CPU ${pct(profiledWindow.cpu.node)} of the time (all its threads), its main thread sat on the scheduler's run queue — ready, waiting for a core — ${pct(profiledWindow.cpu.nodeMainThreadWaitingForCore)} (/proc schedstat), and the profile shows it idle in the event loop ${pct(idleShare)}. Waiting time is charged to whatever the thread was doing then: mostly the socket write that hands a statement to PostgreSQL and wakes its backend (\`writev\`).`;
  return `Measured ${new Date().toISOString().slice(0, 10)} with \`npm run bench${QUICK ? " -- --quick" : ""}\` on ${cpus().length} × ${cpus()[0]?.model}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}, embedded PostgreSQL ${postgresVersion}${settings.synchronousCommitOff ? " with synchronous_commit = off" : ""}. The load generator, the handler, the SDK and the local Data API endpoint run in one Node process and share the cores with PostgreSQL (and with whatever else runs on the machine: "others" below). Run took ${results.runSeconds} s.

| measure | target | measured |
|---|---|---|
| Data API calls per heartbeat (load runs) | 1 | ${dataApiCalls} |
| warm latency, handler path (${handlerStats.n} sequential, interleaved with the floor) | p50 ≤ 3× floor, p99 ≤ 5× | p50 ${ms(handlerStats.p50)} ms (${(handlerStats.p50 / floorStats.p50).toFixed(1)}×), p95 ${ms(handlerStats.p95)} ms, p99 ${ms(handlerStats.p99)} ms (${(handlerStats.p99 / floorStats.p99).toFixed(1)}×) |
| warm latency, same SQL over \`pg\` (floor) | — | p50 ${ms(floorStats.p50)} ms, p95 ${ms(floorStats.p95)} ms, p99 ${ms(floorStats.p99)} ms |
| request path without the database (token verify, event schema, scopes, JSON response) | — | p50 ${ms(overhead.p50)} ms, p99 ${ms(overhead.p99)} ms |
${loadRows}
| best rate with p99 < ${P99_TARGET_MS} ms (concurrency sweep) | ≥ 3,333 hb/s | ${bestUnderTarget ? `${bestUnderTarget.perSecond} hb/s at ${bestUnderTarget.concurrency} in flight (p99 ${ms(bestUnderTarget.p99)} ms)` : "none"} |
| build writes per workspace-hour (simulated) | ≤ 20 | ${hour.buildWrites} |
| last-used writes per workspace-hour (simulated) | ≤ 60 | ${hour.lastUsedWrites} |
| heartbeat bundle zipped / raw, init (median of 11) | ≤ 250 KB, ≤ 100 ms | ${cold.heartbeat?.zippedBytes.toLocaleString("en")} B / ${cold.heartbeat?.bundleBytes.toLocaleString("en")} B, ${cold.heartbeat?.initMedianMs} ms |
| reporter bundle zipped / raw, init (median of 11) | ≤ 250 KB, ≤ 100 ms | ${cold.reporter?.zippedBytes.toLocaleString("en")} B / ${cold.reporter?.bundleBytes.toLocaleString("en")} B, ${cold.reporter?.initMedianMs} ms |

**Database work and CPU per heartbeat under load.** Each chat heartbeats once in the window, seeded at a random point of its 30 s cycle (steady state: 1 in 6 due for a bump, 1 in 2 due for a last-used write). Row writes from \`pg_stat_user_tables.n_tup_upd\`, WAL from \`pg_current_wal_lsn()\`; CPU from /proc: this Node process and PostgreSQL's processes per heartbeat, all cores busy and the part of that used by other processes, in cores on average, and the share of the window Node's main thread spent on the run queue (ready, no core free).

| chats | outcomes | Data API calls | build writes | workspace writes | WAL bytes | Node CPU ms | PostgreSQL CPU ms | machine busy / others (cores) | Node main thread waiting for a core |
|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|
${databaseWorkRows}

**Concurrency sweep** (handler path, ${settings.windowSeconds} s windows, steady-state chats):

| in flight | hb/s | p50 ms | p99 ms | errors |
|---:|---:|---:|---:|---:|
${sweepRows}

**The database's own ceiling** (the statement over ${ENDPOINT_CONNECTIONS} direct \`pg\` connections — the local endpoint's pool size —, ${settings.windowSeconds} s windows, steady-state chats). EXPLAIN ANALYZE of one heartbeat, median of 40: planning ${ms(explain.explainMedianMs.planning)} ms, execution ${ms(explain.explainMedianMs.execution)} ms.

| statement | hb/s | p50 ms | p99 ms | PostgreSQL CPU ms / heartbeat | errors |
|---|---:|---:|---:|---:|---:|
${ceilingRows}

**Where the Node process spends its time** (V8 CPU profile of one ${settings.windowSeconds} s window at ${settings.concurrency} in flight, ${profiledWindow.perSecond} hb/s while profiled; samples charged to the nearest library or component on the stack):

${profileNote}

| component | share of samples |
|---|---:|
${profileRows}

| top self time | charged to | share |
|---|---|---:|
${selfRows}
`;
}
