import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { basename, dirname, join, resolve } from "node:path";

/**
 * `npm run smoke:node22` (CI: .ci/run, after `npm run package`): the packaged bundles on Node 22,
 * the Lambda runtime (nodejs22.x), while npm and every other command run on the machine's Node.
 *
 * Node 22 is the `node` devDependency, a Node binary published on npm (installed by its preinstall
 * script, allowed in package.json's allowScripts). Its `node_modules/.bin/node` link is removed by
 * our postinstall, or every npm script would run on it; it is started here by path.
 *
 * Each function's zip is unzipped and its handler required on Node 22 (CommonJS, as Lambda loads
 * it); the heartbeat handler is invoked with an API Gateway event without a token and must answer
 * the documented 401 JSON before any key or database is needed (none is reachable here).
 */

const packageDir = resolve(process.argv[2] ?? "dist/package");
const require = createRequire(import.meta.url);
const NODE22 = join(dirname(require.resolve("node/package.json")), "bin", "node");

interface ServerlessState {
  service: { functions: Record<string, { handler: string; package: { artifact: string } }> };
}

/** Runs on Node 22 inside the unzipped bundle: requires the handler, invokes it when asked. */
const PROBE = `
const [file, exported, eventJson] = process.argv.slice(1);
const handler = require(file)[exported];
if (typeof handler !== "function") throw new Error(file + " exports no " + exported + " function");
const context = { functionName: "smoke", awsRequestId: "smoke", getRemainingTimeInMillis: () => 10000 };
Promise.resolve(eventJson ? handler(JSON.parse(eventJson), context) : undefined).then((result) =>
  process.stdout.write(JSON.stringify({ node: process.version, result: result ?? null })));
`;

const CHAT_ID = "8c3b1a3e-0d8e-4b8a-9d0f-1f2e3d4c5b6a";
/** An API Gateway HTTP API (payload v2) heartbeat request without an Authorization header. */
const UNAUTHENTICATED = {
  version: "2.0",
  routeKey: "POST /chats/{chatId}/heartbeat",
  rawPath: `/chats/${CHAT_ID}/heartbeat`,
  rawQueryString: "",
  headers: { host: "api.example.test", "user-agent": "smoke" },
  pathParameters: { chatId: CHAT_ID },
  requestContext: {
    accountId: "000000000000",
    apiId: "smoke",
    domainName: "api.example.test",
    domainPrefix: "api",
    http: {
      method: "POST",
      path: `/chats/${CHAT_ID}/heartbeat`,
      protocol: "HTTP/1.1",
      sourceIp: "127.0.0.1",
      userAgent: "smoke",
    },
    requestId: "smoke-request",
    routeKey: "POST /chats/{chatId}/heartbeat",
    stage: "$default",
    time: new Date().toUTCString(),
    timeEpoch: Date.now(),
  },
  isBase64Encoded: false,
};

/** A deployed stage's configuration, with every endpoint a closed local port: nothing is reached. */
const ENV = {
  PATH: process.env.PATH,
  AWS_REGION: "us-east-1",
  AWS_ACCESS_KEY_ID: "smoke",
  AWS_SECRET_ACCESS_KEY: "smoke",
  AWS_ENDPOINT_URL: "http://127.0.0.1:9",
  DATA_API_ENDPOINT: "http://127.0.0.1:9",
  DB_CLUSTER_ARN: "arn:aws:rds:us-east-1:000000000000:cluster:smoke",
  DB_SECRET_ARN: "arn:aws:secretsmanager:us-east-1:000000000000:secret:smoke",
  DB_NAME: "smoke",
  CHAT_TOKEN_ALGORITHMS: "ES256",
  CHAT_TOKEN_KEY_PARAMETER: "/chat-heartbeat/smoke/chat-token-key",
  CHAT_TOKEN_KEY_KIND: "pem",
  POWERTOOLS_LOG_LEVEL: "SILENT",
  POWERTOOLS_METRICS_DISABLED: "true",
  POWERTOOLS_TRACE_ENABLED: "false",
};

function probe(dir: string, file: string, exported: string, event?: unknown) {
  const args = ["-e", PROBE, file, exported, ...(event ? [JSON.stringify(event)] : [])];
  const output = execFileSync(NODE22, args, { cwd: dir, env: ENV, timeout: 30_000 }).toString();
  return JSON.parse(output) as { node: string; result: unknown };
}

const failures: string[] = [];
const state = JSON.parse(
  readFileSync(join(packageDir, "serverless-state.json"), "utf8"),
) as ServerlessState;
for (const [name, fn] of Object.entries(state.service.functions)) {
  const dir = mkdtempSync(join(tmpdir(), `chat-heartbeat-smoke-${name}-`));
  try {
    execFileSync("unzip", ["-q", join(packageDir, basename(fn.package.artifact)), "-d", dir]);
    // `functions/heartbeat/handler.handler` → ./functions/heartbeat/handler.cjs, export `handler`.
    const exported = fn.handler.slice(fn.handler.lastIndexOf(".") + 1);
    const file = `./${fn.handler.slice(0, fn.handler.lastIndexOf("."))}.cjs`;
    const loaded = probe(dir, file, exported);
    if (!loaded.node.startsWith("v22."))
      failures.push(`${name}: ran on ${loaded.node}, not Node 22`);
    console.log(`${name}: ${file} loads on Node ${loaded.node}`);
    if (name === "heartbeat") {
      const { result } = probe(dir, file, exported, UNAUTHENTICATED);
      const response = result as { statusCode?: number; body?: string; headers?: object };
      const body = JSON.parse(response.body ?? "null") as { error?: { code?: string } } | null;
      const challenge = Object.entries(response.headers ?? {}).find(
        ([header]) => header.toLowerCase() === "www-authenticate",
      );
      if (response.statusCode !== 401 || body?.error?.code !== "invalid_token" || !challenge) {
        failures.push(
          `${name}: expected 401 invalid_token with WWW-Authenticate, got ${JSON.stringify(response)}`,
        );
      } else {
        console.log(`${name}: unauthenticated request answered 401 ${JSON.stringify(body)}`);
      }
    }
  } catch (error) {
    failures.push(`${name}: ${(error as Error).message}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
if (Object.keys(state.service.functions).length === 0) failures.push("no function in the package");
if (failures.length > 0) {
  console.error(`Node 22 smoke test failed:\n${failures.join("\n")}`);
  process.exitCode = 1;
}
