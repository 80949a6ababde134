import pg from "pg";
import {
  type Beat,
  type BenchSettings,
  type BenchStack,
  cpuMsPerHeartbeat,
  ENDPOINT_CONNECTIONS,
  log,
  stats,
  type ThroughputWindows,
} from "../harness.ts";

export interface CeilingVariant {
  name: string;
  perSecond: number;
  p50: number;
  p99: number;
  errors: number;
  outcomes: Record<string, number>;
  postgresCpuMsPerHeartbeat: number | null;
  nodeCpuMsPerHeartbeat: number | null;
}

export interface DatabaseCeilingResult {
  connections: number;
  variants: CeilingVariant[];
  explainMedianMs: { planning: number; execution: number };
}

/**
 * 4. The database's own ceiling: the statement over direct connections, no Node in between but
 * the driver. The Data API cannot prepare statements: every call is parsed and planned (the
 * statement is one call of chat_heartbeat.record_heartbeat, whose inner statements PL/pgSQL plans
 * once per connection; a bench-only PL/pgSQL wrapper around it would add nothing, so there is none).
 * EXPLAIN runs on `explainChats` (not_due chats: the common path).
 */
export async function measureDatabaseCeiling(
  stack: BenchStack,
  windows: ThroughputWindows,
  settings: BenchSettings,
  explainChats: string[],
): Promise<DatabaseCeilingResult> {
  const { pool, dbUrl, statement, statementValues } = stack;
  const { calibrate, seedSteadyState, runWindow } = windows;
  log("4/6 database ceiling");
  const ceilingPool = new pg.Pool({ connectionString: dbUrl, max: ENDPOINT_CONNECTIONS });
  const outcomeOf = (result: pg.QueryResult<{ outcome: string }>) =>
    result.rows[0]?.outcome ?? "not_found";
  const ceilingVariants: { name: string; beat: Beat }[] = [
    {
      name: "as the Data API sends it: parsed and planned on every call",
      beat: async (chatId) =>
        outcomeOf(await ceilingPool.query(statement.text, statementValues(chatId))),
    },
    {
      name: "plan cached: named prepared statement per connection",
      beat: async (chatId) =>
        outcomeOf(
          await ceilingPool.query({
            name: "heartbeat",
            text: statement.text,
            values: statementValues(chatId),
          }),
        ),
    },
  ];
  const ceiling: CeilingVariant[] = [];
  for (const variant of ceilingVariants) {
    const rate = await calibrate(ENDPOINT_CONNECTIONS, variant.beat);
    const { chats } = await seedSteadyState(
      Math.ceil(rate * settings.windowSeconds * 1.5),
      rate,
      0,
    );
    const window = await runWindow(
      chats,
      settings.windowSeconds,
      ENDPOINT_CONNECTIONS,
      variant.beat,
    );
    ceiling.push({
      name: variant.name,
      perSecond: window.perSecond,
      p50: window.p50,
      p99: window.p99,
      errors: window.errors,
      outcomes: window.outcomes,
      postgresCpuMsPerHeartbeat: cpuMsPerHeartbeat(window.cpu?.postgres, window),
      nodeCpuMsPerHeartbeat: cpuMsPerHeartbeat(window.cpu?.node, window),
    });
  }
  // Planning vs execution of one not_due heartbeat, as PostgreSQL itself reports them (rolled back).
  const planning: number[] = [];
  const execution: number[] = [];
  const explainClient = await pool.connect();
  try {
    for (let i = 0; i < 40; i++) {
      await explainClient.query("BEGIN");
      const { rows } = await explainClient.query<{
        "QUERY PLAN": { "Planning Time": number; "Execution Time": number }[];
      }>(
        `EXPLAIN (ANALYZE, SUMMARY, FORMAT JSON) ${statement.text}`,
        statementValues(explainChats[i] as string),
      );
      await explainClient.query("ROLLBACK");
      const plan = rows[0]?.["QUERY PLAN"][0];
      if (plan) {
        planning.push(plan["Planning Time"]);
        execution.push(plan["Execution Time"]);
      }
    }
  } finally {
    explainClient.release();
  }
  await ceilingPool.end();
  return {
    connections: ENDPOINT_CONNECTIONS,
    variants: ceiling,
    explainMedianMs: {
      planning: stats(planning).p50,
      execution: stats(execution).p50,
    },
  };
}
