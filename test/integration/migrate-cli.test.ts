import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { promisify } from "node:util";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { loadMigrations, loadRepeatableMigrations } from "../../infra/migrate/runner.ts";

/**
 * `DATABASE_URL=postgres://… npm run migrate` as a user runs it: through an in-process local Data
 * API endpoint into an empty external database; a second run changes nothing.
 */

const run = promisify(execFile);
const ROOT = new URL("../../", import.meta.url).pathname;
const name = `m_${randomBytes(5).toString("hex")}`;
let url: string;

async function admin<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: inject("pgAdminUrl") });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

beforeAll(async () => {
  await admin((client) => client.query(`CREATE DATABASE ${name}`));
  const parsed = new URL(inject("pgAdminUrl"));
  parsed.pathname = `/${name}`;
  url = parsed.toString();
});
afterAll(async () => {
  await admin((client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
});

const migrateCli = () =>
  run("npm", ["run", "-s", "migrate"], {
    cwd: ROOT,
    env: { ...process.env, DATABASE_URL: url, DB_CLUSTER_ARN: "" },
    timeout: 120_000,
  });

async function schemaFingerprint(): Promise<string> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query(
      `SELECT table_schema, table_name, column_name, data_type, is_nullable, column_default
       FROM information_schema.columns
       WHERE table_schema IN ('public', 'chat_heartbeat') ORDER BY 1, 2, 3`,
    );
    return JSON.stringify(rows);
  } finally {
    await client.end();
  }
}

describe("npm run migrate with DATABASE_URL", () => {
  it("creates the SPEC §1 tables in an empty database, and a second run changes nothing", async () => {
    const first = await migrateCli();
    expect(first.stdout).toMatch(
      new RegExp(
        `Applied ${loadMigrations().length + loadRepeatableMigrations().length} migration\\(s\\) to .*\\(DATABASE_URL\\).*0001_coder_subset.*record_heartbeat`,
      ),
    );
    const fingerprint = await schemaFingerprint();
    for (const table of [
      "templates",
      "workspaces",
      "provisioner_jobs",
      "workspace_builds",
      "chats",
    ]) {
      expect(fingerprint).toContain(`"table_name":"${table}"`);
    }
    expect(fingerprint).toContain('"table_name":"outcome_counts"');

    const second = await migrateCli();
    expect(second.stdout).toMatch(/Nothing to apply/);
    expect(await schemaFingerprint()).toBe(fingerprint);
  }, 240_000);
});
