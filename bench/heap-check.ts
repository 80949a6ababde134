/**
 * Heap check for the soak: 24,000 in-process heartbeats through the real handler (+ local Data API
 * endpoint + embedded PostgreSQL), heap measured after forced GC every 4,000. Flat = no leak in
 * the function; growth seen in the soak is then serverless-offline's own.
 *
 *   node --expose-gc --import ./tools/local/sql-loader.mjs --import tsx bench/heap-check.ts
 */
import pg from "pg";
import { heartbeatEvent, lambdaContext } from "../test/support/api-gateway-event.ts";
import { seedRunningWorkspace } from "../test/support/fixtures.ts";
import { startDataApiServer } from "../tools/data-api/server.ts";
import { localDataApiEnvironment } from "../tools/local/data-api-locator.ts";
import { startPostgres } from "../tools/local/postgres.ts";
import { signLocalChatToken } from "../tools/local/token-cli.ts";
import { pgMigrationTarget } from "../tools/migrate/pg-target.ts";
import { migrate } from "../tools/migrate/runner.ts";

const server = await startPostgres();
const admin = new pg.Client({ connectionString: server.adminUrl });
await admin.connect();
await admin.query("CREATE DATABASE heap");
await admin.end();
await migrate(pgMigrationTarget(server.urlFor("heap")));
const pool = new pg.Pool({ connectionString: server.urlFor("heap") });
const seeded = await seedRunningWorkspace(pool);
const dataApi = await startDataApiServer({ connectionUrlFor: server.urlFor });
Object.assign(process.env, {
  ...localDataApiEnvironment(dataApi, "heap"),
  CHAT_TOKEN_SECRET: "x".repeat(40),
  POWERTOOLS_LOG_LEVEL: "SILENT",
  POWERTOOLS_TRACE_ENABLED: "false",
});
const { handler } = await import("../functions/heartbeat/handler.ts");
const token = await signLocalChatToken({ sub: seeded.ownerId, secret: "x".repeat(40) });
const origWrite = process.stdout.write.bind(process.stdout);
process.stdout.write = (() => true) as never; // EMF lines
const g = globalThis as unknown as { gc: () => void };
for (let round = 0; round < 6; round++) {
  for (let i = 0; i < 4000; i++)
    await (handler as unknown as (e: unknown, c: unknown) => Promise<unknown>)(
      heartbeatEvent({ chatId: seeded.chatId, token }),
      lambdaContext(),
    );
  g.gc();
  g.gc();
  origWrite(
    `after ${(round + 1) * 4000}: heapUsed ${(process.memoryUsage().heapUsed / 2 ** 20).toFixed(1)} MiB, rss ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MiB\n`,
  );
}
await pool.end();
await dataApi.close();
await server.stop();
process.exit(0);
