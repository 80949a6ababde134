import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync, statSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

export interface PackagedFunction {
  name: string;
  zippedBytes: number;
  bundleBytes: number;
  /** A fresh `node` importing the unzipped bundle with the function's environment, median of 11. */
  initMedianMs: number;
}

const INIT_ENV = {
  DB_CLUSTER_ARN: "arn:aws:rds:us-east-1:000000000000:cluster:report",
  DB_SECRET_ARN: "arn:aws:secretsmanager:us-east-1:000000000000:secret:report",
  DB_NAME: "report",
  CHAT_TOKEN_SECRET: "package-report-secret-of-at-least-32-bytes",
  POWERTOOLS_TRACE_ENABLED: "false",
};

/** Size and module initialisation time of each function in a `serverless package` directory. */
export function measurePackagedFunctions(
  packageDir: string,
  root = process.cwd(),
): PackagedFunction[] {
  return readdirSync(packageDir)
    .filter((file) => file.endsWith(".zip"))
    .map((zip) => {
      const name = zip.replace(/\.zip$/, "");
      const dir = mkdtempSync(join(tmpdir(), `chat-heartbeat-${name}-`));
      try {
        execFileSync("unzip", ["-q", join(packageDir, zip), "-d", dir]);
        // Runtime-provided modules (the SSM / Secrets Manager clients) resolve from our node_modules.
        symlinkSync(join(root, "node_modules"), join(dir, "node_modules"));
        const bundleDir = join(dir, "functions", name);
        const bundleFile = readdirSync(bundleDir).find((file) => file.startsWith("handler."));
        if (!bundleFile) throw new Error(`${zip} has no handler bundle`);
        const bundle = join(bundleDir, bundleFile);
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
            { env: { ...process.env, ...INIT_ENV }, cwd: dir },
          );
          inits.push(Number(out.toString().trim()));
        }
        inits.sort((a, b) => a - b);
        return {
          name,
          zippedBytes: statSync(join(packageDir, zip)).size,
          bundleBytes: statSync(bundle).size,
          initMedianMs: Number((inits[5] ?? Number.NaN).toFixed(1)),
        };
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
}

// `npm run package` prints the report after packaging: tsx tools/package-report.ts <package dir>
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const packageDir = process.argv[2];
  if (!packageDir) throw new Error("usage: tsx tools/package-report.ts <package dir>");
  for (const fn of measurePackagedFunctions(packageDir)) {
    console.log(
      `${fn.name}: ${fn.zippedBytes} bytes zipped, ${fn.bundleBytes} bytes bundle, init ${fn.initMedianMs} ms (median of 11)`,
    );
  }
}
