import { randomBytes } from "node:crypto";
import pg from "pg";
import { afterAll, describe, expect, inject, it } from "vitest";
import { HEARTBEAT_OUTCOMES } from "../../functions/shared/outcomes.ts";
import { pgMigrationTarget } from "../../tools/migrate/pg-target.ts";
import { loadMigrations, loadRepeatableMigrations, migrate } from "../../tools/migrate/runner.ts";

/** Fresh databases on the shared server, created from template0 (empty), dropped at the end. */
const adminUrl = inject("pgAdminUrl");
const created: string[] = [];

function urlFor(database: string): string {
  const url = new URL(adminUrl);
  url.pathname = `/${database}`;
  return url.toString();
}

async function withClient<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

async function createEmptyDatabase(): Promise<string> {
  const name = `m_${randomBytes(6).toString("hex")}`;
  await withClient(adminUrl, (admin) => admin.query(`CREATE DATABASE ${name} TEMPLATE template0`));
  created.push(name);
  return urlFor(name);
}

afterAll(async () => {
  await withClient(adminUrl, async (admin) => {
    for (const name of created) await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  });
});

const CODER_TABLES = ["chats", "provisioner_jobs", "templates", "workspace_builds", "workspaces"];

interface ColumnSpec {
  type: string;
  nullable: boolean;
  /** A pattern the catalog's default expression must match; absent = no default. */
  default?: RegExp;
}

const TIMESTAMPTZ = "timestamp with time zone";
const col = (type: string, nullable = false, defaultPattern?: RegExp): ColumnSpec => ({
  type,
  nullable,
  ...(defaultPattern ? { default: defaultPattern } : {}),
});
// pg_get_expr renders a timestamptz constant in the session zone, so the zero-time defaults are
// recognised here by shape and checked by value below.
const ZERO_DEFAULT = /^'0001-01-01 [^']*'::timestamp with time zone$/;

/** docs/heartbeat.md, column by column (NOT NULLs as in Coder's schema). */
const EXPECTED_COLUMNS: Record<string, Record<string, ColumnSpec>> = {
  templates: {
    id: col("uuid"),
    created_at: col(TIMESTAMPTZ),
    updated_at: col(TIMESTAMPTZ),
    organization_id: col("uuid"),
    name: col("character varying(64)"),
    deleted: col("boolean", false, /^false$/),
    default_ttl: col("bigint", false, /^'?604800000000000'?(::bigint)?$/),
    allow_user_autostop: col("boolean", false, /^true$/),
    activity_bump: col("bigint", false, /^'?3600000000000'?(::bigint)?$/),
  },
  workspaces: {
    id: col("uuid"),
    created_at: col(TIMESTAMPTZ),
    updated_at: col(TIMESTAMPTZ),
    owner_id: col("uuid"),
    organization_id: col("uuid"),
    template_id: col("uuid"),
    deleted: col("boolean", false, /^false$/),
    name: col("character varying(64)"),
    autostart_schedule: col("text", true),
    ttl: col("bigint", true),
    last_used_at: col(TIMESTAMPTZ, false, ZERO_DEFAULT),
    dormant_at: col(TIMESTAMPTZ, true),
    next_start_at: col(TIMESTAMPTZ, true),
  },
  provisioner_jobs: {
    id: col("uuid"),
    created_at: col(TIMESTAMPTZ),
    updated_at: col(TIMESTAMPTZ),
    started_at: col(TIMESTAMPTZ, true),
    canceled_at: col(TIMESTAMPTZ, true),
    completed_at: col(TIMESTAMPTZ, true),
    error: col("text", true),
    organization_id: col("uuid"),
  },
  workspace_builds: {
    id: col("uuid"),
    created_at: col(TIMESTAMPTZ),
    updated_at: col(TIMESTAMPTZ),
    workspace_id: col("uuid"),
    build_number: col("integer"),
    transition: col("workspace_transition"),
    job_id: col("uuid"),
    deadline: col(TIMESTAMPTZ, false, ZERO_DEFAULT),
    max_deadline: col(TIMESTAMPTZ, false, ZERO_DEFAULT),
  },
  chats: {
    id: col("uuid", false, /^gen_random_uuid\(\)$/),
    owner_id: col("uuid"),
    organization_id: col("uuid"),
    workspace_id: col("uuid", true),
    status: col("chat_status", false, /^'waiting'::chat_status$/),
    archived: col("boolean", false, /^false$/),
    created_at: col(TIMESTAMPTZ, false, /^now\(\)$/),
    updated_at: col(TIMESTAMPTZ, false, /^now\(\)$/),
  },
};

