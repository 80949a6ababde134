import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { measurePackagedFunctions, type PackagedFunction } from "../../tools/package-report.ts";
import { log } from "../harness.ts";

type Measured = Omit<PackagedFunction, "name">;

/** Per function (heartbeat, reporter): bundle sizes and the median module initialisation. */
export type ColdStartResult = Record<string, Measured>;

/** Cold start: packaged bundles and module initialisation in fresh processes. */
export function measureColdStart(): ColdStartResult {
  log("cold start: serverless package --stage dev, 11 fresh imports per function");
  const packageDir = mkdtempSync(join(tmpdir(), "chat-heartbeat-bench-"));
  execFileSync("npx", ["serverless", "package", "--stage", "dev", "--package", packageDir], {
    stdio: ["ignore", "ignore", "inherit"],
    env: {
      ...process.env,
      AWS_ACCESS_KEY_ID: "bench",
      AWS_SECRET_ACCESS_KEY: "bench",
      SLS_TELEMETRY_DISABLED: "1",
    },
  });
  const coldStart = Object.fromEntries(
    measurePackagedFunctions(packageDir).map(({ name, ...measured }) => [name, measured]),
  );
  rmSync(packageDir, { recursive: true, force: true });
  return coldStart;
}
