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
import type { DatabaseConfig } from "../config/database.ts";
import {
  DatabaseQueryError,
  DatabaseResultError,
  DatabaseUnavailableError,
  type QueryOptions,
  type SqlDatabase,
  type SqlSession,
} from "./database.ts";

/**
 * The only module that talks to the RDS Data API. Everything above it sees `SqlDatabase`.
 *
 * Retry policy, and why: the SDK's own retries are off (`maxAttempts: 1`) because the heartbeat
 * statement is not idempotent (it counts). We retry only failures that prove the call never ran —
 * the cluster resuming from auto-pause and throttling — and never a `DatabaseErrorException` or an
 * ambiguous timeout/connection reset, which may have committed. ExecuteStatement and
 * BeginTransaction share that loop (`withRetries`); Commit/Rollback are never retried.
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

  /**
   * One call, retried within `timeoutMs` (resume retries included) while the answer proves it never
   * ran: the cluster resuming, or throttling. Anything else is never retried. ExecuteStatement and
   * BeginTransaction both go through here, so a paused cluster wakes the same way for either.
   */
  async function withRetries<T>(
    timeoutMs: number,
    call: (abortSignal: AbortSignal) => Promise<T>,
  ): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (let attempt = 0; ; attempt++) {
      const remaining = deadline - Date.now();
      try {
        return await call(AbortSignal.timeout(Math.max(remaining, 1)));
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
            { cause: error },
          );
        }
        throw error;
      }
    }
  }

  function executeStatement(
    sql: string,
    parameters: SqlParameter[],
    call: QueryOptions & { transactionId: string | undefined; json: boolean },
  ) {
    return withRetries(call.timeoutMs ?? config.timeoutMs, (abortSignal) =>
      client.send(
        new ExecuteStatementCommand({
          resourceArn: config.resourceArn,
          secretArn: config.secretArn,
          database: config.database,
          sql,
          parameters,
          transactionId: call.transactionId,
          // Applies to SELECT statements only; the service ignores it for any other statement.
          ...(call.json ? { formatRecordsAs: "JSON" as const } : {}),
        }),
        { abortSignal },
      ),
    );
  }

  function session(transactionId?: string): SqlSession {
    return {
      async query(sql, parameters, rowSchema, queryOptions = {}) {
        const output = await executeStatement(sql, parameters, {
          ...queryOptions,
          transactionId,
          json: true,
        });
        if (output.formattedRecords === undefined) {
          if (output.records !== undefined) {
            // formatRecordsAs was ignored: the statement is not a SELECT. Rows silently read as
            // none would become a 404 (or a lost report), so this is a bug to surface.
            throw new DatabaseResultError(
              "query() got records but no formattedRecords: the Data API formats records as JSON for SELECT statements only; read rows with a SELECT (or use execute())",
            );
          }
          // No result set at all. A SELECT always has one (formattedRecords "[]" when empty).
          return [];
        }
        const rows: unknown[] = JSON.parse(output.formattedRecords);
        return rows.map((row) => rowSchema.parse(row)) as z.output<typeof rowSchema>[];
      },
      async execute(sql, parameters, queryOptions = {}) {
        const output = await executeStatement(sql, parameters, {
          ...queryOptions,
          transactionId,
          json: false,
        });
        return { updated: output.numberOfRecordsUpdated ?? 0 };
      },
    };
  }

  const base = { resourceArn: config.resourceArn, secretArn: config.secretArn };
  return {
    ...session(),
    async transaction(work, transactionOptions = {}) {
      const { transactionId } = await withRetries(
        transactionOptions.timeoutMs ?? config.timeoutMs,
        (abortSignal) =>
          client.send(new BeginTransactionCommand({ ...base, database: config.database }), {
            abortSignal,
          }),
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
