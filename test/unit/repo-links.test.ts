import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, join, normalize, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

/**
 * A clone is self-contained: the contract is docs/, and nothing in the repository points at a
 * file outside it (the old `../shared/` specification) or cites its sections. Patterns are built
 * from pieces so this file does not match them itself (nor the rewrite command in git history).
 */

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const SECTION_CITATION = new RegExp(["SPEC", "\u00a7"].join(" "));
const SPEC_FILE = new RegExp(["SPEC", "md"].join("\\."));
const PARENT_SHARED = /(?:\.\.\/)+shared\//g;
const trackedTextFiles = () =>
  execFileSync("git", ["ls-files", "-z"], { cwd: ROOT })
    .toString()
    .split("\0")
    .filter((file) => file !== "")
    .map((file) => ({ file, text: readFileSync(join(ROOT, file)) }))
    .filter(({ text }) => !text.includes(0))
    .map(({ file, text }) => ({ file, text: text.toString("utf8") }));

/** True when `target`, relative to the file's folder, leaves the repository. */
const escapes = (file: string, target: string) =>
  relative(ROOT, normalize(join(ROOT, dirname(file), target))).startsWith("..");

describe("nothing links outside the repository", () => {
  const files = trackedTextFiles();

  it("reads the tracked files (the checks below see something)", () => {
    expect(files.map(({ file }) => file)).toEqual(
      expect.arrayContaining(["README.md", "docs/api.md", "sql/functions/record_heartbeat.sql"]),
    );
  });

  it("cites no specification section and names no specification file: docs/ is the contract", () => {
    const offenders = files
      .filter(({ text }) => SECTION_CITATION.test(text) || SPEC_FILE.test(text))
      .map(({ file }) => file);
    expect(offenders).toEqual([]);
  });

  it("has no ../shared/ path that leaves the repository", () => {
    const offenders = files.flatMap(({ file, text }) =>
      [...text.matchAll(PARENT_SHARED)]
        .filter((match) => escapes(file, match[0]))
        .map((match) => `${file}: ${match[0]}`),
    );
    expect(offenders).toEqual([]);
    // The check can fail: README.md's old link would.
    expect(escapes("README.md", "../shared/")).toBe(true);
    expect(escapes("functions/heartbeat/handler.ts", "../shared/")).toBe(false);
  });

  it("every relative Markdown link resolves to a tracked file inside the repository", () => {
    const tracked = new Set(files.map(({ file }) => file));
    const trackedDirs = new Set(
      [...tracked].flatMap((file) => {
        const parts = file.split("/");
        return parts.slice(1).map((_, i) => parts.slice(0, i + 1).join("/"));
      }),
    );
    const broken = files
      .filter(({ file }) => file.endsWith(".md"))
      .flatMap(({ file, text }) =>
        [...text.matchAll(/\]\(([^)\s]+)\)/g)]
          .map((match) => match[1] ?? "")
          .filter((target) => !/^[a-z][a-z+.-]*:/i.test(target) && !target.startsWith("#"))
          .filter((target) => {
            const path = target.split("#")[0] ?? "";
            if (escapes(file, path)) return true;
            const resolved = relative(ROOT, normalize(join(ROOT, dirname(file), path)));
            return !tracked.has(resolved) && !trackedDirs.has(resolved.replace(/\/$/, ""));
          })
          .map((target) => `${file}: ${target}`),
      );
    expect(broken).toEqual([]);
  });
});
