import "../cli/sdk-node-warning.ts";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { z } from "zod/mini";
import { ChatTokenSecret, loadChatTokenPolicy } from "../../functions/heartbeat/config.ts";
import { createDataApiDatabase } from "../../functions/shared/database/data-api.ts";
import { corsConfiguration, parseAllowedOrigins } from "../../infra/aws/cors.cjs";
import { startDataApiServer } from "../data-api/server.ts";
import { dataApiMigrationTarget } from "../migrate/data-api-migration-target.ts";
import { FUNCTION_ROLES, setRolePasswords } from "../migrate/role-passwords.ts";
import { migrate } from "../migrate/runner.ts";
import {
  LOCAL_SECRET_LOGINS,
  localDataApiEnvironment,
  STACK_FILE,
  type StackFile,
} from "./data-api-locator.ts";
import { DEMO, DemoSeedRefused, seedDemo } from "./demo-seed.ts";
import { LOCAL_DEV_TOKEN_SECRET, LOCAL_FUNCTION_LOGINS } from "./dev-secret.ts";
import { type LocalRoute, offlineLambdaInvoker, startLocalHttpApi } from "./http-api.ts";
import { internalPorts } from "./internal-ports.ts";
import { startPostgres } from "./postgres.ts";
import { signLocalChatToken } from "./token-cli.ts";

/**
 * `npm start` (docs/local-stack.md): PostgreSQL (embedded, or DATABASE_URL) → migrations through the local Data
 * API endpoint → `serverless offline` running the real handlers behind our API Gateway front on
 * PORT (tools/local/http-api.ts) → demo rows → a ready `curl` → READY. Ctrl-C stops everything it
 * started and removes the embedded data directory.
 */

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const LOCAL_DATABASE = "chat_heartbeat";

/** serverless.yml's routes, as `serverless offline --stage local` names the functions. */
const ROUTES: LocalRoute[] = [
  {
    method: "POST",
    path: "/chats/{chatId}/heartbeat",
    functionName: "chat-heartbeat-local-heartbeat",
  },
];
/** The demo token's lifetime, unless CHAT_TOKEN_MAX_LIFETIME is shorter. */
const DEMO_TOKEN_TTL_SECONDS = 12 * 3600;

const StartEnv = z.object({
  PORT: z._default(z.coerce.number().check(z.int(), z.positive()), 3000),
  DATABASE_URL: z.optional(z.string().check(z.minLength(1))),
  SEED_DEMO: z.optional(z.enum(["0", "1"])),
  CHAT_TOKEN_SECRET: z._default(ChatTokenSecret, LOCAL_DEV_TOKEN_SECRET),
  CHAT_TOKEN_ISSUER: z._default(z.string(), "chat-heartbeat-local"),
  CHAT_TOKEN_AUDIENCE: z._default(z.string(), "chat-heartbeat"),
  REPORT_WINDOW_SECONDS: z._default(z.coerce.number().check(z.int(), z.positive()), 300),
  /**
   * serverless-offline's Lambda endpoint (serverless.yml reads the same variable); unset: a free
   * port picked at start (tools/local/internal-ports.ts).
   */
  OFFLINE_LAMBDA_PORT: z.optional(z.coerce.number().check(z.int(), z.positive())),
  /** The `corsAllowedOrigins` param of the local stage; checked as the deployed one is. */
  CORS_ALLOWED_ORIGINS: z.optional(z.string()),
});

const cleanups: (() => Promise<void> | void)[] = [];
let stopping = false;

async function shutdown(code: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    for (const cleanup of cleanups.reverse()) {
      try {
        await cleanup();
      } catch (error) {
        console.error(`cleanup failed: ${(error as Error).message}`);
      }
    }
  }
  process.exit(code);
}

function waitForPort(port: number, timeoutMs: number, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const attempt = () => {
      if (child.exitCode !== null) {
        reject(new Error(`serverless offline exited with code ${child.exitCode}`));
        return;
      }
      const socket = connect({ port, host: "127.0.0.1" });
      socket.once("connect", () => {
        socket.destroy();
        resolve();
      });
      socket.once("error", () => {
        socket.destroy();
        if (Date.now() > deadline) reject(new Error(`nothing listened on port ${port} in time`));
        else setTimeout(attempt, 200);
      });
    };
    attempt();
  });
}

