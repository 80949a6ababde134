/**
 * `npm run bench` (part 2, issue 11): PostgreSQL CPU per heartbeat, ours vs Coder's own path,
 * side by side in one run on the same database server.
 *
 *   node --import ./tools/local/sql-loader.mjs --import tsx bench/coder-path.ts [--quick]
 *
 * - ours: the real handler → SDK → local Data API endpoint → `SELECT … FROM
 *   chat_heartbeat.record_heartbeat(…)` (mark used, bump, last bump, exact outcome count);
 * - Coder's: what coderd runs per activity heartbeat, both statements prepared, over direct
 *   connections: a GetWorkspaceByID-style read of the workspace (with its template) and the
 *   ActivityBumpWorkspace statement (latest build, then an UPDATE guarded by the 5 % rule).
 *   Coder flushes last_used_at in a separate batch, not counted here; ours marks used in the call.
 *
 * Steady state of a chat beating every 30 s with a 1 h bump: 1 in 6 heartbeats is due, 1 in 2
 * finds last_used_at over 60 s old. Reports CPU of every PostgreSQL process (backends, WAL writer,
 * checkpointer, …) per heartbeat, WAL bytes and write transactions per heartbeat, then shows the
 * function's plans are cached (planning time per call). Sizes: BENCH_CHATS=10000,100000.
 * Writes bench/results/coder-path.{json,md}; prints the Markdown table.
 */
import { readFileSync } from "node:fs";
import { cpus } from "node:os";
import { performance } from "node:perf_hooks";
import pg from "pg";
import * as z from "zod";
import heartbeatSql from "../sql/queries/heartbeat.sql";
import { heartbeatEvent, lambdaContext } from "../test/support/api-gateway-event.ts";
import { toPositionalParameters } from "../tools/sql-lexer.ts";
import { coderHeartbeat } from "./coder-queries.ts";
import { processCpuSeconds } from "./cpu-meter.ts";
import { BENCH_USER, seedChats } from "./seed.ts";
import {
  BUCKET_SECONDS,
  publishResults,
  startBenchDatabase,
  startBenchHeartbeat,
  stopBenchServerAndExit,
} from "./stack.ts";

const QUICK = process.argv.includes("--quick");
const positive = z.coerce.number().int().positive();
const settings = z
  .object({
    chats: z.string().transform((list) => list.split(",").map((n) => positive.parse(n.trim()))),
    heartbeats: positive,
    concurrency: positive,
    staleEvery: z.coerce.number().int().nonnegative(),
  })
  .parse({
    chats: process.env.BENCH_CHATS ?? (QUICK ? "10000" : "10000,100000"),
    heartbeats: process.env.BENCH_COMPARE_HEARTBEATS ?? (QUICK ? 2_000 : 6_000),
    concurrency: process.env.BENCH_CONCURRENCY_COMPARE ?? 4,
    // 1 in N workspaces has last_used_at over 60 s old (2 = a 30 s beat); 0 = none, to show what
    // marking used costs (Coder flushes it in a separate batch that its path here leaves out).
    staleEvery: process.env.BENCH_LAST_USED_STALE_EVERY ?? 2,
  });

const log = (line: string) => process.stderr.write(`${line}\n`);

const { server, dbUrl, pool, postgresVersion, meter } = await startBenchDatabase("bench_compare", {
  synchronousCommitOff: process.env.BENCH_SYNCHRONOUS_COMMIT === "off",
  poolSize: settings.concurrency + 2,
});
if (!meter) throw new Error("bench/coder-path needs Linux /proc to measure PostgreSQL CPU");
const { dataApi, handler, token } = await startBenchHeartbeat(server, "bench_compare");

/**
 * Seeds `count` chats and puts them in the 30 s steady state relative to NOW: 1 in 6 builds due
 * (deadline 50 min ahead), the rest 59.5 min ahead (not due for 2.5 min); 1 in 2 workspaces last
 * used 5 min ago, the rest just now (not stale for 60 s). A window must end within a minute.
 */
async function seedSteadyState(count: number) {
  const chats = await seedChats(pool, count, { kind: "not_due" });
  await pool.query(
    `WITH s AS (SELECT c.workspace_id, row_number() OVER () AS n FROM chats c WHERE c.id = ANY ($1::uuid[]))
     UPDATE workspace_builds b
     SET deadline = now() + CASE WHEN s.n % 6 = 0 THEN interval '50 minutes' ELSE interval '59 minutes 30 seconds' END
     FROM s WHERE b.workspace_id = s.workspace_id`,
    [chats],
  );
  await pool.query("VACUUM ANALYZE workspace_builds, workspaces, chats");
  return chats;
}

