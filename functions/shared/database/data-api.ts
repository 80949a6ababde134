import {
  BeginTransactionCommand,
  CommitTransactionCommand,
  DatabaseErrorException,
  DatabaseResumingException,
  ExecuteStatementCommand,
  RDSDataClient,
  RollbackTransactionCommand,
  type SqlParameter,
} from "@aws-sdk/client-rds-data";
import type * as z from "zod/mini";
import type { DatabaseConfig } from "../config.ts";
import {
  DatabaseQueryError,
  DatabaseUnavailableError,
  type QueryOptions,
  type SqlDatabase,
  type SqlSession,
} from "./database.ts";

/**
 * The only module that talks to the RDS Data API. Everything above it sees `SqlDatabase`.
 *
 * Retry policy, and why: the SDK's own retries are off (`maxAttempts: 1`) because the heartbeat
 * statement is not idempotent (it counts). We retry only failures that prove the statement never
 * ran — the cluster resuming from auto-pause and throttling — and never a `DatabaseErrorException`
 * or an ambiguous timeout/connection reset, which may have committed.
 * https://docs.aws.amazon.com/rdsdataservice/latest/APIReference/CommonErrors.html
 */

const RESUME_BACKOFF_MS = [250, 500, 1_000, 2_000];
/** Aurora Serverless v2 takes ~15 s to resume from 0 ACU; a client should come back after that. */
const RESUMING_RETRY_AFTER_SECONDS = 15;
const BUSY_RETRY_AFTER_SECONDS = 2;

function isThrottling(error: unknown): boolean {
  const name = (error as { name?: string })?.name;
  const status = (error as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
  return name === "ThrottlingException" || name === "TooManyRequestsException" || status === 429;
}

function isTimeout(error: unknown): boolean {
  const name = (error as { name?: string })?.name;
  const code = (error as { code?: string })?.code;
  return (
    name === "StatementTimeoutException" ||
    name === "TimeoutError" ||
    name === "AbortError" ||
    code === "ECONNRESET" ||
    code === "ECONNREFUSED" ||
    code === "EPIPE" ||
    name === "ServiceUnavailableError" ||
    name === "DatabaseUnavailableException"
  );
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export interface DataApiDatabaseOptions {
  /** Lets the caller instrument the client (Powertools Tracer's `captureAWSv3Client`). */
  instrumentClient?: (client: RDSDataClient) => RDSDataClient;
  /** Overridable for tests of the retry loop. */
  sleep?: (ms: number) => Promise<unknown>;
}

export function createDataApiDatabase(
  config: DatabaseConfig,
  options: DataApiDatabaseOptions = {},
): SqlDatabase {
  const local = config.endpoint !== undefined;
  let client = new RDSDataClient({
    region: config.region,
    endpoint: config.endpoint,
    maxAttempts: 1,
    // The local endpoint does not check signatures, and a laptop may have no AWS profile at all.
    ...(local && !process.env.AWS_ACCESS_KEY_ID
      ? { credentials: { accessKeyId: "local", secretAccessKey: "local" } }
      : {}),
    requestHandler: { connectionTimeout: 2_000, requestTimeout: config.timeoutMs },
  });
  if (options.instrumentClient) client = options.instrumentClient(client);
  const wait = options.sleep ?? sleep;

  async function execute(
    sql: string,
    parameters: SqlParameter[],
    queryOptions: QueryOptions & { transactionId?: string },
  ) {
    const deadline = Date.now() + (queryOptions.timeoutMs ?? config.timeoutMs);
    for (let attempt = 0; ; attempt++) {
      const remaining = deadline - Date.now();
      try {
        return await client.send(
          new ExecuteStatementCommand({
            resourceArn: config.resourceArn,
            secretArn: config.secretArn,
            database: config.database,
            sql,
            parameters,
            transactionId: queryOptions.transactionId,
            formatRecordsAs: "JSON",
          }),
          { abortSignal: AbortSignal.timeout(Math.max(remaining, 1)) },
        );
      } catch (error) {
        if (error instanceof DatabaseErrorException) {
          throw new DatabaseQueryError(error.message, { cause: error });
        }
        const resuming = error instanceof DatabaseResumingException;
        if (resuming || isThrottling(error)) {
          const backoff = RESUME_BACKOFF_MS[Math.min(attempt, RESUME_BACKOFF_MS.length - 1)] ?? 0;
          if (Date.now() + backoff < deadline) {
            await wait(backoff);
            continue;
          }
          throw new DatabaseUnavailableError(
            resuming ? "database is resuming" : "database is throttling requests",
            resuming ? RESUMING_RETRY_AFTER_SECONDS : BUSY_RETRY_AFTER_SECONDS,
            { cause: error },
          );
        }
        if (isTimeout(error)) {
          throw new DatabaseUnavailableError(
            "database did not answer in time",
            BUSY_RETRY_AFTER_SECONDS,
            {
              cause: error,
            },
          );
        }
        throw error;
      }
    }
  }

  function session(transactionId?: string): SqlSession {
    return {
      async query(sql, parameters, rowSchema, queryOptions = {}) {
        const output = await execute(sql, parameters, { ...queryOptions, transactionId });
        const rows: unknown[] = output.formattedRecords ? JSON.parse(output.formattedRecords) : [];
        return rows.map((row) => rowSchema.parse(row)) as z.output<typeof rowSchema>[];
      },
      async execute(sql, parameters, queryOptions = {}) {
        const output = await execute(sql, parameters, { ...queryOptions, transactionId });
        return { updated: output.numberOfRecordsUpdated ?? 0 };
      },
    };
  }

  const base = { resourceArn: config.resourceArn, secretArn: config.secretArn };
  return {
    ...session(),
    async transaction(work) {
      const { transactionId } = await client.send(
        new BeginTransactionCommand({ ...base, database: config.database }),
      );
      if (!transactionId) throw new Error("BeginTransaction returned no transaction id");
      try {
        const result = await work(session(transactionId));
        await client.send(new CommitTransactionCommand({ ...base, transactionId }));
        return result;
      } catch (error) {
        await client
          .send(new RollbackTransactionCommand({ ...base, transactionId }))
          .catch(() => undefined);
        throw error;
      }
    },
    close() {
      client.destroy();
    },
  };
}
