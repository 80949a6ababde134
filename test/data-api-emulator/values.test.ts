import {
  BadRequestException,
  DatabaseErrorException,
  type SqlParameter,
  UnsupportedResultException,
} from "@aws-sdk/client-rds-data";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ConformanceStack, rejectionOf, startConformanceStack } from "./support.ts";

/**
 * Values in both directions: every Field member and typeHint as a parameter, every result type as
 * the Field member (or JSON value) the service returns it as, column metadata, update counts.
 */

let stack: ConformanceStack;
beforeAll(async () => {
  stack = await startConformanceStack();
  await stack.db.pool.query(`
    CREATE TYPE mood AS ENUM ('calm', 'busy');
    CREATE TABLE typed_values (
      id int PRIMARY KEY, t text, vc varchar(20), i int4, s int2, b int8, r float4, d float8,
      bl bool, by bytea, u uuid, ts timestamp, tstz timestamptz, dt date, tm time,
      dec numeric(12,4), js json, jsb jsonb, m mood
    );
    CREATE TABLE counted (id serial PRIMARY KEY, n int NOT NULL);
  `);
});
afterAll(async () => {
  await stack?.stop();
});

const UUID = "6f1c1e0e-8d6b-4c43-9a57-2f0f3b1a0c11";
const BYTES = new Uint8Array([0, 1, 2, 127, 255]);

const parameters: SqlParameter[] = [
  { name: "t", value: { stringValue: "héllo 'quoted'; :not_a_parameter" } },
  { name: "vc", value: { stringValue: "short" } },
  { name: "i", value: { longValue: 2147483647 } },
  { name: "s", value: { longValue: -32768 } },
  { name: "b", value: { longValue: Number.MAX_SAFE_INTEGER } },
  { name: "r", value: { doubleValue: 1.5 } },
  { name: "d", value: { doubleValue: -0.000123 } },
  { name: "bl", value: { booleanValue: true } },
  { name: "by", value: { blobValue: BYTES } },
  { name: "u", value: { stringValue: UUID }, typeHint: "UUID" },
  { name: "ts", value: { stringValue: "2024-02-29 23:59:59.123456" }, typeHint: "TIMESTAMP" },
  { name: "tstz", value: { stringValue: "2024-02-29 23:59:59.123" }, typeHint: "TIMESTAMP" },
  { name: "dt", value: { stringValue: "2024-02-29" }, typeHint: "DATE" },
  { name: "tm", value: { stringValue: "13:14:15.5" }, typeHint: "TIME" },
  { name: "dec", value: { stringValue: "12345678.1234" }, typeHint: "DECIMAL" },
  { name: "js", value: { stringValue: '{"a": [1, 2]}' }, typeHint: "JSON" },
  { name: "jsb", value: { stringValue: '{"b":true}' }, typeHint: "JSON" },
  { name: "m", value: { stringValue: "busy" } },
];
const COLUMNS = parameters.map((parameter) => parameter.name as string);
const INSERT = `INSERT INTO typed_values (id, ${COLUMNS.join(", ")})
  VALUES (:id, ${COLUMNS.map((name) => (name === "m" ? ":m::mood" : `:${name}`)).join(", ")})`;

