import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync, statSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * Prints each packaged function's size (zipped and unzipped) and module initialisation time:
 * a fresh `node` importing the unzipped bundle with the function's environment, median of 11.
 * Usage: tsx infra/package-report.ts <serverless package dir>
 */
const packageDir = process.argv[2];
if (!packageDir) throw new Error("usage: tsx infra/package-report.ts <package dir>");
const root = process.cwd();
const env = {
  ...process.env,
  DB_CLUSTER_ARN: "arn:aws:rds:us-east-1:000000000000:cluster:report",
  DB_SECRET_ARN: "arn:aws:secretsmanager:us-east-1:000000000000:secret:report",
  DB_NAME: "report",
  CHAT_TOKEN_SECRET: "package-report-secret-of-at-least-32-bytes",
  POWERTOOLS_TRACE_ENABLED: "false",
};

for (const zip of readdirSync(packageDir).filter((file) => file.endsWith(".zip"))) {
  const fn = zip.replace(/\.zip$/, "");
  const dir = mkdtempSync(join(tmpdir(), `chat-heartbeat-${fn}-`));
  try {
    execFileSync("unzip", ["-q", join(packageDir, zip), "-d", dir]);
    // Runtime-provided modules (the SSM / Secrets Manager clients) resolve from our node_modules.
    symlinkSync(join(root, "node_modules"), join(dir, "node_modules"));
    const bundleDir = join(dir, "functions", fn);
    const bundle = join(
      bundleDir,
      readdirSync(bundleDir).find((f) => f.startsWith("handler.")) ?? "",
    );
    const inits: number[] = [];
    for (let run = 0; run < 11; run++) {
      const out = execFileSync(
        process.execPath,
        [
          "--no-warnings",
          "--input-type=module",
          "-e",
          `const t=performance.now();await import(${JSON.stringify(bundle)});console.log(performance.now()-t)`,
        ],
        { env, cwd: dir },
      );
      inits.push(Number(out.toString().trim()));
    }
    inits.sort((a, b) => a - b);
    console.log(
      `${fn}: ${statSync(join(packageDir, zip)).size} bytes zipped, ${statSync(bundle).size} bytes bundle, init ${inits[5]?.toFixed(1)} ms (median of 11)`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
