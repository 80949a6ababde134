import type pg from "pg";
import type { PgType, Queryable, TypeCatalog, ValueKind } from "./pg-types.ts";
import { DataApiError, JsonInteger } from "./protocol.ts";
import { arrayElements, timestamptzInUtc } from "./text-values.ts";

/**
 * Turns a PostgreSQL result (every value in its text form) into what ExecuteStatement returns:
 * `records` of typed Fields, or `formattedRecords` (JSON), plus `columnMetadata`.
 * Mappings: https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/data-api-operations.html
 * and https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/data-api-json.html
 */

export interface ResultOptions {
  decimalReturnType?: "STRING" | "DOUBLE_OR_LONG";
  longReturnType?: "STRING" | "LONG";
}

type JsonValue = string | number | boolean | null | JsonInteger | JsonValue[];
type FieldValue = Record<string, unknown>;

interface Column {
  field: pg.FieldDef;
  type: PgType;
  element?: PgType;
}

function unsupported(typeName: string): DataApiError {
  // https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/data-api.differences.html
  return new DataApiError(
    "UnsupportedResultException",
    `The result contains the unsupported data type ${typeName}.`,
  );
}

/** One scalar in its JSON form; which Field member carries it is decided by the caller. */
function scalar(kind: ValueKind, text: string, options: ResultOptions, typeName: string) {
  switch (kind) {
    case "long":
      return options.longReturnType === "STRING" ? text : new JsonInteger(text);
    case "double":
      return Number.isFinite(Number(text)) ? Number(text) : text; // "NaN", "Infinity"
    case "boolean":
      return text === "t";
    case "decimal":
      if (options.decimalReturnType !== "DOUBLE_OR_LONG") return text;
      if (/^-?\d+$/.test(text)) return new JsonInteger(text);
      return Number.isFinite(Number(text)) ? Number(text) : text;
    case "blob":
      // bytea's text form is `\x` + hex.
      return Buffer.from(text.slice(2), "hex").toString("base64");
    case "timestamptz":
      return timestamptzInUtc(text);
    case "string":
      return text;
    case "unsupported":
      throw unsupported(typeName);
  }
}

/** Which ArrayValue list carries an array of this element kind. */
function arrayList(kind: ValueKind, options: ResultOptions): string {
  switch (kind) {
    case "long":
      return options.longReturnType === "STRING" ? "stringValues" : "longValues";
    case "double":
      return "doubleValues";
    case "boolean":
      return "booleanValues";
    case "decimal":
      return options.decimalReturnType === "DOUBLE_OR_LONG" ? "doubleValues" : "stringValues";
    default:
      return "stringValues";
  }
}

function toField(column: Column, text: string | null, options: ResultOptions): FieldValue {
  if (text === null) return { isNull: true };
  const { type, element } = column;
  if (element) {
    return {
      arrayValue: { [arrayList(element.kind, options)]: arrayValues(column, text, options) },
    };
  }
  const value = scalar(type.kind, text, options, type.name);
  switch (type.kind) {
    case "long":
      return value instanceof JsonInteger ? { longValue: value } : { stringValue: value };
    case "double":
      return { doubleValue: value };
    case "boolean":
      return { booleanValue: value };
    case "decimal":
      if (options.decimalReturnType !== "DOUBLE_OR_LONG") return { stringValue: value };
      return value instanceof JsonInteger ? { longValue: value } : { doubleValue: value };
    case "blob":
      return { blobValue: value };
    default:
      return { stringValue: value };
  }
}

function arrayValues(column: Column, text: string, options: ResultOptions): JsonValue[] {
  const element = column.element as PgType;
  const items = arrayElements(text);
  // "doesn't support multidimensional array columns"
  // https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/data-api.differences.html
  if (items.some((item) => Array.isArray(item))) throw unsupported(`${element.name}[][]`);
  const kind = element.kind === "blob" ? "string" : element.kind; // bytea[] stays in text form
  return (items as (string | null)[]).map((item) =>
    item === null ? null : (scalar(kind, item, options, element.name) as JsonValue),
  );
}

function toJsonValue(column: Column, text: string | null, options: ResultOptions): JsonValue {
  if (text === null) return null;
  if (column.element) return arrayValues(column, text, options);
  return scalar(column.type.kind, text, options, column.type.name) as JsonValue;
}

async function columnsOf(
  connection: Queryable,
  catalog: TypeCatalog,
  fields: pg.FieldDef[],
): Promise<Column[]> {
  const types = await catalog.resolve(
    connection,
    fields.map((field) => field.dataTypeID),
  );
  return fields.map((field) => {
    const type = types.get(field.dataTypeID) ?? {
      oid: field.dataTypeID,
      name: String(field.dataTypeID),
      kind: "string",
      jdbcType: 1111,
    };
    const element = type.elementOid === undefined ? undefined : types.get(type.elementOid);
    return { field, type, ...(element ? { element } : {}) };
  });
}

/** `records`: one list of Fields per row. */
export async function toRecords(
  connection: Queryable,
  catalog: TypeCatalog,
  result: pg.QueryArrayResult,
  options: ResultOptions,
): Promise<FieldValue[][]> {
  const columns = await columnsOf(connection, catalog, result.fields);
  return result.rows.map((row) =>
    columns.map((column, index) => toField(column, row[index] as string | null, options)),
  );
}

