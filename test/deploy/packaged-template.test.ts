import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  HEARTBEAT_DATA_API_TIMEOUT_MS,
  REPORTER_DATA_API_TIMEOUT_MS,
} from "../../functions/shared/config.ts";
import { dataApiStatement } from "../../infra/local/sql-lexer.ts";

/**
 * `serverless package` offline (no AWS call), and the CloudFormation it generates: what is deployed
 * is what docs/ and the issue pin — runtime, route, schedule, throttling — and every data action in
 * IAM is scoped to one ARN.
 */

const ROOT = new URL("../../", import.meta.url).pathname;

type Json = Record<string, unknown>;
const templates: Record<string, Json> = {};
const packages: Record<string, string> = {};

const SERVERLESS_CLI = join(ROOT, "node_modules/serverless/bin/serverless.js");
/** A packaging run takes ~5 s here; past this it is hung, not slow. */
const PACKAGE_TIMEOUT_MS = 120_000;

/** Browser origins the `corsAllowedOrigins` param is given in the configured-CORS package. */
const CORS_ORIGINS = ["https://chat.example.com", "http://localhost:5173"];

async function runPackage(
  stage: string,
  dir: string,
  params: string[] = [],
): Promise<{ code: number | null; timedOut: boolean; output: string }> {
  // The CLI itself, not `npx`: a killed npx leaves its child running. Own process group, so a
  // timeout stops the CLI and its esbuild service together.
  const child = spawn(
    process.execPath,
    [
      SERVERLESS_CLI,
      "package",
      "--stage",
      stage,
      "--package",
      dir,
      ...params.map((param) => `--param=${param}`),
    ],
    {
      cwd: ROOT,
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
      env: {
        ...process.env,
        // `package` signs nothing and calls nothing; dummy credentials keep the SDK from probing.
        AWS_ACCESS_KEY_ID: "offline",
        AWS_SECRET_ACCESS_KEY: "offline",
        AWS_REGION: "us-east-1",
        SLS_TELEMETRY_DISABLED: "1",
        SLS_NOTIFICATIONS_MODE: "off",
        // The defaults are under test, not whatever the shell running the tests exports.
        CORS_ALLOWED_ORIGINS: undefined,
        CHAT_TOKEN_MAX_LIFETIME: undefined,
        CHAT_TOKEN_TYPE: undefined,
      },
    },
  );
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  // The CLI must exit by itself: a run that packages and then hangs is a failure too.
  const exit = await new Promise<{ code: number | null; timedOut: boolean }>((resolve) => {
    const timer = setTimeout(() => {
      if (child.pid) process.kill(-child.pid, "SIGKILL");
      resolve({ code: null, timedOut: true });
    }, PACKAGE_TIMEOUT_MS);
    child.once("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, timedOut: false });
    });
  });
  return { ...exit, output };
}

async function packageStage(stage: string, key = stage, params: string[] = []): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), `chat-heartbeat-${key}-`));
  packages[key] = dir;
  const exit = await runPackage(stage, dir, params);
  const { output } = exit;
  if (exit.code !== 0) {
    const why = exit.timedOut
      ? `did not exit within ${PACKAGE_TIMEOUT_MS} ms`
      : `exited ${exit.code}`;
    throw new Error(`serverless package --stage ${stage} ${why}:\n${output}`);
  }
  templates[key] = JSON.parse(
    readFileSync(join(dir, "cloudformation-template-update-stack.json"), "utf8"),
  );
}

beforeAll(async () => {
  await packageStage("dev");
  await packageStage("localstack");
  await packageStage("dev", "dev-cors", [`corsAllowedOrigins=${CORS_ORIGINS.join(", ")}`]);
}, 300_000);

afterAll(() => {
  for (const dir of Object.values(packages)) rmSync(dir, { recursive: true, force: true });
});

const resources = (stage: string) =>
  (templates[stage] as { Resources: Record<string, Json> }).Resources;
const properties = (stage: string, name: string) =>
  (resources(stage)[name] as { Properties: Json }).Properties;

