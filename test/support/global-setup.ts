import pg from "pg";
import type { TestProject } from "vitest/node";
import { LOCAL_FUNCTION_LOGINS } from "../../tools/local/dev-secret.ts";
import { embeddedPostgresMajorFrom, startPostgres } from "../../tools/local/postgres.ts";
import { pgMigrationTarget } from "../../tools/migrate/pg-target.ts";
import { setRolePasswords } from "../../tools/migrate/role-passwords.ts";
import { migrate } from "../../tools/migrate/runner.ts";

declare module "vitest" {
  export interface ProvidedContext {
    /** Maintenance-database URL of the one PostgreSQL server all test files share. */
    pgAdminUrl: string;
    /** A migrated database each test file clones its own database from. */
    templateDatabase: string;
  }
}

export const TEMPLATE_DATABASE = "chat_heartbeat_template";

/** Starts one PostgreSQL (embedded unless TEST_DATABASE_URL is set) and migrates a template. */
export default async function setup(project: TestProject) {
  // 18 unless TEST_POSTGRES_MAJOR says 16 (the deployed Aurora cluster's; `npm run test:pg16`).
  const major = embeddedPostgresMajorFrom("TEST_POSTGRES_MAJOR");
  const server = await startPostgres({ databaseUrl: process.env.TEST_DATABASE_URL, major });
  const admin = new pg.Client({ connectionString: server.adminUrl });
  await admin.connect();
  // The suites must run on the server asked for: a run meant for 16 that got 18 proves nothing.
  const { rows } = await admin.query<{ num: string }>(
    "SELECT current_setting('server_version_num') AS num",
  );
  const running = String(Math.floor(Number(rows[0]?.num) / 10_000));
  if (!process.env.TEST_DATABASE_URL && running !== major) {
    throw new Error(`asked for PostgreSQL ${major}, the embedded server is ${running}`);
  }
  await admin.query(`DROP DATABASE IF EXISTS ${TEMPLATE_DATABASE} WITH (FORCE)`);
  await admin.query(`CREATE DATABASE ${TEMPLATE_DATABASE}`);
  await admin.end();
  const template = pgMigrationTarget(server.urlFor(TEMPLATE_DATABASE));
  // A fresh database: the migrations create the functions' roles and grants. Their logins (roles
  // are server-wide) get the local secrets' passwords, so the endpoint can log in as them.
  await migrate(template);
  await template.inTransaction((session) =>
    setRolePasswords(session, Object.values(LOCAL_FUNCTION_LOGINS)),
  );

  project.provide("pgAdminUrl", server.adminUrl);
  project.provide("templateDatabase", TEMPLATE_DATABASE);
  return async () => {
    await server.stop();
  };
}
