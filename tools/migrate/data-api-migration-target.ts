import { z } from "zod/mini";
import { type SqlDatabase, sqlParameter } from "../../functions/shared/database/database.ts";
import type { MigrationTarget } from "./runner.ts";

const AnyRow = z.record(z.string(), z.unknown());

/** DDL on a resuming cluster can take a while; migrations are not latency-bound. */
const MIGRATION_CALL_TIMEOUT_MS = 60_000;

/** Runs migrations through the Data API, so `npm run migrate` works the same locally and on AWS. */
export function dataApiMigrationTarget(db: SqlDatabase): MigrationTarget {
  const options = { timeoutMs: MIGRATION_CALL_TIMEOUT_MS };
  const asParameters = (parameters: Record<string, string> = {}) =>
    Object.entries(parameters).map(([name, value]) => sqlParameter.text(name, value));
  return {
    inTransaction: (work) =>
      db.transaction(
        (session) =>
          work({
            async execute(sql, parameters) {
              await session.execute(sql, asParameters(parameters), options);
            },
            query: (sql, parameters) =>
              session.query(sql, asParameters(parameters), AnyRow, options),
          }),
        // BeginTransaction is the call that meets a paused cluster first: the same budget.
        options,
      ),
  };
}
