import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDataApiDatabase } from "../../functions/shared/database/data-api.ts";
import { DemoSeedRefused, seedDemo } from "../../tools/local/demo-seed.ts";
import { signLocalChatToken } from "../../tools/local/token-cli.ts";
import { pgMigrationTarget } from "../../tools/migrate/pg-target.ts";
import { migrate } from "../../tools/migrate/runner.ts";
import {
  CODER_COLUMNS,
  CODER_CONSTRAINTS,
  CODER_DUMP,
  CODER_ENUMS,
  CODER_WORKSPACE_TRIGGER,
  catalogColumns,
  createCoderTables,
} from "../support/coder-schema.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { readLastBump, readOutcomeCounts } from "../support/fixtures.ts";
import {
  type HeartbeatStack,
  startHeartbeatStack,
  TEST_TOKEN_SECRET,
} from "../support/heartbeat-stack.ts";

/**
 * docs/heartbeat.md: Coder's schema is the reference. The facts in test/support/coder-schema.ts were read
 * from coder/coder main's dump.sql; the subset our migrations create must agree with them, and the
 * whole stack must run unchanged on Coder's real tables (every column, NOT NULLs included).
 */

type Queryable = TestDatabase["pool"];

async function constraintsOf(pool: Queryable) {
  const { rows } = await pool.query<{ table: string; name: string; definition: string }>(
    `SELECT conrelid::regclass::text AS table, conname AS name, pg_get_constraintdef(oid) AS definition
     FROM pg_constraint WHERE connamespace = 'public'::regnamespace AND contype IN ('c', 'u', 'f')
     ORDER BY 1, 2`,
  );
  return rows;
}

async function triggersOf(pool: Queryable) {
  const { rows } = await pool.query<{ table: string; name: string; definition: string }>(
    `SELECT tgrelid::regclass::text AS table, tgname AS name, pg_get_triggerdef(oid) AS definition
     FROM pg_trigger WHERE NOT tgisinternal ORDER BY 1, 2`,
  );
  return rows;
}

async function enumLabels(pool: Queryable) {
  const { rows } = await pool.query<{ name: string; labels: string[] }>(
    `SELECT t.typname AS name, array_agg(e.enumlabel::text ORDER BY e.enumsortorder) AS labels
     FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid
     WHERE t.typnamespace = 'public'::regnamespace GROUP BY t.typname`,
  );
  return Object.fromEntries(rows.map((row) => [row.name, row.labels]));
}

/** Everything of Coder's that a migration could touch: columns, constraints, triggers, enums. */
async function publicSchema(pool: Queryable) {
  const client = await pool.connect();
  try {
    return {
      columns: await catalogColumns(client),
      constraints: await constraintsOf(pool),
      triggers: await triggersOf(pool),
      enums: await enumLabels(pool),
    };
  } finally {
    client.release();
  }
}