async function publicColumns(client: pg.Client) {
  const { rows } = await client.query<{
    table_name: string;
    column_name: string;
    type: string;
    is_nullable: "YES" | "NO";
    column_default: string | null;
  }>(
    `SELECT c.table_name, c.column_name, c.is_nullable, c.column_default,
            CASE WHEN c.data_type = 'USER-DEFINED' THEN c.udt_name
                 WHEN c.character_maximum_length IS NOT NULL
                   THEN c.data_type || '(' || c.character_maximum_length || ')'
                 ELSE c.data_type END AS type
     FROM information_schema.columns c
     WHERE c.table_schema = 'public'
     ORDER BY c.table_name, c.ordinal_position`,
  );
  return rows;
}

async function publicTables(client: pg.Client): Promise<string[]> {
  const { rows } = await client.query<{ table_name: string }>(
    "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name",
  );
  return rows.map((row) => row.table_name);
}

async function enumLabels(client: pg.Client, type: string): Promise<string[]> {
  const { rows } = await client.query<{ label: string }>(
    `SELECT e.enumlabel AS label FROM pg_enum e JOIN pg_type t ON t.oid = e.enumtypid
     WHERE t.typname = $1 ORDER BY e.enumsortorder`,
    [type],
  );
  return rows.map((row) => row.label);
}

async function errorCode(client: pg.Client, sql: string): Promise<string | undefined> {
  await client.query("SAVEPOINT probe");
  try {
    await client.query(sql);
    return undefined;
  } catch (error) {
    return (error as { code?: string }).code;
  } finally {
    await client.query("ROLLBACK TO SAVEPOINT probe");
  }
}

