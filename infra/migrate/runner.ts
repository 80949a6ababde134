import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { dataApiStatement, splitStatements } from "../local/sql-lexer.ts";

export const MIGRATIONS_DIR = fileURLToPath(new URL("../../sql/migrations/", import.meta.url));

export interface Migration {
  readonly name: string;
  readonly statements: string[];
}

/** One statement at a time, as the Data API allows; `:name` parameters are strings. */
export interface MigrationSession {
  /** Runs a statement; rows it may return are not read. */
  execute(sql: string, parameters?: Record<string, string>): Promise<void>;
  /** Reads rows: a SELECT only (the Data API formats records as JSON for SELECT alone). */
  query(sql: string, parameters?: Record<string, string>): Promise<Record<string, unknown>[]>;
}

/** Where migrations run: each one inside its own transaction. */
export interface MigrationTarget {
  inTransaction<T>(work: (session: MigrationSession) => Promise<T>): Promise<T>;
}

/**
 * The migrations in order, each split into its statements as the Data API is sent them: without
 * comments (`dataApiStatement`; a dollar-quoted body, comments and `;` included, stays as written).
 */
export function loadMigrations(dir = MIGRATIONS_DIR): Migration[] {
  return readdirSync(dir)
    .filter((file) => /^\d{4}_[a-z0-9_]+\.sql$/.test(file))
    .sort()
    .map((file) => ({
      name: file.replace(/\.sql$/, ""),
      statements: splitStatements(readFileSync(join(dir, file), "utf8")).map((statement, index) =>
        dataApiStatement(statement, `${file}, statement ${index + 1}`),
      ),
    }));
}

// Our bookkeeping lives in our own schema (SPEC §1), created before anything else so the record
// of applied migrations exists even on a real Coder database.
const BOOTSTRAP = [
  "CREATE SCHEMA IF NOT EXISTS chat_heartbeat",
  `CREATE TABLE IF NOT EXISTS chat_heartbeat.schema_migrations (
     name text PRIMARY KEY,
     applied_at timestamptz NOT NULL DEFAULT now()
   )`,
];
// Serialises concurrent `npm run migrate` runs; released with the transaction.
const LOCK = "SELECT pg_advisory_xact_lock(hashtext('chat_heartbeat.migrations'))";

/** Applies every migration not yet recorded, each once, each atomically. Returns those applied. */
export async function migrate(
  target: MigrationTarget,
  migrations = loadMigrations(),
): Promise<string[]> {
  const applied: string[] = [];
  for (const migration of migrations) {
    const ran = await target.inTransaction(async (session) => {
      await session.execute(LOCK);
      for (const statement of BOOTSTRAP) await session.execute(statement);
      const done = await session.query(
        "SELECT 1 FROM chat_heartbeat.schema_migrations WHERE name = :name",
        { name: migration.name },
      );
      if (done.length > 0) return false;
      for (const statement of migration.statements) await session.execute(statement);
      await session.execute("INSERT INTO chat_heartbeat.schema_migrations (name) VALUES (:name)", {
        name: migration.name,
      });
      return true;
    });
    if (ran) applied.push(migration.name);
  }
  return applied;
}
