import type pg from "pg";
import { leadingKeyword, splitStatements } from "../sql-lexer.ts";
import type { Connection } from "./connections.ts";
import { bindParameters } from "./parameters.ts";
import {
  type BatchExecuteStatementRequest,
  DataApiError,
  type ExecuteStatementRequest,
  JsonInteger,
  STATEMENT_TIMEOUT_MESSAGE,
  toJson,
} from "./protocol.ts";
import { toColumnMetadata, toFormattedRecords, toRecords } from "./results.ts";

/** Every value in its text form: conversions to Fields happen in results.ts, not in node-pg. */
const RAW_TEXT: pg.CustomTypesConfig = {
  getTypeParser: (() => (value: string) =>
    value) as unknown as pg.CustomTypesConfig["getTypeParser"],
};

/**
 * Always the extended query protocol, as JDBC prepared statements use: one statement per call
 * even when the lexer could not look inside the SQL (PostgreSQL then refuses a second command).
 */
function statementQuery(text: string, values: unknown[]): pg.QueryArrayConfig {
  return {
    text,
    values,
    rowMode: "array",
    types: RAW_TEXT,
    queryMode: "extended",
  } as pg.QueryArrayConfig;
}

/** Commands that leave state on the session, which must not leak to the next pooled call. */
const SESSION_COMMANDS = new Set([
  "BEGIN",
  "START",
  "SET",
  "RESET",
  "DECLARE",
  "PREPARE",
  "LISTEN",
  "LOAD",
]);

/**
 * Commands whose row count is "records updated"; for the rest the service reports 0. So does a
 * statement that returns a result set (`… RETURNING`): the service runs statements through JDBC,
 * where a statement answering rows has no update count.
 */
const UPDATING_COMMANDS = new Set(["INSERT", "UPDATE", "DELETE", "MERGE", "COPY"]);

/**
 * `formatRecordsAs` "only applies to SELECT statements and is ignored for other types of
 * statements" (API_ExecuteStatement). Which statements count as SELECT is not documented; here a
 * statement is one when its first keyword, after whitespace and comments, is SELECT — so
 * `WITH … SELECT`, `VALUES`, `(SELECT …)` and `… RETURNING` get `records`, as on a plain call.
 * https://docs.aws.amazon.com/rdsdataservice/latest/APIReference/API_ExecuteStatement.html
 */
function isSelect(sql: string): boolean {
  try {
    return leadingKeyword(sql) === "SELECT";
  } catch {
    return false; // a text the lexer cannot read fails in PostgreSQL anyway
  }
}

/**
 * "Multistatements aren't supported." Answered as a ValidationException.
 * https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/data-api.differences.html
 * A script the lexer cannot read (an unterminated quote) goes to PostgreSQL as is, to fail there
 * with PostgreSQL's own message.
 */
export function assertSingleStatement(sql: string): boolean {
  let statements: string[];
  try {
    statements = splitStatements(sql);
  } catch {
    return false;
  }
  if (statements.length > 1) {
    throw new DataApiError("ValidationException", "Multistatements aren't supported.");
  }
  return true;
}

export interface CallLimits {
  /** "By default, a call times out and is terminated in 45 seconds if it's not finished". */
  callTimeoutMs: number;
  /** Cancels a backend's running statement (from another connection to that database). */
  cancel(connection: Connection, processId: number): Promise<void>;
}

/**
 * Runs one query, answering StatementTimeoutException once the call's time is up. Without
 * `continueAfterTimeout` the statement is cancelled as well; with it, it runs on.
 * https://docs.aws.amazon.com/rdsdataservice/latest/APIReference/API_ExecuteStatement.html
 * `connection.idle` settles when the connection is free again, whatever the caller was told.
 */
function runWithin(
  connection: Connection,
  query: pg.QueryArrayConfig,
  limits: CallLimits,
  continueAfterTimeout: boolean,
): Promise<pg.QueryArrayResult> {
  const running = connection.client.query(query);
  connection.idle = running.catch(() => undefined);
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => {
      const processId = (connection.client as unknown as { processID?: number }).processID ?? 0;
      if (!continueAfterTimeout) {
        void limits.cancel(connection, processId).catch(() => undefined);
      }
      reject(
        new DataApiError("StatementTimeoutException", STATEMENT_TIMEOUT_MESSAGE, {
          dbConnectionId: processId,
        }),
      );
    }, limits.callTimeoutMs);
  });
  return Promise.race([running, timedOut]).finally(() => clearTimeout(timer));
}

export interface ExecuteStatementResponse {
  records?: unknown[];
  columnMetadata?: unknown[];
  numberOfRecordsUpdated: JsonInteger;
  formattedRecords?: string;
}

/** ExecuteStatement on a connection (pooled, or a transaction's). */
export async function executeStatement(
  connection: Connection,
  request: ExecuteStatementRequest,
  limits: CallLimits,
): Promise<ExecuteStatementResponse> {
  const lexable = assertSingleStatement(request.sql);
  const bound = lexable
    ? bindParameters(request.sql, request.parameters)
    : { text: request.sql, values: [] };
  const outcome = await runWithin(
    connection,
    statementQuery(bound.text, bound.values),
    limits,
    request.continueAfterTimeout ?? false,
  );
  if (SESSION_COMMANDS.has(outcome.command)) connection.discard = true;
  const options = request.resultSetOptions ?? {};
  // A statement that returns no result set (plain DML, DDL) has no records at all.
  const hasResultSet = outcome.fields.length > 0;
  const updated =
    !hasResultSet && UPDATING_COMMANDS.has(outcome.command) ? (outcome.rowCount ?? 0) : 0;
  const response: ExecuteStatementResponse = {
    numberOfRecordsUpdated: new JsonInteger(String(updated)),
  };
  if (!hasResultSet) return response;
  const { client, catalog } = connection;
  if (request.formatRecordsAs === "JSON" && isSelect(request.sql)) {
    // "In this case, the columnMetadata is null."
    // https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/data-api-json.html
    const rows = await toFormattedRecords(client, catalog, outcome, options);
    response.formattedRecords = toJson(rows);
  } else {
    response.records = await toRecords(client, catalog, outcome, options);
    if (request.includeResultMetadata) {
      response.columnMetadata = await toColumnMetadata(client, catalog, outcome);
    }
  }
  return response;
}

/** BatchExecuteStatement: the statement once per parameter set. */
export async function batchExecuteStatement(
  connection: Connection,
  request: BatchExecuteStatementRequest,
  limits: CallLimits,
): Promise<{ updateResults: { generatedFields: never[] }[] }> {
  const lexable = assertSingleStatement(request.sql);
  const sets = request.parameterSets ?? [];
  const bound = sets.map((set) =>
    lexable ? bindParameters(request.sql, set) : { text: request.sql, values: [] },
  );
  for (const statement of bound) {
    await runWithin(connection, statementQuery(statement.text, statement.values), limits, false);
  }
  // "For Aurora PostgreSQL, the generated fields object is empty."
  // https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/data-api.differences.html
  return { updateResults: bound.map(() => ({ generatedFields: [] })) };
}
