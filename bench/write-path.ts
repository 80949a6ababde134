/**
 * `npm run bench:write-path`: PostgreSQL CPU of ONE call, to the microsecond, for the calls an hour
 * of chat is made of — ours bumped (what a paced client's beats are), ours not due, and Coder's
 * two prepared statements, bumped and not. An A/B tool for changes to the rule's SQL.
 *
 *   node --import ./tools/local/sql-loader.mjs --import tsx bench/write-path.ts [--quick] [--variant other.sql …]
 *
 * Also the last part of `npm run bench`, after bench/chat-hour.ts, whose outcome mix it uses.
 *
 * bench/chat-hour.ts measures an hour of chat end to end, with the handler, the SDK and the local
 * Data API endpoint sharing this machine's cores with PostgreSQL; its CPU figure moves by ±5 %
 * from run to run. This bench measures only the backend serving the call: ours sends the exact
 * text and binding the Data API endpoint sends (sql/queries/heartbeat.sql, extended protocol,
 * unnamed statement, logged in as chat_heartbeat_heartbeat), back to back on one connection;
 * Coder's runs bench/coder-queries.ts prepared on another. CPU is that backend's scheduler run time
 * (/proc/<pid>/schedstat), median per call over BENCH_WRITE_PATH_CHATS chats, in each of
 * BENCH_WRITE_PATH_ROUNDS interleaved rounds; the median of the rounds is reported.
 *
 * `--variant file.sql` (repeatable): a CREATE OR REPLACE of chat_heartbeat.record_heartbeat to
 * compare with the shipped sql/functions/record_heartbeat.sql, interleaved in every round (each on
 * a fresh connection, so its plans are its own). The shipped one is re-installed at the end.
 *
 * The chat-hour estimate weighs these by the outcomes bench/chat-hour.ts counts per chat-hour
 * (bench/results/chat-hour.json). Writes
 * bench/results/write-path.{json,md}; prints the Markdown table.
 */
import { existsSync, readFileSync } from "node:fs";
import { cpus } from "node:os";
import pg from "pg";
import * as z from "zod";
import heartbeatSql from "../sql/queries/heartbeat.sql";
import { LOCAL_FUNCTION_LOGINS } from "../tools/local/dev-secret.ts";
import { toPositionalParameters } from "../tools/sql-lexer.ts";
import { coderHeartbeat } from "./coder-queries.ts";
import { processRunNs } from "./cpu-meter.ts";
import { BENCH_USER, seedChats } from "./seed.ts";
import {
  BUCKET_SECONDS,
  publishResults,
  startBenchDatabase,
  stopBenchServerAndExit,
} from "./stack.ts";

const QUICK = process.argv.includes("--quick");
const SHIPPED = new URL("../sql/functions/record_heartbeat.sql", import.meta.url).pathname;
const settings = z
  .object({
    chats: z.coerce.number().int().min(10),
    rounds: z.coerce.number().int().min(1),
    variants: z.array(z.string().refine(existsSync, { message: "--variant: no such file" })),
  })
  .parse({
    chats: process.env.BENCH_WRITE_PATH_CHATS ?? (QUICK ? 200 : 400),
    rounds: process.env.BENCH_WRITE_PATH_ROUNDS ?? (QUICK ? 3 : 5),
    variants: process.argv.flatMap((arg, i) => (process.argv[i - 1] === "--variant" ? [arg] : [])),
  });
const log = (line: string) => process.stderr.write(`${line}\n`);

/**
 * Outcomes per chat-hour, paced ours and Coder's path at 30 s, as bench/chat-hour.ts last measured
 * them (its results are committed). Only bumped and not-due calls are measured here: any other
 * outcome in the mix is refused rather than left out.
 */
