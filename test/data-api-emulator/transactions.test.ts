import {
  BatchExecuteStatementCommand,
  DatabaseErrorException,
  StatementTimeoutException,
  TransactionNotFoundException,
  TransactionNotFoundException$,
} from "@aws-sdk/client-rds-data";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type ConformanceStack,
  declaredStatus,
  rejectionOf,
  startConformanceStack,
} from "./support.ts";

/** Transactions pinned to a connection, batches, and the per-call time limit. */

let stack: ConformanceStack;
/** Same database, an endpoint with short limits: idle transactions expire, calls time out. */
let hasty: ConformanceStack;
const HASTY_IDLE_MS = 300;
const HASTY_CALL_MS = 300;

beforeAll(async () => {
  stack = await startConformanceStack();
  hasty = await startConformanceStack(
    { transactionIdleTimeoutMs: HASTY_IDLE_MS, callTimeoutMs: HASTY_CALL_MS },
    stack.db,
  );
  await stack.db.pool.query("CREATE TABLE ledger (id int PRIMARY KEY, note text NOT NULL)");
});
afterAll(async () => {
  await hasty?.stop();
  await stack?.stop();
});

const countRows = async (where = "true") => {
  const { rows } = await stack.db.pool.query(
    `SELECT count(*)::int AS n FROM ledger WHERE ${where}`,
  );
  return rows[0].n as number;
};

const sessionsOf = async (state: string) => {
  const { rows } = await stack.db.pool.query(
    "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND state = $2 AND application_name = 'local-rds-data-api'",
    [stack.db.name, state],
  );
  return rows[0].n as number;
};

const insert = (id: number, note: string, transactionId?: string, on = stack) =>
  on.execute("INSERT INTO ledger (id, note) VALUES (:id, :note)", {
    transactionId,
    parameters: [
      { name: "id", value: { longValue: id } },
      { name: "note", value: { stringValue: note } },
    ],
  });

describe("transactions", () => {
  it("commit: nothing is visible to others until CommitTransaction", async () => {
    const transactionId = await stack.begin();
    await insert(1, "committed", transactionId);
    await insert(2, "committed", transactionId);
    const inside = await stack.execute("SELECT count(*) FROM ledger WHERE id IN (1, 2)", {
      transactionId,
    });
    expect(inside.records).toEqual([[{ longValue: 2 }]]);
    expect(await countRows("id IN (1, 2)")).toBe(0);
    expect(await stack.commit(transactionId)).toBe("Transaction Committed");
    expect(await countRows("id IN (1, 2)")).toBe(2);
  });

  it("rollback: RollbackTransaction undoes every statement", async () => {
    const transactionId = await stack.begin();
    await insert(3, "rolled back", transactionId);
    expect(await stack.rollback(transactionId)).toBe("Rollback Complete");
    expect(await countRows("id = 3")).toBe(0);
  });

  it("an unknown or ended id is TransactionNotFoundException, on every operation", async () => {
    const unknown = "AQC5SRDIm2q4cvYiTTOVP9a6TPmLRxXkaaW7mhrj4I0e3UafJ7FE7hVm";
    for (const call of [
      () => stack.execute("SELECT 1", { transactionId: unknown }),
      () => stack.commit(unknown),
      () => stack.rollback(unknown),
    ]) {
      const error = await rejectionOf(call());
      expect(error).toBeInstanceOf(TransactionNotFoundException);
      expect(error.$metadata?.httpStatusCode).toBe(declaredStatus(TransactionNotFoundException$));
      expect(error.message).toBe(`Transaction ${unknown} is not found`);
    }
    const transactionId = await stack.begin();
    await stack.commit(transactionId);
    const ended = await rejectionOf(stack.commit(transactionId));
    expect(ended).toBeInstanceOf(TransactionNotFoundException);
    expect(ended.message).toMatch(/^Transaction .+ is not found\. A previous call ended/);
  });

  it("a failed statement aborts the transaction and rolls it back", async () => {
    const transactionId = await stack.begin();
    await insert(4, "lost", transactionId);
    const failed = await rejectionOf(insert(4, "duplicate", transactionId));
    expect(failed).toBeInstanceOf(DatabaseErrorException);
    const after = await rejectionOf(stack.execute("SELECT 1", { transactionId }));
    expect(after).toBeInstanceOf(TransactionNotFoundException);
    expect(after.message).toMatch(/aborted because a previous call in it failed/);
    expect(await countRows("id = 4")).toBe(0);
  });

  it("a rejected request (not run) leaves the transaction usable", async () => {
    const transactionId = await stack.begin();
    const rejected = await rejectionOf(stack.execute("SELECT 1; SELECT 2", { transactionId }));
    expect(rejected.name).toBe("ValidationException");
    await insert(5, "kept", transactionId);
    await stack.commit(transactionId);
    expect(await countRows("id = 5")).toBe(1);
  });

  it("one call at a time: a second one meets 'Transaction is still running a query'", async () => {
    const transactionId = await stack.begin();
    // Hold a row lock elsewhere so the transaction's first call waits on it.
    const blocker = await stack.db.pool.connect();
    try {
      await blocker.query("BEGIN");
      await blocker.query("INSERT INTO ledger (id, note) VALUES (6, 'blocker')");
      const waiting = insert(6, "waits", transactionId);
      await expect
        .poll(() => sessionsOf("active"), { timeout: 5_000, interval: 20 })
        .toBeGreaterThan(0);
      const second = await rejectionOf(stack.execute("SELECT 1", { transactionId }));
      expect(second).toBeInstanceOf(DatabaseErrorException);
      expect(second.message).toBe("Transaction is still running a query");
      await blocker.query("ROLLBACK");
      await waiting;
      await stack.commit(transactionId);
      expect(await countRows("id = 6 AND note = 'waits'")).toBe(1);
    } finally {
      blocker.release();
    }
  });

  it("expires after the idle timeout: rolled back, then not found", async () => {
    const transactionId = await hasty.begin();
    await insert(7, "expires", transactionId, hasty);
    // The endpoint rolls back and returns the connection: nothing stays idle in a transaction.
    await expect
      .poll(() => sessionsOf("idle in transaction"), { timeout: 5_000, interval: 50 })
      .toBe(0);
    const error = await rejectionOf(hasty.execute("SELECT 1", { transactionId }));
    expect(error).toBeInstanceOf(TransactionNotFoundException);
    expect(error.message).toMatch(/may have expired/);
    expect(await countRows("id = 7")).toBe(0);
  });
});

