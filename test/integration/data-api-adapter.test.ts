import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { z } from "zod/mini";
import type { DatabaseConfig } from "../../functions/shared/config/database.ts";
import { createDataApiDatabase } from "../../functions/shared/database/data-api.ts";
import {
  DatabaseQueryError,
  DatabaseResultError,
  DatabaseUnavailableError,
  type SqlDatabase,
  type SqlSession,
  sqlParameter,
} from "../../functions/shared/database/database.ts";
import { type DataApiServer, startDataApiServer } from "../../tools/data-api/server.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";

/**
 * The function code's one database adapter, through the real SDK client and the local endpoint:
 * parameter builders, row decoding (loudly refused for a statement that is not a SELECT),
 * transactions, and the retry policy — resume and throttling retried within the budget, for
 * ExecuteStatement and BeginTransaction alike; SQL errors and ambiguous timeouts never. The resume
 * fault lasts wall-clock time, so the backoff sleeps are real (and recorded).
 */

let db: TestDatabase;
let server: DataApiServer;
let adapter: SqlDatabase;
let config: DatabaseConfig;
const sleeps: number[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  server = await startDataApiServer({ connectionUrlFor: db.serverUrlFor });
  config = {
    region: "us-east-1",
    endpoint: server.url,
    resourceArn: server.resourceArn,
    secretArn: server.secretArn,
    database: db.name,
    timeoutMs: 2_000,
  };
  adapter = createDataApiDatabase(config, {
    sleep: async (ms) => {
      sleeps.push(ms);
      await new Promise((resolve) => setTimeout(resolve, ms));
    },
  });
  await db.pool.query("CREATE TABLE notes (id uuid PRIMARY KEY, body text, at timestamptz)");
});
afterAll(async () => {
  adapter?.close();
  await server?.close();
  await db?.drop();
});
beforeEach(() => {
  server.faults.clear();
  server.resetStats();
  sleeps.length = 0;
});

const Note = z.object({ id: z.string(), body: z.nullable(z.string()), at: z.string() });

describe("queries", () => {
  it("binds typed parameters and decodes JSON rows with the caller's schema", async () => {
    const id = "5b0f4a7e-0f57-4d67-9a36-6f0c1a2b3c4d";
    const at = new Date("2026-11-25T10:00:00.123Z");
    const inserted = await adapter.execute(
      "INSERT INTO notes (id, body, at) VALUES (:id, :body, :at)",
      [
        sqlParameter.uuid("id", id),
        sqlParameter.text("body", null),
        sqlParameter.timestamp("at", at),
      ],
    );
    expect(inserted.updated).toBe(1);
    const rows = await adapter.query(
      "SELECT id, body, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') AS at FROM notes WHERE id = :id",
      [sqlParameter.uuid("id", id)],
      Note,
    );
    expect(rows).toEqual([{ id, body: null, at: at.toISOString() }]);
  });

  it("rejects a row that does not match the schema", async () => {
    await expect(adapter.query("SELECT 1 AS id", [], Note)).rejects.toThrow();
  });

  it("reads no rows from a SELECT that finds none", async () => {
    expect(
      await adapter.query("SELECT id, body, at::text FROM notes WHERE false", [], Note),
    ).toEqual([]);
  });

  it.each([
    [
      "INSERT … RETURNING",
      "INSERT INTO notes (id, body, at) VALUES (:id, 'r', now()) RETURNING id",
    ],
    ["WITH … SELECT", "WITH n AS (SELECT :id::uuid AS id) SELECT id FROM n"],
  ])(
    "fails loudly, never with no rows, when query() gets records without formattedRecords: %s",
    async (_name, sql) => {
      // The Data API formats records as JSON for SELECT statements only: these rows come back as
      // `records`, and reading them as "no rows" would turn into a 404 or a lost report.
      const id = crypto.randomUUID();
      const error = await adapter
        .query(sql, [sqlParameter.uuid("id", id)], z.object({ id: z.string() }))
        .catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(DatabaseResultError);
      expect((error as Error).message).toMatch(/records but no formattedRecords.*SELECT/);
      expect(server.stats().executeStatement).toBe(1);
    },
  );

  it("runs a statement whose rows are not needed with execute()", async () => {
    const id = crypto.randomUUID();
    await adapter.execute(
      "INSERT INTO notes (id, body, at) VALUES (:id, 'x', now()) RETURNING id",
      [sqlParameter.uuid("id", id)],
    );
    const { rows } = await db.pool.query("SELECT body FROM notes WHERE id = $1", [id]);
    expect(rows).toEqual([{ body: "x" }]);
  });
});

describe("transactions", () => {
  it("commits the work of a transaction", async () => {
    const id = "0d9f6c1e-2b3a-4c5d-8e7f-901a2b3c4d5e";
    await adapter.transaction(async (session) => {
      await session.execute("INSERT INTO notes (id, body, at) VALUES (:id, 'kept', now())", [
        sqlParameter.uuid("id", id),
      ]);
    });
    const { rows } = await db.pool.query("SELECT body FROM notes WHERE id = $1", [id]);
    expect(rows).toEqual([{ body: "kept" }]);
    expect(server.stats()).toMatchObject({ beginTransaction: 1, commitTransaction: 1 });
  });

  it("rolls back when the work throws", async () => {
    const id = "1d9f6c1e-2b3a-4c5d-8e7f-901a2b3c4d5e";
    await expect(
      adapter.transaction(async (session) => {
        await session.execute("INSERT INTO notes (id, body, at) VALUES (:id, 'lost', now())", [
          sqlParameter.uuid("id", id),
        ]);
        throw new Error("changed my mind");
      }),
    ).rejects.toThrow("changed my mind");
    const { rows } = await db.pool.query("SELECT 1 FROM notes WHERE id = $1", [id]);
    expect(rows).toEqual([]);
    expect(server.stats()).toMatchObject({ rollbackTransaction: 1, commitTransaction: 0 });
  });
});

