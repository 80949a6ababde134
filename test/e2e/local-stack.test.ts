import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { connect } from "node:net";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as z from "zod/mini";
import { createDataApiDatabase } from "../../functions/shared/database/data-api.ts";
import { resolveDataApiTarget } from "../../tools/local/data-api-locator.ts";
import { freePort } from "../../tools/local/postgres.ts";
import { assertMatchesOpenApi, isDocumented } from "../support/openapi-contract.ts";

/**
 * docs/local-stack.md end to end, as a user runs it: `npm start` as a child process until `READY <url>`, a
 * heartbeat from the client CLI and from curl's equivalent with a token from `npm run token`,
 * `npm run report` seeing the counts, and Ctrl-C leaving no process and no data directory behind.
 */

const run = promisify(execFile);
const ROOT = new URL("../../", import.meta.url).pathname;
const DEMO_CHAT = "7e3f0c2a-5b1d-4c8e-9a6f-2d4b8c1e0a06";
const DEMO_USER = "7e3f0c2a-5b1d-4c8e-9a6f-2d4b8c1e0a02";

let stack: ChildProcess;
let baseUrl: string;
let output = "";
let port: number;
/** Embedded PostgreSQL servers running before the stack (this test run's own, for one). */
let serversBefore: Set<string>;

/**
 * Who the stack's Data API endpoint is logged in as right now (its pooled connections), asked
 * through that endpoint with the admin secret `.local/stack.json` records.
 */
async function endpointUsers(): Promise<string[]> {
  const target = await resolveDataApiTarget({
    ...process.env,
    DB_CLUSTER_ARN: "",
    DATABASE_URL: "",
  });
  const db = createDataApiDatabase(target.config);
  try {
    const rows = await db.query(
      `SELECT DISTINCT usename AS user FROM pg_stat_activity
       WHERE application_name = 'local-rds-data-api' AND usename IS NOT NULL ORDER BY 1`,
      [],
      z.object({ user: z.string() }),
    );
    return rows.map((row) => row.user);
  } finally {
    db.close();
    await target.close();
  }
}

async function embeddedPostgresServers(): Promise<string[]> {
  const { stdout } = await run("ps", ["-eo", "pid,args"]);
  return (
    stdout
      .split("\n")
      .filter((line) => /postgres -D \S*chat-heartbeat-pg-/.test(line))
      // This checkout's binaries only: other checkouts on the machine run their own tests.
      .filter((line) => line.includes(`${ROOT}node_modules/`))
      .map((line) => line.trim())
  );
}

const env = () => ({
  ...process.env,
  PORT: String(port),
  // Unset: with a PORT other than 3000, npm start picks its internal Lambda port itself.
  OFFLINE_LAMBDA_PORT: undefined,
  // Short windows so `npm run report` can see this test's heartbeats within seconds.
  REPORT_WINDOW_SECONDS: "2",
  REPORT_SETTLE_SECONDS: "0",
  POWERTOOLS_LOG_LEVEL: "WARN",
  DATABASE_URL: "",
  FORCE_COLOR: "0",
});

/** One HTTP/1.1 request written byte for byte (so a repeated header is two header lines). */
function rawRequest(
  method: string,
  path: string,
  headers: [string, string][],
  body = "",
): Promise<{ status: number; head: string; body: string }> {
  const lines = [
    `${method} ${path} HTTP/1.1`,
    `Host: 127.0.0.1:${port}`,
    "Connection: close",
    ...headers.map(([name, value]) => `${name}: ${value}`),
    `Content-Length: ${Buffer.byteLength(body)}`,
  ];
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: "127.0.0.1" });
    const chunks: Buffer[] = [];
    socket.on("data", (chunk) => chunks.push(chunk));
    socket.on("error", reject);
    socket.on("end", () => {
      const [head = "", ...rest] = Buffer.concat(chunks).toString("utf8").split("\r\n\r\n");
      const response = { status: Number(head.split(" ")[1]), head, body: rest.join("\r\n\r\n") };
      try {
        if (isDocumented(method, path)) {
          const headers: Record<string, string> = {};
          for (const line of head.split("\r\n").slice(1)) {
            const at = line.indexOf(":");
            const name = line.slice(0, at).trim().toLowerCase();
            const value = line.slice(at + 1).trim();
            headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
          }
          assertMatchesOpenApi({
            method,
            path,
            status: response.status,
            headers,
            body: response.body,
          });
        }
      } catch (error) {
        reject(error);
        return;
      }
      resolve(response);
    });
    socket.write(`${lines.join("\r\n")}\r\n\r\n${body}`);
  });
}

function portOpen(p: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port: p, host: "127.0.0.1" });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

