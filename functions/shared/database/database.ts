import type { SqlParameter } from "@aws-sdk/client-rds-data";
import type * as z from "zod/mini";

export type { SqlParameter };

export interface QueryOptions {
  /** Budget for this call including resume retries; defaults to the configured timeout. */
  timeoutMs?: number;
}

/**
 * One statement at a time. `query()` reads rows — JSON objects validated by the caller's schema —
 * and so takes a SELECT only: the Data API formats records as JSON for SELECT statements alone.
 * `execute()` runs anything else (rows, if any, are not read).
 */
export interface SqlSession {
  query<S extends z.ZodMiniType>(
    sql: string,
    parameters: SqlParameter[],
    rowSchema: S,
    options?: QueryOptions,
  ): Promise<z.output<S>[]>;
  execute(
    sql: string,
    parameters: SqlParameter[],
    options?: QueryOptions,
  ): Promise<{ updated: number }>;
}

export interface SqlDatabase extends SqlSession {
  /** `options.timeoutMs` is BeginTransaction's budget, resume retries included. */
  transaction<T>(work: (session: SqlSession) => Promise<T>, options?: QueryOptions): Promise<T>;
  close(): void;
}

/** The database could not run the statement now, and it did not run: the caller may come back. */
export class DatabaseUnavailableError extends Error {
  override readonly name = "DatabaseUnavailableError";
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** PostgreSQL rejected the statement (a bug or a schema mismatch): never retried. */
export class DatabaseQueryError extends Error {
  override readonly name = "DatabaseQueryError";
}

/**
 * The statement ran, but its answer holds no rows the code can read — `query()` on a statement
 * that is not a SELECT, whose records the Data API never formats as JSON. A bug in the code, so an
 * internal error (500), never an empty result (which would read as "not found").
 */
export class DatabaseResultError extends Error {
  override readonly name = "DatabaseResultError";
}

/** Typed builders for Data API parameters, so no call site spells a `Field` by hand. */
export const sqlParameter = {
  uuid: (name: string, value: string): SqlParameter => ({
    name,
    value: { stringValue: value },
    typeHint: "UUID",
  }),
  text: (name: string, value: string | null): SqlParameter => ({
    name,
    value: value === null ? { isNull: true } : { stringValue: value },
  }),
  bigint: (name: string, value: number | bigint): SqlParameter => ({
    name,
    value: { longValue: Number(value) },
  }),
  boolean: (name: string, value: boolean): SqlParameter => ({
    name,
    value: { booleanValue: value },
  }),
  /** TIMESTAMP parameters travel as `YYYY-MM-DD HH:MM:SS[.FFF]` in UTC, no `T`, no zone. */
  timestamp: (name: string, value: Date): SqlParameter => ({
    name,
    value: { stringValue: value.toISOString().replace("T", " ").replace("Z", "") },
    typeHint: "TIMESTAMP",
  }),
  json: (name: string, value: unknown): SqlParameter => ({
    name,
    value: { stringValue: JSON.stringify(value) },
    typeHint: "JSON",
  }),
};
