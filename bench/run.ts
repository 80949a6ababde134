/**
 * `npm run bench` (issue 4): the cost of one heartbeat, measured side by side in one run on this
 * machine, against the physical floor (the same SQL over a direct `pg` connection).
 *
 *   node --import ./tools/local/sql-loader.mjs --import tsx bench/run.ts [--quick]
 *
 * Writes bench/results/latest.{json,md} and two SVG charts; prints the Markdown report.
 * Sizes (env): BENCH_CHATS=10000,100000  BENCH_LOAD_SECONDS=30  BENCH_CONCURRENCY=32
 * BENCH_WINDOW_SECONDS=8 (sweep, database ceiling, profile)  BENCH_LATENCY_ITERATIONS=3000;
 * BENCH_CPU_PROFILE=<file> keeps the raw V8 profile of the profiled window;
 * BENCH_SYNCHRONOUS_COMMIT=off runs everything with PostgreSQL's commit flush off (an experiment).
 *
 * This file only orchestrates: the stack and the shared measuring tools are in bench/harness.ts,
 * each experiment (and its typed result) in bench/experiments/, the report in bench/report.ts.
 */
import { writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { join } from "node:path";
import { measureColdStart } from "./experiments/cold-start.ts";
import { measureConcurrencySweep } from "./experiments/concurrency-sweep.ts";
import { measureDatabaseCeiling } from "./experiments/database-ceiling.ts";
import { measureLatency } from "./experiments/latency.ts";
import { measureLoad } from "./experiments/load.ts";
import { measureProfile } from "./experiments/profile.ts";
import { measureSimulatedHour } from "./experiments/simulated-hour.ts";
import { benchSettings, startBenchStack, startedAt, throughputWindows } from "./harness.ts";
import { type BenchResults, renderReport } from "./report.ts";
import { publishResults } from "./stack.ts";
import { barChart, histogramChart } from "./svg-chart.ts";

const QUICK = process.argv.includes("--quick");
const settings = benchSettings(QUICK);
const RESULTS = new URL("./results/", import.meta.url).pathname;

const stack = await startBenchStack(settings);
const machine = {
  cpus: cpus().length,
  cpu: cpus()[0]?.model,
  memoryGiB: Math.round(totalmem() / 2 ** 30),
  node: process.version,
  postgres: stack.postgresVersion,
};

const latency = await measureLatency(stack, settings);
const windows = await throughputWindows(stack);
const load = await measureLoad(stack, windows, settings);
const concurrencySweep = await measureConcurrencySweep(stack, windows, settings, QUICK);
const databaseCeiling = await measureDatabaseCeiling(
  stack,
  windows,
  settings,
  latency.latencyChats,
);
const profile = await measureProfile(stack, windows, settings);
const simulatedHour = await measureSimulatedHour(stack);
const coldStart = measureColdStart();

const results: BenchResults = {
  machine,
  quick: QUICK,
  settings,
  ...latency.result,
  load,
  concurrencySweep,
  databaseCeiling,
  profile,
  simulatedHour: simulatedHour.result,
  coldStart,
  runSeconds: Math.round((Date.now() - startedAt) / 1000),
};

// --- report ---
publishResults("latest", results, renderReport(results).trimEnd());
writeFileSync(
  join(RESULTS, "latency.svg"),
  histogramChart("Warm heartbeat latency (ms)", [
    { label: "handler → SDK → local Data API → PostgreSQL", samples: latency.handlerSamples },
    { label: "same SQL over pg (floor)", samples: latency.floorSamples },
  ]),
);
writeFileSync(
  join(RESULTS, "writes-per-heartbeat.svg"),
  barChart(
    "Writes per heartbeat over a simulated hour (30 s heartbeats, 1 h bump)",
    simulatedHour.series.map((point) => ({
      x: point.heartbeat,
      build: point.build,
      lastUsed: point.lastUsed,
    })),
  ),
);

await stack.stop();
process.exit(0);
