import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { promisify } from "node:util";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { startDataApiServer } from "../../tools/data-api/server.ts";
import { LOCAL_FUNCTION_LOGINS } from "../../tools/local/dev-secret.ts";
import { FUNCTION_ROLES } from "../../tools/migrate/role-passwords.ts";
import { loadMigrations, loadRepeatableMigrations } from "../../tools/migrate/runner.ts";
import { createCoderTables } from "../support/coder-schema.ts";

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
        `Applied ${loadMigrations().length + loadRepeatableMigrations().length + 1} migration\\(s\\) to .*\\(DATABASE_URL\\).*0001_coder_subset.*record_heartbeat, function_roles`,
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

describe("npm run migrate -- --grants on a database with Coder's own tables", () => {
  it("creates nothing of Coder's without the flag; with it, the roles' grants and passwords", async () => {
    const coder = `m_${randomBytes(5).toString("hex")}`;
    await admin((client) => client.query(`CREATE DATABASE ${coder}`));
    const client = new pg.Client({ connectionString: urlOf(coder) });
    await client.connect();
    try {
      await createCoderTables(client);
      const cli = (...args: string[]) =>
        run("npm", ["run", "-s", "migrate", "--", ...args], {
          cwd: ROOT,
          env: { ...process.env, DATABASE_URL: urlOf(coder), DB_CLUSTER_ARN: "" },
          timeout: 120_000,
        });
      const plain = await cli();
      expect(plain.stdout).not.toMatch(/function_roles|Passwords/);
      const canUpdate = async () =>
        (
          await client.query(
            `SELECT has_column_privilege($1, 'public.workspaces', 'last_used_at', 'UPDATE') AS yes`,
            [FUNCTION_ROLES.heartbeat],
          )
        ).rows[0]?.yes;
      expect(await canUpdate()).toBe(false);

      const granted = await cli("--grants");
      expect(granted.stdout).toMatch(/Applied 1 migration\(s\) to .*: function_roles/);
      expect(granted.stdout).toMatch(
        /Passwords set from their secrets: chat_heartbeat_heartbeat, chat_heartbeat_reporter/,
      );
      expect(await canUpdate()).toBe(true);
      // The password set is the local secret's: the role logs in with it.
      const login = new URL(urlOf(coder));
      login.username = LOCAL_FUNCTION_LOGINS.heartbeat.username;
      login.password = LOCAL_FUNCTION_LOGINS.heartbeat.password;
      const asRole = new pg.Client({ connectionString: login.toString() });
      await asRole.connect();
      try {
        const { rows } = await asRole.query("SELECT current_user AS user");
        expect(rows).toEqual([{ user: FUNCTION_ROLES.heartbeat }]);
      } finally {
        await asRole.end();
      }
    } finally {
      await client.end();
      await admin((c) => c.query(`DROP DATABASE IF EXISTS ${coder} WITH (FORCE)`));
    }
  }, 240_000);
});

describe("npm run migrate through the Data API of a paused cluster", () => {
  it("waits out the resume: BeginTransaction retried, then every migration applied", async () => {
    const server = await startDataApiServer({ connectionUrlFor: urlOf });
    try {
      server.faults.inject({ kind: "resuming", seconds: 4 });
      // A fresh database: the grants are applied as well, in a transaction of their own.
      const migrations = loadMigrations().length + loadRepeatableMigrations().length + 1;
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
          `Applied ${migrations} migration\\(s\\) to Data API at http:.*0001_coder_subset.*record_heartbeat, function_roles`,
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
