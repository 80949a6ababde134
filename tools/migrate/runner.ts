import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { basename, join } from "node:path";
import { fileURLToPath } from "node:url";
import { dataApiStatement, splitStatements } from "../sql-lexer.ts";

export const MIGRATIONS_DIR = fileURLToPath(new URL("../../sql/migrations/", import.meta.url));
/** Repeatable migrations: the functions that hold the rule, re-applied when their text changes. */
export const FUNCTIONS_DIR = fileURLToPath(new URL("../../sql/functions/", import.meta.url));
/** The functions' roles and grants (see the file): applied after everything else. */
export const GRANTS_FILE = fileURLToPath(
  new URL("../../sql/grants/function_roles.sql", import.meta.url),
);

export interface Migration {
  readonly name: string;
  readonly statements: string[];
}

export interface RepeatableMigration extends Migration {
  /** sha256 of the file's text: a different checksum re-applies the file. */
  readonly checksum: string;
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

/** `sql/functions/*.sql`, in name order; each must be re-runnable (`CREATE OR REPLACE`). */
export function loadRepeatableMigrations(dir = FUNCTIONS_DIR): RepeatableMigration[] {
  return readdirSync(dir)
    .filter((file) => /^[a-z0-9_]+\.sql$/.test(file))
    .sort()
    .map((file) => {
      const text = readFileSync(join(dir, file), "utf8");
      return {
        name: file.replace(/\.sql$/, ""),
        statements: splitStatements(text).map((statement, index) =>
          dataApiStatement(statement, `${file}, statement ${index + 1}`),
        ),
        checksum: createHash("sha256").update(text).digest("hex"),
      };
    });
}

/** `sql/grants/function_roles.sql`, checksummed like a repeatable migration. */
export function loadGrants(file = GRANTS_FILE): RepeatableMigration {
  const text = readFileSync(file, "utf8");
  const name = basename(file).replace(/\.sql$/, "");
  return {
    name,
    statements: splitStatements(text).map((statement, index) =>
      dataApiStatement(statement, `${basename(file)}, statement ${index + 1}`),
    ),
    checksum: createHash("sha256").update(text).digest("hex"),
  };
}

/**
 * When the grants run:
 * - `fresh` (the default): only on a database whose Coder tables our migrations made
 *   (`chat_heartbeat.installation.coder_subset`, docs/local-stack.md), whenever this run applied anything or the
 *   grants file changed, so a re-created function or table never misses its grants;
 * - `always`: every run, whatever the database — the operator's `--grants` on a real Coder database.
 */
export type GrantsMode = "fresh" | "always";

export interface MigrateOptions {
  grants?: RepeatableMigration;
  grantsMode?: GrantsMode;
}

// Our bookkeeping lives in our own schema (docs/heartbeat.md), created before anything else so the record
// of applied migrations exists even on a real Coder database.
const BOOTSTRAP = [
  "CREATE SCHEMA IF NOT EXISTS chat_heartbeat",
  `CREATE TABLE IF NOT EXISTS chat_heartbeat.schema_migrations (
     name text PRIMARY KEY,
     applied_at timestamptz NOT NULL DEFAULT now()
   )`,
  `CREATE TABLE IF NOT EXISTS chat_heartbeat.schema_functions (
     name text PRIMARY KEY,
     checksum text NOT NULL,
     applied_at timestamptz NOT NULL DEFAULT now()
   )`,
];
// Serialises concurrent `npm run migrate` runs; released with the transaction.
const LOCK = "SELECT pg_advisory_xact_lock(hashtext('chat_heartbeat.migrations'))";

/**
 * Applies every numbered migration not yet recorded, each once, each atomically; then every
 * repeatable one (`sql/functions`) whose checksum differs from the one recorded, each atomically,
 * after the numbered ones because the functions use their tables; then the functions' roles and
 * grants (`sql/grants`, see `GrantsMode`). Returns those applied.
 */
export async function migrate(
  target: MigrationTarget,
  migrations = loadMigrations(),
  repeatables = loadRepeatableMigrations(),
  options: MigrateOptions = {},
): Promise<string[]> {
  const applied: string[] = [];
  /** Runs `migration` in a transaction of its own unless `isCurrent` finds it recorded. */
  const apply = async (
    migration: Migration,
    isCurrent: string,
    record: string,
    parameters: Record<string, string>,
  ) => {
    const ran = await target.inTransaction(async (session) => {
      await session.execute(LOCK);
      for (const statement of BOOTSTRAP) await session.execute(statement);
      if ((await session.query(isCurrent, parameters)).length > 0) return false;
      for (const statement of migration.statements) await session.execute(statement);
      await session.execute(record, parameters);
      return true;
    });
    if (ran) applied.push(migration.name);
  };
  for (const migration of migrations) {
    await apply(
      migration,
      "SELECT 1 FROM chat_heartbeat.schema_migrations WHERE name = :name",
      "INSERT INTO chat_heartbeat.schema_migrations (name) VALUES (:name)",
      { name: migration.name },
    );
  }
  for (const migration of repeatables) {
    await apply(
      migration,
      "SELECT 1 FROM chat_heartbeat.schema_functions WHERE name = :name AND checksum = :checksum",
      `INSERT INTO chat_heartbeat.schema_functions (name, checksum) VALUES (:name, :checksum)
       ON CONFLICT (name) DO UPDATE SET checksum = excluded.checksum, applied_at = now()`,
      { name: migration.name, checksum: migration.checksum },
    );
  }
  await applyGrants(target, options.grants ?? loadGrants(), options.grantsMode ?? "fresh", applied);
  return applied;
}

/** The grants, recorded like a repeatable (same table, the file's name), under the same lock. */
async function applyGrants(
  target: MigrationTarget,
  grants: RepeatableMigration,
  mode: GrantsMode,
  applied: string[],
): Promise<void> {
  const parameters = { name: grants.name, checksum: grants.checksum };
  const ran = await target.inTransaction(async (session) => {
    await session.execute(LOCK);
    if (mode === "fresh") {
      // No record (migrations before 0005 only) means: not known to be fresh, so not ours to grant.
      const known = await session.query(
        "SELECT 1 WHERE to_regclass('chat_heartbeat.installation') IS NOT NULL",
      );
      if (known.length === 0) return false;
      const fresh = await session.query(
        "SELECT 1 FROM chat_heartbeat.installation WHERE coder_subset",
      );
      if (fresh.length === 0) return false;
      const current = await session.query(
        "SELECT 1 FROM chat_heartbeat.schema_functions WHERE name = :name AND checksum = :checksum",
        parameters,
      );
      if (current.length > 0 && applied.length === 0) return false;
    }
    for (const statement of grants.statements) await session.execute(statement);
    await session.execute(
      `INSERT INTO chat_heartbeat.schema_functions (name, checksum) VALUES (:name, :checksum)
       ON CONFLICT (name) DO UPDATE SET checksum = excluded.checksum, applied_at = now()`,
      parameters,
    );
    return true;
  });
  if (ran) applied.push(grants.name);
}
