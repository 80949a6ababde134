import type { SqlParameter } from "@aws-sdk/client-rds-data";
import type * as z from "zod/mini";

export type { SqlParameter };

export interface QueryOptions {
  /** Budget for this call including resume retries; defaults to the configured timeout. */
  timeoutMs?: number;
}

/** One statement at a time; rows come back as JSON objects validated by the caller's schema. */
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
  transaction<T>(work: (session: SqlSession) => Promise<T>): Promise<T>;
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
