import { DataApiError } from "./protocol.ts";

/**
 * PostgreSQL errors as the service reports them: `DatabaseErrorException` whose message is the
 * PostgreSQL JDBC driver's rendering of the server's error plus the SQLSTATE, e.g.
 * `ERROR: relation "x" does not exist\n  Position: 15; SQLState: 42P01`.
 * https://docs.aws.amazon.com/rdsdataservice/latest/APIReference/API_ExecuteStatement.html
 */

interface ServerError {
  severity?: string;
  code?: string;
  message: string;
  detail?: string;
  hint?: string;
  position?: string;
  where?: string;
}

function isServerError(error: unknown): error is ServerError {
  return (
    error instanceof Error &&
    typeof (error as ServerError).code === "string" &&
    /^[0-9A-Z]{5}$/.test((error as ServerError).code ?? "") &&
    "severity" in error
  );
}

/** pgjdbc's ServerErrorMessage.toString: severity, message, then Detail/Hint/Position/Where. */
export function jdbcMessage(error: ServerError): string {
  let text = `${error.severity ?? "ERROR"}: ${error.message}`;
  if (error.detail) text += `\n  Detail: ${error.detail}`;
  if (error.hint) text += `\n  Hint: ${error.hint}`;
  if (error.position) text += `\n  Position: ${error.position}`;
  if (error.where) text += `\n  Where: ${error.where}`;
  return `${text}; SQLState: ${error.code}`;
}

const CONNECTION_FAILURES = new Set(["ECONNREFUSED", "ECONNRESET", "ENOTFOUND", "ETIMEDOUT"]);

/** Maps whatever running a statement threw to the error the service would answer with. */
export function toDataApiError(error: unknown): DataApiError {
  if (error instanceof DataApiError) return error;
  if (isServerError(error)) return new DataApiError("DatabaseErrorException", jdbcMessage(error));
  const code = (error as { code?: string })?.code;
  if (code && CONNECTION_FAILURES.has(code)) {
    // "The writer instance in the DB cluster isn't available."
    return new DataApiError("DatabaseUnavailableException", "The database is not available.");
  }
  return new DataApiError(
    "InternalServerErrorException",
    `Local Data API endpoint failed: ${(error as Error)?.message ?? String(error)}`,
  );
}
