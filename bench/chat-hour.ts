/**
 * `npm run bench:chat-hour` (also the last part of `npm run bench`, issue 12): an hour of continuous
 * chat with a 1 h bump (Coder's default template: 8 h TTL, no autostart), side by side in one run:
 *
 * - fixed: a heartbeat every 30 s (120 an hour), each up to BENCH_DELAY_MS late;
 * - paced: the next heartbeat `nextHeartbeatSeconds` after the last one (from the real response),
 *   up to BENCH_DELAY_MS late;
 * - Coder: its own path at 30 s (120 an hour), its two prepared statements over a direct
 *   connection (bench/coder-queries.ts), as in bench/coder-path.ts.
 *
 *   node --import ./tools/local/sql-loader.mjs --import tsx bench/chat-hour.ts [--quick] [--prices other.json]
 *
 * Ours goes through the real stack: the heartbeat handler → SDK → local Data API endpoint → the
 * real `record_heartbeat` on the embedded PostgreSQL. Time is simulated: nobody waits an hour.
 * Each chat lives on its own clock; before each of its beats one setup statement (direct `pg`,
 * not measured, not a Data API call) moves that chat's stored times (deadline, max_deadline,
 * last_used_at, next_start_at, the last-bump row) back by the simulated time that passed, so the
 * function sees now() advance relative to the data. Beats run in rounds (round k = every chat's
 * k-th beat), one at a time; PostgreSQL CPU is measured over the rounds only, so it covers the
 * beat statements and nothing else (background processes busy during a round included).
 *
 * Counts per chat-hour: HTTP requests, Data API calls, build writes (deadline changed),
 * last_used_at writes, outcomes; the docs/api.md bound (at least 0.95·I − 15 s left at each beat's
 * arrival); PostgreSQL CPU; the reporter's writeRatio/floorRatio for those outcomes; and the AWS
 * price per 1,000 chat-hours from bench/prices.json. Sizes (env): BENCH_CHAT_HOUR_CHATS (50),
 * BENCH_DELAY_MS (1000), BENCH_SEED (12). Writes bench/results/chat-hour.{json,md}.
 */
import { readFileSync } from "node:fs";
import { cpus } from "node:os";
import { performance } from "node:perf_hooks";
import pg from "pg";
import * as z from "zod";
import { loadReporterConfig } from "../functions/reporter/config.ts";
import { buildReport, floorWriteRatio } from "../functions/reporter/domain/windows.ts";
import { heartbeatEvent, lambdaContext } from "../test/support/api-gateway-event.ts";
import { coderHeartbeat } from "./coder-queries.ts";
import { postgresRuntimeMeter } from "./cpu-meter.ts";
import { cost, heartbeatMemoryMb, loadPrices } from "./prices.ts";
import { seedChats } from "./seed.ts";
import {
  BUCKET_SECONDS,
  publishResults,
  startBenchDatabase,
  startBenchHeartbeat,
  stopBenchServerAndExit,
} from "./stack.ts";

const QUICK = process.argv.includes("--quick");
const pricesArg = process.argv.indexOf("--prices");
const positive = z.coerce.number().int().positive();
const settings = z
  .object({
    chats: positive,
    delayMs: z.coerce.number().int().nonnegative(),
    seed: z.coerce.number().int(),
    prices: z.string(),
  })
  .parse({
    chats: process.env.BENCH_CHAT_HOUR_CHATS ?? (QUICK ? 20 : 50),
    delayMs: process.env.BENCH_DELAY_MS ?? 1000,
    seed: process.env.BENCH_SEED ?? 12,
    prices:
      pricesArg >= 0
        ? process.argv[pricesArg + 1]
        : new URL("./prices.json", import.meta.url).pathname,
  });
const prices = loadPrices(settings.prices);
const memoryMb = heartbeatMemoryMb(
  readFileSync(new URL("../serverless.yml", import.meta.url), "utf8"),
);

