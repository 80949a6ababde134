import { describe, expect, it } from "vitest";
import {
  dataApiStatement,
  leadingKeyword,
  splitStatements,
  toPositionalParameters,
} from "../../tools/sql-lexer.ts";

describe("splitStatements", () => {
  it("splits on semicolons outside strings, comments and dollar quotes", () => {
    const script = `
      -- a comment; with a semicolon
      CREATE TABLE a (x text DEFAULT 'a;b');
      /* block; /* nested; */ still comment */
      DO $body$ BEGIN PERFORM 1; PERFORM 2; END $body$;
      SELECT "we;ird" FROM a;
      -- trailing comment only
    `;
    expect(splitStatements(script)).toEqual([
      "-- a comment; with a semicolon\n      CREATE TABLE a (x text DEFAULT 'a;b')",
      "/* block; /* nested; */ still comment */\n      DO $body$ BEGIN PERFORM 1; PERFORM 2; END $body$",
      'SELECT "we;ird" FROM a',
    ]);
  });

  it("honours backslash escapes in E'' strings only", () => {
    expect(splitStatements("SELECT E'it\\'s; fine'; SELECT 'a\\'; SELECT 2")).toEqual([
      "SELECT E'it\\'s; fine'",
      "SELECT 'a\\'",
      "SELECT 2",
    ]);
    expect(toPositionalParameters("SELECT e'\\' :x', :y").names).toEqual(["y"]);
  });

  it("keeps a final statement without a semicolon and rejects unterminated quotes", () => {
    expect(splitStatements("SELECT 1; SELECT 2")).toEqual(["SELECT 1", "SELECT 2"]);
    expect(() => splitStatements("SELECT 'oops")).toThrow(/unterminated/);
    expect(() => splitStatements("DO $$ BEGIN")).toThrow(/unterminated/);
  });
});

describe("toPositionalParameters", () => {
  it("numbers each distinct name once and leaves casts, strings and comments alone", () => {
    const { text, names } = toPositionalParameters(
      "SELECT :a::uuid, ':b', \":c\", :a, x::text -- :d\n, $$ :e $$, :f_2",
    );
    expect(text).toBe("SELECT $1::uuid, ':b', \":c\", $1, x::text -- :d\n, $$ :e $$, $2");
    expect(names).toEqual(["a", "f_2"]);
  });

  it("lets the caller decide what a placeholder becomes", () => {
    const { text } = toPositionalParameters("SELECT :a, :b, :a", (position, name) =>
      name === "a" ? `$${position}::uuid` : `$${position}`,
    );
    expect(text).toBe("SELECT $1::uuid, $2, $1::uuid");
  });

  it("does not mistake array slices or time literals inside strings for parameters", () => {
    expect(toPositionalParameters("SELECT arr[1:2], '10:00:00'").names).toEqual([]);
  });
});

describe("dataApiStatement", () => {
  it("drops comments, blank lines, trailing blanks and the final semicolon", () => {
    const file = [
      "-- What this does.",
      "-- Parameters: id (uuid).",
      "SELECT a, -- the a",
      "  /* the b */ b",
      "",
      "FROM t /* nested /* comment */ here */WHERE id = :id::uuid   ",
      "  ;  -- done",
      "",
    ].join("\n");
    expect(dataApiStatement(file)).toBe("SELECT a,\n   b\nFROM t WHERE id = :id::uuid");
  });

  it("leaves quotes and dollar quotes exactly as written", () => {
    const sql = `SELECT '-- not a comment;\n\n', "a /* b */", $f$ -- body;\n\n $f$, E'\\' --'; -- gone`;
    expect(dataApiStatement(sql)).toBe(
      `SELECT '-- not a comment;\n\n', "a /* b */", $f$ -- body;\n\n $f$, E'\\' --'`,
    );
  });

  it("keeps tokens a comment separated apart", () => {
    expect(dataApiStatement("SELECT 1/* x */AS n")).toBe("SELECT 1 AS n");
    expect(dataApiStatement("SELECT 1--x\nAS n")).toBe("SELECT 1\nAS n");
  });

  it("refuses a text with no statement or with more than one, naming its source", () => {
    expect(() => dataApiStatement("-- only a comment\n;", "x.sql")).toThrow(
      /x\.sql holds no SQL statement/,
    );
    expect(() => dataApiStatement("SELECT 1; SELECT 2", "y.sql")).toThrow(
      /y\.sql holds more than one SQL statement/,
    );
    expect(() => dataApiStatement("SELECT 1;;")).toThrow(/more than one/);
  });
});

describe("leadingKeyword", () => {
  it("is the first word after whitespace and comments", () => {
    expect(leadingKeyword("  -- c\n /* d */ select 1")).toBe("SELECT");
    expect(leadingKeyword("WITH x AS (SELECT 1) SELECT * FROM x")).toBe("WITH");
    expect(leadingKeyword("UPDATE t SET a = 1 RETURNING a")).toBe("UPDATE");
    expect(leadingKeyword("(SELECT 1)")).toBe("");
    expect(leadingKeyword("-- nothing")).toBe("");
  });
});
