import { parseArgs } from "node:util";
import { createDataApiDatabase } from "../../functions/shared/database/data-api.ts";
import { resolveDataApiTarget } from "../local/data-api-locator.ts";
import { dataApiMigrationTarget } from "./data-api-migration-target.ts";
import { roleLogins } from "./role-logins.ts";
import { setRolePasswords } from "./role-passwords.ts";
import { migrate } from "./runner.ts";

/**
 * `npm run migrate`: applies `sql/migrations` (and `sql/functions`) through the Data API (local or
 * AWS), as the admin secret in DB_SECRET_ARN. On a fresh database that includes the functions'
 * roles and grants (`sql/grants`).
 *
 * `npm run migrate -- --grants`: the same, then the roles and grants whatever the database (the
 * operator's step on a real Coder database, README "Deploying to AWS"), and each role's password
 * from its function's secret (HEARTBEAT_DB_SECRET_ARN, REPORTER_DB_SECRET_ARN; locally, the local
 * stack's). Idempotent: run it again after every later migration.
 */
const { values: flags } = parseArgs({ options: { grants: { type: "boolean", default: false } } });
const target = await resolveDataApiTarget();
const db = createDataApiDatabase(target.config);
try {
  const migrations = dataApiMigrationTarget(db);
  const applied = await migrate(migrations, undefined, undefined, {
    grantsMode: flags.grants ? "always" : "fresh",
  });
  console.log(
    applied.length > 0
      ? `Applied ${applied.length} migration(s) to ${target.description}: ${applied.join(", ")}`
      : `Nothing to apply: ${target.description} is up to date.`,
  );
  if (flags.grants) {
    const logins = await roleLogins(target.config);
    await migrations.inTransaction((session) => setRolePasswords(session, logins));
    console.log(`Passwords set from their secrets: ${logins.map((l) => l.username).join(", ")}`);
  }
} catch (error) {
  console.error(`Migration failed on ${target.description}: ${(error as Error).message}`);
  process.exitCode = 1;
} finally {
  db.close();
  await target.close();
}
