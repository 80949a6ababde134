import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { helpOrUsageError, parseCommandLine } from "../../tools/cli/command-line.ts";

/**
 * Every command a user runs (`npm run token|report|migrate|beat`), as the README shows it: `--help`
 * prints the usage with the exit codes on stdout and exits 0; a wrong flag prints the usage on
 * stderr and exits non-zero, before touching any database.
 */

const run = promisify(execFile);
const ROOT = new URL("../../", import.meta.url).pathname;

/** `npm run -s <script> -- <args>`, never rejecting: the exit code is under test. */
async function npmRun(script: string, args: string[]) {
  try {
    const { stdout, stderr } = await run("npm", ["run", "-s", script, "--", ...args], {
      cwd: ROOT,
      // No stack, no database: a CLI that got past its flags would fail differently (or hang).
      env: { ...process.env, DATABASE_URL: "", DB_CLUSTER_ARN: "" },
      timeout: 60_000,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

const COMMANDS: { script: string; usage: RegExp; usageExit: number }[] = [
  { script: "token", usage: /^usage: npm run token -- --sub <uuid>/m, usageExit: 2 },
  { script: "report", usage: /^usage: npm run report \[-- --format json\|table\]/m, usageExit: 2 },
  { script: "migrate", usage: /^usage: npm run migrate \[-- --grants\]$/m, usageExit: 2 },
  { script: "beat", usage: /^Usage: chat-heartbeat beat --url <base-url>/m, usageExit: 1 },
];

describe.each(COMMANDS)("npm run $script", ({ script, usage, usageExit }) => {
  it("answers --help with the usage and its exit codes on stdout, exit 0", async () => {
    const help = await npmRun(script, ["--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(usage);
    expect(help.stdout).toMatch(/Exit codes: 0 /);
    expect(help.stderr).toBe("");
  }, 60_000);

  it("answers a wrong flag with the error and the usage on stderr, non-zero", async () => {
    const wrong = await npmRun(script, ["--no-such-flag"]);
    expect(wrong.code).toBe(usageExit);
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr).toMatch(/--no-such-flag/);
    expect(wrong.stderr).toMatch(usage);
    expect(wrong.stdout).toBe("");
  }, 60_000);
});

describe("parseCommandLine", () => {
  const options = { format: { type: "string" } } as const;

  it("helps on -h or --help, wherever it stands and whatever else is wrong", () => {
    expect(parseCommandLine(["--bogus", "-h"], options)).toEqual({ kind: "help" });
    expect(helpOrUsageError({ kind: "help" }, "usage: x", 2)).toEqual({
      stream: "stdout",
      text: "usage: x\n",
      exitCode: 0,
    });
  });

  it("turns unknown flags, missing values and positionals into usage errors", () => {
    for (const argv of [["--bogus"], ["--format"], ["table"]]) {
      const line = parseCommandLine(argv, options);
      expect(line.kind, argv.join(" ")).toBe("usage-error");
      expect(helpOrUsageError(line, "usage: x", 2)).toMatchObject({
        stream: "stderr",
        exitCode: 2,
      });
    }
    expect(parseCommandLine(["--format", "table"], options)).toEqual({
      kind: "run",
      values: { format: "table" },
    });
  });
});
