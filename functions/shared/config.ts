import * as z from "zod/mini";

/**
 * The one place the functions read their environment. Each handler parses the part it needs once,
 * at cold start, and a bad value stops the container with a message naming the variable.
 * `zod/mini` keeps the validation out of the bundle-size budget (full zod is ~10× larger).
 */

const LOCAL_REGION = "us-east-1";

const positiveInt = (fallback: number) =>
  z._default(z.coerce.number().check(z.int(), z.positive()), fallback);

const DURATION = /^(\d+)([smhd]?)$/;
const DURATION_UNIT_SECONDS = { s: 1, m: 60, h: 3_600, d: 86_400 } as const;

/** `86400`, `90s`, `15m`, `24h`, `1d` → seconds; a bare number is seconds. */
function durationToSeconds(text: string): number {
  const match = DURATION.exec(text);
  const unit = (match?.[2] || "s") as keyof typeof DURATION_UNIT_SECONDS;
  return match ? Number(match[1]) * DURATION_UNIT_SECONDS[unit] : Number.NaN;
}

const positiveDuration = (fallbackSeconds: number) =>
  z._default(
    z.pipe(
      z.string().check(
        z.refine((text) => {
          const seconds = durationToSeconds(text);
          return Number.isSafeInteger(seconds) && seconds > 0;
        }, "must be a positive duration such as 3600, 90m, 24h or 1d"),
      ),
      z.transform(durationToSeconds),
    ),
    fallbackSeconds,
  );

/**
 * Budget for one database call including resume retries (DATA_API_TIMEOUT_MS), per function. The
 * heartbeat answers 503 with Retry-After past it, so a client is never held for a whole resume.
 */
export const HEARTBEAT_DATA_API_TIMEOUT_MS = 8_000;
/**
 * Nobody waits on the reporter, and its hourly run is often the call that wakes a paused cluster
 * (~15 s to resume from 0 ACU, longer at times): it waits the resume out. Below its Lambda timeout
 * (60 s, serverless.yml), which must still fit the rest of the run.
 */
export const REPORTER_DATA_API_TIMEOUT_MS = 30_000;

const databaseEnv = (defaultTimeoutMs: number) =>
  z.object({
    AWS_REGION: z._default(z.string().check(z.minLength(1)), LOCAL_REGION),
    /** Set for the local stack and LocalStack: our own Data API endpoint. Unset on AWS. */
    DATA_API_ENDPOINT: z.optional(z.url()),
    DB_CLUSTER_ARN: z.string().check(z.regex(/^arn:aws[a-z-]*:rds:[a-z0-9-]+:\d{12}:cluster:.+$/)),
    DB_SECRET_ARN: z
      .string()
      .check(z.regex(/^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+$/)),
    DB_NAME: z.string().check(z.minLength(1), z.maxLength(63)),
    /** Budget for one database call including resume retries; past it, DatabaseUnavailableError. */
    DATA_API_TIMEOUT_MS: positiveInt(defaultTimeoutMs),
  });

const ReportWindowEnv = z.object({
  /** Outcome counts are bucketed by this length; the reporter reports whole windows of it. */
  REPORT_WINDOW_SECONDS: positiveInt(300),
});

/** docs/token.md: the local stage's HS256 secret is at least 32 bytes (RFC 7518 §3.2); checked here only. */
export const MIN_CHAT_TOKEN_SECRET_BYTES = 32;

/** `CHAT_TOKEN_SECRET` as every reader of it (heartbeat, `npm start`, `npm run token`) parses it. */
export const ChatTokenSecret = z
  .string()
  .check(
    z.refine(
      (value) => Buffer.byteLength(value, "utf8") >= MIN_CHAT_TOKEN_SECRET_BYTES,
      `the chat token secret must be at least ${MIN_CHAT_TOKEN_SECRET_BYTES} bytes`,
    ),
  );

const HeartbeatEnv = z.object({
  CHAT_TOKEN_ISSUER: z._default(z.string().check(z.minLength(1)), "chat-heartbeat-local"),
  CHAT_TOKEN_AUDIENCE: z._default(z.string().check(z.minLength(1)), "chat-heartbeat"),
  /** Comma-separated allow-list; the verifier refuses `none` whatever this says. */
  CHAT_TOKEN_ALGORITHMS: z.optional(z.string()),
  /** Local stage: the HS256 shared secret. */
  CHAT_TOKEN_SECRET: z.optional(ChatTokenSecret),
  /** Deployed stages: the SSM parameter (or Secrets Manager secret) holding the verification key. */
  CHAT_TOKEN_KEY_PARAMETER: z.optional(z.string().check(z.minLength(1))),
  CHAT_TOKEN_KEY_KIND: z._default(z.enum(["pem", "jwks-url"]), "pem"),
  CHAT_TOKEN_KEY_PROVIDER: z._default(z.enum(["ssm", "secretsmanager"]), "ssm"),
});

