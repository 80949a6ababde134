import {
  BadRequestException,
  BadRequestException$,
  BeginTransactionCommand,
  DatabaseErrorException,
  DatabaseErrorException$,
  DatabaseResumingException,
  DatabaseResumingException$,
  ExecuteStatementCommand,
  HttpEndpointNotEnabledException,
  HttpEndpointNotEnabledException$,
  RDSDataServiceException,
  SecretsErrorException,
  SecretsErrorException$,
  StatementTimeoutException,
  StatementTimeoutException$,
} from "@aws-sdk/client-rds-data";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createTestDatabase } from "../support/database.ts";
import {
  type ConformanceStack,
  declaredStatus,
  rejectionOf,
  startConformanceStack,
} from "./support.ts";

/** Errors in the shapes the SDK maps to its exception classes, and local fault injection. */

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, Math.max(ms, 0)));

let stack: ConformanceStack;
beforeAll(async () => {
  stack = await startConformanceStack();
});
afterAll(async () => {
  await stack?.stop();
});
beforeEach(() => {
  stack.server.faults.clear();
  stack.server.resetStats();
});

describe("SQL errors", () => {
  it("are DatabaseErrorException carrying PostgreSQL's message, as the JDBC driver renders it", async () => {
    const error = await rejectionOf(stack.execute("SELECT * FROM no_such_table"));
    expect(error).toBeInstanceOf(DatabaseErrorException);
    expect(error.$metadata?.httpStatusCode).toBe(declaredStatus(DatabaseErrorException$));
    expect(error.message).toBe(
      'ERROR: relation "no_such_table" does not exist\n  Position: 15; SQLState: 42P01',
    );
  });

  it("include PostgreSQL's detail", async () => {
    await stack.execute("CREATE TABLE unique_things (id int PRIMARY KEY)");
    await stack.execute("INSERT INTO unique_things VALUES (1)");
    const error = await rejectionOf(stack.execute("INSERT INTO unique_things VALUES (1)"));
    expect(error.message).toBe(
      'ERROR: duplicate key value violates unique constraint "unique_things_pkey"\n' +
        "  Detail: Key (id)=(1) already exists.; SQLState: 23505",
    );
  });
});

describe("one statement per call", () => {
  it("rejects several statements with the service's ValidationException", async () => {
    const error = await rejectionOf(stack.execute("SELECT 1; SELECT 2"));
    expect(error).toBeInstanceOf(RDSDataServiceException);
    expect(error.name).toBe("ValidationException");
    expect(error.message).toBe("Multistatements aren't supported.");
    expect(stack.server.stats().executeStatement).toBe(1);
  });

  it("accepts a trailing semicolon, comments and semicolons inside quotes or dollar quotes", async () => {
    const output = await stack.execute(
      "SELECT ';' AS a, $$;$$ AS b, E'\\';' AS c /* ; */; -- done;",
    );
    expect(output.records).toEqual([
      [{ stringValue: ";" }, { stringValue: ";" }, { stringValue: "';" }],
    ]);
  });
});

describe("the call's target", () => {
  it("must be the cluster's ARN", async () => {
    const malformed = await rejectionOf(stack.execute("SELECT 1", { resourceArn: "cluster-1234" }));
    expect(malformed).toBeInstanceOf(BadRequestException);
    expect(malformed.$metadata?.httpStatusCode).toBe(declaredStatus(BadRequestException$));

    const otherCluster = stack.target.resourceArn.replace(/cluster:.*/, "cluster:another-one");
    const other = await rejectionOf(stack.execute("SELECT 1", { resourceArn: otherCluster }));
    expect(other).toBeInstanceOf(HttpEndpointNotEnabledException);
    expect(other.$metadata?.httpStatusCode).toBe(declaredStatus(HttpEndpointNotEnabledException$));
  });

  it("must name the cluster's secret, by ARN or by name", async () => {
    const wrong = await rejectionOf(
      stack.execute("SELECT 1", { secretArn: `${stack.target.secretArn}-other` }),
    );
    expect(wrong).toBeInstanceOf(SecretsErrorException);
    expect(wrong.$metadata?.httpStatusCode).toBe(declaredStatus(SecretsErrorException$));
    const byName = stack.target.secretArn.split(":secret:")[1];
    const output = await stack.execute("SELECT 1", { secretArn: byName });
    expect(output.records).toEqual([[{ longValue: 1 }]]);
  });

  it("refuses the schema parameter, deprecated for PostgreSQL", async () => {
    const error = await rejectionOf(stack.execute("SELECT 1", { schema: "public" }));
    expect(error.name).toBe("ValidationException");
    expect(error.message).toBe("The schema parameter isn't supported");
  });

  it("picks the database by the database parameter", async () => {
    const other = await createTestDatabase();
    try {
      const here = await stack.execute("SELECT current_database()");
      const there = await stack.execute("SELECT current_database()", { database: other.name });
      expect(here.records).toEqual([[{ stringValue: stack.db.name }]]);
      expect(there.records).toEqual([[{ stringValue: other.name }]]);
      const missing = await rejectionOf(
        stack.execute("SELECT 1", { database: `${stack.db.name}_missing` }),
      );
      expect(missing).toBeInstanceOf(DatabaseErrorException);
      expect(missing.message).toMatch(
        /^FATAL: database ".+_missing" does not exist; SQLState: 3D000$/,
      );
    } finally {
      await other.drop(); // WITH (FORCE): the endpoint's idle connections there are cut
    }
  });
});

