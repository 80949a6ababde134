/**
 * What every bench stands on: an embedded PostgreSQL with one migrated database, and the real
 * heartbeat handler in-process behind the local Data API endpoint, logged in as the heartbeat's own
 * role (sql/grants/function_roles.sql), as deployed.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import type {
  APIGatewayProxyEventV2,
  APIGatewayProxyStructuredResultV2,
  Context,
} from "aws-lambda";
import pg from "pg";
import { startDataApiServer } from "../tools/data-api/server.ts";
import { LOCAL_SECRET_LOGINS, localDataApiEnvironment } from "../tools/local/data-api-locator.ts";
import { LOCAL_FUNCTION_LOGINS } from "../tools/local/dev-secret.ts";
import {
  embeddedPostgresMajorFrom,
  type RunningPostgres,
  startPostgres,
} from "../tools/local/postgres.ts";
import { signLocalChatToken } from "../tools/local/token-cli.ts";
import { pgMigrationTarget } from "../tools/migrate/pg-target.ts";
import { setRolePasswords } from "../tools/migrate/role-passwords.ts";
import { migrate } from "../tools/migrate/runner.ts";
import { cpuMeter, parentPid } from "./cpu-meter.ts";
import { BENCH_USER } from "./seed.ts";

export const SECRET = "bench-secret-that-is-at-least-32-bytes-long";
export const BUCKET_SECONDS = 300;

export type HeartbeatHandler = (
  event: APIGatewayProxyEventV2,
  context: Context,
) => Promise<APIGatewayProxyStructuredResultV2>;

/** A fresh embedded PostgreSQL with database `name` migrated; `pool` is the admin's. */
export async function startBenchDatabase(
  name: string,
  options: { synchronousCommitOff?: boolean; poolSize?: number } = {},
) {
  // BENCH_POSTGRES_MAJOR: 18 (default) or 16, the deployed Aurora's.
  const server = await startPostgres({ major: embeddedPostgresMajorFrom("BENCH_POSTGRES_MAJOR") });
  const admin = new pg.Client({ connectionString: server.adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  // An experiment, not a setting of ours: how much of a gap is the commit flush.
  if (options.synchronousCommitOff) {
    await admin.query(`ALTER DATABASE ${name} SET synchronous_commit = off`);
  }
  await admin.end();
  const dbUrl = server.urlFor(name);
  const migrations = pgMigrationTarget(dbUrl);
  await migrate(migrations);
  await migrations.inTransaction((session) =>
    setRolePasswords(session, Object.values(LOCAL_FUNCTION_LOGINS)),
  );
  const pool = new pg.Pool({ connectionString: dbUrl, max: options.poolSize ?? 8 });
  const { rows } = await pool.query<{ version: string; pid: number }>(
    "SELECT current_setting('server_version') AS version, pg_backend_pid() AS pid",
  );
  const postmasterPid = parentPid(rows[0]?.pid ?? 0);
  return {
    server,
    dbUrl,
    pool,
    postgresVersion: rows[0]?.version ?? "?",
    postmasterPid,
    meter: cpuMeter(postmasterPid, cpus().length),
  };
}

/**
 * The local Data API endpoint and the real heartbeat handler module, in this process, for database
 * `name`; the handler logs in as chat_heartbeat_heartbeat. `token` is valid for BENCH_USER.
 */
export async function startBenchHeartbeat(server: RunningPostgres, name: string) {
  const dataApi = await startDataApiServer({
    connectionUrlFor: server.urlFor,
    logins: LOCAL_SECRET_LOGINS,
  });
  Object.assign(process.env, {
    ...localDataApiEnvironment(dataApi, name, "heartbeat"),
    CHAT_TOKEN_SECRET: SECRET,
    REPORT_WINDOW_SECONDS: String(BUCKET_SECONDS),
    POWERTOOLS_LOG_LEVEL: "SILENT",
    POWERTOOLS_METRICS_DISABLED: "true",
    POWERTOOLS_TRACE_ENABLED: "false",
  });
  const module = await import("../functions/heartbeat/handler.ts");
  const token = await signLocalChatToken({ sub: BENCH_USER, secret: SECRET, ttl: "12h" });
  return {
    dataApi,
    handler: module.handler as unknown as HeartbeatHandler,
    pollIntervalHeader: module.POLL_INTERVAL_HEADER,
    token,
  };
}

/** Stops the server, then the process: results must be written before this. */
export async function stopBenchServerAndExit(server: RunningPostgres): Promise<never> {
  // Stopping the server terminates whatever connection a pool still holds idle: expected here.
  process.on("uncaughtException", (error) => {
    if ((error as { code?: string }).code !== "57P01") throw error;
  });
  await server.stop();
  process.exit(0);
}

/** Writes bench/results/<name>.json and <name>.md, then prints the Markdown: before any teardown. */
export function publishResults(name: string, data: unknown, markdown: string): void {
  const results = new URL("./results/", import.meta.url).pathname;
  mkdirSync(results, { recursive: true });
  writeFileSync(`${results}${name}.json`, `${JSON.stringify(data, null, 2)}\n`);
  writeFileSync(`${results}${name}.md`, `${markdown}\n`);
  console.log(markdown);
}