describe("the dev stage template", () => {
  it("runs both functions on nodejs22.x, arm64", () => {
    for (const fn of ["HeartbeatLambdaFunction", "ReporterLambdaFunction"]) {
      expect(properties("dev", fn).Runtime).toBe("nodejs22.x");
      expect(properties("dev", fn).Architectures).toEqual(["arm64"]);
    }
  });

  it("routes POST /chats/{chatId}/heartbeat (payload v2) to the heartbeat, with throttling", () => {
    const routes = Object.values(resources("dev")).filter(
      (resource) => resource.Type === "AWS::ApiGatewayV2::Route",
    );
    expect(routes.map((route) => (route.Properties as Json).RouteKey)).toEqual([
      "POST /chats/{chatId}/heartbeat",
    ]);
    const integration = properties("dev", "HttpApiIntegrationHeartbeat");
    expect(integration.PayloadFormatVersion).toBe("2.0");
    const settings = properties("dev", "HttpApiStage").DefaultRouteSettings as Json;
    expect(settings.ThrottlingRateLimit).toEqual(expect.any(Number));
    expect(settings.ThrottlingBurstLimit).toEqual(expect.any(Number));
  });

  it("gives the reporter a Data API budget that waits out a resume, within its timeout", () => {
    const budget = (fn: string) =>
      Number(((properties("dev", fn).Environment as Json).Variables as Json).DATA_API_TIMEOUT_MS);
    expect(budget("HeartbeatLambdaFunction")).toBe(HEARTBEAT_DATA_API_TIMEOUT_MS);
    expect(budget("ReporterLambdaFunction")).toBe(REPORTER_DATA_API_TIMEOUT_MS);
    // ~15 s to resume from 0 ACU (test/integration/reporter.test.ts waits out 20 s).
    expect(budget("ReporterLambdaFunction")).toBeGreaterThan(20_000);
    const reporterTimeoutMs = Number(properties("dev", "ReporterLambdaFunction").Timeout) * 1000;
    expect(budget("ReporterLambdaFunction")).toBeLessThan(reporterTimeoutMs);
  });

  it("bundles each imported .sql file as the statement the Data API is sent", () => {
    const dir = mkdtempSync(join(tmpdir(), "chat-heartbeat-unzipped-"));
    try {
      for (const fn of ["heartbeat", "reporter"]) {
        execFileSync("unzip", ["-q", join(packages.dev as string, `${fn}.zip`), "-d", dir]);
        const bundle = readFileSync(join(dir, `functions/${fn}/handler.cjs`), "utf8");
        const handlerSources = readdirSync(join(ROOT, "functions", fn), { recursive: true })
          .filter((file) => String(file).endsWith(".ts"))
          .map((file) => readFileSync(join(ROOT, "functions", fn, String(file)), "utf8"));
        const sqlFiles = handlerSources.flatMap((source) =>
          [...source.matchAll(/from "(?:\.\.\/)+(sql\/[^"]+\.sql)"/g)].map((match) => match[1]),
        );
        expect(sqlFiles.length).toBeGreaterThan(0);
        for (const file of sqlFiles) {
          const source = readFileSync(join(ROOT, file as string), "utf8");
          const statement = dataApiStatement(source);
          // esbuild writes the text as a template literal (raw newlines) or a JSON-style string.
          expect(
            bundle.includes(statement) || bundle.includes(JSON.stringify(statement).slice(1, -1)),
            `${file} in the ${fn} bundle`,
          ).toBe(true);
          // And none of the file's comment lines made it in.
          for (const line of source.split("\n").filter((each) => /^\s*--\s*\S/.test(each))) {
            expect(bundle, `${file}: ${line}`).not.toContain(line.trim());
          }
        }
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("schedules the reporter hourly (Aurora auto-pause, docs/reporter.md)", () => {
    const rules = Object.values(resources("dev")).filter(
      (resource) => resource.Type === "AWS::Events::Rule",
    );
    expect(rules.map((rule) => (rule.Properties as Json).ScheduleExpression)).toEqual([
      "rate(60 minutes)",
    ]);
  });

  /** The IAM statements of one role, or of every role. */
  const iamStatements = (roleName?: string) => {
    const statements: Json[] = [];
    const collect = (node: unknown): void => {
      if (Array.isArray(node)) node.forEach(collect);
      else if (node && typeof node === "object") {
        const record = node as Json;
        if ("Effect" in record && "Action" in record) statements.push(record);
        else Object.values(record).forEach(collect);
      }
    };
    for (const [name, resource] of Object.entries(resources("dev"))) {
      if (resource.Type !== "AWS::IAM::Role" || (roleName && name !== roleName)) continue;
      collect((resource.Properties as Json).Policies);
    }
    return statements;
  };

  it("scopes every rds-data, secretsmanager and ssm action to specific ARNs", () => {
    const statements = iamStatements();
    const dataStatements = statements.filter((statement) =>
      [statement.Action]
        .flat()
        .some((action) => /^(rds-data|secretsmanager|ssm):/.test(String(action))),
    );
    expect(dataStatements.length).toBeGreaterThanOrEqual(3);
    for (const statement of dataStatements) {
      const actions = [statement.Action].flat().map(String);
      expect(
        actions.every((action) => !action.includes("*")),
        JSON.stringify(actions),
      ).toBe(true);
      const resource = JSON.stringify(statement.Resource);
      expect(resource, JSON.stringify(statement)).not.toMatch(/"\*"|:\*"|\/\*"/);
      expect(statement.Resource).toBeDefined();
    }
    const actions = dataStatements.flatMap((statement) => [statement.Action].flat());
    expect(actions).toEqual(
      expect.arrayContaining([
        "rds-data:ExecuteStatement",
        "secretsmanager:GetSecretValue",
        "ssm:GetParameter",
      ]),
    );
  });

  it("gives the reporter cloudwatch:GetMetricData on * (no resource-level scoping exists), and only it", () => {
    const cloudWatch = (statements: Json[]) =>
      statements.filter((statement) =>
        [statement.Action].flat().some((action) => String(action).startsWith("cloudwatch:")),
      );
    expect(cloudWatch(iamStatements("ReporterFunctionRole"))).toEqual([
      {
        Sid: "CheckForHeartbeats",
        Effect: "Allow",
        Action: "cloudwatch:GetMetricData",
        Resource: "*",
      },
    ]);
    expect(cloudWatch(iamStatements("HeartbeatFunctionRole"))).toEqual([]);
  });

  it("turns the reporter's idle check on, with the schedule it derives the lookback from", () => {
    const variables = (properties("dev", "ReporterLambdaFunction").Environment as Json)
      .Variables as Json;
    expect(variables.REPORT_SKIP_IDLE).toBe("true");
    expect(variables.REPORT_SCHEDULE).toBe("rate(60 minutes)");
  });

  /**
   * The AWS SDK modules a function's bundle requires while its module initialises (cold start) and,
   * with `invoke`, after one invocation.
   */
  function sdkModulesLoaded(fn: string, env: Record<string, string | undefined>, invoke = false) {
    const dir = mkdtempSync(join(tmpdir(), "chat-heartbeat-unzipped-"));
    try {
      execFileSync("unzip", ["-q", join(packages.dev as string, `${fn}.zip`), "-d", dir]);
      // Resolve runtime-provided modules from our node_modules, as Lambda resolves them from its own.
      symlinkSync(join(ROOT, "node_modules"), join(dir, "node_modules"));
      const probe = `
        const Module = require("node:module");
        const loaded = [];
        const load = Module._load;
        Module._load = function (request, ...rest) { loaded.push(request); return load.call(this, request, ...rest); };
        const sdk = () => loaded.filter((name) => name.startsWith("@aws-sdk/"));
        const { handler } = require("./functions/${fn}/handler.cjs");
        const atColdStart = sdk();
        const context = { functionName: "${fn}", awsRequestId: "probe", getRemainingTimeInMillis: () => 10000 };
        // One invocation; every endpoint is a closed local port, so it fails fast, offline.
        Promise.resolve(${invoke ? "handler({}, context)" : "undefined"}).catch(() => {}).then(() =>
          process.stdout.write(JSON.stringify({ atColdStart, afterInvoke: sdk() })));
      `;
      const output = execFileSync(process.execPath, ["--no-warnings", "-e", probe], {
        cwd: dir,
        env: {
          ...process.env,
          DB_CLUSTER_ARN: "arn:aws:rds:us-east-1:000000000000:cluster:probe",
          DB_SECRET_ARN: "arn:aws:secretsmanager:us-east-1:000000000000:secret:probe",
          DB_NAME: "probe",
          POWERTOOLS_TRACE_ENABLED: "false",
          POWERTOOLS_LOG_LEVEL: "SILENT",
          POWERTOOLS_METRICS_DISABLED: "true",
          // Offline: static credentials (no instance-metadata probe) and closed local endpoints.
          AWS_ACCESS_KEY_ID: "probe",
          AWS_SECRET_ACCESS_KEY: "probe",
          AWS_REGION: "us-east-1",
          AWS_ENDPOINT_URL: "http://127.0.0.1:9",
          DATA_API_ENDPOINT: "http://127.0.0.1:9",
          ...env,
        },
      }).toString();
      const bundle = readFileSync(join(dir, "functions", fn, "handler.cjs"), "utf8");
      return {
        ...(JSON.parse(output) as { atColdStart: string[]; afterInvoke: string[] }),
        bundle,
      };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  it("loads the SSM / Secrets Manager clients only when a token key is fetched, not at cold start", () => {
    const { atColdStart } = sdkModulesLoaded("heartbeat", {
      CHAT_TOKEN_SECRET: undefined,
      CHAT_TOKEN_KEY_PARAMETER: "/chat-heartbeat/probe/chat-token-key",
      CHAT_TOKEN_KEY_KIND: "pem",
    });
    expect(atColdStart).toEqual([]);
  });

  it("loads the CloudWatch client only on the first idle check, from the runtime, not the zip", () => {
    const { atColdStart, afterInvoke, bundle } = sdkModulesLoaded(
      "reporter",
      { REPORT_SKIP_IDLE: "true", REPORT_SCHEDULE: "rate(60 minutes)" },
      true,
    );
    expect(atColdStart).toEqual([]);
    // The client (and what it requires in turn) is the first SDK module the invocation loads.
    expect(afterInvoke[0]).toBe("@aws-sdk/client-cloudwatch");
    // External and required lazily: the require sits in the bundle, the package does not.
    expect(bundle.includes('require("@aws-sdk/client-cloudwatch")'), "lazy require").toBe(true);
    const listing = execFileSync("unzip", ["-l", join(packages.dev as string, "reporter.zip")]);
    expect(listing.toString()).not.toContain("client-cloudwatch");
  });

  it("passes the token lifetime limit (24 h) and the unset token type to the heartbeat", () => {
    const variables = (properties("dev", "HeartbeatLambdaFunction").Environment as Json)
      .Variables as Json;
    expect(variables.CHAT_TOKEN_MAX_LIFETIME).toBe("24h");
    expect(variables.CHAT_TOKEN_TYPE).toBe("");
  });

  it("answers no CORS by default (docs/api.md: no origin unless an operator lists it)", () => {
    const api = properties("dev", "HttpApi");
    expect(api.ProtocolType).toBe("HTTP");
    expect(api).not.toHaveProperty("CorsConfiguration");
    expect(JSON.stringify(templates.dev)).not.toMatch(/Access-Control|AllowOrigins/i);
  });

  it("keeps each function's zip within 250 KB", () => {
    for (const fn of ["heartbeat", "reporter"]) {
      expect(statSync(join(packages.dev as string, `${fn}.zip`)).size).toBeLessThanOrEqual(
        250 * 1024,
      );
    }
  });

  it("ships each function's bundle alone: no docs (openapi.yaml), sources or tests in a zip", () => {
    for (const fn of ["heartbeat", "reporter"]) {
      const listing = execFileSync("unzip", ["-Z1", join(packages.dev as string, `${fn}.zip`)]);
      expect(listing.toString().trim().split("\n")).toEqual([`functions/${fn}/handler.cjs`]);
    }
  });
});

describe("the localstack stage template", () => {
  it("points the functions at the local Data API endpoint", () => {
    const variables = (properties("localstack", "HeartbeatLambdaFunction").Environment as Json)
      .Variables as Json;
    expect(variables.DATA_API_ENDPOINT).toMatch(/^http:\/\/[\w.-]+:\d+$/);
    // The Aurora cluster is conditional, and the condition is false on this stage.
    expect(resources("localstack").DatabaseCluster?.Condition).toBe("CreateDatabase");
    const conditions = (templates.localstack as { Conditions: Json }).Conditions;
    expect(conditions.CreateDatabase).toEqual({ "Fn::Equals": ["false", "true"] });
  });

  it("keeps the reporter's idle check off: LocalStack turns no EMF into metrics", () => {
    const variables = (properties("localstack", "ReporterLambdaFunction").Environment as Json)
      .Variables as Json;
    expect(variables.REPORT_SKIP_IDLE).toBe("false");
  });
});

describe("CORS configured with the corsAllowedOrigins param", () => {
  it("allows exactly the listed origins, POST, and never credentials", () => {
    const cors = properties("dev-cors", "HttpApi").CorsConfiguration as Json;
    expect(cors).toEqual({
      AllowOrigins: CORS_ORIGINS,
      AllowMethods: ["POST"],
      AllowHeaders: ["authorization", "content-type"],
      ExposeHeaders: ["retry-after"],
      MaxAge: 600,
    });
    // API Gateway's default for AllowCredentials is false; it is never set to true.
    expect(cors.AllowCredentials).toBeUndefined();
    expect(JSON.stringify(cors)).not.toContain("*");
  });

  it("refuses to package with a wildcard origin, naming the param (more cases: test/unit/cors)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "chat-heartbeat-cors-refused-"));
    try {
      const exit = await runPackage("dev", dir, ["corsAllowedOrigins=https://chat.example.com,*"]);
      expect(exit.code).not.toBe(0);
      expect(exit.output).toMatch(
        /corsAllowedOrigins \(CORS_ALLOWED_ORIGINS\): "\*" is a wildcard/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
