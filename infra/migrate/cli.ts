import { createDataApiDatabase } from "../../functions/shared/database/data-api.ts";
import { resolveDataApiTarget } from "../local/data-api-locator.ts";
import { dataApiMigrationTarget } from "./data-api-migration-target.ts";
import { migrate } from "./runner.ts";

/** `npm run migrate`: applies `sql/migrations` through the Data API (local or AWS). */
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