describe(`the subset (sql/migrations) agrees with ${CODER_DUMP.repository} ${CODER_DUMP.path} @ ${CODER_DUMP.commit.slice(0, 8)}`, () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db?.drop();
  });

  it("every column of the subset exists in Coder with the same type, nullability and default", async () => {
    const { columns } = await publicSchema(db.pool);
    expect(columns.length).toBeGreaterThan(40);
    for (const column of columns) {
      const where = `${column.table}.${column.name}`;
      const fact = CODER_COLUMNS[column.table]?.find((candidate) => candidate.name === column.name);
      expect(fact, `${where} is not a column of Coder's`).toBeDefined();
      expect(column, where).toEqual({
        table: column.table,
        name: fact?.name,
        type: fact?.type,
        notNull: fact?.notNull,
        default: fact?.default,
      });
    }
  });

  it("has the five tables, and every column it leaves out is one a Coder row may omit or Coder computes", async () => {
    const { columns } = await publicSchema(db.pool);
    expect([...new Set(columns.map((column) => column.table))].sort()).toEqual(
      Object.keys(CODER_COLUMNS).sort(),
    );
    // The subset takes a Coder column with a default or NULL allowed only where it is needed; the
    // ones it leaves out include Coder's NOT NULL columns without a default, which is why SEED_DEMO
    // refuses on Coder's real tables (below).
    const omitted = Object.entries(CODER_COLUMNS).flatMap(([table, facts]) =>
      facts
        .filter((fact) => !columns.some((c) => c.table === table && c.name === fact.name))
        .map((fact) => ({ table, ...fact })),
    );
    expect(omitted.filter((fact) => fact.notNull && fact.default === null).length).toBeGreaterThan(
      0,
    );
  });

  it("uses Coder's enum labels, in Coder's order", async () => {
    const enums = await enumLabels(db.pool);
    expect(Object.keys(enums).sort()).toEqual(["chat_status", "workspace_transition"]);
    for (const [name, labels] of Object.entries(enums))
      expect(labels, name).toEqual(CODER_ENUMS[name]);
  });

  it("has Coder's constraints among the five tables, by name and definition", async () => {
    expect(await constraintsOf(db.pool)).toEqual(
      [...CODER_CONSTRAINTS].sort((a, b) =>
        a.table === b.table ? a.name.localeCompare(b.name) : a.table.localeCompare(b.table),
      ),
    );
  });

  it("mirrors Coder's AFTER UPDATE trigger on workspaces, and it behaves like Coder's", async () => {
    expect(await triggersOf(db.pool)).toEqual([
      {
        table: "workspaces",
        name: CODER_WORKSPACE_TRIGGER.name,
        definition: `CREATE TRIGGER ${CODER_WORKSPACE_TRIGGER.name} AFTER UPDATE ON public.workspaces FOR EACH ROW EXECUTE FUNCTION ${CODER_WORKSPACE_TRIGGER.function}()`,
      },
    ]);
    const org = randomUUID();
    const template = randomUUID();
    const workspace = randomUUID();
    await db.pool.query(
      "INSERT INTO templates (id, created_at, updated_at, organization_id, name) VALUES ($1, now(), now(), $2, 't')",
      [template, org],
    );
    await db.pool.query(
      `INSERT INTO workspaces (id, created_at, updated_at, owner_id, organization_id, template_id, name,
                               autostart_schedule, next_start_at)
       VALUES ($1, now(), now(), $2, $2, $3, 'w', 'CRON_TZ=UTC 0 9 * * 1-5', now() + interval '1 hour')`,
      [workspace, org, template],
    );
    const nextStart = async () =>
      (
        await db.pool.query<{ set: boolean }>(
          "SELECT next_start_at IS NOT NULL AS set FROM workspaces WHERE id = $1",
          [workspace],
        )
      ).rows[0]?.set;
    // A write like the heartbeat's (last_used_at) keeps next_start_at.
    await db.pool.query("UPDATE workspaces SET last_used_at = now() WHERE id = $1", [workspace]);
    expect(await nextStart()).toBe(true);
    // A changed schedule with an unchanged next_start_at invalidates it, as in Coder.
    await db.pool.query(
      "UPDATE workspaces SET autostart_schedule = 'CRON_TZ=UTC 0 10 * * 1-5' WHERE id = $1",
      [workspace],
    );
    expect(await nextStart()).toBe(false);
  });
});

