import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as z from "zod/mini";
import { createDataApiDatabase } from "../../functions/shared/database/data-api.ts";
import type { SqlDatabase } from "../../functions/shared/database/database.ts";
import { type DataApiServer, startDataApiServer } from "../../tools/data-api/server.ts";
import { LOCAL_SECRET_LOGINS } from "../../tools/local/data-api-locator.ts";
import { LOCAL_FUNCTION_LOGINS } from "../../tools/local/dev-secret.ts";
import { pgMigrationTarget } from "../../tools/migrate/pg-target.ts";
import { FUNCTION_ROLES } from "../../tools/migrate/role-passwords.ts";
import { loadMigrations, loadRepeatableMigrations, migrate } from "../../tools/migrate/runner.ts";
import { createCoderTables } from "../support/coder-schema.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";

/**
 * Issue 13 item 7: each function's Data API secret logs in as a role of its own
 * (sql/grants/function_roles.sql), and that role can do what its function does and nothing else.
 * Every probe goes through the real SDK client and the local Data API endpoint, logged in as the
 * role the secret names, as on AWS. Probes use `WHERE false` / empty inserts: PostgreSQL checks
 * privileges when a statement starts, so a denial does not depend on rows, and an allowed probe
 * changes nothing.
 */

const CODER_TABLES = ["chats", "workspaces", "templates", "workspace_builds", "provisioner_jobs"];
/** The only columns of Coder's the heartbeat may write (docs/heartbeat.md; issue 13). */
const HEARTBEAT_WRITES = [
  "workspace_builds.deadline",
  "workspace_builds.updated_at",
  "workspaces.last_used_at",
];

/**
 * Every privilege each role holds in the database, as the catalog lists it (table-level and
 * column-level ACL entries, schemas, functions): what sql/grants/function_roles.sql gives, exactly.
 */
const EXPECTED_PRIVILEGES = {
  [FUNCTION_ROLES.heartbeat]: [
    "function chat_heartbeat.record_heartbeat: EXECUTE",
    "schema chat_heartbeat: USAGE",
    "schema public: USAGE",
    ...["bucket_start", "heartbeats", "outcome", "shard"].flatMap((c) => [
      `column chat_heartbeat.outcome_counts.${c}: INSERT`,
      `column chat_heartbeat.outcome_counts.${c}: SELECT`,
    ]),
    "column chat_heartbeat.outcome_counts.heartbeats: UPDATE",
    ...["bumped_at", "chat_id", "deadline", "source", "workspace_id"].flatMap((c) => [
      `column chat_heartbeat.workspace_last_bump.${c}: INSERT`,
      `column chat_heartbeat.workspace_last_bump.${c}: SELECT`,
      ...(c === "workspace_id" ? [] : [`column chat_heartbeat.workspace_last_bump.${c}: UPDATE`]),
    ]),
    ...["archived", "id", "owner_id", "status", "workspace_id"].map(
      (c) => `column public.chats.${c}: SELECT`,
    ),
    ...["completed_at", "id"].map((c) => `column public.provisioner_jobs.${c}: SELECT`),
    ...["activity_bump", "allow_user_autostop", "default_ttl", "id"].map(
      (c) => `column public.templates.${c}: SELECT`,
    ),
    ...["deadline", "id", "job_id", "max_deadline", "transition", "workspace_id"]
      .concat(["build_number"])
      .map((c) => `column public.workspace_builds.${c}: SELECT`),
    "column public.workspace_builds.deadline: UPDATE",
    "column public.workspace_builds.updated_at: UPDATE",
    ...[
      "autostart_schedule",
      "deleted",
      "dormant_at",
      "id",
      "last_used_at",
      "next_start_at",
      "owner_id",
      "template_id",
      "ttl",
    ].map((c) => `column public.workspaces.${c}: SELECT`),
    "column public.workspaces.last_used_at: UPDATE",
  ].sort(),
  [FUNCTION_ROLES.reporter]: [
    "schema chat_heartbeat: USAGE",
    "table chat_heartbeat.outcome_counts: DELETE",
    "table chat_heartbeat.outcome_counts: SELECT",
    "table chat_heartbeat.report_watermark: SELECT",
    "column chat_heartbeat.report_watermark.reported_until: UPDATE",
    "column chat_heartbeat.report_watermark.updated_at: UPDATE",
  ].sort(),
};

