import pg from "pg";

/** PostgreSQL's text forms that need more than passing through (DateStyle is ISO, see pools). */

// node-postgres' parser for text[] splits any array literal into its element strings, nulls
// and nested arrays included, whatever the element type.
// (pg's typings list only scalar oids, hence the cast.)
const TEXT_ARRAY_OID = 1009 as Parameters<typeof pg.types.getTypeParser>[0];
const parseArrayLiteral = pg.types.getTypeParser(TEXT_ARRAY_OID, "text") as (
  text: string,
) => unknown[];

export type ArrayElement = string | null | ArrayElement[];

export function arrayElements(literal: string): ArrayElement[] {
  return parseArrayLiteral(literal) as ArrayElement[];
}

const TIMESTAMPTZ =
  /^(\d{4,})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)(\.\d+)?([+-])(\d\d)(?::(\d\d))?(?::(\d\d))?( BC)?$/;

/**
 * A `timestamptz` in PostgreSQL's ISO output (in whatever zone the session runs) as the Data API
 * returns it: in UTC, `YYYY-MM-DD HH:MM:SS[.ffffff]`, no `T`, no offset. "For Amazon Aurora
 * PostgreSQL, Data API always returns the Aurora PostgreSQL data type TIMESTAMPTZ in UTC time
 * zone." https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/data-api-operations.html
 */
export function timestamptzInUtc(text: string): string {
  const match = TIMESTAMPTZ.exec(text);
  if (!match) return text; // infinity, -infinity
  const [, year, month, day, hour, minute, second, fraction = "", sign, oh, om = "0", os = "0"] =
    match;
  const bc = match[12] !== undefined;
  // Astronomical year numbering: 1 BC is year 0.
  const astronomicalYear = bc ? 1 - Number(year) : Number(year);
  const offsetSeconds =
    (sign === "-" ? -1 : 1) * (Number(oh) * 3600 + Number(om) * 60 + Number(os));
  const utc = new Date(0);
  utc.setUTCFullYear(astronomicalYear, Number(month) - 1, Number(day));
  utc.setUTCHours(Number(hour), Number(minute), Number(second) - offsetSeconds, 0);
  const utcYear = utc.getUTCFullYear();
  const pad = (value: number, width = 2) => String(value).padStart(width, "0");
  const date = `${pad(utcYear > 0 ? utcYear : 1 - utcYear, 4)}-${pad(utc.getUTCMonth() + 1)}-${pad(utc.getUTCDate())}`;
  const time = `${pad(utc.getUTCHours())}:${pad(utc.getUTCMinutes())}:${pad(utc.getUTCSeconds())}`;
  return `${date} ${time}${fraction}${utcYear > 0 ? "" : " BC"}`;
}
