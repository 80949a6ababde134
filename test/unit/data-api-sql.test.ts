import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { loadMigrations } from "../../tools/migrate/runner.ts";
import { leadingKeyword, segments } from "../../tools/sql-lexer.ts";

/**
 * What the function code sends the Data API is boring: every `.sql` file a function imports, as
 * loaded (the same `dataApiStatement` the esbuild bundle uses), has no comment, no `;`, no quoted
 * text containing a `:word` (the service's own scanners for `:name` parameters and for several
 * statements are undocumented), and — when the code reads rows from it with `query()`, i.e. from
 * `formattedRecords`, which the Data API only returns for SELECT — starts with SELECT.
 *
 * The imports and the `query(<sql>` calls are found in the source, so a new statement is covered
 * the moment a function imports it.
 */

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const FUNCTIONS = join(ROOT, "functions");

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith(".ts") ? [path] : [];
  });
}

interface SqlImport {
  /** The .sql file, relative to the repository. */
  file: string;
  /** The function module importing it, relative to the repository. */
  importer: string;
  /** Whether that module reads rows from it with `query(…)`. */
  readsRows: boolean;
}

function sqlImports(): SqlImport[] {
  const found: SqlImport[] = [];
  for (const path of sourceFiles(FUNCTIONS)) {
    const source = readFileSync(path, "utf8");
    const queried = new Set([...source.matchAll(/\.query\(\s*(\w+)/g)].map((match) => match[1]));
    for (const [, name, specifier] of source.matchAll(
      /^import\s+(\w+)\s+from\s+"([^"]+\.sql)";/gm,
    )) {
      found.push({
        file: relative(ROOT, resolve(dirname(path), specifier as string)),
        importer: relative(ROOT, path),
        readsRows: queried.has(name),
      });
    }
  }
  return found;
}

const imports = sqlImports();

/** The file as the functions get it: through the vitest plugin, which mirrors the bundle. */
async function loaded(file: string): Promise<string> {
  return (await import(/* @vite-ignore */ join(ROOT, file))).default as string;
}

describe("SQL the functions send through the Data API", () => {
  it("finds the reporter's statements", () => {
    const files = imports.map((each) => each.file);
    for (const name of [
      "report-lock-watermark",
      "report-window-counts",
      "report-advance-watermark",
      "prune-outcome-counts",
    ]) {
      expect(files).toContain(`sql/queries/${name}.sql`);
    }
    expect(imports.filter((each) => each.readsRows).map((each) => each.file)).toEqual(
      expect.arrayContaining([
        "sql/queries/report-lock-watermark.sql",
        "sql/queries/report-window-counts.sql",
      ]),
    );
  });

  describe.each(imports)("$file (imported by $importer)", ({ file, readsRows }) => {
    it("has no comment and no ';'", async () => {
      const text = await loaded(file);
      expect(text).not.toMatch(/--|\/\*|\*\//);
      expect(text).not.toContain(";");
      expect(text).toBe(text.trim());
    });

    it("has no quoted text containing a :word", async () => {
      const quoted = segments(await loaded(file))
        .filter((segment) => segment.kind === "quoted" && /:[A-Za-z_]/.test(segment.text))
        .map((segment) => segment.text);
      expect(quoted).toEqual([]);
    });

    it.runIf(readsRows)("starts with SELECT, as it is read with query()", async () => {
      expect(leadingKeyword(await loaded(file))).toBe("SELECT");
    });
  });
});

describe("migration statements as `npm run migrate` sends them through the Data API", () => {
  const statements = loadMigrations().flatMap((migration) =>
    migration.statements.map((sql, index) => ({ name: `${migration.name} #${index + 1}`, sql })),
  );

  it.each(statements)("$name: no comment or ';' outside quotes, no quoted :word", ({ sql }) => {
    // Dollar-quoted bodies (DO blocks, functions) keep their own comments and semicolons.
    const pieces = segments(sql);
    expect(pieces.filter((piece) => piece.kind === "comment")).toEqual([]);
    expect(pieces.filter((piece) => piece.kind === "code" && piece.text.includes(";"))).toEqual([]);
    expect(
      pieces
        .filter((piece) => piece.kind === "quoted" && /:[A-Za-z_]/.test(piece.text))
        .map((piece) => piece.text.slice(0, 80)),
    ).toEqual([]);
  });
});
