/**
 * `npm run bench` (issue 4): the cost of one heartbeat, measured side by side in one run on this
 * machine, against the physical floor (the same SQL over a direct `pg` connection).
 *
 *   node --import ./infra/local/sql-loader.mjs --import tsx bench/run.ts [--quick]
 *
 * Writes bench/results/latest.{json,md} and two SVG charts; prints the Markdown table.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import type {
  APIGatewayProxyEventV2,
  APIGatewayProxyStructuredResultV2,
  Context,
} from "aws-lambda";
import pg from "pg";
import { startDataApiServer } from "../infra/local/data-api/server.ts";
import { localDataApiEnvironment } from "../infra/local/data-api-target.ts";
import { startPostgres } from "../infra/local/postgres.ts";
import { toPositionalParameters } from "../infra/local/sql-lexer.ts";
import { signLocalChatToken } from "../infra/local/token-cli.ts";
import { pgMigrationTarget } from "../infra/migrate/pg-target.ts";
import { migrate } from "../infra/migrate/runner.ts";
import { measurePackagedFunctions } from "../infra/package-report.ts";
import heartbeatSql from "../sql/queries/heartbeat.sql";
import { heartbeatEvent, lambdaContext } from "../test/support/api-gateway-event.ts";
import { barChart, histogramChart } from "./svg-chart.ts";

const QUICK = process.argv.includes("--quick");
const RESULTS = new URL("./results/", import.meta.url).pathname;
const SECRET = "bench-secret-that-is-at-least-32-bytes-long";
const BUCKET_SECONDS = 300;
const USER = "5b0f4a7e-0f57-4d67-9a36-6f0c1a2b3c4d";

const percentile = (sorted: number[], p: number) =>
  sorted.length === 0
    ? Number.NaN
    : (sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number);
const stats = (samples: number[]) => {
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    n: sorted.length,
    p50: percentile(sorted, 50),
    p95: percentile(sorted, 95),
    p99: percentile(sorted, 99),
  };
};
const ms = (value: number) => value.toFixed(2);
const log = (line: string) => process.stderr.write(`${line}\n`);

// --- the stack: embedded PostgreSQL, migrations, local Data API, the real handler in-process ---
const server = await startPostgres();
const admin = new pg.Client({ connectionString: server.adminUrl });
await admin.connect();
await admin.query("CREATE DATABASE bench");
// Experiment switch: BENCH_SYNCHRONOUS_COMMIT=off shows how much of the cost is the commit flush.
if (process.env.BENCH_SYNCHRONOUS_COMMIT === "off") {
  await admin.query("ALTER DATABASE bench SET synchronous_commit = off");
}
await admin.end();
const dbUrl = server.urlFor("bench");
await migrate(pgMigrationTarget(dbUrl));
const pool = new pg.Pool({ connectionString: dbUrl, max: 8 });
const dataApi = await startDataApiServer({ connectionUrlFor: server.urlFor });
Object.assign(process.env, {
  ...localDataApiEnvironment(dataApi, "bench"),
  CHAT_TOKEN_SECRET: SECRET,
  REPORT_WINDOW_SECONDS: String(BUCKET_SECONDS),
  POWERTOOLS_LOG_LEVEL: "SILENT",
  POWERTOOLS_METRICS_DISABLED: "true",
  POWERTOOLS_TRACE_ENABLED: "false",
});
const { handler: rawHandler } = await import("../functions/heartbeat/handler.ts");
const handler = rawHandler as unknown as (
  event: APIGatewayProxyEventV2,
  context: Context,
) => Promise<APIGatewayProxyStructuredResultV2>;
const token = await signLocalChatToken({ sub: USER, secret: SECRET, ttl: "12h" });
const statement = toPositionalParameters(heartbeatSql);

/** N chats of one user, each with its own running workspace whose deadline is not yet due. */
async function seedChats(count: number): Promise<string[]> {
  const client = await pool.connect();
  try {
    await client.query("BEGIN");
    await client.query(
      `INSERT INTO templates (id, created_at, updated_at, organization_id, name)
       VALUES ('00000000-0000-4000-8000-000000000001', now(), now(), gen_random_uuid(), 'bench')
       ON CONFLICT DO NOTHING`,
    );
    const { rows } = await client.query<{ chat_id: string }>(
      `WITH n AS (SELECT gen_random_uuid() AS ws, gen_random_uuid() AS job, gen_random_uuid() AS chat
                  FROM generate_series(1, $1::int)),
       w AS (INSERT INTO workspaces (id, created_at, updated_at, owner_id, organization_id, template_id, name, last_used_at)
             SELECT ws, now(), now(), $2::uuid, gen_random_uuid(), '00000000-0000-4000-8000-000000000001', 'ws', now() FROM n),
       j AS (INSERT INTO provisioner_jobs (id, created_at, updated_at, completed_at, organization_id)
             SELECT job, now(), now(), now(), gen_random_uuid() FROM n),
       b AS (INSERT INTO workspace_builds (id, created_at, updated_at, workspace_id, build_number, transition, job_id, deadline)
             SELECT gen_random_uuid(), now(), now(), ws, 1, 'start', job, now() + interval '59 minutes' FROM n),
       c AS (INSERT INTO chats (id, owner_id, organization_id, workspace_id, status)
             SELECT chat, $2::uuid, gen_random_uuid(), ws, 'running' FROM n)
       SELECT chat AS chat_id FROM n`,
      [count, USER],
    );
    await client.query("COMMIT");
    return rows.map((row) => row.chat_id);
  } finally {
    client.release();
  }
}

