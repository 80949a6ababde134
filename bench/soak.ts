/**
 * `npm run soak` (not in CI): SOAK_MINUTES (default 5) of mixed valid and invalid traffic against
 * a real `npm start`, with faults injected at the local Data API endpoint every few seconds. Reports
 * requests, statuses, errors, the offline server's RSS growth, and a final consistency check: the
 * reporter's counts equal the heartbeats that were answered 200.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import * as z from "zod/mini";
import { createDataApiDatabase } from "../functions/shared/database/data-api.ts";
import { sqlParameter } from "../functions/shared/database/database.ts";
import { STACK_FILE, StackFile } from "../tools/local/data-api-locator.ts";
import { freePort } from "../tools/local/postgres.ts";
import { signLocalChatToken } from "../tools/local/token-cli.ts";

const MINUTES = Number(process.env.SOAK_MINUTES ?? 5);
const CHATS = 200;
const WORKERS = 8;
const USER = randomUUID();
const log = (line: string) => process.stderr.write(`${line}\n`);

const port = await freePort();
const env = {
  ...process.env,
  PORT: String(port),
  OFFLINE_LAMBDA_PORT: String(await freePort()),
  REPORT_WINDOW_SECONDS: "1",
  REPORT_SETTLE_SECONDS: "0",
  POWERTOOLS_LOG_LEVEL: "ERROR",
  DATABASE_URL: "",
};
const stack: ChildProcess = spawn("npm", ["start"], {
  env,
  stdio: ["ignore", "pipe", "pipe"],
  detached: true,
});
let output = "";
stack.stdout?.on("data", (chunk: Buffer) => {
  output += chunk.toString();
});
stack.stderr?.on("data", (chunk: Buffer) => {
  output += chunk.toString();
});
const baseUrl = await new Promise<string>((resolve, reject) => {
  const timer = setInterval(() => {
    const ready = /^READY (\S+)$/m.exec(output);
    if (ready?.[1]) {
      clearInterval(timer);
      resolve(ready[1]);
    }
    if (stack.exitCode !== null) reject(new Error(`npm start exited:\n${output}`));
  }, 200);
});
const info = StackFile.parse(JSON.parse(readFileSync(STACK_FILE, "utf8")));
log(`stack up at ${baseUrl}`);

// Seed CHATS chats of one user through the Data API, each with a running workspace.
const db = createDataApiDatabase({
  region: "us-east-1",
  endpoint: info.dataApiUrl,
  resourceArn: info.resourceArn,
  secretArn: info.secretArn,
  database: info.database,
  timeoutMs: 30_000,
});
await db.execute(
  `WITH t AS (INSERT INTO templates (id, created_at, updated_at, organization_id, name)
              VALUES (gen_random_uuid(), now(), now(), gen_random_uuid(), 'soak') RETURNING id),
   n AS (SELECT gen_random_uuid() AS ws, gen_random_uuid() AS job, gen_random_uuid() AS chat
         FROM generate_series(1, :count::int)),
   w AS (INSERT INTO workspaces (id, created_at, updated_at, owner_id, organization_id, template_id, name)
         SELECT ws, now(), now(), :userId::uuid, gen_random_uuid(), (SELECT id FROM t), 'soak' FROM n),
   j AS (INSERT INTO provisioner_jobs (id, created_at, updated_at, completed_at, organization_id)
         SELECT job, now(), now(), now(), gen_random_uuid() FROM n),
   b AS (INSERT INTO workspace_builds (id, created_at, updated_at, workspace_id, build_number, transition, job_id, deadline)
         SELECT gen_random_uuid(), now(), now(), ws, 1, 'start', job, now() + interval '10 minutes' FROM n)
   INSERT INTO chats (id, owner_id, organization_id, workspace_id, status)
   SELECT chat, :userId::uuid, gen_random_uuid(), ws, 'running' FROM n`,
  [sqlParameter.bigint("count", CHATS), sqlParameter.uuid("userId", USER)],
);
const chatIds = (
  await db.query(
    "SELECT id::text AS id FROM chats WHERE owner_id = :userId",
    [sqlParameter.uuid("userId", USER)],
    z.object({ id: z.string() }),
  )
).map((row) => row.id);
const token = await signLocalChatToken({ sub: USER, ttl: "2h" });
const wrongToken = await signLocalChatToken({ sub: USER, secret: "w".repeat(40) });

function serverRssKb(): number {
  const lines = execFileSync("ps", ["-eo", "rss,args"]).toString().split("\n");
  return lines
    .filter((line) => line.includes("serverless.js offline"))
    .reduce((sum, line) => sum + Number(line.trim().split(/\s+/)[0] ?? 0), 0);
}

const statuses = new Map<string, number>();
let accepted = 0;
let networkErrors = 0;
const faultsInjected: string[] = [];
const pick = <T>(items: T[]) => items[Math.floor(Math.random() * items.length)] as T;

async function request(): Promise<void> {
  const roll = Math.random();
  const chat = pick(chatIds);
  let path = `/chats/${chat}/heartbeat`;
  let authorization = `Bearer ${token}`;
  let body: string | undefined;
  let kind = "valid";
  if (roll < 0.08) [kind, authorization] = ["bad-token", `Bearer ${wrongToken}`];
  else if (roll < 0.12) [kind, path] = ["bad-id", "/chats/not-a-uuid/heartbeat"];
  else if (roll < 0.15) [kind, body] = ["oversize", JSON.stringify({ p: "x".repeat(5000) })];
  else if (roll < 0.17) [kind, body] = ["array-body", "[]"];
  try {
    const response = await fetch(`${baseUrl}${path}`, {
      method: "POST",
      headers: { Authorization: authorization, "Content-Type": "application/json" },
      body,
      signal: AbortSignal.timeout(30_000),
    });
    await response.arrayBuffer();
    const key = `${kind} ${response.status}`;
    statuses.set(key, (statuses.get(key) ?? 0) + 1);
    if (response.status === 200) accepted++;
  } catch {
    networkErrors++;
  }
}

const rssStart = serverRssKb();
const started = Date.now();
const until = started + MINUTES * 60_000;
const faultKinds = ["resuming", "throttling", "timeout", "connection_reset", "sql_error"];
const faults = setInterval(async () => {
  const kind = pick(faultKinds);
  faultsInjected.push(kind);
  await fetch(`${info.dataApiUrl}/_local/faults`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    // A resume lasts wall-clock time; 1 s is ridden out within the heartbeat's budget.
    body: JSON.stringify(kind === "resuming" ? { kind, seconds: 1 } : { kind, count: 1 }),
  });
}, 5_000);
const rssSamples: number[] = [];
const progress = setInterval(() => {
  rssSamples.push(Math.round(serverRssKb() / 1024));
  log(
    `${Math.round((Date.now() - started) / 1000)} s, ${accepted} accepted, RSS ${rssSamples.at(-1)} MiB`,
  );
}, 30_000);
await Promise.all(
  Array.from({ length: WORKERS }, async () => {
    while (Date.now() < until) await request();
  }),
);
clearInterval(faults);
clearInterval(progress);
await fetch(`${info.dataApiUrl}/_local/faults`, { method: "DELETE" });
const rssEnd = serverRssKb();
const seconds = (Date.now() - started) / 1000;

// Consistency: after the last window closes, the reporter's totals equal the 200s we saw.
await new Promise((resolve) => setTimeout(resolve, 2_500));
// One run reports at most REPORT_MAX_WINDOWS_PER_RUN windows: run it until nothing is left.
let reported = 0;
for (;;) {
  const report = JSON.parse(
    execFileSync("npm", ["run", "-s", "report"], {
      env: { ...env, POWERTOOLS_LOG_LEVEL: "SILENT" },
    }).toString(),
  ) as { windows: { accepted: number }[] };
  if (report.windows.length === 0) break;
  reported += report.windows.reduce((sum, window) => sum + window.accepted, 0);
}

process.kill(-(stack.pid as number), "SIGINT");
db.close();

const total = [...statuses.values()].reduce((a, b) => a + b, 0) + networkErrors;
const rows = [...statuses.entries()]
  .sort()
  .map(([key, n]) => `| ${key} | ${n} |`)
  .join("\n");
process.stdout.write(`Soak: \`SOAK_MINUTES=${MINUTES} npm run soak\`, ${seconds.toFixed(0)} s, ${WORKERS} concurrent clients, ${CHATS} chats, a fault every 5 s (${faultsInjected.length} injected).

| request kind and status | count |
|---|---|
${rows}
| network errors | ${networkErrors} |
| **total requests** | ${total} (${(total / seconds).toFixed(0)}/s) |

- serverless-offline RSS: ${Math.round(rssStart / 1024)} MiB at start, every 30 s: ${rssSamples.join(", ")} MiB, ${Math.round(rssEnd / 1024)} MiB at end
- consistency: ${accepted} heartbeats answered 200, ${reported} reported by \`npm run report\` — ${accepted === reported ? "equal" : "MISMATCH"}
`);
process.exit(accepted === reported && networkErrors === 0 ? 0 : 1);
