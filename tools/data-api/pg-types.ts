import type pg from "pg";

/**
 * What the endpoint needs to know about a PostgreSQL type: how its values travel in a `Field`, and
 * what `ColumnMetadata` says about it. The real service reads results through the PostgreSQL JDBC
 * driver (its error messages are that driver's), so JDBC type codes and names follow pgjdbc.
 * https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/data-api-operations.html
 */

/** How a value is represented in a Field / in `formattedRecords`. */
export type ValueKind =
  | "long" // INTEGER, SMALLINT, BIGINT → longValue
  | "double" // REAL, DOUBLE → doubleValue
  | "boolean" // BOOLEAN, BIT → booleanValue
  | "decimal" // NUMERIC → stringValue (or a number with DOUBLE_OR_LONG)
  | "blob" // BYTEA → blobValue (base64)
  | "timestamptz" // → stringValue, always in UTC
  | "string" // everything else → stringValue, PostgreSQL's text form
  | "unsupported"; // geometric and monetary types

export interface PgType {
  oid: number;
  name: string;
  kind: ValueKind;
  /** java.sql.Types code, as pgjdbc reports it. */
  jdbcType: number;
  /** Set for array types: the element type's oid. */
  elementOid?: number;
}

const JDBC = {
  BIT: -7,
  SMALLINT: 5,
  INTEGER: 4,
  BIGINT: -5,
  REAL: 7,
  DOUBLE: 8,
  NUMERIC: 2,
  CHAR: 1,
  VARCHAR: 12,
  BINARY: -2,
  DATE: 91,
  TIME: 92,
  TIMESTAMP: 93,
  SQLXML: 2009,
  ARRAY: 2003,
  OTHER: 1111,
} as const;

/** By base type name (`pg_type.typname`). Names not listed are strings of JDBC type OTHER. */
const BY_NAME: Record<string, [ValueKind, number]> = {
  bool: ["boolean", JDBC.BIT],
  bit: ["string", JDBC.BIT],
  int2: ["long", JDBC.SMALLINT],
  int4: ["long", JDBC.INTEGER],
  int8: ["long", JDBC.BIGINT],
  oid: ["long", JDBC.BIGINT],
  float4: ["double", JDBC.REAL],
  float8: ["double", JDBC.DOUBLE],
  numeric: ["decimal", JDBC.NUMERIC],
  bytea: ["blob", JDBC.BINARY],
  bpchar: ["string", JDBC.CHAR],
  char: ["string", JDBC.CHAR],
  varchar: ["string", JDBC.VARCHAR],
  text: ["string", JDBC.VARCHAR],
  name: ["string", JDBC.VARCHAR],
  date: ["string", JDBC.DATE],
  time: ["string", JDBC.TIME],
  timetz: ["string", JDBC.TIME],
  timestamp: ["string", JDBC.TIMESTAMP],
  timestamptz: ["timestamptz", JDBC.TIMESTAMP],
  xml: ["string", JDBC.SQLXML],
  // "doesn't support certain PostgreSQL data types, including geometric and monetary types"
  // https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/data-api.differences.html
  money: ["unsupported", JDBC.DOUBLE],
  point: ["unsupported", JDBC.OTHER],
  line: ["unsupported", JDBC.OTHER],
  lseg: ["unsupported", JDBC.OTHER],
  box: ["unsupported", JDBC.OTHER],
  path: ["unsupported", JDBC.OTHER],
  polygon: ["unsupported", JDBC.OTHER],
  circle: ["unsupported", JDBC.OTHER],
};

interface CatalogRow {
  oid: number;
  typname: string;
  typelem: number;
  typcategory: string;
}

function describe(row: CatalogRow): PgType {
  if (row.typcategory === "A" && row.typelem !== 0) {
    return {
      oid: row.oid,
      name: row.typname,
      kind: "string",
      jdbcType: JDBC.ARRAY,
      elementOid: row.typelem,
    };
  }
  const [kind, jdbcType] = BY_NAME[row.typname] ?? ["string", JDBC.OTHER];
  return { oid: row.oid, name: row.typname, kind, jdbcType };
}

/** Something that runs a query: a pool or the connection a statement ran on. */
export type Queryable = Pick<pg.ClientBase, "query">;

/**
 * Type descriptions of one database, looked up in `pg_type` on first sight and kept: user types
 * (enums, domains' arrays) have per-database oids. Look-ups run on the statement's own connection
 * so types created earlier in the same transaction are visible.
 */
export class TypeCatalog {
  private readonly known = new Map<number, PgType>();

  async resolve(connection: Queryable, oids: Iterable<number>): Promise<Map<number, PgType>> {
    const wanted = new Set(oids);
    // Arrays need their element type too: at most two rounds (an array's element is no array).
    for (let round = 0; round < 2; round++) {
      for (const oid of wanted) {
        const elementOid = this.known.get(oid)?.elementOid;
        if (elementOid !== undefined) wanted.add(elementOid);
      }
      const missing = [...wanted].filter((oid) => !this.known.has(oid));
      if (missing.length === 0) break;
      const { rows } = await connection.query<CatalogRow>(
        `SELECT oid::int AS oid, typname::text AS typname,
                typelem::int AS typelem, typcategory::text AS typcategory
           FROM pg_catalog.pg_type WHERE oid = ANY($1::oid[])`,
        [missing],
      );
      for (const row of rows) this.known.set(row.oid, describe(row));
    }
    const resolved = new Map<number, PgType>();
    for (const oid of wanted) {
      const type = this.known.get(oid);
      if (type) resolved.set(oid, type);
    }
    return resolved;
  }
}