const HOUR = 3600;
const NS_PER_SECOND = 1_000_000_000;
// Coder's default template as the issue states it: 1 h activity bump, 8 h TTL, no autostart.
const BUMP_SECONDS = 3600;
const TTL_SECONDS = 8 * 3600;
const FIXED_INTERVAL = 30;
/** docs/api.md: at least 0.95·I − 15 s between now and the deadline (no max_deadline here). */
const REQUIRED_LEFT_SECONDS = 0.95 * BUMP_SECONDS - 15;
const TARGET = { pacedRequests: 21, buildWrites: 20, cpuRatio: 0.5 };
const started = Date.now();
const log = (line: string) =>
  process.stderr.write(`[${((Date.now() - started) / 1000).toFixed(0)} s] ${line}\n`);

/** mulberry32: the same delays and starting phases on every run with the same seed. */
function random(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// --- the stack ---
const { server, dbUrl, pool, postgresVersion, postmasterPid, meter } = await startBenchDatabase(
  "bench_chat_hour",
  { poolSize: 4 },
);
const runtime = postgresRuntimeMeter(postmasterPid);
if (!meter || !runtime) throw new Error("bench/chat-hour needs Linux /proc (with schedstat)");
const {
  dataApi,
  handler,
  pollIntervalHeader: POLL_INTERVAL_HEADER,
  token,
} = await startBenchHeartbeat(server, "bench_chat_hour");
const coderClient = new pg.Client({ connectionString: dbUrl });
await coderClient.connect();

// --- the chats: one set per path, chat k of each set starting at the same phase ---
type Path = "fixed" | "paced" | "coder";
const PATHS: Path[] = ["fixed", "paced", "coder"];
const warmChats = await seedChats(pool, 40, { kind: "not_due" });
const all = await seedChats(pool, 3 * settings.chats, { kind: "not_due" });
const { rows: mapped } = await pool.query<{ id: string; workspace_id: string }>(
  "SELECT id::text, workspace_id::text FROM chats WHERE id = ANY ($1::uuid[])",
  [[...warmChats, ...all]],
);
const workspaceOf = new Map(mapped.map((row) => [row.id, row.workspace_id]));
await pool.query(
  `UPDATE templates SET activity_bump = $1::bigint, default_ttl = $2::bigint, allow_user_autostop = true`,
  [BUMP_SECONDS * NS_PER_SECOND, TTL_SECONDS * NS_PER_SECOND],
);
await pool.query(
  "UPDATE workspaces SET ttl = $1::bigint, autostart_schedule = NULL, next_start_at = NULL",
  [TTL_SECONDS * NS_PER_SECOND],
);
// A chat that has been going on: the last bump 0–180 s ago (the deadline 57–60 min ahead), the
// last mark-used 0–60 s ago. The setup statements rewrite these rows between beats, so their
// dead tuples are ours, not the heartbeats': no autovacuum on this bench-only database.
const phase = random(settings.seed);
const phases = Array.from({ length: settings.chats }, () => ({
  sinceBump: phase() * 0.05 * BUMP_SECONDS,
  sinceUsed: phase() * 60,
}));
for (const table of ["workspace_builds", "workspaces", "chat_heartbeat.workspace_last_bump"]) {
  await pool.query(`ALTER TABLE ${table} SET (autovacuum_enabled = false)`);
}
const sets = Object.fromEntries(
  PATHS.map((path, p) => [path, all.slice(p * settings.chats, (p + 1) * settings.chats)]),
) as Record<Path, string[]>;
await pool.query("VACUUM ANALYZE workspace_builds, workspaces, chats");

/** Puts a set's chats in their starting state relative to now (just before its hour starts). */
async function startState(chats: string[]) {
  await pool.query(
    `WITH s AS (SELECT unnest($1::uuid[]) AS ws, unnest($2::float8[]) AS since_bump, unnest($3::float8[]) AS since_used),
     b AS (UPDATE workspace_builds b
           SET deadline = now() + ($4::float8 - s.since_bump) * interval '1 second'
           FROM s WHERE b.workspace_id = s.ws)
     UPDATE workspaces w SET last_used_at = now() - s.since_used * interval '1 second'
     FROM s WHERE w.id = s.ws`,
    [
      chats.map((chat) => workspaceOf.get(chat) as string),
      phases.map((p) => p.sinceBump),
      phases.map((p) => p.sinceUsed),
      BUMP_SECONDS,
    ],
  );
}

/**
 * Moves each workspace's stored times back by its shift (seconds; negative moves them forward)
 * and returns its deadline and last_used_at as they then stand, epoch ms (zero time: unchanged).
 */
async function shiftTimes(workspaces: string[], shifts: number[]) {
  const { rows } = await pool.query<{ ws: string; deadline_ms: string; last_used_ms: string }>(
    `WITH s AS (SELECT unnest($1::uuid[]) AS ws, unnest($2::float8[]) * interval '1 second' AS d),
     b AS (UPDATE workspace_builds b
           SET deadline = CASE WHEN b.deadline = '0001-01-01 00:00:00+00' THEN b.deadline ELSE b.deadline - s.d END,
               max_deadline = CASE WHEN b.max_deadline = '0001-01-01 00:00:00+00' THEN b.max_deadline ELSE b.max_deadline - s.d END
           FROM s WHERE b.workspace_id = s.ws
           RETURNING b.workspace_id, b.deadline),
     w AS (UPDATE workspaces w
           SET last_used_at = CASE WHEN w.last_used_at = '0001-01-01 00:00:00+00' THEN w.last_used_at ELSE w.last_used_at - s.d END,
               next_start_at = w.next_start_at - s.d
           FROM s WHERE w.id = s.ws
           RETURNING w.id, w.last_used_at),
     l AS (UPDATE chat_heartbeat.workspace_last_bump l
           SET bumped_at = l.bumped_at - s.d, deadline = l.deadline - s.d
           FROM s WHERE l.workspace_id = s.ws)
     SELECT b.workspace_id::text AS ws,
            floor(extract(epoch FROM b.deadline) * 1000)::text AS deadline_ms,
            floor(extract(epoch FROM w.last_used_at) * 1000)::text AS last_used_ms
     FROM b JOIN w ON w.id = b.workspace_id`,
    [workspaces, shifts],
  );
  return new Map(
    rows.map((row) => [
      row.ws,
      { deadlineMs: Number(row.deadline_ms), lastUsedMs: Number(row.last_used_ms) },
    ]),
  );
}

interface BeatResult {
  outcome: string;
  /** After the beat, epoch ms (ours: from the response; Coder: unknown, null). */
  deadlineMs: number | null;
  lastUsedMs: number | null;
  /** Ours only. */
  hint: number | null;
  headerMatches: boolean;
  buildWritten: boolean | null;
}

async function ours(chatId: string): Promise<BeatResult> {
  const result = await handler(heartbeatEvent({ chatId, token }), lambdaContext());
  if (result.statusCode !== 200) throw new Error(`handler answered ${result.statusCode}`);
  const body = JSON.parse(result.body ?? "{}") as {
    outcome: string;
    deadline: string | null;
    lastUsedAt: string | null;
    nextHeartbeatSeconds: number;
  };
  return {
    outcome: body.outcome,
    deadlineMs: body.deadline === null ? null : Date.parse(body.deadline),
    lastUsedMs: body.lastUsedAt === null ? null : Date.parse(body.lastUsedAt),
    hint: body.nextHeartbeatSeconds,
    headerMatches: result.headers?.[POLL_INTERVAL_HEADER] === String(body.nextHeartbeatSeconds),
    buildWritten: null,
  };
}

async function coder(chatId: string): Promise<BeatResult> {
  const outcome = await coderHeartbeat(coderClient, workspaceOf.get(chatId) as string);
  return {
    outcome,
    deadlineMs: null,
    lastUsedMs: null,
    hint: null,
    headerMatches: true,
    buildWritten: outcome === "bumped",
  };
}

interface PathRun {
  path: Path;
  chats: number;
  beats: number;
  rounds: number;
  dataApiCalls: number;
  buildWrites: number;
  lastUsedWrites: number;
  outcomes: Record<string, number>;
  minLeftSeconds: number;
  boundViolations: number;
  /** The worst violation: how far short, and the hint (paced) and delay the beat followed. */
  worst: { shortSeconds: number; followedHint: number | null; lateSeconds: number } | null;
  hints: Record<string, number>;
  headerMismatches: number;
  /** Per beat, the handler's wall time (ours) or the two statements' (Coder), ms. */
  beatMs: number[];
  postgresCpuSeconds: number;
  postgresCpuSecondsTicks: number;
}

/** One simulated hour for every chat of the set; each chat on its own clock. */
async function* runHour(
  path: Path,
  chats: string[],
  beat: (chat: string) => Promise<BeatResult>,
): AsyncGenerator<number, PathRun> {
  const delay = random(settings.seed + 1);
  await startState(chats);
  const zero = Date.now();
  // Per chat: simulated seconds the data has been moved by, and when its next beat arrives.
  const moved = new Map(chats.map((chat) => [chat, 0]));
  const next = new Map(chats.map((chat) => [chat, 0]));
  const beatsOf = new Map(chats.map((chat) => [chat, 0]));
  const followed = new Map<
    string,
    { hint: number | null; late: number; hintedAt: number | undefined }
  >();
  const run: PathRun = {
    path,
    chats: chats.length,
    beats: 0,
    rounds: 0,
    dataApiCalls: 0,
    buildWrites: 0,
    lastUsedWrites: 0,
    outcomes: {},
    minLeftSeconds: Number.POSITIVE_INFINITY,
    boundViolations: 0,
    worst: null,
    hints: {},
    headerMismatches: 0,
    beatMs: [],
    postgresCpuSeconds: 0,
    postgresCpuSecondsTicks: 0,
  };
  for (;;) {
    const due = chats.filter((chat) => (next.get(chat) as number) < HOUR);
    if (due.length === 0) break;
    run.rounds++;
    // Setup (not measured): the simulated time each chat's clock must show at its next beat.
    const elapsed = (Date.now() - zero) / 1000;
    const shifts = due.map((chat) => {
      const shift = (next.get(chat) as number) - (elapsed + (moved.get(chat) as number));
      moved.set(chat, (moved.get(chat) as number) + shift);
      return shift;
    });
    const before = await shiftTimes(
      due.map((chat) => workspaceOf.get(chat) as string),
      shifts,
    );
    const dataApiBefore = dataApi.stats().executeStatement ?? 0;
    const stopTicks = meter?.start();
    const windowStart = performance.now();
    const stopRuntime = runtime?.start();
    for (const chat of due) {
      const pre = before.get(workspaceOf.get(chat) as string);
      if (!pre) throw new Error(`no build for chat ${chat}`);
      const began = performance.now();
      const result = await beat(chat);
      const tookMs = performance.now() - began;
      const answeredAt = Date.now();
      run.beatMs.push(tookMs);
      run.beats++;
      beatsOf.set(chat, (beatsOf.get(chat) as number) + 1);
      run.outcomes[result.outcome] = (run.outcomes[result.outcome] ?? 0) + 1;
      // When it arrived on its own clock.
      const arrived = (answeredAt - zero) / 1000 + (moved.get(chat) as number);
      const last = followed.get(chat);
      // The bound at arrival, conservatively: the deadline before the beat vs the answer's time.
      const left = (pre.deadlineMs - answeredAt) / 1000;
      run.minLeftSeconds = Math.min(run.minLeftSeconds, left);
      // docs/heartbeat.md promises the bound for a beat at the hinted time; one d seconds past it
      // (network delay, this round's own time) is owed d less, as in test/model/pacing-simulation.ts.
      const lateness = last?.hintedAt === undefined ? 0 : Math.max(0, arrived - last.hintedAt);
      const required = REQUIRED_LEFT_SECONDS - lateness;
      if (left < required) {
        run.boundViolations++;
        const short = required - left;
        if (!run.worst || short > run.worst.shortSeconds) {
          run.worst = {
            shortSeconds: Number(short.toFixed(3)),
            followedHint: last?.hint ?? null,
            lateSeconds: Number((last?.late ?? 0).toFixed(3)),
          };
        }
      }
      const buildWritten = result.buildWritten ?? result.deadlineMs !== pre.deadlineMs;
      if (buildWritten) run.buildWrites++;
      if (result.lastUsedMs !== null && result.lastUsedMs !== pre.lastUsedMs) run.lastUsedWrites++;
      if (!result.headerMatches) run.headerMismatches++;
      // When the next one will arrive.
      const late = (delay() * settings.delayMs) / 1000;
      followed.set(chat, {
        hint: result.hint,
        late,
        hintedAt: path === "paced" ? arrived + (result.hint as number) : undefined,
      });
      if (path === "paced") {
        const hint = result.hint as number;
        run.hints[hint] = (run.hints[hint] ?? 0) + 1;
        next.set(chat, arrived + hint + late);
      } else {
        next.set(chat, FIXED_INTERVAL * (beatsOf.get(chat) as number) + late);
      }
    }
    run.postgresCpuSeconds += stopRuntime?.() ?? 0;
    const ticks = stopTicks?.();
    if (ticks)
      run.postgresCpuSecondsTicks += (ticks.postgres * (performance.now() - windowStart)) / 1000;
    run.dataApiCalls += (dataApi.stats().executeStatement ?? 0) - dataApiBefore;
    // Where this path's clock stands next: the caller runs the path that lags furthest behind.
    yield Math.min(...chats.map((chat) => next.get(chat) as number));
  }
  return run;
}

// Warm both paths (the handler's cold start, plan caches, connections) on chats of their own.
for (const chat of warmChats.slice(0, 20)) await ours(chat);
for (const chat of warmChats.slice(20)) await coder(chat);

// The three hours advance together through simulated time (always the path whose next round is
// earliest), so whatever else the machine does meanwhile falls on all three alike.
log(`${settings.chats} chats per path, one simulated hour each`);
const runs = {} as Record<Path, PathRun>;
const hours = PATHS.map((path) => ({
  path,
  steps: runHour(path, sets[path], path === "coder" ? coder : ours),
  at: 0,
}));
while (hours.length > 0) {
  const lagging = hours.reduce((a, b) => (b.at < a.at ? b : a));
  const step = await lagging.steps.next();
  if (step.done) {
    runs[lagging.path] = step.value;
    hours.splice(hours.indexOf(lagging), 1);
    log(`${lagging.path}: ${step.value.beats} beats in ${step.value.rounds} rounds`);
  } else {
    lagging.at = step.value;
  }
}

// --- per chat-hour ---
const perChat = (value: number) => value / settings.chats;
const mean = (values: number[]) => values.reduce((sum, v) => sum + v, 0) / values.length;
const sortedAt = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? Number.NaN;
};
const reporter = loadReporterConfig(process.env);
const floor = floorWriteRatio(reporter.heartbeatIntervalSeconds, reporter.activityBumpSeconds);
function summarise(path: Path) {
  const run = runs[path];
  const outcomes = Object.entries(run.outcomes).map(([outcome, heartbeats]) => ({
    windowStart: 0,
    outcome: outcome as never,
    heartbeats,
  }));
  const window = buildReport(
    outcomes,
    { from: 0, to: BUCKET_SECONDS },
    {
      windowSeconds: BUCKET_SECONDS,
      floorWriteRatio: floor,
    },
  ).windows[0];
  return {
    requests: path === "coder" ? null : perChat(run.beats),
    heartbeats: perChat(run.beats),
    dataApiCalls: perChat(run.dataApiCalls),
    buildWrites: perChat(run.buildWrites),
    lastUsedWrites: path === "coder" ? null : perChat(run.lastUsedWrites),
    outcomes: Object.fromEntries(
      Object.entries(run.outcomes).map(([k, v]) => [k, Number(perChat(v).toFixed(2))]),
    ),
    minLeftSeconds: Number(run.minLeftSeconds.toFixed(1)),
    boundViolations: run.boundViolations,
    worstViolation: run.worst,
    postgresCpuMs: perChat(run.postgresCpuSeconds) * 1000,
    postgresCpuMsTicks: perChat(run.postgresCpuSecondsTicks) * 1000,
    beatMs: {
      mean: mean(run.beatMs),
      p50: sortedAt(run.beatMs, 0.5),
      p99: sortedAt(run.beatMs, 0.99),
    },
    billedLambdaMs: perChat(run.beatMs.reduce((sum, ms) => sum + Math.ceil(ms), 0)),
    writeRatio: window?.writeRatio ?? 0,
    floorRatio: window?.floorRatio ?? 0,
    hints: run.hints,
    headerMismatches: run.headerMismatches,
  };
}
const summary = { fixed: summarise("fixed"), paced: summarise("paced"), coder: summarise("coder") };