/** `formattedRecords`: a JSON array with one object per row, keyed by column label. */
export async function toFormattedRecords(
  connection: Queryable,
  catalog: TypeCatalog,
  result: pg.QueryArrayResult,
  options: ResultOptions,
): Promise<JsonValue[]> {
  const columns = await columnsOf(connection, catalog, result.fields);
  const labels = columns.map((column) => column.field.name);
  const duplicate = labels.find((label, index) => labels.indexOf(label) !== index);
  if (duplicate !== undefined) {
    // "The RDS Data API returns an error if you request the result set in JSON format and more
    // than one column has the same name." https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/data-api-json.html
    throw new DataApiError(
      "BadRequestException",
      `The result set contains more than one column named "${duplicate}"; JSON records need unique column labels.`,
    );
  }
  return result.rows.map(
    (row) =>
      Object.fromEntries(
        columns.map((column, index) => [
          labels[index],
          toJsonValue(column, row[index] as string | null, options),
        ]),
      ) as unknown as JsonValue,
  );
}

interface AttributeRow {
  table_oid: number;
  attnum: number;
  table_name: string;
  not_null: boolean;
  auto_increment: boolean;
}

/** JDBC `ResultSetMetaData` facts pgjdbc derives from the type and its modifier. */
function sizeOf(type: PgType, typmod: number): { precision: number; scale: number } {
  const unbounded = 2147483647;
  switch (type.name) {
    case "int2":
      return { precision: 5, scale: 0 };
    case "int4":
    case "oid":
      return { precision: 10, scale: 0 };
    case "int8":
      return { precision: 19, scale: 0 };
    case "float4":
      return { precision: 8, scale: 8 };
    case "float8":
      return { precision: 17, scale: 17 };
    case "bool":
      return { precision: 1, scale: 0 };
    case "numeric":
      return typmod === -1
        ? { precision: 0, scale: 0 }
        : { precision: ((typmod - 4) >> 16) & 0xffff, scale: (typmod - 4) & 0xffff };
    case "bpchar":
    case "varchar":
      return { precision: typmod === -1 ? unbounded : typmod - 4, scale: 0 };
    case "date":
      return { precision: 13, scale: 0 };
    case "time":
    case "timestamp":
    case "timestamptz": {
      const fraction = typmod === -1 ? 6 : typmod;
      const base = { time: 8, timestamp: 19, timestamptz: 22 }[type.name] ?? 19;
      return { precision: base + (fraction > 0 ? fraction + 1 : 0), scale: fraction };
    }
    case "uuid":
      return { precision: 36, scale: 0 };
    default:
      return { precision: type.kind === "string" ? unbounded : 0, scale: 0 };
  }
}

const CASE_INSENSITIVE = new Set([
  "oid",
  "int2",
  "int4",
  "int8",
  "float4",
  "float8",
  "numeric",
  "bool",
  "bit",
  "varbit",
  "date",
  "time",
  "timetz",
  "timestamp",
  "timestamptz",
  "interval",
]);

/** `columnMetadata`, one entry per result column. */
export async function toColumnMetadata(
  connection: Queryable,
  catalog: TypeCatalog,
  result: pg.QueryArrayResult,
): Promise<Record<string, unknown>[]> {
  const columns = await columnsOf(connection, catalog, result.fields);
  const fromTables = result.fields.filter((field) => field.tableID !== 0);
  const attributes = new Map<string, AttributeRow>();
  if (fromTables.length > 0) {
    const { rows } = await connection.query<AttributeRow>(
      `SELECT a.attrelid::int AS table_oid, a.attnum::int AS attnum, c.relname::text AS table_name,
              a.attnotnull AS not_null,
              (a.attidentity <> '' OR coalesce(pg_get_expr(d.adbin, d.adrelid), '') LIKE 'nextval(%')
                AS auto_increment
         FROM pg_catalog.pg_attribute a
         JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
         LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        WHERE (a.attrelid, a.attnum) IN (SELECT * FROM unnest($1::oid[], $2::int2[]))`,
      [fromTables.map((field) => field.tableID), fromTables.map((field) => field.columnID)],
    );
    for (const row of rows) attributes.set(`${row.table_oid}/${row.attnum}`, row);
  }
  return columns.map(({ field, type, element }) => {
    const attribute = attributes.get(`${field.tableID}/${field.columnID}`);
    const autoIncrement = attribute?.auto_increment ?? false;
    // pgjdbc names serial columns by their pseudo-type.
    const serialName = { int4: "serial", int8: "bigserial", int2: "smallserial" }[type.name];
    const { precision, scale } = sizeOf(type, field.dataTypeModifier);
    return {
      name: field.name,
      label: field.name,
      type: type.jdbcType,
      typeName: autoIncrement && serialName ? serialName : type.name,
      schemaName: "",
      tableName: attribute?.table_name ?? "",
      isAutoIncrement: autoIncrement,
      isSigned: ["long", "double", "decimal"].includes(type.kind),
      isCurrency: type.name === "money",
      isCaseSensitive: !CASE_INSENSITIVE.has(type.name) && type.kind !== "blob",
      // java.sql.ResultSetMetaData: 0 no nulls, 1 nullable, 2 unknown (an expression).
      nullable: attribute ? (attribute.not_null ? 0 : 1) : 2,
      precision,
      scale,
      arrayBaseColumnType: element ? element.jdbcType : 0,
    };
  });
}