describe("parameters", () => {
  it("round-trip every Field member and every typeHint", async () => {
    const inserted = await stack.execute(INSERT, {
      parameters: [{ name: "id", value: { longValue: 1 } }, ...parameters],
    });
    expect(inserted.numberOfRecordsUpdated).toBe(1);

    // What PostgreSQL stored, read without the Data API.
    const { rows } = await stack.db.pool.query(
      `SELECT t, vc, i, s, b::text AS b, r, d, bl, encode(by, 'hex') AS by, u::text AS u,
              ts::text AS ts, tstz = '2024-02-29 23:59:59.123'::timestamp::timestamptz AS tstz_ok,
              (tstz AT TIME ZONE 'UTC')::text AS tstz_utc,
              dt::text AS dt, tm::text AS tm, dec::text AS dec, js::text AS js, jsb::text AS jsb,
              m::text AS m
         FROM typed_values WHERE id = 1`,
    );
    expect(rows[0]).toEqual({
      t: "héllo 'quoted'; :not_a_parameter",
      vc: "short",
      i: 2147483647,
      s: -32768,
      b: String(Number.MAX_SAFE_INTEGER),
      r: 1.5,
      d: -0.000123,
      bl: true,
      by: Buffer.from(BYTES).toString("hex"),
      u: UUID,
      ts: "2024-02-29 23:59:59.123456",
      // A TIMESTAMP assigned to a timestamptz column is read in the session's time zone.
      tstz_ok: true,
      tstz_utc: expect.any(String),
      dt: "2024-02-29",
      tm: "13:14:15.5",
      dec: "12345678.1234",
      js: '{"a": [1, 2]}',
      jsb: '{"b": true}',
      m: "busy",
    });

    const read = await stack.execute(`SELECT ${COLUMNS.join(", ")} FROM typed_values WHERE id = 1`);
    const [record] = read.records ?? [];
    expect(record).toEqual([
      { stringValue: "héllo 'quoted'; :not_a_parameter" },
      { stringValue: "short" },
      { longValue: 2147483647 },
      { longValue: -32768 },
      { longValue: Number.MAX_SAFE_INTEGER },
      { doubleValue: 1.5 },
      { doubleValue: -0.000123 },
      { booleanValue: true },
      { blobValue: BYTES },
      { stringValue: UUID },
      { stringValue: "2024-02-29 23:59:59.123456" },
      { stringValue: rows[0].tstz_utc },
      { stringValue: "2024-02-29" },
      { stringValue: "13:14:15.5" },
      { stringValue: "12345678.1234" },
      { stringValue: '{"a": [1, 2]}' },
      { stringValue: '{"b": true}' },
      { stringValue: "busy" },
    ]);
  });

  it("bind isNull as NULL, with or without a typeHint", async () => {
    await stack.execute(INSERT, {
      parameters: [
        { name: "id", value: { longValue: 2 } },
        ...parameters.map((parameter) => ({ ...parameter, value: { isNull: true } })),
      ],
    });
    const read = await stack.execute(`SELECT ${COLUMNS.join(", ")} FROM typed_values WHERE id = 2`);
    expect(read.records?.[0]).toEqual(COLUMNS.map(() => ({ isNull: true })));
  });

  it("send an untyped stringValue as varchar, so a uuid column needs the UUID hint (as on AWS)", async () => {
    const insert = await rejectionOf(
      stack.execute("INSERT INTO typed_values (id, u) VALUES (3, :u)", {
        parameters: [{ name: "u", value: { stringValue: UUID } }],
      }),
    );
    expect(insert).toBeInstanceOf(DatabaseErrorException);
    expect(insert.message).toMatch(
      /^ERROR: column "u" is of type uuid but expression is of type character varying\n {2}Hint: .+\n {2}Position: \d+; SQLState: 42804$/,
    );
    const compare = await rejectionOf(
      stack.execute("SELECT 1 FROM typed_values WHERE u = :u", {
        parameters: [{ name: "u", value: { stringValue: UUID } }],
      }),
    );
    expect(compare.message).toMatch(/operator does not exist: uuid = character varying/);
  });

  it("type longValue as bigint and doubleValue as double precision", async () => {
    const output = await stack.execute("SELECT pg_typeof(:l)::text, pg_typeof(:d)::text", {
      parameters: [
        { name: "l", value: { longValue: 1 } },
        { name: "d", value: { doubleValue: 1 } },
      ],
    });
    expect(output.records?.[0]).toEqual([
      { stringValue: "bigint" },
      { stringValue: "double precision" },
    ]);
  });

  it("give a name used twice one value, and fail a name without one", async () => {
    const twice = await stack.execute("SELECT :a + :a", {
      parameters: [{ name: "a", value: { longValue: 21 } }],
    });
    expect(twice.records?.[0]).toEqual([{ longValue: 42 }]);
    const missing = await rejectionOf(stack.execute("SELECT :nothing"));
    expect(missing).toBeInstanceOf(DatabaseErrorException);
    expect(missing.message).toMatch(/No value specified for parameter 1/);
  });

  it("reject typeHint strings outside the documented formats", async () => {
    for (const [typeHint, stringValue] of [
      ["TIMESTAMP", "2024-01-01T00:00:00Z"],
      ["DATE", "2024/01/01"],
      ["TIME", "1:02 pm"],
    ] as const) {
      const error = await rejectionOf(
        stack.execute("SELECT :v", {
          parameters: [{ name: "v", value: { stringValue }, typeHint }],
        }),
      );
      expect(error, `${typeHint} ${stringValue}`).toBeInstanceOf(BadRequestException);
    }
  });

  it("reject array parameters, as the service does", async () => {
    const error = await rejectionOf(
      stack.execute("SELECT :ids", {
        parameters: [{ name: "ids", value: { arrayValue: { longValues: [1, 2] } } }],
      }),
    );
    expect(error).toBeInstanceOf(BadRequestException);
    expect(error.message).toBe("Array parameters are not supported.");
  });
});

