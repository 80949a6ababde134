/**
 * What the outcome counter costs each heartbeat: WAL bytes and wall time over N sequential
 * heartbeats, with the statement as shipped vs. the same statement without its counter upsert.
 *
 *   npx tsx bench/counter-cost.ts [heartbeats=1000]
 *
 * Uses an embedded PostgreSQL (or TEST_DATABASE_URL's server) and prints a Markdown table.
 * Scenarios: `not_due` (the steady state: nothing in Coder's tables is written) and `bumped`
 * (every heartbeat moves a deadline and marks its workspace used).
 */
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import pg from "pg";
import { startPostgres } from "../infra/local/postgres.ts";
import { toPositionalParameters } from "../infra/local/sql-lexer.ts";
import { pgMigrationTarget } from "../infra/migrate/pg-target.ts";
import { migrate } from "../infra/migrate/runner.ts";
import {
  ago,
  fromNow,
  type SeededWorkspace,
  seedRunningWorkspace,
} from "../test/support/fixtures.ts";

const HEARTBEATS = Number(process.argv[2] ?? 1000);
const ROUNDS = 2;

// tsx cannot import .sql as text the way esbuild and vitest do.
const shipped = readFileSync(new URL("../sql/queries/heartbeat.sql", import.meta.url), "utf8");
const counterCte = /,\s*\n(?:--[^\n]*\n)*counted AS \([\s\S]*?\n\)\n/;
if (!counterCte.test(shipped)) throw new Error("could not find the `counted` CTE in heartbeat.sql");
const withoutCounter = shipped.replace(counterCte, "\n");

const VARIANTS = [
  { name: "with counter", sql: toPositionalParameters(shipped) },
  { name: "without counter", sql: toPositionalParameters(withoutCounter) },
];

type Scenario = "not_due" | "bumped";

async function seed(pool: pg.Pool, scenario: Scenario, count: number): Promise<SeededWorkspace[]> {
  const seeded: SeededWorkspace[] = [];
  // The not_due scenario reuses one workspace whose deadline is far off and was just marked used.
  const options =
    scenario === "not_due"
      ? { build: { deadline: fromNow(10 * 3600) }, workspace: { lastUsedAt: fromNow(0) } }
      : { build: { deadline: fromNow(60) }, workspace: { lastUsedAt: ago(3600) } };
  const distinct = scenario === "not_due" ? 1 : count;
  for (let i = 0; i < distinct; i++) seeded.push(await seedRunningWorkspace(pool, options));
  return seeded;
}

async function walLsn(client: pg.PoolClient): Promise<string> {
  const { rows } = await client.query<{ lsn: string }>("SELECT pg_current_wal_lsn()::text AS lsn");
  return rows[0]?.lsn ?? "0/0";
}

async function walBytesSince(client: pg.PoolClient, lsn: string): Promise<number> {
  const { rows } = await client.query<{ bytes: string }>(
    "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1::pg_lsn)::text AS bytes",
    [lsn],
  );
  return Number(rows[0]?.bytes);
}

async function run(
  pool: pg.Pool,
  sql: { text: string; names: string[] },
  scenario: Scenario,
): Promise<{ walBytes: number; ms: number; outcomes: Record<string, number> }> {
  const targets = await seed(pool, scenario, HEARTBEATS);
  const client = await pool.connect();
  try {
    // Start from a checkpoint so both variants pay the same full-page images, then warm the caches.
    await client.query("CHECKPOINT");
    const values = (target: SeededWorkspace) =>
      sql.names.map(
        (name) => ({ chatId: target.chatId, userId: target.ownerId, bucketSeconds: "300" })[name],
      );
    const outcomes: Record<string, number> = {};
    const start = await walLsn(client);
    const t0 = performance.now();
    for (let i = 0; i < HEARTBEATS; i++) {
      const target = targets[i % targets.length] as SeededWorkspace;
      const { rows } = await client.query<{ outcome: string }>(sql.text, values(target));
      const outcome = rows[0]?.outcome ?? "not_found";
      outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
    }
    const ms = performance.now() - t0;
    return { walBytes: await walBytesSince(client, start), ms, outcomes };
  } finally {
    client.release();
  }
}

const server = await startPostgres({ databaseUrl: process.env.TEST_DATABASE_URL });
const database = `bench_${randomBytes(4).toString("hex")}`;
const admin = new pg.Client({ connectionString: server.adminUrl });
await admin.connect();
await admin.query(`CREATE DATABASE ${database}`);
const pool = new pg.Pool({ connectionString: server.urlFor(database), max: 2 });
try {
  await migrate(pgMigrationTarget(server.urlFor(database)));
  const { rows: version } = await pool.query<{ v: string }>(
    "SELECT current_setting('server_version') AS v",
  );

  const results: Array<{
    scenario: Scenario;
    variant: string;
    walBytes: number;
    ms: number;
    outcomes: string;
  }> = [];
  for (const scenario of ["not_due", "bumped"] as const) {
    // Warm-up, then alternate the variants so drift affects both alike.
    for (const variant of VARIANTS) await run(pool, variant.sql, scenario);
    const totals = new Map<
      string,
      { walBytes: number; ms: number; outcomes: Record<string, number> }
    >();
    for (let round = 0; round < ROUNDS; round++) {
      for (const variant of VARIANTS) {
        const result = await run(pool, variant.sql, scenario);
        const total = totals.get(variant.name) ?? { walBytes: 0, ms: 0, outcomes: {} };
        total.walBytes += result.walBytes;
        total.ms += result.ms;
        for (const [outcome, n] of Object.entries(result.outcomes))
          total.outcomes[outcome] = (total.outcomes[outcome] ?? 0) + n;
        totals.set(variant.name, total);
      }
    }
    for (const [variant, total] of totals) {
      results.push({
        scenario,
        variant,
        walBytes: total.walBytes / (ROUNDS * HEARTBEATS),
        ms: total.ms / (ROUNDS * HEARTBEATS),
        outcomes: Object.entries(total.outcomes)
          .map(([outcome, n]) => `${outcome} ${n}`)
          .join(", "),
      });
    }
  }

  console.log(
    `Counter cost, PostgreSQL ${version[0]?.v}, ${ROUNDS} × ${HEARTBEATS} sequential heartbeats per cell, one local connection\n`,
  );
  console.log("| scenario | statement | WAL bytes / heartbeat | ms / heartbeat | outcomes |");
  console.log("|---|---|---:|---:|---|");
  for (const row of results) {
    console.log(
      `| ${row.scenario} | ${row.variant} | ${row.walBytes.toFixed(0)} | ${row.ms.toFixed(3)} | ${row.outcomes} |`,
    );
  }
} finally {
  await pool.end();
  await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
  await admin.end();
  await server.stop();
}