const { fixed, paced, coder: coderPath } = summary;
const cpuRatio = paced.postgresCpuMs / coderPath.postgresCpuMs;
const lowestFloor = HOUR / (0.05 * BUMP_SECONDS + settings.delayMs / 1000 + 0.5);
const checks = [
  {
    what: "paced: HTTP requests per chat-hour",
    target: `≤ ${TARGET.pacedRequests}`,
    measured: (paced.requests as number).toFixed(2),
    pass: (paced.requests as number) <= TARGET.pacedRequests,
  },
  {
    what: "paced: build writes per chat-hour",
    // The 5 % guard's floor: one write per 0.05·I = 180 s, so at most 20 an hour; a paced client
    // arrives up to its delay (and its round's time) after each opening, stretching each period.
    target: `${TARGET.buildWrites} (≤ ${TARGET.buildWrites}, ≥ ${lowestFloor.toFixed(1)})`,
    measured: paced.buildWrites.toFixed(2),
    pass: paced.buildWrites <= TARGET.buildWrites && paced.buildWrites >= lowestFloor,
  },
  {
    what: `paced: docs/heartbeat.md bound at every beat's arrival (≥ ${REQUIRED_LEFT_SECONDS} s left, less how late the beat was)`,
    target: "never violated",
    measured: `${paced.boundViolations} violations in ${paced.heartbeats * settings.chats} beats, least ${paced.minLeftSeconds} s left${paced.worstViolation ? ` (worst: ${paced.worstViolation.shortSeconds} s short, after a ${paced.worstViolation.followedHint} s hint and ${paced.worstViolation.lateSeconds} s of delay)` : ""}`,
    pass: paced.boundViolations === 0,
  },
  {
    what: "paced PostgreSQL CPU per chat-hour vs Coder's path",
    target: `≤ ${TARGET.cpuRatio}×`,
    measured: `${cpuRatio.toFixed(2)}× (${paced.postgresCpuMs.toFixed(1)} ms vs ${coderPath.postgresCpuMs.toFixed(1)} ms)`,
    pass: cpuRatio <= TARGET.cpuRatio,
  },
];