describe("malformed requests", () => {
  it("are BadRequestException", async () => {
    const noSql = await rejectionOf(
      stack.client.send(
        new ExecuteStatementCommand({ ...stack.target, sql: undefined as unknown as string }),
      ),
    );
    expect(noSql).toBeInstanceOf(BadRequestException);
    const twoMembers = await rejectionOf(
      stack.execute("SELECT :x", {
        parameters: [{ name: "x", value: { stringValue: "a", longValue: 1 } as never }],
      }),
    );
    expect(twoMembers).toBeInstanceOf(BadRequestException);
  });
});

describe("injected faults", () => {
  it("resuming: DatabaseResumingException for `seconds` from the first call, as Aurora Serverless v2 waking from 0 ACU", async () => {
    // Long enough for three calls on a loaded machine.
    stack.server.faults.inject({ kind: "resuming", seconds: 2 });
    const started = Date.now();
    for (let call = 0; call < 3; call++) {
      const error = await rejectionOf(stack.execute("SELECT 1"));
      expect(error).toBeInstanceOf(DatabaseResumingException);
      expect(error.$metadata?.httpStatusCode).toBe(declaredStatus(DatabaseResumingException$));
    }
    await sleep(started + 2_100 - Date.now());
    expect((await stack.execute("SELECT 1")).records).toEqual([[{ longValue: 1 }]]);
    expect(stack.server.stats().executeStatement).toBe(4);
  });

  it("resuming: the clock starts at the first call after the pause, not at injection", async () => {
    stack.server.faults.inject({ kind: "resuming", seconds: 0.3 });
    await sleep(400);
    const first = Date.now();
    expect(await rejectionOf(stack.execute("SELECT 1"))).toBeInstanceOf(DatabaseResumingException);
    await sleep(first + 400 - Date.now());
    expect((await stack.execute("SELECT 1")).records).toEqual([[{ longValue: 1 }]]);
  });

  it("resuming takes seconds, never a count of calls; the other faults take a count", () => {
    expect(() => stack.server.faults.inject({ kind: "resuming", count: 2 })).toThrow(
      /not a `count` of calls/,
    );
    expect(() => stack.server.faults.inject({ kind: "resuming" })).toThrow(/seconds/);
    expect(() => stack.server.faults.inject({ kind: "timeout", seconds: 1 })).toThrow(/seconds/);
  });

  it("throttling: ThrottlingException, which the SDK's retry strategy retries", async () => {
    stack.server.faults.inject({ kind: "throttling" });
    const error = await rejectionOf(stack.execute("SELECT 1"));
    expect(error).toBeInstanceOf(RDSDataServiceException);
    expect(error.name).toBe("ThrottlingException");
    expect(error.$metadata?.httpStatusCode).toBe(400);

    stack.server.faults.inject({ kind: "throttling" });
    const retrying = stack.newClient(3);
    const output = await retrying.send(
      new ExecuteStatementCommand({ ...stack.target, sql: "SELECT 1" }),
    );
    expect(output.records).toEqual([[{ longValue: 1 }]]);
    expect(output.$metadata.attempts).toBe(2);
  });

  it("timeout: StatementTimeoutException with its dbConnectionId", async () => {
    stack.server.faults.inject({ kind: "timeout" });
    const error = await rejectionOf(stack.execute("SELECT 1"));
    expect(error).toBeInstanceOf(StatementTimeoutException);
    expect(error.$metadata?.httpStatusCode).toBe(declaredStatus(StatementTimeoutException$));
    expect(typeof error.dbConnectionId).toBe("number");
  });

  it("connection_reset: the socket closes without an answer", async () => {
    stack.server.faults.inject({ kind: "connection_reset" });
    const error = await rejectionOf(stack.execute("SELECT 1"));
    expect(error).not.toBeInstanceOf(RDSDataServiceException);
    expect(error.code ?? error.message).toMatch(/ECONNRESET|socket hang up/);
  });

  it("sql_error: DatabaseErrorException, and nothing ran", async () => {
    await stack.execute("CREATE TABLE untouched (n int)");
    stack.server.faults.inject({ kind: "sql_error" });
    const error = await rejectionOf(stack.execute("INSERT INTO untouched VALUES (1)"));
    expect(error).toBeInstanceOf(DatabaseErrorException);
    const { rows } = await stack.db.pool.query("SELECT count(*)::int AS n FROM untouched");
    expect(rows[0].n).toBe(0);
  });

  it("apply to every operation, and are counted as calls", async () => {
    stack.server.faults.inject({ kind: "resuming", seconds: 60 });
    const error = await rejectionOf(stack.client.send(new BeginTransactionCommand(stack.target)));
    expect(error).toBeInstanceOf(DatabaseResumingException);
    expect(stack.server.stats()).toEqual({
      executeStatement: 0,
      batchExecuteStatement: 0,
      beginTransaction: 1,
      commitTransaction: 0,
      rollbackTransaction: 0,
    });
  });

  it("can be injected and cleared over HTTP, and stats read", async () => {
    const inject = await fetch(`${stack.server.url}/_local/faults`, {
      method: "POST",
      body: JSON.stringify({ kind: "resuming", seconds: 60 }),
    });
    expect(inject.status).toBe(200);
    expect(await rejectionOf(stack.execute("SELECT 1"))).toBeInstanceOf(DatabaseResumingException);
    await fetch(`${stack.server.url}/_local/faults`, { method: "DELETE" });
    expect((await stack.execute("SELECT 1")).records).toEqual([[{ longValue: 1 }]]);
    const stats = await (await fetch(`${stack.server.url}/_local/stats`)).json();
    expect(stats).toMatchObject({ executeStatement: 2 });

    for (const fault of [{ kind: "meteor" }, { kind: "resuming", count: 5 }]) {
      const invalid = await fetch(`${stack.server.url}/_local/faults`, {
        method: "POST",
        body: JSON.stringify(fault),
      });
      expect(invalid.status).toBe(400);
    }
  });
});
