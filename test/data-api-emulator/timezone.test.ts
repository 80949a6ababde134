import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { type ConformanceStack, startConformanceStack } from "./support.ts";

/**
 * "For Amazon Aurora PostgreSQL, Data API always returns the Aurora PostgreSQL data type
 * TIMESTAMPTZ in UTC time zone" — whatever zone the session runs in. Here the database's own
 * default zone is far from UTC (ALTER DATABASE … SET timezone).
 * https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/data-api-operations.html
 */

const DATABASE_ZONE = "America/New_York";

let db: TestDatabase;
let stack: ConformanceStack;
beforeAll(async () => {
  db = await createTestDatabase();
  // Before the endpoint opens any connection there: the setting applies to new sessions.
  await db.pool.query(`ALTER DATABASE ${db.name} SET timezone TO '${DATABASE_ZONE}'`);
  stack = await startConformanceStack({}, db);
});
afterAll(async () => {
  await stack?.stop();
  await db?.drop();
});

describe("timestamptz in a database whose time zone is not UTC", () => {
  it("runs the session in the database's zone, and still renders timestamptz in UTC", async () => {
    const output = await stack.execute(
      `SELECT current_setting('TimeZone'),
              '2024-01-01 02:30:00.123456+00'::timestamptz,
              '2024-07-01 12:00:00+00'::timestamptz,
              ('2024-07-01 12:00:00+00'::timestamptz)::text`,
    );
    expect(output.records?.[0]).toEqual([
      { stringValue: DATABASE_ZONE },
      // New York is five hours behind in winter: the local rendering is on the previous day.
      { stringValue: "2024-01-01 02:30:00.123456" },
      { stringValue: "2024-07-01 12:00:00" },
      // An explicit cast to text is PostgreSQL's business, in the session's zone.
      { stringValue: "2024-07-01 08:00:00-04" },
    ]);
  });

  it("renders JSON records and arrays in UTC too", async () => {
    const output = await stack.execute(
      "SELECT '2024-07-01 12:00:00+00'::timestamptz AS at, ARRAY['2024-07-01 12:00:00+00'::timestamptz] AS ats",
      { formatRecordsAs: "JSON" },
    );
    expect(JSON.parse(output.formattedRecords ?? "")).toEqual([
      { at: "2024-07-01 12:00:00", ats: ["2024-07-01 12:00:00"] },
    ]);
  });

  it("handles historic offsets with seconds and BC dates", async () => {
    const transactionId = await stack.begin();
    await stack.execute("SET LOCAL TimeZone = 'Asia/Kolkata'", { transactionId });
    const output = await stack.execute(
      `SELECT '0001-01-01 00:00:00+00'::timestamptz, '0044-03-15 12:00:00+00 BC'::timestamptz,
              'infinity'::timestamptz`,
      { transactionId },
    );
    await stack.rollback(transactionId);
    expect(output.records?.[0]).toEqual([
      { stringValue: "0001-01-01 00:00:00" },
      { stringValue: "0044-03-15 12:00:00 BC" },
      { stringValue: "infinity" },
    ]);
  });

  it("renders any instant in any session zone as PostgreSQL's own UTC rendering of it", async () => {
    const { rows } = await db.pool.query<{ name: string }>(
      "SELECT name FROM pg_timezone_names ORDER BY name",
    );
    const zones = rows.map((row) => row.name);
    const instant = fc
      .record({
        date: fc.date({
          min: new Date("0001-01-01T00:00:00Z"),
          max: new Date("9999-12-31T23:59:59Z"),
          noInvalidDate: true,
        }),
        micros: fc.integer({ min: 0, max: 999 }),
      })
      .map(({ date, micros }) => {
        const iso = date.toISOString(); // ±YYYYYY only outside 0000–9999, excluded above
        return `${iso.slice(0, 10)} ${iso.slice(11, 23)}${String(micros).padStart(3, "0")}`;
      });
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...zones), instant, async (zone, utcWallClock) => {
        const transactionId = await stack.begin();
        try {
          await stack.execute("SELECT set_config('TimeZone', :zone, true)", {
            transactionId,
            parameters: [{ name: "zone", value: { stringValue: zone } }],
          });
          const output = await stack.execute(
            `SELECT at, (at AT TIME ZONE 'UTC')::text
               FROM (SELECT :t::timestamp AT TIME ZONE 'UTC' AS at) AS instant`,
            {
              transactionId,
              parameters: [
                { name: "t", value: { stringValue: utcWallClock }, typeHint: "TIMESTAMP" },
              ],
            },
          );
          const [rendered, expected] = output.records?.[0] ?? [];
          expect(rendered?.stringValue).toBe(expected?.stringValue);
        } finally {
          await stack.rollback(transactionId);
        }
      }),
      { numRuns: 60 },
    );
  });
});
