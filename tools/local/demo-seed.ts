import { readFileSync } from "node:fs";
import * as z from "zod/mini";
import { type SqlDatabase, sqlParameter } from "../../functions/shared/database/database.ts";
import blockersSql from "../../sql/seed/demo-blockers.sql";
import { dataApiStatement, splitStatements } from "../sql-lexer.ts";

/** The ids `sql/seed/demo.sql` uses. */
export const DEMO = {
  organizationId: "7e3f0c2a-5b1d-4c8e-9a6f-2d4b8c1e0a00",
  userId: "7e3f0c2a-5b1d-4c8e-9a6f-2d4b8c1e0a02",
  workspaceId: "7e3f0c2a-5b1d-4c8e-9a6f-2d4b8c1e0a03",
  chatId: "7e3f0c2a-5b1d-4c8e-9a6f-2d4b8c1e0a06",
} as const;

const DEMO_SQL = new URL("../../sql/seed/demo.sql", import.meta.url);

/** Every column `sql/seed/demo.sql` gives a value, as "table.column". */
const DEMO_COLUMNS = {
  templates: ["id", "created_at", "updated_at", "organization_id", "name"],
  workspaces: [
    "id",
    "created_at",
    "updated_at",
    "owner_id",
    "organization_id",
    "template_id",
    "name",
  ],
  provisioner_jobs: [
    "id",
    "created_at",
    "updated_at",
    "started_at",
    "completed_at",
    "organization_id",
  ],
  workspace_builds: [
    ["id", "created_at", "updated_at", "workspace_id", "build_number", "transition", "job_id"],
    ["deadline", "max_deadline"],
  ].flat(),
  chats: ["id", "owner_id", "organization_id", "workspace_id", "status"],
};

/** The demo needs the chat-heartbeat subset (docs/heartbeat.md): Coder's real tables need more per row. */
export class DemoSeedRefused extends Error {
  override readonly name = "DemoSeedRefused";
}

/**
 * Seeds (or re-arms) the demo chat through the Data API, one statement per call. Refuses, writing
 * nothing, on a database whose tables need more than the demo gives (Coder's real tables).
 */
export async function seedDemo(db: SqlDatabase): Promise<void> {
  const filled = Object.entries(DEMO_COLUMNS).flatMap(([table, columns]) =>
    columns.map((column) => `${table}.${column}`),
  );
  const blockers = await db.query(
    blockersSql,
    [sqlParameter.text("filled", filled.join(","))],
    z.object({ blocker: z.string() }),
  );
  if (blockers.length > 0) {
    throw new DemoSeedRefused(
      `SEED_DEMO: not seeding. This database has Coder's real tables, whose rows need ${blockers
        .map((row) => row.blocker)
        .join(", ")}; the demo seeds only the chat-heartbeat subset of a fresh database. ` +
        "Unset SEED_DEMO and use a chat that Coder created (npm run token -- --sub <its owner>).",
    );
  }
  const statements = splitStatements(readFileSync(DEMO_SQL, "utf8")).map((statement, index) =>
    dataApiStatement(statement, `sql/seed/demo.sql, statement ${index + 1}`),
  );
  await db.transaction(async (session) => {
    for (const statement of statements) await session.execute(statement, []);
  });
}