describe("migrations on a fresh database", () => {
  it("create the docs/heartbeat.md tables with the exact column types, then apply nothing the second time", async () => {
    const url = await createEmptyDatabase();
    const all = [...loadMigrations(), ...loadRepeatableMigrations()].map((m) => m.name);
    expect(all.slice(0, 2)).toEqual(["0001_coder_subset", "0002_chat_heartbeat"]);
    expect(all.at(-1)).toBe("record_heartbeat");

    // A fresh database: the functions' roles and grants too (sql/grants).
    expect(await migrate(pgMigrationTarget(url))).toEqual([...all, "function_roles"]);
    expect(await migrate(pgMigrationTarget(url))).toEqual([]);

    await withClient(url, async (client) => {
      expect(await publicTables(client)).toEqual(CODER_TABLES);
      const columns = await publicColumns(client);
      for (const [table, expected] of Object.entries(EXPECTED_COLUMNS)) {
        const actual = columns.filter((column) => column.table_name === table);
        expect(actual.map((column) => column.column_name).sort(), table).toEqual(
          Object.keys(expected).sort(),
        );
        for (const column of actual) {
          const spec = expected[column.column_name] as ColumnSpec;
          const where = `${table}.${column.column_name}`;
          expect(column.type, where).toBe(spec.type);
          expect(column.is_nullable, where).toBe(spec.nullable ? "YES" : "NO");
          if (spec.default) expect(column.column_default, where).toMatch(spec.default);
          else expect(column.column_default, where).toBeNull();
        }
      }

      expect(await enumLabels(client, "workspace_transition")).toEqual(["start", "stop", "delete"]);
      expect(await enumLabels(client, "chat_status")).toEqual([
        "waiting",
        "pending",
        "running",
        "paused",
        "completed",
        "error",
        "requires_action",
      ]);

      const { rows: keys } = await client.query<{ tbl: string; ref: string }>(
        `SELECT conrelid::regclass::text AS tbl, confrelid::regclass::text AS ref
         FROM pg_constraint WHERE contype = 'f' AND connamespace = 'public'::regnamespace`,
      );
      expect(keys.length).toBeGreaterThan(0);
      for (const key of keys) expect(CODER_TABLES).toContain(key.ref);

      // The rules on the columns every heartbeat writes live in their types (0006_typed_columns).
      const columnTypes = async (table: string) => {
        const { rows } = await client.query<{ name: string; type: string }>(
          `SELECT attname AS name, format_type(atttypid, atttypmod) AS type FROM pg_attribute
           WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum`,
          [table],
        );
        return rows.map((row) => [row.name, row.type]);
      };
      expect(await columnTypes("chat_heartbeat.outcome_counts")).toEqual([
        ["bucket_start", TIMESTAMPTZ],
        ["outcome", "chat_heartbeat.heartbeat_outcome"],
        ["shard", "chat_heartbeat.counter_shard"],
        ["heartbeats", "chat_heartbeat.heartbeat_count"],
      ]);
      expect(await columnTypes("chat_heartbeat.workspace_last_bump")).toEqual([
        ["workspace_id", "uuid"],
        ["bumped_at", TIMESTAMPTZ],
        ["source", "chat_heartbeat.activity_source"],
        ["chat_id", "uuid"],
        ["deadline", TIMESTAMPTZ],
      ]);
      // The outcomes of docs/heartbeat.md, in the order the rule decides them, as the code has them.
      expect(await enumLabels(client, "heartbeat_outcome")).toEqual([...HEARTBEAT_OUTCOMES]);
    });
  });

  it("enforce the defaults and constraints the heartbeat relies on", async () => {
    const url = await createEmptyDatabase();
    await migrate(pgMigrationTarget(url));
    await withClient(url, async (client) => {
      await client.query("BEGIN");
      // Defaults are checked by value in a zone far from UTC: the zero time must be UTC midnight.
      await client.query("SET LOCAL TimeZone = 'Pacific/Chatham'");
      const ids = {
        template: "00000000-0000-4000-8000-000000000001",
        workspace: "00000000-0000-4000-8000-000000000002",
        job: "00000000-0000-4000-8000-000000000003",
        build: "00000000-0000-4000-8000-000000000004",
        org: "00000000-0000-4000-8000-000000000005",
        user: "00000000-0000-4000-8000-000000000006",
      };
      await client.query(
        `INSERT INTO templates (id, created_at, updated_at, organization_id, name) VALUES ($1, now(), now(), $2, 't')`,
        [ids.template, ids.org],
      );
      await client.query(
        `INSERT INTO workspaces (id, created_at, updated_at, owner_id, organization_id, template_id, name)
         VALUES ($1, now(), now(), $2, $3, $4, 'w')`,
        [ids.workspace, ids.user, ids.org, ids.template],
      );
      await client.query(
        `INSERT INTO provisioner_jobs (id, created_at, updated_at, organization_id) VALUES ($1, now(), now(), $2)`,
        [ids.job, ids.org],
      );
      await client.query(
        `INSERT INTO workspace_builds (id, created_at, updated_at, workspace_id, build_number, transition, job_id)
         VALUES ($1, now(), now(), $2, 1, 'start', $3)`,
        [ids.build, ids.workspace, ids.job],
      );
      const { rows: chats } = await client.query<{
        id: string;
        status: string;
        archived: boolean;
        fresh: boolean;
      }>(
        `INSERT INTO chats (owner_id, organization_id, workspace_id) VALUES ($1, $2, $3)
         RETURNING id::text, status::text, archived, created_at = now() AND updated_at = now() AS fresh`,
        [ids.user, ids.org, ids.workspace],
      );
      expect(chats[0]).toMatchObject({ status: "waiting", archived: false, fresh: true });
      expect(chats[0]?.id).toMatch(/^[0-9a-f-]{36}$/);

      const { rows } = await client.query(
        `SELECT t.deleted, t.default_ttl::text, t.allow_user_autostop, t.activity_bump::text, w.deleted AS ws_deleted,
                to_char(w.last_used_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') AS last_used_at,
                to_char(b.deadline AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') AS deadline,
                to_char(b.max_deadline AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') AS max_deadline
         FROM templates t, workspaces w, workspace_builds b`,
      );
      expect(rows[0]).toEqual({
        deleted: false,
        default_ttl: "604800000000000",
        allow_user_autostop: true,
        activity_bump: "3600000000000",
        ws_deleted: false,
        last_used_at: "0001-01-01 00:00:00",
        deadline: "0001-01-01 00:00:00",
        max_deadline: "0001-01-01 00:00:00",
      });

      // unique (workspace_id, build_number)
      expect(
        await errorCode(
          client,
          `INSERT INTO provisioner_jobs (id, created_at, updated_at, organization_id)
           VALUES ('00000000-0000-4000-8000-000000000007', now(), now(), '${ids.org}');
           INSERT INTO workspace_builds (id, created_at, updated_at, workspace_id, build_number, transition, job_id)
           VALUES ('00000000-0000-4000-8000-000000000008', now(), now(), '${ids.workspace}', 1, 'start',
                   '00000000-0000-4000-8000-000000000007')`,
        ),
      ).toBe("23505");
      // max_deadline set: deadline must be set and not after it
      expect(
        await errorCode(
          client,
          `UPDATE workspace_builds SET max_deadline = now() WHERE id = '${ids.build}'`,
        ),
      ).toBe("23514");
      expect(
        await errorCode(
          client,
          `UPDATE workspace_builds SET deadline = now() + interval '2 hours', max_deadline = now() + interval '1 hour'
           WHERE id = '${ids.build}'`,
        ),
      ).toBe("23514");
      expect(
        await errorCode(
          client,
          `UPDATE workspace_builds SET deadline = now() + interval '1 hour', max_deadline = now() + interval '1 hour'
           WHERE id = '${ids.build}'`,
        ),
      ).toBeUndefined();
      // Only the ten outcomes can be counted (22P02: not a label of the enum), on shards 0..15,
      // never fewer than one heartbeat (23514: the domain's CHECK); the only source is ours.
      for (const [values, code] of [
        ["now(), 'exploded', 0, 1", "22P02"],
        ["now(), 'bumped', 16, 1", "23514"],
        ["now(), 'bumped', -1, 1", "23514"],
        ["now(), 'bumped', 0, 0", "23514"],
        ["now(), 'bumped', 15, 1", undefined],
      ] as const) {
        expect(
          await errorCode(client, `INSERT INTO chat_heartbeat.outcome_counts VALUES (${values})`),
          values,
        ).toBe(code);
      }
      // The domain holds on UPDATE too: a count cannot be decremented to zero.
      await client.query(
        "INSERT INTO chat_heartbeat.outcome_counts VALUES (now(), 'bumped', 0, 1)",
      );
      expect(
        await errorCode(
          client,
          "UPDATE chat_heartbeat.outcome_counts SET heartbeats = heartbeats - 1 WHERE outcome = 'bumped'",
        ),
      ).toBe("23514");
      expect(
        await errorCode(
          client,
          `INSERT INTO chat_heartbeat.workspace_last_bump VALUES
             (gen_random_uuid(), now(), 'coder_app', gen_random_uuid(), now())`,
        ),
      ).toBe("22P02");
      await client.query("ROLLBACK");
    });
  });
});