describe("retry policy", () => {
  it("retries a resuming cluster with growing backoff, then succeeds", async () => {
    // Calls at ~0, 0.25, 0.75 s meet the 1.25 s resume; the one at ~1.75 s gets through.
    server.faults.inject({ kind: "resuming", seconds: 1.25 });
    const rows = await adapter.query("SELECT 'ok' AS answer", [], z.object({ answer: z.string() }));
    expect(rows).toEqual([{ answer: "ok" }]);
    expect(server.stats().executeStatement).toBe(4);
    expect(sleeps).toEqual([250, 500, 1_000]);
  });

  it("retries throttling", async () => {
    server.faults.inject({ kind: "throttling", count: 1 });
    await adapter.execute("SELECT 1", []);
    expect(server.stats().executeStatement).toBe(2);
  });

  it("gives up when resuming outlasts the budget, with a Retry-After for the client", async () => {
    // Real sleeps here: the budget (600 ms) allows the first backoff (250 ms) but not the second.
    const budgeted = createDataApiDatabase({ ...config, timeoutMs: 600 });
    server.faults.inject({ kind: "resuming", seconds: 60 });
    const error = await budgeted.execute("SELECT 1", []).catch((caught: unknown) => caught);
    budgeted.close();
    expect(error).toBeInstanceOf(DatabaseUnavailableError);
    expect((error as DatabaseUnavailableError).retryAfterSeconds).toBe(15);
    expect(server.stats().executeStatement).toBe(2);
  });

  it("never retries a SQL error, and keeps PostgreSQL's message", async () => {
    const error = await adapter
      .execute("SELECT * FROM no_such_table", [])
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(DatabaseQueryError);
    expect((error as Error).message).toMatch(/relation "no_such_table" does not exist/);
    expect(server.stats().executeStatement).toBe(1);
  });

  it("does not retry a timeout, which may have committed: it is unavailable for the caller", async () => {
    server.faults.inject({ kind: "timeout", count: 1 });
    await expect(adapter.execute("SELECT 1", [])).rejects.toBeInstanceOf(DatabaseUnavailableError);
    expect(server.stats().executeStatement).toBe(1);
  });

  it("does not retry a reset connection", async () => {
    server.faults.inject({ kind: "connection_reset", count: 1 });
    await expect(adapter.execute("SELECT 1", [])).rejects.toBeInstanceOf(DatabaseUnavailableError);
    expect(server.stats().executeStatement).toBe(1);
    await adapter.execute("SELECT 1", []);
  });
});

describe("BeginTransaction on a paused cluster", () => {
  const insertIn = (session: SqlSession, id: string) =>
    session.execute("INSERT INTO notes (id, body, at) VALUES (:id, 'woke', now())", [
      sqlParameter.uuid("id", id),
    ]);
  const stored = async (id: string) =>
    (await db.pool.query("SELECT body FROM notes WHERE id = $1", [id])).rows;

  it("retries resuming within the budget, as a statement does, then runs the work", async () => {
    server.faults.inject({ kind: "resuming", seconds: 0.6 });
    const id = crypto.randomUUID();
    await adapter.transaction((session) => insertIn(session, id));
    expect(await stored(id)).toEqual([{ body: "woke" }]);
    expect(server.stats()).toMatchObject({
      beginTransaction: 3,
      executeStatement: 1,
      commitTransaction: 1,
    });
    expect(sleeps).toEqual([250, 500]);
  });

  it("retries throttling", async () => {
    server.faults.inject({ kind: "throttling", count: 1 });
    const id = crypto.randomUUID();
    await adapter.transaction((session) => insertIn(session, id));
    expect(await stored(id)).toEqual([{ body: "woke" }]);
    expect(server.stats().beginTransaction).toBe(2);
  });

  it("gives up past its budget with a Retry-After, and the work never runs", async () => {
    server.faults.inject({ kind: "resuming", seconds: 60 });
    let ran = false;
    const error = await adapter
      .transaction(
        async () => {
          ran = true;
        },
        { timeoutMs: 600 },
      )
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(DatabaseUnavailableError);
    expect((error as DatabaseUnavailableError).retryAfterSeconds).toBe(15);
    expect(ran).toBe(false);
    expect(server.stats()).toMatchObject({ beginTransaction: 2, executeStatement: 0 });
  });

  it.each([
    { kind: "timeout", error: DatabaseUnavailableError },
    { kind: "connection_reset", error: DatabaseUnavailableError },
    { kind: "sql_error", error: DatabaseQueryError },
  ] as const)("never retries anything else: $kind", async ({ kind, error }) => {
    server.faults.inject({ kind, count: 1 });
    let ran = false;
    await expect(
      adapter.transaction(async () => {
        ran = true;
      }),
    ).rejects.toBeInstanceOf(error);
    expect(ran).toBe(false);
    expect(server.stats().beginTransaction).toBe(1);
    expect(sleeps).toEqual([]);
  });
});