async function viaHandler(chatId: string): Promise<number> {
  const started = performance.now();
  const result = await handler(heartbeatEvent({ chatId, token }), lambdaContext());
  const elapsed = performance.now() - started;
  if (result.statusCode !== 200)
    throw new Error(`handler answered ${result.statusCode}: ${result.body}`);
  return elapsed;
}

async function viaPg(client: pg.PoolClient, chatId: string): Promise<number> {
  const values = statement.names.map((name) =>
    name === "chatId" ? chatId : name === "userId" ? USER : String(BUCKET_SECONDS),
  );
  const started = performance.now();
  await client.query(statement.text, values);
  return performance.now() - started;
}

async function databaseWork() {
  // Statistics of other backends (the Data API's connections) reach the views when they flush.
  await new Promise((resolve) => setTimeout(resolve, 1_100));
  const { rows } = await pool.query<{ relname: string; n_tup_upd: string }>(
    "SELECT relname, n_tup_upd FROM pg_stat_user_tables WHERE relname IN ('workspace_builds', 'workspaces')",
  );
  const wal = await pool.query<{ lsn: string }>("SELECT pg_current_wal_lsn()::text AS lsn");
  const upd = Object.fromEntries(rows.map((row) => [row.relname, Number(row.n_tup_upd)]));
  return {
    builds: upd.workspace_builds ?? 0,
    workspaces: upd.workspaces ?? 0,
    lsn: wal.rows[0]?.lsn ?? "0/0",
  };
}
async function walBytes(from: string, to: string): Promise<number> {
  const { rows } = await pool.query<{ bytes: string }>(
    "SELECT pg_wal_lsn_diff($2, $1)::text AS bytes",
    [from, to],
  );
  return Number(rows[0]?.bytes ?? 0);
}

const startedAt = Date.now();
const results: Record<string, unknown> = {
  machine: {
    cpus: cpus().length,
    cpu: cpus()[0]?.model,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
  },
  quick: QUICK,
};