/**
 * A new database with the numbered migrations up to and including `last` applied, and nothing
 * else: no function, no grants (an empty grants file stands in, so none are applied).
 */
async function migratedThrough(last: string): Promise<string> {
  const url = await createEmptyDatabase();
  const through = loadMigrations().filter((migration) => migration.name <= last);
  expect(through.map((migration) => migration.name).at(-1)).toBe(last);
  await migrate(pgMigrationTarget(url), through, [], {
    grants: { name: "function_roles", checksum: `through-${last}`, statements: [] },
  });
  return url;
}

describe("upgrading a database migrated before 0006_typed_columns", () => {
  it("keeps every count and last bump, now in the typed columns", async () => {
    // As deployed before 0006: the numbered migrations up to 0005 (the rule and the grants of that
    // time are not needed to hold data; they are re-applied below whatever their text).
    const url = await migratedThrough("0005_installation");
    await withClient(url, async (client) => {
      await client.query(
        `INSERT INTO chat_heartbeat.outcome_counts VALUES
           ('2026-12-01T10:00:00Z', 'bumped', 0, 3), ('2026-12-01T10:00:00Z', 'chat_idle', 15, 1),
           ('2026-12-01T10:05:00Z', 'not_due', 7, 42)`,
      );
      await client.query(
        `INSERT INTO chat_heartbeat.workspace_last_bump VALUES
           ('00000000-0000-4000-8000-000000000001', '2026-12-01T10:01:00Z', 'chat_heartbeat',
            '00000000-0000-4000-8000-000000000002', '2026-12-01T11:01:00Z')`,
      );
    });

    expect(await migrate(pgMigrationTarget(url))).toEqual([
      "0006_typed_columns",
      "record_heartbeat",
      "function_roles",
    ]);
    await withClient(url, async (client) => {
      const { rows: counts } = await client.query(
        `SELECT to_char(bucket_start AT TIME ZONE 'UTC', 'HH24:MI') AS at, outcome::text AS outcome,
                shard::int AS shard, heartbeats::int AS heartbeats
         FROM chat_heartbeat.outcome_counts ORDER BY bucket_start, shard`,
      );
      expect(counts).toEqual([
        { at: "10:00", outcome: "bumped", shard: 0, heartbeats: 3 },
        { at: "10:00", outcome: "chat_idle", shard: 15, heartbeats: 1 },
        { at: "10:05", outcome: "not_due", shard: 7, heartbeats: 42 },
      ]);
      const { rows: bumps } = await client.query(
        `SELECT pg_typeof(source)::text AS type, source::text AS source FROM chat_heartbeat.workspace_last_bump`,
      );
      expect(bumps).toEqual([{ type: "chat_heartbeat.activity_source", source: "chat_heartbeat" }]);
    });
  });
});