const mix = (() => {
  const file = new URL("./results/chat-hour.json", import.meta.url).pathname;
  if (!existsSync(file)) throw new Error(`${file} is missing: run npm run bench:chat-hour first`);
  const outcomes = z.strictObject({ bumped: z.number(), not_due: z.number().default(0) });
  const run = z
    .object({
      measured: z.string(),
      perChatHour: z.object({
        paced: z.object({ outcomes }),
        coder: z.object({ outcomes }),
      }),
    })
    .parse(JSON.parse(readFileSync(file, "utf8")));
  return {
    paced: run.perChatHour.paced.outcomes,
    coder: run.perChatHour.coder.outcomes,
    from: `bench/results/chat-hour.json, ${run.measured.slice(0, 10)}`,
  };
})();

const { server, dbUrl, pool, postgresVersion } = await startBenchDatabase("bench_write_path");
const chats = await seedChats(pool, settings.chats, { kind: "not_due" });
const { rows: mapped } = await pool.query<{ id: string; workspace_id: string }>(
  "SELECT id::text, workspace_id::text FROM chats",
);
const workspaceOf = new Map(mapped.map((row) => [row.id, row.workspace_id]));

const heartbeatUrl = new URL(dbUrl);
heartbeatUrl.username = LOCAL_FUNCTION_LOGINS.heartbeat.username;
heartbeatUrl.password = LOCAL_FUNCTION_LOGINS.heartbeat.password;
const statement = toPositionalParameters(heartbeatSql).text;

async function backendPid(client: pg.Client): Promise<number> {
  const { rows } = await client.query<{ pid: number }>("SELECT pg_backend_pid() AS pid");
  return rows[0]?.pid ?? 0;
}

/** Every chat due (deadline 57 min ahead of a 1 h bump) and last used 5 min ago, or neither. */
async function setState(due: boolean) {
  await pool.query("UPDATE workspace_builds SET deadline = now() + $1::interval", [
    due ? "57 minutes" : "59 minutes 30 seconds",
  ]);
  await pool.query("UPDATE workspaces SET last_used_at = now() - $1::interval", [
    due ? "5 minutes" : "0 seconds",
  ]);
  // The setup's dead rows are not the calls' to prune.
  await pool.query(
    "VACUUM workspace_builds, workspaces, chat_heartbeat.workspace_last_bump, chat_heartbeat.outcome_counts",
  );
}

/** Median backend CPU per call (ms) over every chat, and the outcomes seen. */
async function measure(pid: number, call: (chat: string) => Promise<string>) {
  const perCall: number[] = [];
  const outcomes: Record<string, number> = {};
  for (const chat of chats) {
    const before = processRunNs(pid);
    const outcome = await call(chat);
    perCall.push(processRunNs(pid) - before);
    outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
  }
  return { ms: median(perCall) / 1e6, outcomes };
}

const ours = (client: pg.Client) => async (chat: string) => {
  const result = await client.query({
    text: statement,
    values: [chat, BENCH_USER, BUCKET_SECONDS],
    rowMode: "array",
    queryMode: "extended",
  } as pg.QueryArrayConfig);
  return String(result.rows[0]?.[0]);
};
const coderClient = new pg.Client({ connectionString: dbUrl });
await coderClient.connect();
const coderPid = await backendPid(coderClient);
const coder = (chat: string) => coderHeartbeat(coderClient, workspaceOf.get(chat) as string);

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

const versions = [SHIPPED, ...settings.variants];
const label = (file: string) => (file === SHIPPED ? "shipped" : file);
const samples = new Map<string, number[]>();
const add = (key: string, ms: number) => samples.set(key, [...(samples.get(key) ?? []), ms]);
const expect = (what: string, outcomes: Record<string, number>, outcome: string) => {
  if (outcomes[outcome] !== chats.length) {
    throw new Error(
      `${what}: expected ${chats.length} ${outcome}, got ${JSON.stringify(outcomes)}`,
    );
  }
};

