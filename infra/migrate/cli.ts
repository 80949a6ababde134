import "../cli/sdk-node-warning.ts";
import { createDataApiDatabase } from "../../functions/shared/database/data-api.ts";
import { commandLineOrExit } from "../cli/command-line.ts";
import { DATA_API_TARGET_HELP } from "../cli/data-api-target-help.ts";
import { resolveDataApiTarget } from "../local/data-api-target.ts";
import { dataApiMigrationTarget } from "./data-api-target.ts";
import { migrate } from "./runner.ts";

/** `npm run migrate`: applies `sql/migrations` through the Data API (local or AWS). */
const USAGE = `usage: npm run migrate

Applies the numbered migrations in sql/migrations not applied yet, then the functions in
sql/functions whose text changed, each in a transaction of its own; a second run changes nothing.

${DATA_API_TARGET_HELP}

  -h, --help  show this help

Exit codes: 0 applied or already up to date; 1 a migration or the connection failed (nothing of
the failed migration is kept); 2 unknown flag or argument.`;
commandLineOrExit(process.argv.slice(2), {}, USAGE, 2);
const target = await resolveDataApiTarget();
const db = createDataApiDatabase(target.config);
try {
  const applied = await migrate(dataApiMigrationTarget(db));
  console.log(
    applied.length > 0
      ? `Applied ${applied.length} migration(s) to ${target.description}: ${applied.join(", ")}`
      : `Nothing to apply: ${target.description} is up to date.`,
  );
} catch (error) {
  console.error(`Migration failed on ${target.description}: ${(error as Error).message}`);
  process.exitCode = 1;
} finally {
  db.close();
  await target.close();
}