/** The catalog's view of one role's privileges in the current database. */
async function privilegesOf(pool: pg.Pool, role: string): Promise<string[]> {
  const { rows } = await pool.query<{ entry: string }>(
    `WITH r AS (SELECT oid FROM pg_roles WHERE rolname = $1)
     SELECT format('table %s.%s: %s', n.nspname, c.relname, a.privilege_type) AS entry
     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace, aclexplode(c.relacl) a, r
     WHERE a.grantee = r.oid
     UNION ALL
     SELECT format('column %s.%s.%s: %s', n.nspname, c.relname, att.attname, a.privilege_type)
     FROM pg_attribute att JOIN pg_class c ON c.oid = att.attrelid
       JOIN pg_namespace n ON n.oid = c.relnamespace, aclexplode(att.attacl) a, r
     WHERE a.grantee = r.oid
     UNION ALL
     SELECT format('schema %s: %s', n.nspname, a.privilege_type)
     FROM pg_namespace n, aclexplode(n.nspacl) a, r WHERE a.grantee = r.oid
     UNION ALL
     SELECT format('function %s.%s: %s', n.nspname, p.proname, a.privilege_type)
     FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace, aclexplode(p.proacl) a, r
     WHERE a.grantee = r.oid`,
    [role],
  );
  return rows.map((row) => row.entry).sort();
}

let db: TestDatabase;
let server: DataApiServer;
const sessions: SqlDatabase[] = [];

function loginAs(secretArn: string, database = db.name): SqlDatabase {
  const session = createDataApiDatabase({
    region: "us-east-1",
    endpoint: server.url,
    resourceArn: server.resourceArn,
    secretArn,
    database,
    timeoutMs: 10_000,
  });
  sessions.push(session);
  return session;
}

/** Runs `sql` as the session's role: "ok", or "denied" for SQLSTATE 42501; anything else throws. */
async function attempt(session: SqlDatabase, sql: string): Promise<"ok" | "denied"> {
  try {
    await session.execute(sql, []);
    return "ok";
  } catch (error) {
    if (/SQLState: 42501/.test((error as Error).message)) return "denied";
    throw error;
  }
}

/** The columns of Coder's five tables in this database, `table.column`. */
async function coderColumns(pool: pg.Pool): Promise<string[]> {
  const { rows } = await pool.query<{ name: string }>(
    `SELECT c.relname || '.' || a.attname AS name
     FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
     WHERE c.relnamespace = 'public'::regnamespace AND c.relname = ANY ($1)
       AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
     ORDER BY 1`,
    [CODER_TABLES],
  );
  return rows.map((row) => row.name);
}

beforeAll(async () => {
  db = await createTestDatabase();
  server = await startDataApiServer({
    connectionUrlFor: db.serverUrlFor,
    logins: LOCAL_SECRET_LOGINS,
  });
});
afterAll(async () => {
  for (const session of sessions) session.close();
  await server?.close();
  await db?.drop();
});

describe("the local Data API endpoint", () => {
  it("logs in as the role each secret names, and refuses a wrong password", async () => {
    const whoAmI = z.object({ user: z.string() });
    const current = (session: SqlDatabase) =>
      session.query("SELECT current_user AS user", [], whoAmI);
    expect(await current(loginAs(LOCAL_FUNCTION_LOGINS.heartbeat.secretArn))).toEqual([
      { user: FUNCTION_ROLES.heartbeat },
    ]);
    expect(await current(loginAs(LOCAL_FUNCTION_LOGINS.reporter.secretArn))).toEqual([
      { user: FUNCTION_ROLES.reporter },
    ]);
    expect(await current(loginAs(server.secretArn))).not.toEqual([
      { user: FUNCTION_ROLES.heartbeat },
    ]);

    // The password is checked (embedded PostgreSQL authenticates by password): a secret whose
    // password is not the role's gets the server's refusal.
    const wrong = await startDataApiServer({
      connectionUrlFor: db.serverUrlFor,
      logins: [{ ...LOCAL_FUNCTION_LOGINS.heartbeat, password: "not-the-role-password-at-all" }],
    });
    try {
      const session = createDataApiDatabase({
        region: "us-east-1",
        endpoint: wrong.url,
        resourceArn: wrong.resourceArn,
        secretArn: LOCAL_FUNCTION_LOGINS.heartbeat.secretArn,
        database: db.name,
        timeoutMs: 5_000,
      });
      try {
        await expect(current(session)).rejects.toThrow(/password authentication failed/);
      } finally {
        session.close();
      }
    } finally {
      await wrong.close();
    }
  });
});