describe("the function deployed before 0006_typed_columns, while 0006 is being applied", () => {
  it("still counts: its text outcome is cast to the enum on assignment", async () => {
    // 0006 committed and the function not yet replaced (that happens after the numbered
    // migrations, in a transaction of its own): what a heartbeat inside the old function meets.
    const url = await migratedThrough("0006_typed_columns");
    await withClient(url, async (client) => {
      // The count exactly as the function before 0006 wrote it: its outcome a text variable, its
      // shard an integer expression (git show 9bc9d3f:sql/functions/record_heartbeat.sql).
      await client.query(`
        CREATE FUNCTION pg_temp.count_as_before_0006(result text) RETURNS void
        LANGUAGE plpgsql AS $$
        BEGIN
          INSERT INTO chat_heartbeat.outcome_counts AS counts (bucket_start, outcome, shard, heartbeats)
          VALUES (timestamptz '2026-12-01 10:00:00+00', result, pg_backend_pid() % 16, 1)
          ON CONFLICT (bucket_start, outcome, shard)
          DO UPDATE SET heartbeats = counts.heartbeats + 1;
        END $$`);
      await client.query("SELECT pg_temp.count_as_before_0006('bumped')");
      await client.query("SELECT pg_temp.count_as_before_0006('bumped')");
      const { rows } = await client.query(
        `SELECT outcome::text AS outcome, pg_typeof(outcome)::text AS type, heartbeats::int AS heartbeats
         FROM chat_heartbeat.outcome_counts`,
      );
      expect(rows).toEqual([
        { outcome: "bumped", type: "chat_heartbeat.heartbeat_outcome", heartbeats: 2 },
      ]);
      // The cast converts; it does not widen what the column accepts.
      await expect(
        client.query("SELECT pg_temp.count_as_before_0006('no_such_outcome')"),
      ).rejects.toMatchObject({ code: "22P02" });
    });
  });
});