describe("on Coder's real tables (every column of the facts, NOT NULLs included)", () => {
  let db: TestDatabase;
  let stack: HeartbeatStack;
  let before: Awaited<ReturnType<typeof publicSchema>>;
  let applied: string[];

  beforeAll(async () => {
    db = await createTestDatabase({ empty: true });
    await createCoderTables(db.pool);
    before = await publicSchema(db.pool);
    applied = await migrate(pgMigrationTarget(db.url));
    // The operator's step on a real Coder database (`npm run migrate -- --grants`): the functions'
    // roles and grants, so the handler below runs as the heartbeat's role, as deployed.
    await migrate(pgMigrationTarget(db.url), undefined, undefined, { grantsMode: "always" });
    stack = await startHeartbeatStack({}, { db });
  });
  afterAll(async () => {
    await stack?.stop();
    await db?.drop();
  });

  it("migrations leave Coder's tables exactly as they were and add only the chat_heartbeat schema", async () => {
    expect(applied).toContain("record_heartbeat");
    expect(await publicSchema(db.pool)).toEqual(before);
    expect(before.columns).toHaveLength(
      Object.values(CODER_COLUMNS).reduce((sum, columns) => sum + columns.length, 0),
    );
    const { rows } = await db.pool.query<{ schema: string }>(
      `SELECT DISTINCT n.nspname AS schema FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') ORDER BY 1`,
    );
    expect(rows.map((row) => row.schema)).toEqual(["chat_heartbeat", "public"]);
  });

  it("a heartbeat through the handler, the SDK and the Data API bumps the build and records it", async () => {
    const ids = {
      org: randomUUID(),
      user: randomUUID(),
      template: randomUUID(),
      workspace: randomUUID(),
      job: randomUUID(),
      build: randomUUID(),
      chat: randomUUID(),
    };
    const values = Object.values(ids);
    const p = (key: keyof typeof ids) => `$${values.indexOf(ids[key]) + 1}::uuid`;
    await db.pool.query(
      `WITH t AS (
         INSERT INTO templates (id, created_at, updated_at, organization_id, name, provisioner, active_version_id, created_by)
         VALUES (${p("template")}, now(), now(), ${p("org")}, 'coder-template', 'terraform', gen_random_uuid(), ${p("user")})
       ), w AS (
         INSERT INTO workspaces (id, created_at, updated_at, owner_id, organization_id, template_id, name, last_used_at,
                                 autostart_schedule, next_start_at)
         VALUES (${p("workspace")}, now(), now(), ${p("user")}, ${p("org")}, ${p("template")}, 'coder-ws',
                 now() - interval '1 hour', 'CRON_TZ=UTC 0 9 * * 1-5', now() + interval '3 days')
       ), j AS (
         INSERT INTO provisioner_jobs (id, created_at, updated_at, started_at, completed_at, organization_id, initiator_id,
                                       provisioner, storage_method, type, input, file_id)
         VALUES (${p("job")}, now(), now(), now(), now(), ${p("org")}, ${p("user")}, 'terraform', 'file',
                 'workspace_build', '{}', gen_random_uuid())
       ), b AS (
         INSERT INTO workspace_builds (id, created_at, updated_at, workspace_id, template_version_id, build_number,
                                       transition, initiator_id, job_id, deadline, max_deadline)
         VALUES (${p("build")}, now(), now(), ${p("workspace")}, gen_random_uuid(), 1, 'start', ${p("user")}, ${p("job")},
                 now() + interval '10 minutes', now() + interval '8 hours')
       )
       INSERT INTO chats (id, owner_id, organization_id, workspace_id, status, last_model_config_id)
       VALUES (${p("chat")}, ${p("user")}, ${p("org")}, ${p("workspace")}, 'running', gen_random_uuid())`,
      values,
    );
    const token = await signLocalChatToken({ sub: ids.user, secret: TEST_TOKEN_SECRET });

    const first = await stack.send({ chatId: ids.chat, token });
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ outcome: "bumped", workspaceId: ids.workspace });
    const second = await stack.send({ chatId: ids.chat, token });
    expect(second.body).toMatchObject({ outcome: "not_due" });

    const { rows } = await db.pool.query<{ bumped: boolean; used: boolean; next_start: boolean }>(
      `SELECT b.deadline > now() + interval '59 minutes' AS bumped,
              w.last_used_at > now() - interval '1 minute' AS used,
              w.next_start_at IS NOT NULL AS next_start
       FROM workspace_builds b JOIN workspaces w ON w.id = b.workspace_id WHERE b.id = $1`,
      [ids.build],
    );
    // Coder's trigger ran on the last_used_at write and, rightly, kept next_start_at.
    expect(rows[0]).toEqual({ bumped: true, used: true, next_start: true });
    expect((await readLastBump(db.pool, ids.workspace))?.chatId).toBe(ids.chat);
    expect(await readOutcomeCounts(db.pool)).toEqual({ bumped: 1, not_due: 1 });
  });

  it("SEED_DEMO refuses with a clear message and writes nothing", async () => {
    const counts = async () =>
      (
        await db.pool.query<{ n: string }>(
          "SELECT (SELECT count(*) FROM chats) + (SELECT count(*) FROM workspaces) AS n",
        )
      ).rows[0]?.n;
    const rowsBefore = await counts();
    const dataApi = createDataApiDatabase({
      region: "us-east-1",
      endpoint: stack.dataApi.url,
      resourceArn: stack.dataApi.resourceArn,
      secretArn: stack.dataApi.secretArn,
      database: db.name,
      timeoutMs: 10_000,
    });
    try {
      const refusal = seedDemo(dataApi);
      await expect(refusal).rejects.toBeInstanceOf(DemoSeedRefused);
      await expect(refusal).rejects.toThrow(/Coder's real tables.*chats\.last_model_config_id/);
    } finally {
      dataApi.close();
    }
    expect(await counts()).toBe(rowsBefore);
  });
});