describe("the heartbeat's role", () => {
  it("may UPDATE exactly workspaces.last_used_at, workspace_builds.deadline and updated_at of Coder's columns", async () => {
    const heartbeat = loginAs(LOCAL_FUNCTION_LOGINS.heartbeat.secretArn);
    const columns = await coderColumns(db.pool);
    expect(columns.length).toBeGreaterThan(30);
    const writable: string[] = [];
    for (const column of columns) {
      const [table, name] = column.split(".");
      // SET … = DEFAULT reads nothing, so only the UPDATE privilege on the column is checked.
      const outcome = await attempt(
        heartbeat,
        `UPDATE public.${table} SET "${name}" = DEFAULT WHERE false`,
      );
      if (outcome === "ok") writable.push(column);
    }
    expect(writable).toEqual(HEARTBEAT_WRITES);
  });

  it("cannot DELETE, INSERT into or TRUNCATE any of Coder's tables", async () => {
    const heartbeat = loginAs(LOCAL_FUNCTION_LOGINS.heartbeat.secretArn);
    for (const table of CODER_TABLES) {
      expect(await attempt(heartbeat, `DELETE FROM public.${table} WHERE false`), table).toBe(
        "denied",
      );
      expect(
        await attempt(heartbeat, `INSERT INTO public.${table} (id) SELECT NULL::uuid WHERE false`),
        table,
      ).toBe("denied");
      expect(await attempt(heartbeat, `TRUNCATE public.${table}`), table).toBe("denied");
    }
    // Nor read a column its function does not read (chats.organization_id, say).
    expect(await attempt(heartbeat, "SELECT organization_id FROM public.chats WHERE false")).toBe(
      "denied",
    );
    expect(await attempt(heartbeat, "SELECT status FROM public.chats WHERE false")).toBe("ok");
  });

  it("cannot write what it does not need in chat_heartbeat, nor create anything", async () => {
    const heartbeat = loginAs(LOCAL_FUNCTION_LOGINS.heartbeat.secretArn);
    for (const sql of [
      "DELETE FROM chat_heartbeat.outcome_counts WHERE false",
      "DELETE FROM chat_heartbeat.workspace_last_bump WHERE false",
      "UPDATE chat_heartbeat.outcome_counts SET outcome = DEFAULT WHERE false",
      "UPDATE chat_heartbeat.report_watermark SET reported_until = DEFAULT WHERE false",
      "SELECT 1 FROM chat_heartbeat.report_watermark WHERE false",
      "SELECT 1 FROM chat_heartbeat.schema_migrations WHERE false",
      "INSERT INTO chat_heartbeat.schema_functions (name, checksum) SELECT 'x', 'y' WHERE false",
      "UPDATE chat_heartbeat.installation SET coder_subset = DEFAULT WHERE false",
      "CREATE TABLE chat_heartbeat.planted (id int)",
      "CREATE TABLE public.planted (id int)",
    ]) {
      expect(await attempt(heartbeat, sql), sql).toBe("denied");
    }
  });

  it("runs record_heartbeat as itself (SECURITY INVOKER), on the role's fixed search_path", async () => {
    const { rows } = await db.pool.query(
      `SELECT prosecdef, proconfig FROM pg_proc
       WHERE oid = 'chat_heartbeat.record_heartbeat(uuid, uuid, bigint)'::regprocedure`,
    );
    // No SET clause (it would cost every call a save and restore): the role carries the path.
    expect(rows).toEqual([{ prosecdef: false, proconfig: null }]);
    const heartbeat = loginAs(LOCAL_FUNCTION_LOGINS.heartbeat.secretArn);
    const paths = await heartbeat.query(
      "SELECT current_setting('search_path') AS search_path",
      [],
      z.object({ search_path: z.string() }),
    );
    expect(paths).toEqual([{ search_path: "pg_catalog, public, pg_temp" }]);
  });
});

describe("the reporter's role", () => {
  it("cannot read, write or run anything of Coder's or the heartbeat's", async () => {
    const reporter = loginAs(LOCAL_FUNCTION_LOGINS.reporter.secretArn);
    for (const table of CODER_TABLES) {
      expect(await attempt(reporter, `SELECT 1 FROM public.${table} WHERE false`), table).toBe(
        "denied",
      );
      expect(await attempt(reporter, `SELECT id FROM public.${table} WHERE false`), table).toBe(
        "denied",
      );
      expect(
        await attempt(reporter, `UPDATE public.${table} SET id = DEFAULT WHERE false`),
        table,
      ).toBe("denied");
      expect(await attempt(reporter, `DELETE FROM public.${table} WHERE false`), table).toBe(
        "denied",
      );
    }
    for (const sql of [
      "SELECT * FROM chat_heartbeat.record_heartbeat(gen_random_uuid(), gen_random_uuid(), 300)",
      "INSERT INTO chat_heartbeat.outcome_counts (bucket_start, outcome, shard, heartbeats) SELECT now(), 'bumped', 0, 1 WHERE false",
      "UPDATE chat_heartbeat.outcome_counts SET heartbeats = DEFAULT WHERE false",
      "SELECT 1 FROM chat_heartbeat.workspace_last_bump WHERE false",
      "DELETE FROM chat_heartbeat.report_watermark WHERE false",
    ]) {
      expect(await attempt(reporter, sql), sql).toBe("denied");
    }
    // What its queries need works (the reporter suites run the handler as this role too).
    expect(await attempt(reporter, "SELECT count(*) FROM chat_heartbeat.outcome_counts")).toBe(
      "ok",
    );
  });
});

