import { toPositionalParameters } from "../sql-lexer.ts";
import { DataApiError, type SqlParameter, type TypeHint } from "./protocol.ts";

/**
 * Named `:parameters` → PostgreSQL positional ones, each with the type the service binds it as.
 *
 * The service binds through the PostgreSQL JDBC driver, so a Field arrives typed the way JDBC
 * setters type it: stringValue as `varchar` (which is why a bare string compared with a uuid column
 * fails on AWS with "operator does not exist: uuid = character varying", and a typeHint exists),
 * longValue as `int8`, doubleValue as `float8`, booleanValue as `bool`, blobValue as `bytea`.
 * A typeHint sends the string "as an object of" that type instead.
 * https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/data-api-operations.html
 * https://docs.aws.amazon.com/rdsdataservice/latest/APIReference/API_SqlParameter.html
 */

const HINT_TYPES: Record<TypeHint, string> = {
  UUID: "uuid",
  TIMESTAMP: "timestamp",
  DATE: "date",
  TIME: "time",
  DECIMAL: "numeric",
  JSON: "json",
};

// "The accepted format is YYYY-MM-DD" / "HH:MM:SS[.FFF]" / "YYYY-MM-DD HH:MM:SS[.FFF]". The
// fraction may be longer, as java.sql.Timestamp.valueOf takes up to nine digits.
const HINT_FORMATS: Partial<Record<TypeHint, RegExp>> = {
  DATE: /^\d{4}-\d\d-\d\d$/,
  TIME: /^\d\d:\d\d:\d\d(\.\d{1,9})?$/,
  TIMESTAMP: /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{1,9})?$/,
};

export interface BoundStatement {
  text: string;
  values: unknown[];
}

interface Binding {
  value: unknown;
  /** The cast that types the placeholder; none for a NULL without a hint (PostgreSQL infers). */
  type?: string;
}

function bind(parameter: SqlParameter): Binding {
  const { value, typeHint } = parameter;
  const name = parameter.name ?? "";
  if (value === undefined) {
    throw new DataApiError("BadRequestException", `Parameter "${name}" has no value.`);
  }
  if (value.arrayValue !== undefined) {
    // Documented in the API, rejected by the service: https://github.com/aws/aws-sdk/issues/9
    throw new DataApiError("BadRequestException", "Array parameters are not supported.");
  }
  if (value.isNull) return typeHint ? { value: null, type: HINT_TYPES[typeHint] } : { value: null };
  if (value.stringValue !== undefined) {
    if (!typeHint) return { value: value.stringValue, type: "varchar" };
    const format = HINT_FORMATS[typeHint];
    if (format && !format.test(value.stringValue)) {
      throw new DataApiError(
        "BadRequestException",
        `Parameter "${name}" with typeHint ${typeHint} must match the format ${format.source}; got "${value.stringValue}".`,
      );
    }
    return { value: value.stringValue, type: HINT_TYPES[typeHint] };
  }
  if (value.longValue !== undefined) return { value: String(value.longValue), type: "int8" };
  if (value.doubleValue !== undefined) return { value: String(value.doubleValue), type: "float8" };
  if (value.booleanValue !== undefined) return { value: value.booleanValue, type: "bool" };
  if (value.blobValue !== undefined) {
    return { value: Buffer.from(value.blobValue, "base64"), type: "bytea" };
  }
  // isNull: false and nothing else set.
  throw new DataApiError("BadRequestException", `Parameter "${name}" has no value.`);
}

/** Rewrites `sql`'s placeholders and lines up the values; throws as the service does. */
export function bindParameters(sql: string, parameters: SqlParameter[] = []): BoundStatement {
  const byName = new Map<string, Binding>();
  for (const parameter of parameters) {
    const name = parameter.name ?? "";
    if (!byName.has(name)) byName.set(name, bind(parameter));
  }
  const { text, names } = toPositionalParameters(sql, (position, name) => {
    const type = byName.get(name)?.type;
    return type ? `$${position}::${type}` : `$${position}`;
  });
  const missing = names.findIndex((name) => !byName.has(name));
  if (missing !== -1) {
    // pgjdbc's complaint about an unset parameter, as the service passes it on.
    throw new DataApiError(
      "DatabaseErrorException",
      `No value specified for parameter ${missing + 1}.; SQLState: 22023`,
    );
  }
  return { text, values: names.map((name) => byName.get(name)?.value) };
}