for (let round = 1; round <= settings.rounds; round++) {
  for (const version of versions) {
    await pool.query(readFileSync(version, "utf8"));
    const client = new pg.Client({ connectionString: heartbeatUrl.toString() });
    await client.connect();
    const pid = await backendPid(client);
    // Warm: compile the function and plan its statements on this connection.
    await setState(true);
    for (const chat of chats.slice(0, 20)) await ours(client)(chat);
    await setState(true);
    const bumped = await measure(pid, ours(client));
    expect(`${label(version)} due`, bumped.outcomes, "bumped");
    await setState(false);
    const notDue = await measure(pid, ours(client));
    expect(`${label(version)} not due`, notDue.outcomes, "not_due");
    add(`${version}:bumped`, bumped.ms);
    add(`${version}:not_due`, notDue.ms);
    await client.end();
  }
  await setState(true);
  const bumped = await measure(coderPid, coder);
  expect("Coder due", bumped.outcomes, "bumped");
  await setState(false);
  const notDue = await measure(coderPid, coder);
  expect("Coder not due", notDue.outcomes, "not_due");
  add("coder:bumped", bumped.ms);
  add("coder:not_due", notDue.ms);
  log(`round ${round}/${settings.rounds} done`);
}
await pool.query(readFileSync(SHIPPED, "utf8"));

const at = (key: string) => median(samples.get(key) ?? []);
const coderHour = mix.coder.bumped * at("coder:bumped") + mix.coder.not_due * at("coder:not_due");
const rows = versions.map((version) => {
  const bumped = at(`${version}:bumped`);
  const notDue = at(`${version}:not_due`);
  const hour = mix.paced.bumped * bumped + mix.paced.not_due * notDue;
  return {
    version: label(version),
    bumpedMs: bumped,
    notDueMs: notDue,
    bumpedRoundsMs: samples.get(`${version}:bumped`) ?? [],
    pacedChatHourMs: hour,
    ratioToCoder: hour / coderHour,
  };
});
const f = (ms: number) => ms.toFixed(3);
const lines = [
  "## PostgreSQL CPU per call: ours vs Coder's path",
  "",
  `Measured ${new Date().toISOString().slice(0, 10)} with \`npm run bench:write-path\`${QUICK ? " -- --quick" : ""} (also part of \`npm run bench\`): PostgreSQL ${postgresVersion}, ${cpus().length} cores, ${settings.chats} chats, ${settings.rounds} interleaved rounds. CPU of the backend serving the calls (/proc/<pid>/schedstat), median per call, median of the rounds. Paced chat-hour = ${mix.paced.bumped} bumped + ${mix.paced.not_due} not due; Coder's path = ${mix.coder.bumped} bumped + ${mix.coder.not_due} not due (${mix.from}).`,
  "",
  "| | bumped call | not-due call | paced chat-hour | vs Coder's path |",
  "|---|---:|---:|---:|---:|",
  ...rows.map(
    (row) =>
      `| ours: ${row.version} | ${f(row.bumpedMs)} ms | ${f(row.notDueMs)} ms | ${row.pacedChatHourMs.toFixed(2)} ms | ${row.ratioToCoder.toFixed(3)}× |`,
  ),
  `| Coder's two statements | ${f(at("coder:bumped"))} ms | ${f(at("coder:not_due"))} ms | ${coderHour.toFixed(2)} ms (at 30 s) | 1× |`,
  "",
  `Bumped call per round (ms): ${rows.map((row) => `${row.version} ${row.bumpedRoundsMs.map(f).join(" ")}`).join("; ")}; Coder ${(samples.get("coder:bumped") ?? []).map(f).join(" ")}.`,
];
const markdown = lines.join("\n");
publishResults(
  "write-path",
  {
    measured: new Date().toISOString(),
    postgres: postgresVersion,
    cores: cpus().length,
    quick: QUICK,
    settings,
    mix,
    coder: { bumpedMs: at("coder:bumped"), notDueMs: at("coder:not_due"), chatHourMs: coderHour },
    ours: rows,
  },
  markdown,
);

await coderClient.end();
await pool.end();
await stopBenchServerAndExit(server);
