import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rateExpressionSeconds } from "../../functions/reporter/config.ts";
import {
  HEARTBEAT_DATA_API_TIMEOUT_MS,
  REPORTER_DATA_API_TIMEOUT_MS,
} from "../../functions/shared/config/database.ts";
import { ERROR_CODES } from "../../functions/shared/http/error-contract.ts";
import { METRIC, METRICS_NAMESPACE, SERVICE } from "../../functions/shared/observability.ts";
import { HEARTBEAT_OUTCOMES } from "../../functions/shared/outcomes.ts";
import { dataApiStatement } from "../../tools/sql-lexer.ts";

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
/** The alarm topic that same package is given (the `alarmTopicArn` param). */
const ALARM_TOPIC = "arn:aws:sns:us-east-1:000000000000:chat-heartbeat-alarms";

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
  await packageStage("dev", "dev-cors", [
    `corsAllowedOrigins=${CORS_ORIGINS.join(", ")}`,
    `alarmTopicArn=${ALARM_TOPIC}`,
  ]);
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

  it("gives each function its own database login: its secret in DB_SECRET_ARN, readable by its role alone", () => {
    const ownSecret = {
      HeartbeatLambdaFunction: "HeartbeatDatabaseSecret",
      ReporterLambdaFunction: "ReporterDatabaseSecret",
    };
    const executionRole = {
      HeartbeatLambdaFunction: "HeartbeatFunctionRole",
      ReporterLambdaFunction: "ReporterFunctionRole",
    };
    for (const [fn, secret] of Object.entries(ownSecret)) {
      const variables = (properties("dev", fn).Environment as Json).Variables as Json;
      const own = {
        "Fn::If": [`Create${secret}`.replace("DatabaseSecret", "Secret"), { Ref: secret }, ""],
      };
      expect(variables.DB_SECRET_ARN, fn).toEqual(own);
      const reads = iamStatements(executionRole[fn as keyof typeof executionRole]).filter(
        (statement) =>
          [statement.Action].flat().some((action) => String(action).startsWith("secretsmanager:")),
      );
      // GetSecretValue on its own secret, nothing else of Secrets Manager: not the admin's secret
      // (DatabaseCluster.MasterUserSecret), not the other function's.
      expect(
        reads.map(({ Action, Resource }) => ({ Action, Resource })),
        fn,
      ).toEqual([{ Action: "secretsmanager:GetSecretValue", Resource: own }]);
      // Each secret is generated, and names the role sql/grants/function_roles.sql creates.
      const generated = properties("dev", secret).GenerateSecretString as Json;
      expect(JSON.parse(String(generated.SecretStringTemplate))).toEqual({
        username:
          fn === "HeartbeatLambdaFunction" ? "chat_heartbeat_heartbeat" : "chat_heartbeat_reporter",
      });
      expect(generated).toMatchObject({ GenerateStringKey: "password", ExcludePunctuation: true });
      expect(Number(generated.PasswordLength)).toBeGreaterThanOrEqual(32);
    }
    const outputs = (templates.dev as { Outputs: Json }).Outputs;
    expect(outputs).toHaveProperty("HeartbeatDatabaseSecretArn");
    expect(outputs).toHaveProperty("ReporterDatabaseSecretArn");
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
    const conditions = (templates.localstack as { Conditions: Json }).Conditions;
    // Each function's own local login (tools/local/dev-secret.ts), as on AWS; no secret is made.
    expect(variables.DB_SECRET_ARN).toEqual({
      "Fn::If": [
        "CreateHeartbeatSecret",
        { Ref: "HeartbeatDatabaseSecret" },
        expect.stringMatching(/:secret:chat-heartbeat-local-heartbeat$/),
      ],
    });
    const reporter = (properties("localstack", "ReporterLambdaFunction").Environment as Json)
      .Variables as Json;
    expect(JSON.stringify(reporter.DB_SECRET_ARN)).toMatch(
      /:secret:chat-heartbeat-local-reporter"/,
    );
    expect(conditions.CreateHeartbeatSecret).toEqual({
      "Fn::Equals": [expect.stringMatching(/chat-heartbeat-local-heartbeat$/), ""],
    });
    // The Aurora cluster is conditional, and the condition is false on this stage.
    expect(resources("localstack").DatabaseCluster?.Condition).toBe("CreateDatabase");
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
      ExposeHeaders: ["retry-after", "x-poll-interval"],
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

/**
 * What the functions emit, from the code's own constants: Powertools Metrics puts every metric in
 * METRICS_NAMESPACE with one dimension, `service` (its ColdStart metric, with `function_name` too,
 * is not used by the monitoring).
 */
const EMITTED: Record<string, Set<string>> = {
  [SERVICE.heartbeat]: new Set([
    ...HEARTBEAT_OUTCOMES.map(METRIC.accepted),
    ...ERROR_CODES.map(METRIC.rejected),
  ]),
  [SERVICE.reporter]: new Set([
    ...HEARTBEAT_OUTCOMES.map(METRIC.reported),
    METRIC.reportedAccepted,
    METRIC.reportedWriteRatio,
    METRIC.reportIncomplete,
    METRIC.reportSkippedIdle,
    METRIC.reportIdleCheckFailed,
  ]),
};
/** What AWS publishes for an HTTP API (by ApiId) and a function (by FunctionName). */
const AWS_METRICS: Record<string, { dimension: string; refs: string[]; names: string[] }> = {
  "AWS/ApiGateway": {
    dimension: "ApiId",
    refs: ["HttpApi"],
    names: ["Count", "4xx", "5xx", "Latency", "IntegrationLatency"],
  },
  "AWS/Lambda": {
    dimension: "FunctionName",
    refs: ["HeartbeatLambdaFunction", "ReporterLambdaFunction"],
    names: ["Invocations", "Errors", "Throttles", "Duration"],
  },
};

interface MetricReference {
  namespace: string;
  name: string;
  dimensions: Record<string, unknown>;
}

/** A `{ Ref: X }` as the placeholder text `@ref:X`, so references compare as strings. */
const refText = (value: unknown): unknown =>
  value && typeof value === "object" && "Ref" in value ? `@ref:${(value as Json).Ref}` : value;

/** The dashboard's metric lines, parsed from its Fn::Join'd JSON body. */
function dashboardMetrics(stage: string): { widgets: Json[]; metrics: MetricReference[] } {
  const body = properties(stage, "MonitoringDashboard").DashboardBody as { "Fn::Join": unknown[] };
  const parts = (body["Fn::Join"] as [string, unknown[]])[1];
  const dashboard = JSON.parse(parts.map(refText).join("")) as { widgets: Json[] };
  const metrics: MetricReference[] = [];
  for (const widget of dashboard.widgets) {
    for (const line of ((widget.properties as Json).metrics as unknown[][]) ?? []) {
      const [namespace, name, ...rest] = line as string[];
      const pairs = rest.filter((item) => typeof item === "string");
      const dimensions: Record<string, unknown> = {};
      for (let i = 0; i < pairs.length; i += 2) dimensions[pairs[i] as string] = pairs[i + 1];
      metrics.push({ namespace: namespace as string, name: name as string, dimensions });
    }
  }
  return { widgets: dashboard.widgets, metrics };
}

const alarms = (stage: string) =>
  Object.fromEntries(
    Object.entries(resources(stage)).filter(([, r]) => r.Type === "AWS::CloudWatch::Alarm"),
  ) as Record<string, { Condition?: string; Properties: Json }>;

/** Every metric an alarm reads: its own, or each MetricStat of its metric math. */
function alarmMetrics(alarm: Json): MetricReference[] {
  const stats = alarm.Metrics
    ? (alarm.Metrics as Json[]).flatMap((query) =>
        query.MetricStat ? [(query.MetricStat as Json).Metric as Json] : [],
      )
    : [alarm];
  return stats.map((metric) => ({
    namespace: metric.Namespace as string,
    name: metric.MetricName as string,
    dimensions: Object.fromEntries(
      ((metric.Dimensions as Json[]) ?? []).map((d) => [d.Name, refText(d.Value)]),
    ),
  }));
}

/** Why a referenced metric is not one this stack emits; undefined when it is. */
function notEmitted(metric: MetricReference): string | undefined {
  const where = JSON.stringify(metric);
  if (metric.namespace === METRICS_NAMESPACE) {
    const keys = Object.keys(metric.dimensions);
    if (keys.length !== 1 || keys[0] !== "service") return `${where}: dimensions must be [service]`;
    const emitted = EMITTED[metric.dimensions.service as string];
    if (!emitted) return `${where}: no such service`;
    return emitted.has(metric.name) ? undefined : `${where}: not emitted by that service`;
  }
  const aws = AWS_METRICS[metric.namespace];
  if (!aws) return `${where}: unexpected namespace`;
  if (!aws.names.includes(metric.name)) return `${where}: not an ${metric.namespace} metric`;
  const refs = aws.refs.map((ref) => `@ref:${ref}`);
  if (Object.keys(metric.dimensions).join() !== aws.dimension) return `${where}: dimensions`;
  return refs.includes(metric.dimensions[aws.dimension] as string) ? undefined : `${where}: ref`;
}

describe("monitoring: the dashboard and alarms (infra/aws/monitoring.yml)", () => {
  it("has a dashboard whose every metric is one the functions or AWS really emit", () => {
    const { widgets, metrics } = dashboardMetrics("dev");
    expect(widgets.length).toBeGreaterThanOrEqual(7);
    expect(metrics.length).toBeGreaterThan(20);
    expect(metrics.map(notEmitted).filter(Boolean)).toEqual([]);
  });

  it("graphs every outcome, every rejection code, the write ratio, 5xx, p50/p99, throttles and reporter runs", () => {
    const { widgets, metrics } = dashboardMetrics("dev");
    const names = (service: string) =>
      metrics.filter((m) => m.dimensions.service === service).map((m) => m.name);
    expect(names(SERVICE.heartbeat)).toEqual(
      expect.arrayContaining([
        ...HEARTBEAT_OUTCOMES.map(METRIC.accepted),
        ...ERROR_CODES.map(METRIC.rejected),
      ]),
    );
    expect(names(SERVICE.reporter)).toEqual(
      expect.arrayContaining([METRIC.reportedWriteRatio, METRIC.reportIncomplete]),
    );
    const aws = metrics.filter((m) => m.namespace !== METRICS_NAMESPACE);
    const has = (namespace: string, name: string, ref: string) =>
      aws.some(
        (m) =>
          m.namespace === namespace &&
          m.name === name &&
          Object.values(m.dimensions).includes(`@ref:${ref}`),
      );
    expect(has("AWS/ApiGateway", "5xx", "HttpApi")).toBe(true);
    expect(has("AWS/Lambda", "Throttles", "HeartbeatLambdaFunction")).toBe(true);
    expect(has("AWS/Lambda", "Invocations", "ReporterLambdaFunction")).toBe(true);
    expect(has("AWS/Lambda", "Errors", "ReporterLambdaFunction")).toBe(true);
    const durationStats = widgets
      .flatMap((w) => (w.properties as Json).metrics as unknown[][])
      .filter((line) => line[0] === "AWS/Lambda" && line[1] === "Duration")
      .map((line) => (line.at(-1) as Json).stat);
    expect(durationStats).toEqual(expect.arrayContaining(["p50", "p99"]));
  });

  it("alarms on the 5xx rate, reporter failure, reporter silence and throttling, on real metrics", () => {
    const all = alarms("dev");
    expect(Object.keys(all).sort()).toEqual([
      "Http5xxRateAlarm",
      "ReporterFailedAlarm",
      "ReporterSilentAlarm",
      "ThrottlesAlarm",
    ]);
    for (const [name, alarm] of Object.entries(all)) {
      const metrics = alarmMetrics(alarm.Properties);
      expect(metrics.length, name).toBeGreaterThan(0);
      expect(metrics.map(notEmitted).filter(Boolean), name).toEqual([]);
    }
    const fiveXx = alarmMetrics(all.Http5xxRateAlarm?.Properties as Json).map((m) => m.name);
    expect(fiveXx.sort()).toEqual(["5xx", "Count"]);
    const reporterFailed = all.ReporterFailedAlarm?.Properties as Json;
    expect([reporterFailed.MetricName, reporterFailed.TreatMissingData]).toEqual([
      "Errors",
      "notBreaching",
    ]);
  });

  it("calls the reporter silent after more than two schedule periods without a run", () => {
    const silent = alarms("dev").ReporterSilentAlarm as { Condition?: string; Properties: Json };
    const schedule = (
      (properties("dev", "ReporterLambdaFunction").Environment as Json).Variables as Json
    ).REPORT_SCHEDULE as string;
    expect(silent.Properties.Period).toBe(rateExpressionSeconds(schedule));
    expect(silent.Properties.MetricName).toBe("Invocations");
    expect(silent.Properties.EvaluationPeriods).toBe(3);
    expect(silent.Properties.DatapointsToAlarm).toBe(3);
    expect(silent.Properties.TreatMissingData).toBe("breaching");
    // Off where the schedule is off: it would fire forever.
    expect(silent.Condition).toBe("ReporterScheduled");
  });

  it("notifies nobody by default, and the alarmTopicArn param's topic when given", () => {
    const conditions = (stage: string) => (templates[stage] as { Conditions: Json }).Conditions;
    expect(conditions("dev").HasAlarmTopic).toEqual({ "Fn::Not": [{ "Fn::Equals": ["", ""] }] });
    expect(conditions("dev-cors").HasAlarmTopic).toEqual({
      "Fn::Not": [{ "Fn::Equals": [ALARM_TOPIC, ""] }],
    });
    for (const alarm of Object.values(alarms("dev-cors"))) {
      for (const key of ["AlarmActions", "OKActions"]) {
        expect(alarm.Properties[key]).toEqual({
          "Fn::If": ["HasAlarmTopic", [ALARM_TOPIC], { Ref: "AWS::NoValue" }],
        });
      }
    }
  });
});
