import * as z from "zod/mini";
import { type Env, parseEnv, positiveInt } from "./env.ts";

/** The Data API and database every function (and the local CLIs) reaches: DB_* and DATA_API_*. */

const LOCAL_REGION = "us-east-1";

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
  z.pipe(
    z.object({
      AWS_REGION: z._default(z.string().check(z.minLength(1)), LOCAL_REGION),
      /** Set for the local stack and LocalStack: our own Data API endpoint. Unset on AWS. */
      DATA_API_ENDPOINT: z.optional(z.url()),
      DB_CLUSTER_ARN: z
        .string()
        .check(z.regex(/^arn:aws[a-z-]*:rds:[a-z0-9-]+:\d{12}:cluster:.+$/)),
      DB_SECRET_ARN: z
        .string()
        .check(z.regex(/^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+$/)),
      DB_NAME: z.string().check(z.minLength(1), z.maxLength(63)),
      /** Budget for one database call including resume retries; past it, DatabaseUnavailableError. */
      DATA_API_TIMEOUT_MS: positiveInt(defaultTimeoutMs),
    }),
    z.transform((parsed) => ({
      region: parsed.AWS_REGION,
      endpoint: parsed.DATA_API_ENDPOINT,
      resourceArn: parsed.DB_CLUSTER_ARN,
      secretArn: parsed.DB_SECRET_ARN,
      database: parsed.DB_NAME,
      timeoutMs: parsed.DATA_API_TIMEOUT_MS,
    })),
  );

export type DatabaseConfig = z.output<ReturnType<typeof databaseEnv>>;

export function loadDatabaseConfig(
  env: Env = process.env,
  defaultTimeoutMs = HEARTBEAT_DATA_API_TIMEOUT_MS,
): DatabaseConfig {
  return parseEnv(databaseEnv(defaultTimeoutMs), env);
}