/** What tokens must look like beyond their signature; `npm start` reads it too (demo token). */
const ChatTokenPolicyEnv = z.object({
  /** The most `exp − now` may be (docs/token.md): a token minted to live for years is refused. */
  CHAT_TOKEN_MAX_LIFETIME: positiveDuration(24 * 3_600),
  /** When set, the header's `typ` must equal it (RFC 8725 §3.11), e.g. `at+jwt` (RFC 9068). */
  CHAT_TOKEN_TYPE: z.optional(
    z.string().check(z.regex(/^[!-~]+$/, "must be a media type such as at+jwt, without spaces")),
  ),
});

const ReporterEnv = z.object({
  REPORT_RETENTION_DAYS: positiveInt(14),
  /** Catch-up bound: a long outage is reported over several runs rather than one huge one. */
  REPORT_MAX_WINDOWS_PER_RUN: positiveInt(288),
  /**
   * A window is complete only this long after its end: a heartbeat whose now() fell inside it can
   * commit later, and the Data API cancels statements after 45 s, so 60 s bounds the wait.
   */
  REPORT_SETTLE_SECONDS: z._default(z.coerce.number().check(z.int(), z.nonnegative()), 60),
  /**
   * The fixed interval of clients that ignore the pacing hint; unset (the default) for clients that
   * follow it. With the bump, it sets the best write ratio `floorRatio` is measured against.
   */
  REPORT_HEARTBEAT_INTERVAL_SECONDS: z.optional(z.coerce.number().check(z.int(), z.positive())),
  REPORT_ACTIVITY_BUMP_SECONDS: positiveInt(3600),
  /** Pruning deletes at most batch × batches rows per run, so one run never holds locks for long. */
  REPORT_PRUNE_BATCH_SIZE: positiveInt(5000),
  REPORT_PRUNE_MAX_BATCHES: positiveInt(10),
  /**
   * Deployed stages: before touching the database, ask CloudWatch whether anything could be left to
   * report, so an idle deployment never wakes its paused cluster. Off unless "true": locally there
   * is no CloudWatch, and the reporter reads the database on every run, as it always did.
   */
  REPORT_SKIP_IDLE: z._default(z.enum(["true", "false"]), "false"),
  /** The reporter's EventBridge schedule, `rate(N unit)`: how far apart two runs are. */
  REPORT_SCHEDULE: z.optional(z.string()),
  /** Added to the idle lookback: late scheduled runs, EMF data points landing late, clock skew. */
  REPORT_IDLE_MARGIN_SECONDS: z._default(z.coerce.number().check(z.int(), z.nonnegative()), 300),
});

export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

type Env = Record<string, string | undefined>;

function parseEnv<T extends z.ZodMiniType>(schema: T, env: Env): z.output<T> {
  // Empty strings (as serverless.yml writes for unset params) count as unset.
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== ""));
  const result = z.safeParse(schema, cleaned);
  if (result.success) return result.data;
  const problems = result.error.issues.map(
    (issue) => `${issue.path.join(".") || "environment"}: ${issue.message}`,
  );
  throw new ConfigError(`Invalid configuration: ${problems.join("; ")}`);
}

export interface DatabaseConfig {
  region: string;
  endpoint: string | undefined;
  resourceArn: string;
  secretArn: string;
  database: string;
  timeoutMs: number;
}

export function loadDatabaseConfig(
  env: Env = process.env,
  defaultTimeoutMs = HEARTBEAT_DATA_API_TIMEOUT_MS,
): DatabaseConfig {
  const parsed = parseEnv(databaseEnv(defaultTimeoutMs), env);
  return {
    region: parsed.AWS_REGION,
    endpoint: parsed.DATA_API_ENDPOINT,
    resourceArn: parsed.DB_CLUSTER_ARN,
    secretArn: parsed.DB_SECRET_ARN,
    database: parsed.DB_NAME,
    timeoutMs: parsed.DATA_API_TIMEOUT_MS,
  };
}

export type ChatTokenKeyConfig =
  | { kind: "shared-secret"; secret: string }
  | {
      kind: "parameter";
      name: string;
      format: "pem" | "jwks-url";
      provider: "ssm" | "secretsmanager";
    };

export interface ChatTokenPolicy {
  maxLifetimeSeconds: number;
  /** Required `typ` header value; undefined: `typ` is not checked. */
  type: string | undefined;
}

export function loadChatTokenPolicy(env: Env = process.env): ChatTokenPolicy {
  const parsed = parseEnv(ChatTokenPolicyEnv, env);
  return { maxLifetimeSeconds: parsed.CHAT_TOKEN_MAX_LIFETIME, type: parsed.CHAT_TOKEN_TYPE };
}

export interface HeartbeatConfig {
  database: DatabaseConfig;
  bucketSeconds: number;
  token: {
    issuer: string;
    audience: string;
    algorithms: string[];
    key: ChatTokenKeyConfig;
  } & ChatTokenPolicy;
}