async function markHalfStale(chats: string[]) {
  await pool.query(
    `WITH s AS (SELECT c.workspace_id, row_number() OVER () AS n FROM chats c WHERE c.id = ANY ($1::uuid[]))
     UPDATE workspaces w
     SET last_used_at = CASE WHEN $2::int > 0 AND s.n % $2::int = 0 THEN now() - interval '5 minutes' ELSE now() END
     FROM s WHERE w.id = s.workspace_id`,
    [chats, settings.staleEvery],
  );
  await pool.query("VACUUM ANALYZE workspaces");
}

interface Measured {
  heartbeats: number;
  seconds: number;
  postgresCpuMsPerHeartbeat: number;
  walBytesPerHeartbeat: number;
  writeTransactionsPerHeartbeat: number;
  outcomes: Record<string, number>;
}

async function walLsn(): Promise<string> {
  const { rows } = await pool.query<{ lsn: string }>("SELECT pg_current_wal_lsn()::text AS lsn");
  return rows[0]?.lsn as string;
}
async function walSince(lsn: string): Promise<number> {
  const { rows } = await pool.query<{ bytes: string }>(
    "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1::pg_lsn)::text AS bytes",
    [lsn],
  );
  return Number(rows[0]?.bytes);
}
async function xid(): Promise<bigint> {
  // Assigns one xid itself: subtracted below.
  const { rows } = await pool.query<{ xid: string }>("SELECT pg_current_xact_id()::text AS xid");
  return BigInt(rows[0]?.xid as string);
}

