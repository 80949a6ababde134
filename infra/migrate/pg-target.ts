import pg from "pg";
import { toPositionalParameters } from "../local/sql-lexer.ts";
import type { MigrationTarget } from "./runner.ts";

/** Runs migrations over a direct connection: the test harness's template database uses it. */
export function pgMigrationTarget(connectionString: string): MigrationTarget {
  return {
    async inTransaction(work) {
      const client = new pg.Client({ connectionString });
      await client.connect();
      try {
        await client.query("BEGIN");
        const result = await work({
          async execute(sql, parameters = {}) {
            const { text, names } = toPositionalParameters(sql);
            const values = names.map((name) => parameters[name]);
            return (await client.query(text, values)).rows;
          },
        });
        await client.query("COMMIT");
        return result;
      } catch (error) {
        await client.query("ROLLBACK").catch(() => {});
        throw error;
      } finally {
        await client.end();
      }
    },
  };
}