const usage = (path: "fixed" | "paced") => ({
  requests: summary[path].requests as number,
  billedLambdaMs: summary[path].billedLambdaMs,
  dataApiCalls: summary[path].dataApiCalls,
  postgresCpuSeconds: summary[path].postgresCpuMs / 1000,
});
const costs = {
  fixed: cost(usage("fixed"), prices, memoryMb),
  paced: cost(usage("paced"), prices, memoryMb),
  coder: cost(
    {
      requests: 0,
      billedLambdaMs: 0,
      dataApiCalls: 0,
      postgresCpuSeconds: coderPath.postgresCpuMs / 1000,
    },
    prices,
    memoryMb,
  ),
};

// --- report ---
const n = (value: number | null, digits = 2) => (value === null ? "—" : value.toFixed(digits));
const usd = (value: number) => `$${value.toFixed(value < 1 ? 4 : 2)}`;
const outcomesText = (o: Record<string, number>) =>
  Object.entries(o)
    .map(([k, v]) => `${k} ${v}`)
    .join(", ");
const lines = [
  "## An hour of chat: fixed 30 s vs paced vs Coder's own path",
  "",
  `Measured ${new Date().toISOString().slice(0, 10)} with \`npm run bench:chat-hour\`${QUICK ? " -- --quick" : ""} (also part of \`npm run bench\`): ${settings.chats} chats per path, one simulated hour each, 1 h bump, 8 h TTL, no autostart; each beat up to ${settings.delayMs} ms late (plus the time its round takes, a fraction of a second); PostgreSQL ${postgresVersion}, ${cpus().length} cores. Ours: the real handler → SDK → local Data API → \`record_heartbeat\`; Coder: its two prepared statements over a direct connection (Coder's last_used_at batch is not part of its path). PostgreSQL CPU: the scheduler's run time of every PostgreSQL process over the beats only (/proc/<pid>/schedstat; the 10 ms-tick /proc/<pid>/stat reading in brackets).`,
  "",
  "| per chat-hour | fixed 30 s | paced | Coder's path (30 s) |",
  "|---|---:|---:|---:|",
  `| HTTP requests (= Lambda invocations) | ${n(fixed.requests)} | ${n(paced.requests)} | — |`,
  `| heartbeats reaching PostgreSQL | ${n(fixed.heartbeats)} | ${n(paced.heartbeats)} | ${n(coderPath.heartbeats)} |`,
  `| Data API calls | ${n(fixed.dataApiCalls)} | ${n(paced.dataApiCalls)} | — |`,
  `| build writes (deadline moved) | ${n(fixed.buildWrites)} | ${n(paced.buildWrites)} | ${n(coderPath.buildWrites)} |`,
  `| \`last_used_at\` writes | ${n(fixed.lastUsedWrites)} | ${n(paced.lastUsedWrites)} | — (separate batch) |`,
  `| outcomes | ${outcomesText(fixed.outcomes)} | ${outcomesText(paced.outcomes)} | ${outcomesText(coderPath.outcomes)} |`,
  `| least time left at a beat's arrival (docs/heartbeat.md bound for paced clients: ${REQUIRED_LEFT_SECONDS} s) | ${n(fixed.minLeftSeconds, 1)} s | ${n(paced.minLeftSeconds, 1)} s | ${n(coderPath.minLeftSeconds, 1)} s |`,
  `| PostgreSQL CPU | ${n(fixed.postgresCpuMs, 1)} ms (${n(fixed.postgresCpuMsTicks, 0)}) | ${n(paced.postgresCpuMs, 1)} ms (${n(paced.postgresCpuMsTicks, 0)}) | ${n(coderPath.postgresCpuMs, 1)} ms (${n(coderPath.postgresCpuMsTicks, 0)}) |`,
  `| PostgreSQL CPU per heartbeat | ${n(fixed.postgresCpuMs / fixed.heartbeats, 3)} ms | ${n(paced.postgresCpuMs / paced.heartbeats, 3)} ms | ${n(coderPath.postgresCpuMs / coderPath.heartbeats, 3)} ms |`,
  `| time per beat, mean / p50 / p99 (ours: handler; Coder: two statements) | ${n(fixed.beatMs.mean)} / ${n(fixed.beatMs.p50)} / ${n(fixed.beatMs.p99)} ms | ${n(paced.beatMs.mean)} / ${n(paced.beatMs.p50)} / ${n(paced.beatMs.p99)} ms | ${n(coderPath.beatMs.mean)} / ${n(coderPath.beatMs.p50)} / ${n(coderPath.beatMs.p99)} ms |`,
  `| reporter: writeRatio / floorRatio (${reporter.heartbeatIntervalSeconds === null ? "REPORT_HEARTBEAT_INTERVAL_SECONDS unset: the floor is 1, clients following the hint" : `floor assumes ${reporter.heartbeatIntervalSeconds} s beats`}) | ${fixed.writeRatio} / ${fixed.floorRatio} | ${paced.writeRatio} / ${paced.floorRatio} | — |`,
  "",
  `Paced hints received (seconds: count): ${Object.entries(paced.hints)
    .map(([k, v]) => `${k}: ${v}`)
    .join(
      ", ",
    )}; \`${POLL_INTERVAL_HEADER}\` differed from \`nextHeartbeatSeconds\` ${paced.headerMismatches + fixed.headerMismatches} times.`,
  "",
  "Fixed-interval clients (ours at 30 s, and Coder's) get no docs/heartbeat.md promise: when a guard opening falls just after a beat (the delays vary from beat to beat), the next bump waits for the beat after, 210 s instead of 180 s, so they bump fewer than 20 times an hour and can have less than 0.95·I − 15 s left.",
  "",
  "| target | measured | |",
  "|---|---|---|",
  ...checks.map(
    (c) => `| ${c.what}: ${c.target} | ${c.measured} | ${c.pass ? "PASS" : "**FAIL**"} |`,
  ),
  "",
  `### AWS price per 1,000 chat-hours (${prices.region}, prices looked up ${prices.lookedUp}, \`${settings.prices.replace(/^.*\/(bench\/)/, "$1")}\`)`,
  "",
  `Lambda arm64 at ${memoryMb} MB (serverless.yml), billed for the handler time measured here (each invocation rounded up to 1 ms; the local Data API answers faster than AWS's, so AWS bills more); Aurora Serverless v2 capacity for the measured PostgreSQL CPU at ${prices.acuPerVcpu.value} ACU per vCPU (ACU ≈ 2 GiB + proportional CPU; see bench/prices.json). Coder's path runs on Coder's own server: only its database share is priced.`,
  "",
  "| per 1,000 chat-hours | fixed 30 s | paced | Coder's path (database only) |",
  "|---|---:|---:|---:|",
  `| API Gateway HTTP API ($${prices.apiGatewayHttpApiPerMillionRequests.price}/M) | ${usd(costs.fixed.apiGateway)} | ${usd(costs.paced.apiGateway)} | — |`,
  `| Lambda requests ($${prices.lambdaPerMillionRequests.price}/M) | ${usd(costs.fixed.lambdaRequests)} | ${usd(costs.paced.lambdaRequests)} | — |`,
  `| Lambda duration ($${prices.lambdaArm64PerGbSecond.price}/GB-s; ${n(fixed.billedLambdaMs / (fixed.requests as number), 1)} / ${n(paced.billedLambdaMs / (paced.requests as number), 1)} ms billed per call) | ${usd(costs.fixed.lambdaDuration)} | ${usd(costs.paced.lambdaDuration)} | — |`,
  `| RDS Data API ($${prices.dataApiPerMillionRequests.price}/M) | ${usd(costs.fixed.dataApi)} | ${usd(costs.paced.dataApi)} | — |`,
  `| Aurora capacity for the CPU ($${prices.auroraServerlessV2PerAcuHour.price}/ACU-h) | ${usd(costs.fixed.aurora)} | ${usd(costs.paced.aurora)} | ${usd(costs.coder.aurora)} |`,
  `| **total** | **${usd(costs.fixed.total)}** | **${usd(costs.paced.total)}** (${((costs.paced.total / costs.fixed.total) * 100).toFixed(0)} %) | ${usd(costs.coder.total)} |`,
];
const markdown = lines.join("\n");
publishResults(
  "chat-hour",
  {
    measured: new Date().toISOString(),
    quick: QUICK,
    settings,
    postgres: postgresVersion,
    cores: cpus().length,
    memoryMb,
    perChatHour: summary,
    checks,
    prices: { file: settings.prices, region: prices.region, lookedUp: prices.lookedUp },
    costPerThousandChatHours: costs,
  },
  markdown,
);

await coderClient.end();
await pool.end();
await dataApi.close();
await stopBenchServerAndExit(server);