async function ensureDatabase(adminUrl: string, database: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const exists = await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [database]);
    if (exists.rowCount === 0) await client.query(`CREATE DATABASE "${database}"`);
  } finally {
    await client.end();
  }
}

/** Both roles exist and the heartbeat's may run the heartbeat: the grants have been applied. */
async function functionRolesReady(db: ReturnType<typeof createDataApiDatabase>): Promise<boolean> {
  const rows = await db.query(
    `SELECT r.rolname FROM pg_catalog.pg_roles r
     WHERE r.rolname IN ('${FUNCTION_ROLES.heartbeat}', '${FUNCTION_ROLES.reporter}')
       AND has_schema_privilege(r.oid, 'chat_heartbeat', 'USAGE')`,
    [],
    z.object({ rolname: z.string() }),
  );
  return rows.length === 2;
}

async function main(): Promise<void> {
  const env = StartEnv.parse(
    Object.fromEntries(Object.entries(process.env).filter(([, value]) => value !== "")),
  );
  // Checked here, before anything starts, exactly as the function and `serverless package` will.
  const cors = corsConfiguration(parseAllowedOrigins(env.CORS_ALLOWED_ORIGINS));
  const tokenPolicy = loadChatTokenPolicy();
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.on(signal, () => void shutdown(0));
  }

  const postgres = await startPostgres({ databaseUrl: env.DATABASE_URL });
  cleanups.push(() => postgres.stop());
  let database: string;
  if (postgres.embedded) {
    database = LOCAL_DATABASE;
    await ensureDatabase(postgres.adminUrl, database);
  } else {
    database = decodeURIComponent(new URL(postgres.adminUrl).pathname.slice(1)) || "postgres";
  }
  console.log(
    postgres.embedded
      ? "PostgreSQL: embedded, throw-away data directory"
      : `PostgreSQL: ${new URL(postgres.adminUrl).host}/${database} (DATABASE_URL)`,
  );

  const dataApi = await startDataApiServer({
    connectionUrlFor: postgres.urlFor,
    logins: LOCAL_SECRET_LOGINS,
  });
  cleanups.push(() => dataApi.close());
  console.log(`Data API endpoint: ${dataApi.url}`);

  const dbEnv = localDataApiEnvironment(dataApi, database);
  const db = createDataApiDatabase({
    region: "us-east-1",
    endpoint: dataApi.url,
    resourceArn: dataApi.resourceArn,
    secretArn: dataApi.secretArn,
    database,
    timeoutMs: 60_000,
  });
  cleanups.push(() => db.close());
  const migrations = dataApiMigrationTarget(db);
  const applied = await migrate(migrations);
  console.log(`Migrations: ${applied.length > 0 ? applied.join(", ") : "up to date"}`);
  // The functions log in as their own roles (sql/grants/function_roles.sql) wherever those are set
  // up: always on a fresh database; on a real Coder one, after `npm run migrate -- --grants`.
  const rolesReady = await functionRolesReady(db);
  if (rolesReady) {
    await migrations.inTransaction((session) =>
      setRolePasswords(session, Object.values(LOCAL_FUNCTION_LOGINS)),
    );
  }
  const functionSecrets = {
    HEARTBEAT_DB_SECRET_ARN: rolesReady
      ? LOCAL_FUNCTION_LOGINS.heartbeat.secretArn
      : dataApi.secretArn,
    REPORTER_DB_SECRET_ARN: rolesReady
      ? LOCAL_FUNCTION_LOGINS.reporter.secretArn
      : dataApi.secretArn,
  };
  console.log(
    rolesReady
      ? `Functions log in as ${FUNCTION_ROLES.heartbeat} and ${FUNCTION_ROLES.reporter}`
      : "Functions log in as the DATABASE_URL user: this database has no function roles yet (`npm run migrate -- --grants` sets them up)",
  );

  const seed = postgres.embedded || env.SEED_DEMO === "1";
  if (seed) await seedDemo(db);

  const baseUrl = `http://127.0.0.1:${env.PORT}`;
  // serverless-offline's own HTTP server listens on a private port nobody is told about; the
  // API is our front on PORT, which invokes the functions through the Lambda endpoint.
  const { httpPort: offlineHttpPort, lambdaPort } = await internalPorts({
    port: env.PORT,
    lambdaPort: env.OFFLINE_LAMBDA_PORT,
  });
  const offline = spawn(
    process.execPath,
    [
      fileURLToPath(new URL("../../node_modules/serverless/bin/serverless.js", import.meta.url)),
      "offline",
      "start",
      "--stage",
      "local",
    ],
    {
      cwd: ROOT,
      // Own process group, so shutdown reaches serverless-offline's workers too.
      detached: true,
      stdio: ["ignore", "inherit", "inherit"],
      env: {
        ...process.env,
        ...dbEnv,
        ...functionSecrets,
        PORT: String(env.PORT),
        OFFLINE_HTTP_PORT: String(offlineHttpPort),
        OFFLINE_LAMBDA_PORT: String(lambdaPort),
        CHAT_TOKEN_SECRET: env.CHAT_TOKEN_SECRET,
        CHAT_TOKEN_ISSUER: env.CHAT_TOKEN_ISSUER,
        CHAT_TOKEN_AUDIENCE: env.CHAT_TOKEN_AUDIENCE,
        REPORT_WINDOW_SECONDS: String(env.REPORT_WINDOW_SECONDS),
        SLS_TELEMETRY_DISABLED: "1",
        SLS_NOTIFICATIONS_MODE: "off",
      },
    },
  );
  cleanups.push(() => {
    if (offline.exitCode === null && offline.pid) {
      try {
        process.kill(-offline.pid, "SIGTERM");
      } catch {
        // already gone
      }
    }
  });
  offline.on("exit", (code) => {
    if (!stopping) {
      console.error(`serverless offline stopped (code ${code}); shutting down`);
      void shutdown(1);
    }
  });
  await waitForPort(offlineHttpPort, 120_000, offline);
  await waitForPort(lambdaPort, 30_000, offline);
  const api = await startLocalHttpApi({
    port: env.PORT,
    routes: ROUTES,
    invoke: offlineLambdaInvoker(lambdaPort),
    cors,
  });
  cleanups.push(() => api.close());
  console.log(
    cors
      ? `CORS: ${cors.allowedOrigins.join(", ")}`
      : "CORS: none (set CORS_ALLOWED_ORIGINS to allow browser origins)",
  );

  const stack: StackFile = {
    baseUrl,
    dataApiUrl: dataApi.url,
    resourceArn: dataApi.resourceArn,
    secretArn: dataApi.secretArn,
    reporterSecretArn: functionSecrets.REPORTER_DB_SECRET_ARN,
    database,
    pid: process.pid,
  };
  mkdirSync(dirname(STACK_FILE), { recursive: true });
  writeFileSync(STACK_FILE, `${JSON.stringify(stack, null, 2)}\n`);
  cleanups.push(() => rmSync(STACK_FILE, { force: true }));

  if (seed) {
    const token = await signLocalChatToken({
      sub: DEMO.userId,
      chatId: DEMO.chatId,
      secret: env.CHAT_TOKEN_SECRET,
      issuer: env.CHAT_TOKEN_ISSUER,
      audience: env.CHAT_TOKEN_AUDIENCE,
      ...(tokenPolicy.type === undefined ? {} : { type: tokenPolicy.type }),
      ttl: String(Math.min(DEMO_TOKEN_TTL_SECONDS, tokenPolicy.maxLifetimeSeconds)),
    });
    console.log("\nDemo chat seeded. Send it a heartbeat:\n");
    console.log(
      `curl -sS -X POST ${baseUrl}/chats/${DEMO.chatId}/heartbeat -H 'Authorization: Bearer ${token}'\n`,
    );
  }
  console.log(`READY ${baseUrl}`);
}

main().catch((error: unknown) => {
  // A refusal is the user's situation, not our bug: its message says what to do, no stack.
  const detail = error instanceof DemoSeedRefused ? error.message : (error as Error).stack;
  console.error(`npm start failed: ${detail ?? String(error)}`);
  void shutdown(1);
});