describe("the grants", () => {
  it("are exactly those of sql/grants/function_roles.sql, nothing else in the database", async () => {
    for (const [role, expected] of Object.entries(EXPECTED_PRIVILEGES)) {
      expect(await privilegesOf(db.pool, role), role).toEqual(expected);
    }
    // Nobody else runs the heartbeat: not PUBLIC, so not the reporter.
    const { rows } = await db.pool.query(
      `SELECT has_function_privilege($1, 'chat_heartbeat.record_heartbeat(uuid, uuid, bigint)', 'EXECUTE') AS reporter`,
      [FUNCTION_ROLES.reporter],
    );
    expect(rows).toEqual([{ reporter: false }]);
  });

  it("come back exactly after extra grants and a dropped and re-created function, on the next migrate", async () => {
    const own = await createTestDatabase();
    try {
      await own.pool.query(
        `GRANT DELETE ON public.chats TO ${FUNCTION_ROLES.heartbeat};
         GRANT UPDATE (name, deleted) ON public.workspaces TO ${FUNCTION_ROLES.heartbeat};
         GRANT SELECT ON public.workspaces TO ${FUNCTION_ROLES.reporter}`,
      );
      // A rule change that drops and re-creates the function loses its ACL (CREATE OR REPLACE
      // would keep it): the migrate that applies it re-applies the grants.
      const [shipped] = loadRepeatableMigrations();
      if (!shipped) throw new Error("no repeatable migration");
      const recreated = {
        ...shipped,
        checksum: "re-created",
        statements: [
          "DROP FUNCTION chat_heartbeat.record_heartbeat(uuid, uuid, bigint)",
          ...shipped.statements,
        ],
      };
      expect(await migrate(pgMigrationTarget(own.url), loadMigrations(), [recreated])).toEqual([
        "record_heartbeat",
        "function_roles",
      ]);
      for (const [role, expected] of Object.entries(EXPECTED_PRIVILEGES)) {
        expect(await privilegesOf(own.pool, role), role).toEqual(expected);
      }
      // And the next migrate, with nothing new, applies nothing.
      expect(await migrate(pgMigrationTarget(own.url), loadMigrations(), [recreated])).toEqual([]);
    } finally {
      await own.drop();
    }
  });
});

describe("on a database with Coder's own tables", () => {
  it("migrate grants nothing (docs/local-stack.md); the operator's --grants mode does, and the heartbeat runs", async () => {
    const coder = await createTestDatabase({ empty: true });
    try {
      await createCoderTables(coder.pool);
      const acl = async () =>
        (
          await coder.pool.query(
            `SELECT relname, relacl::text FROM pg_class
             WHERE relnamespace = 'public'::regnamespace ORDER BY relname`,
          )
        ).rows;
      const before = await acl();
      const applied = await migrate(pgMigrationTarget(coder.url));
      expect(applied).not.toContain("function_roles");
      const { rows } = await coder.pool.query(
        "SELECT coder_subset FROM chat_heartbeat.installation",
      );
      expect(rows).toEqual([{ coder_subset: false }]);
      expect(await acl()).toEqual(before);
      expect(await privilegesOf(coder.pool, FUNCTION_ROLES.heartbeat)).toEqual([]);

      // The operator's step (`npm run migrate -- --grants`): exactly the same grants as on a fresh
      // database, on Coder's real tables (every column of theirs, NOT NULLs included).
      expect(
        await migrate(pgMigrationTarget(coder.url), undefined, undefined, {
          grantsMode: "always",
        }),
      ).toEqual(["function_roles"]);
      for (const [role, expected] of Object.entries(EXPECTED_PRIVILEGES)) {
        expect(await privilegesOf(coder.pool, role), role).toEqual(expected);
      }
      const heartbeat = loginAs(LOCAL_FUNCTION_LOGINS.heartbeat.secretArn, coder.name);
      const writable: string[] = [];
      for (const column of await coderColumns(coder.pool)) {
        const [table, name] = column.split(".");
        if (
          (await attempt(
            heartbeat,
            `UPDATE public.${table} SET "${name}" = DEFAULT WHERE false`,
          )) === "ok"
        )
          writable.push(column);
      }
      expect(writable).toEqual(HEARTBEAT_WRITES);
    } finally {
      await coder.drop();
    }
  });

  it("records a fresh database as one whose Coder tables are ours", async () => {
    const { rows } = await db.pool.query("SELECT coder_subset FROM chat_heartbeat.installation");
    expect(rows).toEqual([{ coder_subset: true }]);
  });
});
