import {
  BeginTransactionCommand,
  CommitTransactionCommand,
  ExecuteStatementCommand,
  type ExecuteStatementCommandInput,
  type ExecuteStatementCommandOutput,
  RDSDataClient,
  RollbackTransactionCommand,
} from "@aws-sdk/client-rds-data";
import {
  type DataApiServer,
  type DataApiServerOptions,
  startDataApiServer,
} from "../../tools/data-api/server.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";

/**
 * The unchanged AWS SDK client, pointed at the local endpoint, over a real PostgreSQL database of
 * the test file's own. Retries are off unless a test asks for them, so every failure is seen.
 */
export interface ConformanceStack {
  db: TestDatabase;
  server: DataApiServer;
  client: RDSDataClient;
  /** resourceArn, secretArn and database for this stack. */
  target: { resourceArn: string; secretArn: string; database: string };
  execute(
    sql: string,
    input?: Partial<ExecuteStatementCommandInput>,
  ): Promise<ExecuteStatementCommandOutput>;
  begin(): Promise<string>;
  commit(transactionId: string): Promise<string | undefined>;
  rollback(transactionId: string): Promise<string | undefined>;
  /** Another client for the same endpoint, e.g. with SDK retries on. */
  newClient(maxAttempts?: number): RDSDataClient;
  stop(): Promise<void>;
}

export async function startConformanceStack(
  options: Partial<DataApiServerOptions> = {},
  db?: TestDatabase,
): Promise<ConformanceStack> {
  const database = db ?? (await createTestDatabase());
  const server = await startDataApiServer({ connectionUrlFor: database.serverUrlFor, ...options });
  const clients: RDSDataClient[] = [];
  const newClient = (maxAttempts = 1) => {
    const client = new RDSDataClient({
      region: "us-east-1",
      endpoint: server.url,
      credentials: { accessKeyId: "local", secretAccessKey: "local" },
      maxAttempts,
    });
    clients.push(client);
    return client;
  };
  const client = newClient();
  const target = {
    resourceArn: server.resourceArn,
    secretArn: server.secretArn,
    database: database.name,
  };
  return {
    db: database,
    server,
    client,
    target,
    execute: (sql, input = {}) =>
      client.send(new ExecuteStatementCommand({ ...target, sql, ...input })),
    async begin() {
      const { transactionId } = await client.send(new BeginTransactionCommand(target));
      if (!transactionId) throw new Error("BeginTransaction returned no id");
      return transactionId;
    },
    async commit(transactionId) {
      const { resourceArn, secretArn } = target;
      const output = await client.send(
        new CommitTransactionCommand({ resourceArn, secretArn, transactionId }),
      );
      return output.transactionStatus;
    },
    async rollback(transactionId) {
      const { resourceArn, secretArn } = target;
      const output = await client.send(
        new RollbackTransactionCommand({ resourceArn, secretArn, transactionId }),
      );
      return output.transactionStatus;
    },
    newClient,
    async stop() {
      for (const each of clients) each.destroy();
      await server.close();
      if (!db) await database.drop();
    },
  };
}

/** The HTTP status the SDK's service model declares for an exception (its `httpError` trait). */
export function declaredStatus(errorSchema: unknown): number | undefined {
  return (errorSchema as [number, string, string, { httpError?: number }])[3]?.httpError;
}

/** What an SDK call rejects with: a service exception, or a network error. */
export interface CallError extends Error {
  $metadata?: { httpStatusCode?: number };
  /** Node's network error code (ECONNRESET). */
  code?: string;
  /** StatementTimeoutException's member. */
  dbConnectionId?: number;
}

/** The rejection of `promise` (fails the test if it resolves). */
export async function rejectionOf(promise: Promise<unknown>): Promise<CallError> {
  try {
    await promise;
  } catch (error) {
    return error as CallError;
  }
  throw new Error("expected the call to fail, but it succeeded");
}
