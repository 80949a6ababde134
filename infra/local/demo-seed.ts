import { readFileSync } from "node:fs";
import type { SqlDatabase } from "../../functions/shared/database/database.ts";
import { dataApiStatement, splitStatements } from "./sql-lexer.ts";

/** The ids `sql/seed/demo.sql` uses. */
export const DEMO = {
  organizationId: "7e3f0c2a-5b1d-4c8e-9a6f-2d4b8c1e0a00",
  userId: "7e3f0c2a-5b1d-4c8e-9a6f-2d4b8c1e0a02",
  workspaceId: "7e3f0c2a-5b1d-4c8e-9a6f-2d4b8c1e0a03",
  chatId: "7e3f0c2a-5b1d-4c8e-9a6f-2d4b8c1e0a06",
} as const;

const DEMO_SQL = new URL("../../sql/seed/demo.sql", import.meta.url);

/** Seeds (or re-arms) the demo chat through the Data API, one statement per call. */
export async function seedDemo(db: SqlDatabase): Promise<void> {
  const statements = splitStatements(readFileSync(DEMO_SQL, "utf8")).map((statement, index) =>
    dataApiStatement(statement, `sql/seed/demo.sql, statement ${index + 1}`),
  );
  await db.transaction(async (session) => {
    for (const statement of statements) await session.execute(statement, []);
  });
}