/** Each chat once, `concurrency` at a time; CPU, WAL and xids over exactly that window. */
async function measure(
  chats: string[],
  beat: (chatId: string, worker: number) => Promise<string>,
): Promise<Measured> {
  const outcomes: Record<string, number> = {};
  const lsn = await walLsn();
  const xidBefore = await xid();
  let next = 0;
  const stop = meter?.start();
  const started = performance.now();
  await Promise.all(
    Array.from({ length: settings.concurrency }, async (_, worker) => {
      while (next < chats.length) {
        const outcome = await beat(chats[next++] as string, worker);
        outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const cpu = stop?.();
  const wal = await walSince(lsn);
  const xids = Number((await xid()) - xidBefore - 1n);
  return {
    heartbeats: chats.length,
    seconds: Number(seconds.toFixed(1)),
    postgresCpuMsPerHeartbeat: ((cpu?.postgres ?? 0) * seconds * 1000) / chats.length,
    walBytesPerHeartbeat: Math.round(wal / chats.length),
    writeTransactionsPerHeartbeat: Number((xids / chats.length).toFixed(3)),
    outcomes,
  };
}

async function ours(chatId: string): Promise<string> {
  const result = await handler(heartbeatEvent({ chatId, token }), lambdaContext());
  if (result.statusCode !== 200) throw new Error(`handler answered ${result.statusCode}`);
  return (JSON.parse(result.body ?? "{}") as { outcome: string }).outcome;
}

const coderClients = await Promise.all(
  Array.from({ length: settings.concurrency }, async () => {
    const client = new pg.Client({ connectionString: dbUrl });
    await client.connect();
    return client;
  }),
);
const workspaceOf = new Map<string, string>();
async function coder(chatId: string, worker: number): Promise<string> {
  return coderHeartbeat(coderClients[worker] as pg.Client, workspaceOf.get(chatId) as string);
}

async function mapWorkspaces(chats: string[]) {
  const { rows } = await pool.query<{ id: string; workspace_id: string }>(
    "SELECT id::text, workspace_id::text FROM chats WHERE id = ANY ($1::uuid[])",
    [chats],
  );
  for (const row of rows) workspaceOf.set(row.id, row.workspace_id);
}

// Warm both paths (connections, plan caches, the handler's cold start) on chats of their own.
const warm = await seedSteadyState(2_000);
await mapWorkspaces(warm);
for (const chat of warm.slice(0, 1_000)) await ours(chat);
for (const [i, chat] of warm.slice(1_000).entries()) await coder(chat, i % settings.concurrency);

const sizes: {
  chats: number;
  ours: Measured;
  coder: Measured;
  ratio: number;
}[] = [];
for (const size of settings.chats) {
  log(`seeding ${size} chats (twice: one set per path)`);
  // The table holds `size` chats; each window visits a slice of them, alternating paths.
  const all = await seedSteadyState(size);
  await mapWorkspaces(all);
  const half = Math.min(settings.heartbeats, Math.floor(size / 2));
  const ourChats = all.slice(0, half);
  const coderChats = all.slice(half, 2 * half);
  const ourRound: Measured[] = [];
  const coderRound: Measured[] = [];
  // Two rounds each, interleaved, so drift falls on both alike.
  const slice = (list: string[], round: number) =>
    list.slice((round * list.length) / 2, ((round + 1) * list.length) / 2);
  for (const round of [0, 1]) {
    await markHalfStale([...slice(ourChats, round), ...slice(coderChats, round)]);
    ourRound.push(await measure(slice(ourChats, round), ours));
    coderRound.push(await measure(slice(coderChats, round), coder));
  }
  const combine = (rounds: Measured[]): Measured => {
    const heartbeats = rounds.reduce((sum, r) => sum + r.heartbeats, 0);
    const weighted = (pick: (r: Measured) => number) =>
      rounds.reduce((sum, r) => sum + pick(r) * r.heartbeats, 0) / heartbeats;
    const outcomes: Record<string, number> = {};
    for (const r of rounds)
      for (const [k, v] of Object.entries(r.outcomes)) outcomes[k] = (outcomes[k] ?? 0) + v;
    return {
      heartbeats,
      seconds: rounds.reduce((sum, r) => sum + r.seconds, 0),
      postgresCpuMsPerHeartbeat: weighted((r) => r.postgresCpuMsPerHeartbeat),
      walBytesPerHeartbeat: Math.round(weighted((r) => r.walBytesPerHeartbeat)),
      writeTransactionsPerHeartbeat: Number(
        weighted((r) => r.writeTransactionsPerHeartbeat).toFixed(3),
      ),
      outcomes,
    };
  };
  const o = combine(ourRound);
  const c = combine(coderRound);
  sizes.push({
    chats: size,
    ours: o,
    coder: c,
    ratio: o.postgresCpuMsPerHeartbeat / c.postgresCpuMsPerHeartbeat,
  });
  log(
    `${size} chats: ours ${o.postgresCpuMsPerHeartbeat.toFixed(3)} ms, Coder ${c.postgresCpuMsPerHeartbeat.toFixed(3)} ms`,
  );
}

// Planning per call. The Data API makes PostgreSQL plan only the one-line SELECT; the function's
// own statements are planned once per connection and cached by PL/pgSQL. Shown on one connection:
// the outer SELECT's planning time, and the call's execution time on the first call (compile +
// plan) vs the steady state.
const plan = await pool.connect();
const { text: callText } = toPositionalParameters(heartbeatSql);
const probe = await seedSteadyState(300);
const explain = async (chatId: string) => {
  const { rows } = await plan.query<{
    "QUERY PLAN": { "Planning Time": number; "Execution Time": number }[];
  }>(`EXPLAIN (ANALYZE, FORMAT JSON) ${callText}`, [chatId, BENCH_USER, BUCKET_SECONDS]);
  const top = rows[0]?.["QUERY PLAN"][0];
  return {
    planning: top?.["Planning Time"] ?? Number.NaN,
    execution: top?.["Execution Time"] ?? Number.NaN,
  };
};
const first = await explain(probe[0] as string);
const later: { planning: number; execution: number }[] = [];
for (const chat of probe.slice(1)) later.push(await explain(chat));
plan.release();
const median = (values: number[]) =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;
const planning = {
  firstCall: first,
  steadyState: {
    planningMs: median(later.map((l) => l.planning)),
    executionMs: median(later.map((l) => l.execution)),
  },
};

// Where our cost goes: backend CPU per call on ONE connection (nothing else running on it), for the
// call and for its parts. Variants live only in this bench database: the same function without its
// outcome count, the count alone, and the count with the commit flush left to the WAL writer.
const fnSource = readFileSync(
  new URL("../sql/functions/record_heartbeat.sql", import.meta.url),
  "utf8",
);
const withoutCount = fnSource
  .replace(
    "FUNCTION chat_heartbeat.record_heartbeat(",
    "FUNCTION chat_heartbeat.bench_without_count(",
  )
  .replace(/ {2}INSERT INTO chat_heartbeat\.outcome_counts[\s\S]*?heartbeats \+ 1;/, "")
  .replace(/COMMENT ON FUNCTION[\s\S]*$/, "");
if (withoutCount.includes("outcome_counts AS counts")) throw new Error("could not strip the count");
await pool.query(withoutCount);
const parts = await pool.connect();
const partsPid = (await parts.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0]
  ?.pid;
const backendSeconds = () => processCpuSeconds(partsPid ?? 0);
const countSql = `INSERT INTO chat_heartbeat.outcome_counts AS counts (bucket_start, outcome, shard, heartbeats)
  VALUES (date_bin(interval '300 seconds', now(), timestamptz '1970-01-01 00:00:00+00'), 'not_due', pg_backend_pid() % 16, 1)
  ON CONFLICT (bucket_start, outcome, shard) DO UPDATE SET heartbeats = counts.heartbeats + 1`;
const callOf = (fn: string) =>
  callText.replace("chat_heartbeat.record_heartbeat(", `chat_heartbeat.${fn}(`);
const breakdownChats = await seedChats(pool, 6 * 3_000, { kind: "not_due" });
await mapWorkspaces(breakdownChats);
let cursor = 0;
async function backendCost(run: (chatId: string) => Promise<unknown>): Promise<number> {
  const chats = breakdownChats.slice(cursor, cursor + 3_000);
  cursor += 3_000;
  for (const chat of chats.slice(0, 200)) await run(chat);
  const before = backendSeconds();
  for (const chat of chats.slice(200)) await run(chat);
  return ((backendSeconds() - before) * 1000) / (chats.length - 200);
}
const beatWith = (fn: string) => (chat: string) =>
  parts.query(callOf(fn), [chat, BENCH_USER, BUCKET_SECONDS]);
const breakdown = {
  call: await backendCost(beatWith("record_heartbeat")),
  callWithoutCount: await backendCost(beatWith("bench_without_count")),
  countAlone: await backendCost(() => parts.query(countSql)),
  countAloneFlushLeftToWalWriter: await backendCost(async () => {
    await parts.query("BEGIN");
    await parts.query("SET LOCAL synchronous_commit = off");
    await parts.query(countSql);
    await parts.query("COMMIT");
  }),
  coderTwoStatements: await backendCost(async (chat) => {
    await coderHeartbeat(parts, workspaceOf.get(chat) as string);
  }),
};
parts.release();

const f = (n: number, digits = 3) => n.toFixed(digits);
const lines = [
  "## PostgreSQL cost per heartbeat: ours vs Coder's own path",
  "",
  `PostgreSQL ${postgresVersion}, ${cpus().length} cores, concurrency ${settings.concurrency}, steady state (1 in 6 due, ${settings.staleEvery ? `1 in ${settings.staleEvery}` : "no"} last_used_at stale). Command: \`npm run bench\` (this part: \`node --import ./tools/local/sql-loader.mjs --import tsx bench/coder-path.ts\`).`,
  "",
  "| chats | path | heartbeats | PostgreSQL CPU per heartbeat | ratio | WAL bytes per heartbeat | write transactions per heartbeat | outcomes |",
  "|---:|---|---:|---:|---:|---:|---:|---|",
  ...sizes.flatMap((s) => [
    `| ${s.chats} | ours: handler → SDK → Data API → \`record_heartbeat\` | ${s.ours.heartbeats} | ${f(s.ours.postgresCpuMsPerHeartbeat)} ms | **${f(s.ratio, 2)}×** | ${s.ours.walBytesPerHeartbeat} | ${s.ours.writeTransactionsPerHeartbeat} | ${JSON.stringify(s.ours.outcomes)} |`,
    `| ${s.chats} | Coder: GetWorkspaceByID-style read + ActivityBumpWorkspace, prepared, direct | ${s.coder.heartbeats} | ${f(s.coder.postgresCpuMsPerHeartbeat)} ms | 1× | ${s.coder.walBytesPerHeartbeat} | ${s.coder.writeTransactionsPerHeartbeat} | ${JSON.stringify(s.coder.outcomes)} |`,
  ]),
  "",
  "",
  "Where our cost goes (backend CPU per call on one connection, not_due chats: nothing written but the count):",
  "",
  "| call | backend CPU per call |",
  "|---|---:|",
  `| \`record_heartbeat\` as shipped | ${f(breakdown.call)} ms |`,
  `| the same function without the outcome count | ${f(breakdown.callWithoutCount)} ms |`,
  `| the outcome count alone (upsert + commit with WAL flush) | ${f(breakdown.countAlone)} ms |`,
  `| the outcome count alone, commit flush left to the WAL writer (synchronous_commit off) | ${f(breakdown.countAloneFlushLeftToWalWriter)} ms |`,
  `| Coder: prepared read + ActivityBumpWorkspace (not due: no write) | ${f(breakdown.coderTwoStatements)} ms |`,
  "",
  `Planning per call (one connection, EXPLAIN ANALYZE of the statement the Data API receives): first call planning ${f(planning.firstCall.planning)} ms, execution ${f(planning.firstCall.execution)} ms (PL/pgSQL compiles and plans the function's statements); afterwards (median of ${later.length}) planning ${f(planning.steadyState.planningMs)} ms, execution ${f(planning.steadyState.executionMs)} ms.`,
];
const markdown = lines.join("\n");
publishResults("coder-path", { settings, sizes, planning, breakdown }, markdown);

// Results are written first: teardown of the servers cannot lose them.
for (const client of coderClients) await client.end();
await pool.end();
await dataApi.close();
await stopBenchServerAndExit(server);