describe("BatchExecuteStatement", () => {
  const batch = (ids: number[], transactionId?: string) =>
    stack.client.send(
      new BatchExecuteStatementCommand({
        ...stack.target,
        transactionId,
        sql: "INSERT INTO ledger (id, note) VALUES (:id, :note)",
        parameterSets: ids.map((id) => [
          { name: "id", value: { longValue: id } },
          { name: "note", value: { stringValue: `batch ${id}` } },
        ]),
      }),
    );

  it("runs the statement once per parameter set; generatedFields stay empty on PostgreSQL", async () => {
    const output = await batch([100, 101, 102]);
    expect(output.updateResults).toEqual([
      { generatedFields: [] },
      { generatedFields: [] },
      { generatedFields: [] },
    ]);
    expect(await countRows("id BETWEEN 100 AND 102")).toBe(3);
  });

  it("outside a transaction, commits all sets or none", async () => {
    const error = await rejectionOf(batch([110, 111, 100]));
    expect(error).toBeInstanceOf(DatabaseErrorException);
    expect(await countRows("id IN (110, 111)")).toBe(0);
  });

  it("inside a transaction, is part of it", async () => {
    const transactionId = await stack.begin();
    await batch([120, 121], transactionId);
    const inside = await stack.execute("SELECT count(*) FROM ledger WHERE id IN (120, 121)", {
      transactionId,
    });
    expect(inside.records).toEqual([[{ longValue: 2 }]]);
    expect(await countRows("id IN (120, 121)")).toBe(0);
    await stack.rollback(transactionId);
    expect(await countRows("id IN (120, 121)")).toBe(0);
  });
});

describe("the call time limit", () => {
  it("answers StatementTimeoutException and cancels the statement", async () => {
    const error = await rejectionOf(hasty.execute("SELECT pg_sleep(30)"));
    expect(error).toBeInstanceOf(StatementTimeoutException);
    expect(error.message).toBe("Request timed out");
    expect(error.dbConnectionId).toBeGreaterThan(0);
    await expect
      .poll(
        async () => {
          const { rows } = await stack.db.pool.query(
            "SELECT count(*)::int AS n FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(30)' AND state = 'active'",
          );
          return rows[0].n;
        },
        { timeout: 5_000, interval: 50 },
      )
      .toBe(0);
  });

  it("with continueAfterTimeout, lets the statement finish", async () => {
    const error = await rejectionOf(
      hasty.execute("INSERT INTO ledger (id, note) SELECT 200, 'late' FROM pg_sleep(1)", {
        continueAfterTimeout: true,
      }),
    );
    expect(error).toBeInstanceOf(StatementTimeoutException);
    await expect.poll(() => countRows("id = 200"), { timeout: 5_000, interval: 50 }).toBe(1);
  });
});
