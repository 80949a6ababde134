import { z } from "zod/mini";
import { type SqlDatabase, sqlParameter } from "../../functions/shared/database/database.ts";
import type { MigrationTarget } from "./runner.ts";

const AnyRow = z.record(z.string(), z.unknown());

/** Runs migrations through the Data API, so `npm run migrate` works the same locally and on AWS. */
export function dataApiMigrationTarget(db: SqlDatabase): MigrationTarget {
  return {
    inTransaction: (work) =>
      db.transaction((session) =>
        work({
          execute: (sql, parameters = {}) =>
            session.query(
              sql,
              Object.entries(parameters).map(([name, value]) => sqlParameter.text(name, value)),
              AnyRow,
              // DDL on a resuming cluster can take a while; migrations are not latency-bound.
              { timeoutMs: 60_000 },
            ),
        }),
      ),
  };
}