// --- 1. warm latency: handler + SDK + local Data API + PostgreSQL vs the raw pg floor, interleaved ---
log("1/5 latency vs floor");
const latencyChats = await seedChats(2_000);
const floorClient = await pool.connect();
for (let i = 0; i < 200; i++) {
  await viaHandler(latencyChats[i % latencyChats.length] as string);
  await viaPg(floorClient, latencyChats[(i + 1000) % latencyChats.length] as string);
}
const iterations = QUICK ? 500 : 3_000;
const handlerSamples: number[] = [];
const floorSamples: number[] = [];
for (let i = 0; i < iterations; i++) {
  const chat = latencyChats[i % latencyChats.length] as string;
  if (i % 2 === 0) {
    handlerSamples.push(await viaHandler(chat));
    floorSamples.push(await viaPg(floorClient, chat));
  } else {
    floorSamples.push(await viaPg(floorClient, chat));
    handlerSamples.push(await viaHandler(chat));
  }
}
floorClient.release();
const handlerStats = stats(handlerSamples);
const floorStats = stats(floorSamples);
results.latency = { handler: handlerStats, floor: floorStats };

// Handler overhead without the database: the same middleware chain with the Data API failing fast
// is not the same work, so measure what the request path does before the call: token + parse.
const { createChatTokenVerifier } = await import("../functions/heartbeat/auth/chat-token.ts");
const { sharedSecretKey } = await import("../functions/heartbeat/auth/keys.ts");
const { recordChatHeartbeat } = await import("../functions/heartbeat/domain/record-heartbeat.ts");
const { HeartbeatEvent } = await import("../functions/heartbeat/heartbeat-event.ts");
const verifier = createChatTokenVerifier({
  keys: sharedSecretKey(SECRET),
  issuer: "chat-heartbeat-local",
  audience: "chat-heartbeat",
  algorithms: ["HS256"],
});
const fakeStore = {
  beat: async () => ({
    outcome: "not_due" as const,
    workspaceId: USER,
    deadline: null,
    maxDeadline: null,
    lastUsedAt: null,
  }),
};
const overheadSamples: number[] = [];
for (let i = 0; i < iterations; i++) {
  const event = heartbeatEvent({ chatId: latencyChats[0] as string, token });
  const started = performance.now();
  const parsed = HeartbeatEvent.parse({
    ...event,
    headers: Object.fromEntries(
      Object.entries(event.headers).map(([k, v]) => [k.toLowerCase(), v]),
    ),
  });
  const report = await recordChatHeartbeat(
    { chatId: parsed.pathParameters.chatId, authorization: parsed.headers.authorization },
    { verifier, store: fakeStore },
  );
  JSON.stringify(report);
  overheadSamples.push(performance.now() - started);
}
results.requestPathWithoutDatabase = stats(overheadSamples);

// --- 2. load: many chats heartbeating, as fast as the machine sustains ---
async function load(chats: string[], seconds: number, concurrency: number) {
  const before = await databaseWork();
  const callsBefore = dataApi.stats().executeStatement ?? 0;
  const samples: number[] = [];
  let errors = 0;
  let next = 0;
  const deadline = performance.now() + seconds * 1000;
  const started = performance.now();
  const cpuBefore = process.cpuUsage();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline) {
        const chat = chats[next++ % chats.length] as string;
        try {
          samples.push(await viaHandler(chat));
        } catch {
          errors++;
        }
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  const after = await databaseWork();
  const heartbeats = samples.length + errors;
  return {
    chats: chats.length,
    concurrency,
    seconds: Number(elapsed.toFixed(1)),
    heartbeats,
    perSecond: Math.round(samples.length / elapsed),
    ...stats(samples),
    errors,
    // This process hosts the load generator, the handler, the SDK and the local Data API endpoint:
    // 100 % means its one JavaScript thread is the limit, not PostgreSQL.
    nodeProcessCpuPercent: Math.round(((cpu.user + cpu.system) / 1e6 / elapsed) * 100),
    dataApiCallsPerHeartbeat: Number(
      (((dataApi.stats().executeStatement ?? 0) - callsBefore) / heartbeats).toFixed(3),
    ),
    buildWrites: after.builds - before.builds,
    workspaceWrites: after.workspaces - before.workspaces,
    walBytesPerHeartbeat: Math.round((await walBytes(before.lsn, after.lsn)) / heartbeats),
  };
}
log("2/5 load");
const loadRuns = [];
for (const size of QUICK ? [10_000] : [10_000, 100_000]) {
  const chats = await seedChats(size);
  loadRuns.push(await load(chats, QUICK ? 5 : 30, 32));
}
results.load = loadRuns;

