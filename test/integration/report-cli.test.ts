import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { promisify } from "node:util";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";

/**
 * `DATABASE_URL=… npm run report` as a user runs it, on a migrated database with nothing counted
 * yet: an empty report on stdout (JSON, or a table with `--format table`), and on stderr when the
 * next window becomes reportable, without the AWS SDK's Node-version warning in front of it.
 */

const run = promisify(execFile);
const ROOT = new URL("../../", import.meta.url).pathname;
const name = `r_${randomBytes(5).toString("hex")}`;
let env: NodeJS.ProcessEnv;

async function admin(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: inject("pgAdminUrl") });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

beforeAll(async () => {
  await admin(`CREATE DATABASE ${name}`);
  const url = new URL(inject("pgAdminUrl"));
  url.pathname = `/${name}`;
  env = {
    ...process.env,
    DATABASE_URL: url.toString(),
    DB_CLUSTER_ARN: "",
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: undefined,
  };
  const migrated = await run("npm", ["run", "-s", "migrate"], { cwd: ROOT, env, timeout: 120_000 });
  // The CLI silences the SDK's Node 20 warning itself; the environment did not.
  expect(migrated.stderr).not.toContain("NodeVersionSupportWarning");
}, 180_000);
afterAll(() => admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));

describe("npm run report with nothing to report", () => {
  it("prints an empty JSON report and says on stderr when the next window is reportable", async () => {
    const before = Date.now() / 1000;
    const { stdout, stderr } = await run("npm", ["run", "-s", "report"], {
      cwd: ROOT,
      env,
      timeout: 120_000,
    });
    expect(JSON.parse(stdout)).toEqual({ windows: [] });
    expect(stderr).not.toContain("NodeVersionSupportWarning");
    const match =
      /becomes reportable at (\S+) \(its end \+ (\d+) s settle delay; (\d+) s windows\)/.exec(
        stderr,
      );
    expect(match, stderr).not.toBeNull();
    const reportableAt = Date.parse(match?.[1] as string) / 1000;
    const [settle, window] = [Number(match?.[2]), Number(match?.[3])];
    // The window after the last complete one: reportable within one window + settle from now.
    expect(reportableAt).toBeGreaterThan(before);
    expect(reportableAt).toBeLessThanOrEqual(Date.now() / 1000 + window + settle);
    expect((reportableAt - settle) % window).toBe(0);
  }, 120_000);

  it("prints the table header with --format table", async () => {
    const { stdout, stderr } = await run(
      "npm",
      ["run", "-s", "report", "--", "--format", "table"],
      {
        cwd: ROOT,
        env,
        timeout: 120_000,
      },
    );
    expect(stdout.trim()).toMatch(/^window start \(UTC\)\s+end\s+accepted\s+write ratio/);
    expect(stderr).toContain("Nothing to report yet.");
  }, 120_000);
});
