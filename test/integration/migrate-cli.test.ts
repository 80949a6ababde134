import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { promisify } from "node:util";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { startDataApiServer } from "../../infra/local/data-api/server.ts";
import { loadMigrations, loadRepeatableMigrations } from "../../infra/migrate/runner.ts";

/**
 * `DATABASE_URL=postgres://… npm run migrate` as a user runs it: through an in-process local Data
 * API endpoint into an empty external database; a second run changes nothing. And `npm run migrate`
 * against a Data API endpoint (as on AWS: DB_CLUSTER_ARN…) whose cluster is paused: the first
 * BeginTransaction wakes it and is retried until the resume is over.
 */

const run = promisify(execFile);
const ROOT = new URL("../../", import.meta.url).pathname;
const name = `m_${randomBytes(5).toString("hex")}`;
const paused = `m_${randomBytes(5).toString("hex")}`;
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

function urlOf(database: string): string {
  const parsed = new URL(inject("pgAdminUrl"));
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

beforeAll(async () => {
  await admin(async (client) => {
    await client.query(`CREATE DATABASE ${name}`);
    await client.query(`CREATE DATABASE ${paused}`);
  });
  url = urlOf(name);
});
afterAll(async () => {
  await admin(async (client) => {
    await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await client.query(`DROP DATABASE IF EXISTS ${paused} WITH (FORCE)`);
  });
});

const migrateCli = () =>
  run("npm", ["run", "-s", "migrate"], {
    cwd: ROOT,
    env: { ...process.env, DATABASE_URL: url, DB_CLUSTER_ARN: "" },
    timeout: 120_000,
  });

async function schemaFingerprint(database = url): Promise<string> {
  const client = new pg.Client({ connectionString: database });
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
  it("creates the docs/heartbeat.md tables in an empty database, and a second run changes nothing", async () => {
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

describe("npm run migrate through the Data API of a paused cluster", () => {
  it("waits out the resume: BeginTransaction retried, then every migration applied", async () => {
    const server = await startDataApiServer({ connectionUrlFor: urlOf });
    try {
      server.faults.inject({ kind: "resuming", seconds: 4 });
      const migrations = loadMigrations().length + loadRepeatableMigrations().length;
      const { stdout } = await run("npm", ["run", "-s", "migrate"], {
        cwd: ROOT,
        env: {
          ...process.env,
          DATABASE_URL: "",
          DATA_API_ENDPOINT: server.url,
          DB_CLUSTER_ARN: server.resourceArn,
          DB_SECRET_ARN: server.secretArn,
          DB_NAME: paused,
        },
        timeout: 120_000,
      });
      expect(stdout).toMatch(
        new RegExp(
          `Applied ${migrations} migration\\(s\\) to Data API at http:.*0001_coder_subset.*record_heartbeat`,
        ),
      );
      // Retried with backoff while resuming (0, 0.25, 0.75, 1.75, 3.75 s…), then one per migration.
      const { beginTransaction, commitTransaction, rollbackTransaction } = server.stats();
      expect(beginTransaction).toBeGreaterThanOrEqual(migrations + 4);
      expect({ commitTransaction, rollbackTransaction }).toEqual({
        commitTransaction: migrations,
        rollbackTransaction: 0,
      });
      expect(await schemaFingerprint(urlOf(paused))).toContain('"table_name":"outcome_counts"');
    } finally {
      await server.close();
    }
  }, 240_000);
});