// --- 3. write amplification over a simulated hour of one chat (30 s heartbeats, 1 h bump) ---
log("3/5 simulated hour");
const [hourChat] = await seedChats(1);
const series: { heartbeat: number; build: boolean; lastUsed: boolean }[] = [];
const { rows: wsRows } = await pool.query<{ id: string }>(
  "SELECT workspace_id AS id FROM chats WHERE id = $1",
  [hourChat],
);
const hourWorkspace = wsRows[0]?.id as string;
await pool.query(
  "UPDATE workspaces SET last_used_at = now() - interval '2 minutes' WHERE id = $1",
  [hourWorkspace],
);
await pool.query(
  "UPDATE workspace_builds SET deadline = now() + interval '1 hour' WHERE workspace_id = $1",
  [hourWorkspace],
);
for (let beat = 0; beat < 120; beat++) {
  // 30 s pass: equivalently, every stored time moves 30 s into the past.
  await pool.query(
    `WITH b AS (UPDATE workspace_builds SET deadline = deadline - interval '30 seconds' WHERE workspace_id = $1)
     UPDATE workspaces SET last_used_at = last_used_at - interval '30 seconds' WHERE id = $1`,
    [hourWorkspace],
  );
  const before = await pool.query<{ d: string; u: string }>(
    "SELECT b.deadline::text AS d, w.last_used_at::text AS u FROM workspace_builds b JOIN workspaces w ON w.id = b.workspace_id WHERE w.id = $1",
    [hourWorkspace],
  );
  const result = await handler(
    heartbeatEvent({ chatId: hourChat as string, token }),
    lambdaContext(),
  );
  const after = await pool.query<{ d: string; u: string }>(
    "SELECT b.deadline::text AS d, w.last_used_at::text AS u FROM workspace_builds b JOIN workspaces w ON w.id = b.workspace_id WHERE w.id = $1",
    [hourWorkspace],
  );
  if (result.statusCode !== 200) throw new Error(`simulated hour: ${result.body}`);
  series.push({
    heartbeat: beat + 1,
    build: before.rows[0]?.d !== after.rows[0]?.d,
    lastUsed: before.rows[0]?.u !== after.rows[0]?.u,
  });
}
results.simulatedHour = {
  heartbeats: series.length,
  buildWrites: series.filter((point) => point.build).length,
  lastUsedWrites: series.filter((point) => point.lastUsed).length,
};

// --- 4. cold start: packaged bundles and module initialisation in fresh processes ---
log("4/5 cold start");
const packageDir = mkdtempSync(join(tmpdir(), "chat-heartbeat-bench-"));
execFileSync("npx", ["serverless", "package", "--stage", "dev", "--package", packageDir], {
  stdio: ["ignore", "ignore", "inherit"],
  env: {
    ...process.env,
    AWS_ACCESS_KEY_ID: "bench",
    AWS_SECRET_ACCESS_KEY: "bench",
    SLS_TELEMETRY_DISABLED: "1",
  },
});
const coldStart = Object.fromEntries(
  measurePackagedFunctions(packageDir).map(({ name, ...measured }) => [name, measured]),
);
rmSync(packageDir, { recursive: true, force: true });
results.coldStart = coldStart;
results.runSeconds = Math.round((Date.now() - startedAt) / 1000);