const DEFAULT_ALGORITHMS = { "shared-secret": ["HS256"], parameter: ["ES256", "EdDSA", "RS256"] };

export function loadHeartbeatConfig(env: Env = process.env): HeartbeatConfig {
  const database = loadDatabaseConfig(env);
  const { REPORT_WINDOW_SECONDS } = parseEnv(ReportWindowEnv, env);
  const parsed = parseEnv(HeartbeatEnv, env);
  const policy = loadChatTokenPolicy(env);
  let key: ChatTokenKeyConfig;
  if (parsed.CHAT_TOKEN_SECRET && parsed.CHAT_TOKEN_KEY_PARAMETER) {
    throw new ConfigError(
      "Invalid configuration: set CHAT_TOKEN_SECRET (local) or CHAT_TOKEN_KEY_PARAMETER (deployed), not both",
    );
  } else if (parsed.CHAT_TOKEN_SECRET) {
    key = { kind: "shared-secret", secret: parsed.CHAT_TOKEN_SECRET };
  } else if (parsed.CHAT_TOKEN_KEY_PARAMETER) {
    key = {
      kind: "parameter",
      name: parsed.CHAT_TOKEN_KEY_PARAMETER,
      format: parsed.CHAT_TOKEN_KEY_KIND,
      provider: parsed.CHAT_TOKEN_KEY_PROVIDER,
    };
  } else {
    throw new ConfigError(
      "Invalid configuration: CHAT_TOKEN_SECRET or CHAT_TOKEN_KEY_PARAMETER is required",
    );
  }
  // Which names jose may be given (never `none`) is the verifier's rule: createChatTokenVerifier.
  const algorithms = parsed.CHAT_TOKEN_ALGORITHMS
    ? parsed.CHAT_TOKEN_ALGORITHMS.split(",").map((alg) => alg.trim())
    : DEFAULT_ALGORITHMS[key.kind];
  return {
    database,
    bucketSeconds: REPORT_WINDOW_SECONDS,
    token: {
      issuer: parsed.CHAT_TOKEN_ISSUER,
      audience: parsed.CHAT_TOKEN_AUDIENCE,
      algorithms,
      key,
      ...policy,
    },
  };
}

/** Seconds between runs of an EventBridge `rate(...)` expression; null for anything else (cron). */
export function rateExpressionSeconds(expression: string): number | null {
  const match = /^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$/.exec(expression.trim());
  if (!match) return null;
  const value = Number(match[1]);
  const unit = { minute: 60, hour: 3_600, day: 86_400 }[match[2]?.replace(/s$/, "") ?? ""];
  return value > 0 && unit ? value * unit : null;
}

export interface ReporterConfig {
  database: DatabaseConfig;
  windowSeconds: number;
  retentionDays: number;
  maxWindowsPerRun: number;
  settleSeconds: number;
  /** null: clients follow the pacing hint. */
  heartbeatIntervalSeconds: number | null;
  activityBumpSeconds: number;
  pruneBatchSize: number;
  pruneMaxBatches: number;
  /** The CloudWatch idle check, or null (local): every run reads the database. */
  idleCheck: { schedulePeriodSeconds: number; marginSeconds: number } | null;
}

export function loadReporterConfig(env: Env = process.env): ReporterConfig {
  const database = loadDatabaseConfig(env, REPORTER_DATA_API_TIMEOUT_MS);
  const { REPORT_WINDOW_SECONDS } = parseEnv(ReportWindowEnv, env);
  const parsed = parseEnv(ReporterEnv, env);
  let idleCheck: ReporterConfig["idleCheck"] = null;
  if (parsed.REPORT_SKIP_IDLE === "true") {
    // The lookback is derived from the period; a cron schedule has none we could trust.
    const period = rateExpressionSeconds(parsed.REPORT_SCHEDULE ?? "");
    if (period === null) {
      throw new ConfigError(
        "Invalid configuration: REPORT_SCHEDULE must be a rate(...) expression when REPORT_SKIP_IDLE is true",
      );
    }
    idleCheck = { schedulePeriodSeconds: period, marginSeconds: parsed.REPORT_IDLE_MARGIN_SECONDS };
  }
  return {
    database,
    windowSeconds: REPORT_WINDOW_SECONDS,
    retentionDays: parsed.REPORT_RETENTION_DAYS,
    maxWindowsPerRun: parsed.REPORT_MAX_WINDOWS_PER_RUN,
    settleSeconds: parsed.REPORT_SETTLE_SECONDS,
    heartbeatIntervalSeconds: parsed.REPORT_HEARTBEAT_INTERVAL_SECONDS ?? null,
    activityBumpSeconds: parsed.REPORT_ACTIVITY_BUMP_SECONDS,
    pruneBatchSize: parsed.REPORT_PRUNE_BATCH_SIZE,
    pruneMaxBatches: parsed.REPORT_PRUNE_MAX_BATCHES,
    idleCheck,
  };
}
