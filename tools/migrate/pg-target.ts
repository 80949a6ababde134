import pg from "pg";
import { toPositionalParameters } from "../sql-lexer.ts";
import type { MigrationTarget } from "./runner.ts";

/** Runs migrations over a direct connection: the test harness's template database uses it. */
export function pgMigrationTarget(connectionString: string): MigrationTarget {
  return {
    async inTransaction(work) {
      const client = new pg.Client({ connectionString });
      await client.connect();
      try {
        await client.query("BEGIN");
        const run = async (sql: string, parameters: Record<string, string> = {}) => {
          const { text, names } = toPositionalParameters(sql);
          return (
            await client.query(
              text,
              names.map((name) => parameters[name]),
            )
          ).rows;
        };
        const result = await work({
          async execute(sql, parameters) {
            await run(sql, parameters);
          },
          query: run,
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
