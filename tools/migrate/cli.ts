import "../cli/sdk-node-warning.ts";
import { createDataApiDatabase } from "../../functions/shared/database/data-api.ts";
import { commandLineOrExit } from "../cli/command-line.ts";
import { DATA_API_TARGET_HELP } from "../cli/data-api-target-help.ts";
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
const USAGE = `usage: npm run migrate [-- --grants]

Applies the numbered migrations in sql/migrations not applied yet, then the functions in
sql/functions whose text changed, each in a transaction of its own; a second run changes nothing.
On a fresh database (our subset of Coder's tables) it also applies the functions' roles and grants.

${DATA_API_TARGET_HELP}

  --grants    also apply the functions' roles and grants on a real Coder database, and set each
              role's password from its function's secret (HEARTBEAT_DB_SECRET_ARN,
              REPORTER_DB_SECRET_ARN); idempotent, run it again after every later migration
  -h, --help  show this help

Exit codes: 0 applied or already up to date; 1 a migration or the connection failed (nothing of
the failed migration is kept); 2 unknown flag or argument.`;
const flags = commandLineOrExit(
  process.argv.slice(2),
  { grants: { type: "boolean", default: false } },
  USAGE,
  2,
);
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