describe("results", () => {
  it("come back in the Field member the service uses for each type", async () => {
    const output = await stack.execute(`
      SELECT 7::int2, 7::int4, 7::int8, 0.25::float4, 0.5::float8, 'NaN'::float8,
             12.30::numeric, true, '\\x68690a'::bytea, 'x'::char(3), 'y'::varchar, 'z'::text,
             '${UUID}'::uuid, '{"k": 1}'::json, '{"k": 1}'::jsonb, 'calm'::mood,
             '2024-01-02'::date, '03:04:05.678'::time, '2024-01-02 03:04:05'::timestamp,
             NULL::int, '1 day 02:00:00'::interval, '10.0.0.1'::inet`);
    expect(output.records?.[0]).toEqual([
      { longValue: 7 },
      { longValue: 7 },
      { longValue: 7 },
      { doubleValue: 0.25 },
      { doubleValue: 0.5 },
      { doubleValue: Number.NaN },
      { stringValue: "12.30" },
      { booleanValue: true },
      { blobValue: new Uint8Array([0x68, 0x69, 0x0a]) },
      { stringValue: "x  " },
      { stringValue: "y" },
      { stringValue: "z" },
      { stringValue: UUID },
      { stringValue: '{"k": 1}' },
      { stringValue: '{"k": 1}' },
      { stringValue: "calm" },
      { stringValue: "2024-01-02" },
      { stringValue: "03:04:05.678" },
      { stringValue: "2024-01-02 03:04:05" },
      { isNull: true },
      { stringValue: "1 day 02:00:00" },
      { stringValue: "10.0.0.1" },
    ]);
  });

  it("return arrays as arrayValue of the element's list", async () => {
    const output = await stack.execute(`
      SELECT ARRAY[1, NULL, 3]::int8[], ARRAY['a', 'b c', 'd"e']::text[], ARRAY[true, false],
             ARRAY[1.5, 2]::float8[], ARRAY[1.25]::numeric[], ARRAY['${UUID}']::uuid[],
             '{}'::int4[], ARRAY['2024-01-02 03:04:05+00']::timestamptz[]`);
    expect(output.records?.[0]).toEqual([
      { arrayValue: { longValues: [1, null, 3] } },
      { arrayValue: { stringValues: ["a", "b c", 'd"e'] } },
      { arrayValue: { booleanValues: [true, false] } },
      { arrayValue: { doubleValues: [1.5, 2] } },
      { arrayValue: { stringValues: ["1.25"] } },
      { arrayValue: { stringValues: [UUID] } },
      { arrayValue: { longValues: [] } },
      { arrayValue: { stringValues: ["2024-01-02 03:04:05"] } },
    ]);
  });

  it("refuse multidimensional arrays and the geometric and monetary types", async () => {
    for (const expression of ["'{{1,2},{3,4}}'::int4[]", "12.5::money", "point(1, 2)"]) {
      const error = await rejectionOf(stack.execute(`SELECT ${expression}`));
      expect(error, expression).toBeInstanceOf(UnsupportedResultException);
      expect(error.message).toMatch(/^The result contains the unsupported data type /);
    }
  });

  it("keep every digit of a bigint when asked for strings, or in JSON text", async () => {
    const sql = "SELECT 9007199254740993::int8 AS big, (-9223372036854775808)::int8 AS low";
    const asStrings = await stack.execute(sql, { resultSetOptions: { longReturnType: "STRING" } });
    expect(asStrings.records?.[0]).toEqual([
      { stringValue: "9007199254740993" },
      { stringValue: "-9223372036854775808" },
    ]);
    const asJson = await stack.execute(sql, { formatRecordsAs: "JSON" });
    expect(asJson.formattedRecords).toBe('[{"big":9007199254740993,"low":-9223372036854775808}]');
  });

  it("return decimals as numbers with DOUBLE_OR_LONG", async () => {
    const output = await stack.execute("SELECT 12.5::numeric, 42::numeric, ARRAY[0.5]::numeric[]", {
      resultSetOptions: { decimalReturnType: "DOUBLE_OR_LONG" },
    });
    expect(output.records?.[0]).toEqual([
      { doubleValue: 12.5 },
      { longValue: 42 },
      { arrayValue: { doubleValues: [0.5] } },
    ]);
  });

  it("format records as JSON when asked, with no records and no column metadata", async () => {
    const output = await stack.execute(
      `SELECT 1 AS n, 'text' AS s, NULL AS nothing, true AS yes, 2.5::float8 AS f,
              3.10::numeric AS dec, '\\x6869'::bytea AS blob, ARRAY[1, 2] AS list,
              '{"a":1}'::jsonb AS doc`,
      { formatRecordsAs: "JSON", includeResultMetadata: true },
    );
    expect(output.records).toBeUndefined();
    expect(output.columnMetadata).toBeUndefined();
    expect(JSON.parse(output.formattedRecords ?? "")).toEqual([
      {
        n: 1,
        s: "text",
        nothing: null,
        yes: true,
        f: 2.5,
        dec: "3.10",
        blob: Buffer.from("hi").toString("base64"),
        list: [1, 2],
        doc: '{"a": 1}',
      },
    ]);
  });

  it("format records as JSON for a SELECT only, whatever comments and blanks lead it", async () => {
    const output = await stack.execute("\n  -- why\n  /* and how */ select 1 AS n", {
      formatRecordsAs: "JSON",
    });
    expect(output.formattedRecords).toBe('[{"n":1}]');
    const empty = await stack.execute("SELECT 1 AS n WHERE false", { formatRecordsAs: "JSON" });
    expect(empty.formattedRecords).toBe("[]");
    expect(empty.records).toBeUndefined();
  });

  it.each([
    ["INSERT … RETURNING", "INSERT INTO counted (n) VALUES (7) RETURNING n"],
    ["UPDATE … RETURNING", "UPDATE counted SET n = n WHERE n = 7 RETURNING n"],
    ["WITH … SELECT", "WITH x AS (SELECT 7 AS n) SELECT n FROM x"],
    [
      "WITH … DELETE … RETURNING",
      "WITH gone AS (DELETE FROM counted WHERE n = 7 RETURNING n) SELECT n FROM gone",
    ],
    ["VALUES", "VALUES (7)"],
    ["(SELECT …)", "(SELECT 7 AS n)"],
  ])(
    "ignore formatRecordsAs for a statement that is not a SELECT: %s answers records",
    async (_name, sql) => {
      const output = await stack.execute(sql, {
        formatRecordsAs: "JSON",
        includeResultMetadata: true,
      });
      expect(output.formattedRecords).toBeUndefined();
      expect(output.records).toEqual([[{ longValue: 7 }]]);
      expect(output.columnMetadata?.map((column) => column.typeName)).toEqual(["int4"]);
      expect(output.numberOfRecordsUpdated).toBe(0);
    },
  );

  it("ignore formatRecordsAs for a statement without a result set", async () => {
    const output = await stack.execute("UPDATE counted SET n = n WHERE false", {
      formatRecordsAs: "JSON",
    });
    expect(output).toMatchObject({ numberOfRecordsUpdated: 0 });
    expect(output.formattedRecords).toBeUndefined();
    expect(output.records).toBeUndefined();
  });

  it("refuse JSON records when two columns share a label", async () => {
    const error = await rejectionOf(
      stack.execute("SELECT 1 AS a, 2 AS a", { formatRecordsAs: "JSON" }),
    );
    expect(error).toBeInstanceOf(BadRequestException);
  });

  it("describe columns with includeResultMetadata", async () => {
    await stack.db.pool.query(`
      CREATE TABLE described (
        id serial PRIMARY KEY, code varchar(20) NOT NULL, amount numeric(12, 4),
        seen timestamptz, ident bigint GENERATED ALWAYS AS IDENTITY, flags bool[]
      )`);
    const output = await stack.execute(
      "SELECT id, code, amount, seen, ident, flags, 1 + 1 AS two FROM described",
      { includeResultMetadata: true },
    );
    expect(output.records).toEqual([]);
    const metadata = output.columnMetadata ?? [];
    expect(metadata.map((column) => [column.name, column.label, column.typeName])).toEqual([
      ["id", "id", "serial"],
      ["code", "code", "varchar"],
      ["amount", "amount", "numeric"],
      ["seen", "seen", "timestamptz"],
      // pgjdbc names every auto-increment integer column by its serial pseudo-type.
      ["ident", "ident", "bigserial"],
      ["flags", "flags", "_bool"],
      ["two", "two", "int4"],
    ]);
    // java.sql.Types codes as the PostgreSQL JDBC driver reports them.
    const Types = {
      INTEGER: 4,
      VARCHAR: 12,
      NUMERIC: 2,
      TIMESTAMP: 93,
      BIGINT: -5,
      ARRAY: 2003,
      BIT: -7,
    };
    expect(metadata.map((column) => column.type)).toEqual([
      Types.INTEGER,
      Types.VARCHAR,
      Types.NUMERIC,
      Types.TIMESTAMP,
      Types.BIGINT,
      Types.ARRAY,
      Types.INTEGER,
    ]);
    expect(metadata[5]?.arrayBaseColumnType).toBe(Types.BIT);
    // ResultSetMetaData.columnNoNulls 0, columnNullable 1, columnNullableUnknown 2.
    expect(metadata.map((column) => column.nullable)).toEqual([0, 0, 1, 1, 0, 1, 2]);
    expect(metadata.map((column) => column.isAutoIncrement)).toEqual([
      true,
      false,
      false,
      false,
      true,
      false,
      false,
    ]);
    expect(metadata.map((column) => column.tableName)).toEqual([
      "described",
      "described",
      "described",
      "described",
      "described",
      "described",
      "",
    ]);
    expect(metadata[1]).toMatchObject({ precision: 20, isCaseSensitive: true, isSigned: false });
    expect(metadata[2]).toMatchObject({ precision: 12, scale: 4, isSigned: true });
  });

  it("count updated records for DML only", async () => {
    const insert = await stack.execute("INSERT INTO counted (n) SELECT generate_series(1, 5)");
    expect(insert).toMatchObject({ numberOfRecordsUpdated: 5 });
    expect(insert.records).toBeUndefined();
    const update = await stack.execute("UPDATE counted SET n = n * 10 WHERE n > :min", {
      parameters: [{ name: "min", value: { longValue: 2 } }],
    });
    expect(update.numberOfRecordsUpdated).toBe(3);
    // A statement answering rows has no update count (JDBC's execute(): a result set, count -1).
    const returning = await stack.execute("DELETE FROM counted WHERE n >= 40 RETURNING n");
    expect(returning.numberOfRecordsUpdated).toBe(0);
    expect(returning.records).toEqual([[{ longValue: 40 }], [{ longValue: 50 }]]);
    const { rows } = await stack.db.pool.query("SELECT count(*)::int AS n FROM counted");
    expect(rows[0].n).toBe(3);
    const select = await stack.execute("SELECT count(*) FROM counted");
    expect(select.numberOfRecordsUpdated).toBe(0);
    expect(select.records).toEqual([[{ longValue: 3 }]]);
    const ddl = await stack.execute("CREATE INDEX counted_n ON counted (n)");
    expect(ddl.numberOfRecordsUpdated).toBe(0);
    expect(ddl.generatedFields).toBeUndefined();
  });
});