describe("repeatable migrations (sql/functions)", () => {
  it("re-apply a function when its text changes, and only then, after the numbered ones", async () => {
    const url = await createEmptyDatabase();
    const [shipped] = loadRepeatableMigrations();
    if (!shipped) throw new Error("no repeatable migration");
    await migrate(pgMigrationTarget(url));
    expect(await migrate(pgMigrationTarget(url))).toEqual([]);

    // A changed rule ships as the same file with new text: CREATE OR REPLACE, recorded by checksum.
    const changed = {
      name: shipped.name,
      checksum: "changed",
      statements: shipped.statements.map((statement) =>
        statement.replace("(docs/heartbeat.md).", "(docs/heartbeat.md), changed."),
      ),
    };
    // The grants follow whatever a run applied (sql/grants/function_roles.sql).
    expect(await migrate(pgMigrationTarget(url), loadMigrations(), [changed])).toEqual([
      shipped.name,
      "function_roles",
    ]);
    expect(await migrate(pgMigrationTarget(url), loadMigrations(), [changed])).toEqual([]);
    await withClient(url, async (client) => {
      const { rows } = await client.query<{ comment: string; checksum: string }>(
        `SELECT obj_description('chat_heartbeat.record_heartbeat(uuid, uuid, bigint)'::regprocedure) AS comment,
                (SELECT checksum FROM chat_heartbeat.schema_functions WHERE name = $1) AS checksum`,
        [shipped.name],
      );
      expect(rows[0]).toEqual({
        comment: expect.stringContaining("changed."),
        checksum: "changed",
      });
    });
  });
});

describe("migrations on a database that already has Coder's tables", () => {
  it("leave public alone and create only the chat_heartbeat schema", async () => {
    const url = await createEmptyDatabase();
    // A stand-in for a real Coder database: its own, different `workspaces` table.
    await withClient(url, (client) =>
      client.query(`CREATE TABLE public.workspaces (id uuid PRIMARY KEY, coder_only_column text NOT NULL);
                    INSERT INTO public.workspaces VALUES ('00000000-0000-4000-8000-00000000000a', 'kept')`),
    );
    const all = [...loadMigrations(), ...loadRepeatableMigrations()].map((m) => m.name);

    // No roles or grants on Coder's tables: that is the operator's step there.
    expect(await migrate(pgMigrationTarget(url))).toEqual(all);
    expect(await migrate(pgMigrationTarget(url))).toEqual([]);

    await withClient(url, async (client) => {
      expect(await publicTables(client)).toEqual(["workspaces"]);
      const columns = await publicColumns(client);
      expect(columns.map((column) => column.column_name)).toEqual(["id", "coder_only_column"]);
      const { rows } = await client.query("SELECT coder_only_column FROM public.workspaces");
      expect(rows).toEqual([{ coder_only_column: "kept" }]);
      expect(await enumLabels(client, "chat_status")).toEqual([]);
      expect(await enumLabels(client, "workspace_transition")).toEqual([]);

      const { rows: ours } = await client.query<{ table_name: string }>(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'chat_heartbeat' ORDER BY table_name",
      );
      expect(ours.map((row) => row.table_name)).toEqual(
        expect.arrayContaining(["outcome_counts", "schema_migrations"]),
      );
    });
  });
});