// --- 5. report ---
log("5/5 report");
mkdirSync(RESULTS, { recursive: true });
writeFileSync(join(RESULTS, "latest.json"), `${JSON.stringify(results, null, 2)}\n`);
writeFileSync(
  join(RESULTS, "latency.svg"),
  histogramChart("Warm heartbeat latency (ms)", [
    { label: "handler → SDK → local Data API → PostgreSQL", samples: handlerSamples },
    { label: "same SQL over pg (floor)", samples: floorSamples },
  ]),
);
writeFileSync(
  join(RESULTS, "writes-per-heartbeat.svg"),
  barChart(
    "Writes per heartbeat over a simulated hour (30 s heartbeats, 1 h bump)",
    series.map((point) => ({ x: point.heartbeat, build: point.build, lastUsed: point.lastUsed })),
  ),
);

const cold = coldStart as Record<
  string,
  { zippedBytes: number; bundleBytes: number; initMedianMs: number }
>;
const hour = results.simulatedHour as { buildWrites: number; lastUsedWrites: number };
const loadRows = loadRuns
  .map(
    (run) =>
      `| load, ${run.chats.toLocaleString("en")} chats, ${run.concurrency} in flight | ≥ 3,333 hb/s, p99 < 50 ms | ${run.perSecond} hb/s, p50 ${ms(run.p50)} ms, p99 ${ms(run.p99)} ms, ${run.errors} errors, generator+handler+endpoint process at ${run.nodeProcessCpuPercent} % CPU; ${run.dataApiCallsPerHeartbeat} Data API calls, ${run.buildWrites} build + ${run.workspaceWrites} workspace row writes, ${run.walBytesPerHeartbeat} WAL bytes per heartbeat |`,
  )
  .join("\n");
const table = `| measure | target | measured |
|---|---|---|
| warm latency, handler path | p50 ≤ 3× floor, p99 ≤ 5× | p50 ${ms(handlerStats.p50)} ms (${(handlerStats.p50 / floorStats.p50).toFixed(1)}×), p95 ${ms(handlerStats.p95)} ms, p99 ${ms(handlerStats.p99)} ms (${(handlerStats.p99 / floorStats.p99).toFixed(1)}×) |
| warm latency, raw pg floor | — | p50 ${ms(floorStats.p50)} ms, p95 ${ms(floorStats.p95)} ms, p99 ${ms(floorStats.p99)} ms |
| request path without the database (token, parse, respond) | — | p50 ${ms((results.requestPathWithoutDatabase as { p50: number }).p50)} ms, p99 ${ms((results.requestPathWithoutDatabase as { p99: number }).p99)} ms |
${loadRows}
| build writes per workspace-hour | ≤ 20 | ${hour.buildWrites} |
| last-used writes per workspace-hour | ≤ 60 | ${hour.lastUsedWrites} |
| heartbeat bundle zipped / raw, init (median of 11) | ≤ 250 KB, ≤ 100 ms | ${cold.heartbeat?.zippedBytes.toLocaleString("en")} B / ${cold.heartbeat?.bundleBytes.toLocaleString("en")} B, ${cold.heartbeat?.initMedianMs} ms |
| reporter bundle zipped / raw, init (median of 11) | ≤ 250 KB, ≤ 100 ms | ${cold.reporter?.zippedBytes.toLocaleString("en")} B / ${cold.reporter?.bundleBytes.toLocaleString("en")} B, ${cold.reporter?.initMedianMs} ms |
`;
const header = `Measured ${new Date().toISOString().slice(0, 10)} with \`npm run bench${QUICK ? " -- --quick" : ""}\` on ${cpus().length} × ${cpus()[0]?.model}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}, embedded PostgreSQL 18; load generator, local Data API endpoint and PostgreSQL share the machine. Run took ${results.runSeconds} s.\n\n`;
writeFileSync(join(RESULTS, "latest.md"), header + table);
process.stdout.write(header + table);

await pool.end();
await dataApi.close();
await server.stop();
process.exit(0);