beforeAll(async () => {
  serversBefore = new Set(await embeddedPostgresServers());
  port = await freePort();
  // Its own process group, like a terminal's foreground job: Ctrl-C signals the whole group.
  stack = spawn("npm", ["start"], {
    cwd: ROOT,
    env: env(),
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  baseUrl = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no READY in time:\n${output}`)), 150_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const ready = /^READY (\S+)$/m.exec(output);
      if (ready?.[1]) {
        clearTimeout(timer);
        resolve(ready[1]);
      }
    };
    stack.stdout?.on("data", onData);
    stack.stderr?.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    stack.once("exit", (code) => reject(new Error(`npm start exited (${code}):\n${output}`)));
  });
}, 180_000);

afterAll(async () => {
  try {
    if (stack?.pid) process.kill(-stack.pid, "SIGINT");
  } catch {
    // already stopped
  }
});

describe("npm start", () => {
  it("prints a ready curl with a token before READY", () => {
    expect(baseUrl).toBe(`http://127.0.0.1:${port}`);
    expect(output).toMatch(
      new RegExp(
        `curl .*-X POST ${baseUrl}/chats/${DEMO_CHAT}/heartbeat -H 'Authorization: Bearer [\\w-]+\\.[\\w-]+\\.[\\w-]+'`,
      ),
    );
  });

  it("keeps the demo workspace alive: the client CLI sees `bumped`, a second heartbeat `not_due`", async () => {
    const { stdout: token } = await run(
      "npm",
      ["run", "-s", "token", "--", "--sub", DEMO_USER, "--chat", DEMO_CHAT],
      { cwd: ROOT, env: env() },
    );
    expect(token.trim()).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);

    const beat = await run(
      "npx",
      [
        "tsx",
        "client/src/cli.ts",
        "beat",
        "--url",
        baseUrl,
        "--chat",
        DEMO_CHAT,
        "--token",
        token.trim(),
        "--once",
      ],
      { cwd: ROOT, env: env() },
    );
    expect(beat.stdout).toMatch(/ bumped deadline=\d{4}-\d\d-\d\dT/);

    const path = `/chats/${DEMO_CHAT}/heartbeat`;
    const response = await fetch(`${baseUrl}${path}`, {
      method: "POST",
      headers: { Authorization: `Bearer ${token.trim()}` },
    });
    const body = await response.text();
    assertMatchesOpenApi({
      method: "POST",
      path,
      status: response.status,
      headers: Object.fromEntries(response.headers),
      body,
    });
    expect(response.status).toBe(200);
    expect(JSON.parse(body)).toMatchObject({ chatId: DEMO_CHAT, outcome: "not_due" });
    // The function ran as its own role (sql/grants/function_roles.sql), not as the admin.
    expect(output).toMatch(
      /Functions log in as chat_heartbeat_heartbeat and chat_heartbeat_reporter/,
    );
    expect(await endpointUsers()).toContain("chat_heartbeat_heartbeat");
  }, 60_000);

  it("answers as API Gateway does: repeated Authorization 401, a null body 400, no CORS for an arbitrary origin", async () => {
    const { stdout } = await run(
      "npm",
      ["run", "-s", "token", "--", "--sub", DEMO_USER, "--chat", DEMO_CHAT],
      { cwd: ROOT, env: env() },
    );
    const token = stdout.trim();
    const path = `/chats/${DEMO_CHAT}/heartbeat`;

    // Preflight from an origin nobody configured (no CORS configured: the default).
    const preflight = await rawRequest("OPTIONS", path, [
      ["Origin", "https://evil.example"],
      ["Access-Control-Request-Method", "POST"],
      ["Access-Control-Request-Headers", "authorization"],
    ]);
    expect(preflight.head).not.toMatch(/^access-control-allow-origin:/im);
    expect(preflight.head).not.toMatch(/^access-control-allow-credentials:/im);

    // Two Authorization headers: API Gateway joins them, `Bearer a,Bearer b`, which is refused.
    const twice = await rawRequest("POST", path, [
      ["Origin", "https://evil.example"],
      ["Authorization", `Bearer ${token}`],
      ["Authorization", `Bearer ${token}`],
    ]);
    expect(twice.status, twice.body).toBe(401);
    expect(JSON.parse(twice.body)).toMatchObject({ error: { code: "invalid_token" } });
    expect(twice.head).not.toMatch(/^access-control-allow-origin:/im);

    // A body of JSON null is not a JSON object.
    const nullBody = await rawRequest(
      "POST",
      path,
      [
        ["Authorization", `Bearer ${token}`],
        ["Content-Type", "application/json"],
      ],
      "null",
    );
    expect(nullBody.status, nullBody.body).toBe(400);
    expect(JSON.parse(nullBody.body)).toMatchObject({ error: { code: "invalid_request" } });
    // None of these counts: the report test below still sees exactly the two heartbeats above.
  }, 60_000);

  it("reports the heartbeats with `npm run report` once their window is complete", async () => {
    // Windows are 2 s long; wait for the heartbeats' window to close.
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    const { stdout } = await run("npm", ["run", "-s", "report"], { cwd: ROOT, env: env() });
    const report = JSON.parse(stdout) as {
      windows: { accepted: number; outcomes: Record<string, number> }[];
    };
    const totals = report.windows.reduce(
      (sum, window) => ({
        accepted: sum.accepted + window.accepted,
        bumped: sum.bumped + (window.outcomes.bumped ?? 0),
        notDue: sum.notDue + (window.outcomes.not_due ?? 0),
      }),
      { accepted: 0, bumped: 0, notDue: 0 },
    );
    expect(totals).toEqual({ accepted: 2, bumped: 1, notDue: 1 });
    // `npm run report` ran the reporter as its role, through the stack's endpoint.
    expect(await endpointUsers()).toContain("chat_heartbeat_reporter");
  }, 60_000);

  it("stops cleanly on Ctrl-C: no listener, no stack file, no process left", async () => {
    const stackFile = `${ROOT}.local/stack.json`;
    expect(existsSync(stackFile)).toBe(true);
    const group = stack.pid as number;
    // Ctrl-C: SIGINT to the foreground process group (npm and the script under it).
    process.kill(-group, "SIGINT");
    const groupAlive = () => {
      try {
        process.kill(-group, 0);
        return true;
      } catch {
        return false;
      }
    };
    let leftovers: string[] = [];
    for (let attempt = 0; attempt < 40; attempt++) {
      leftovers = (await embeddedPostgresServers()).filter((line) => !serversBefore.has(line));
      if (!groupAlive() && leftovers.length === 0) break;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    expect(groupAlive()).toBe(false);
    expect(leftovers).toEqual([]);
    expect(await portOpen(port)).toBe(false);
    expect(existsSync(stackFile)).toBe(false);
  }, 30_000);
});
