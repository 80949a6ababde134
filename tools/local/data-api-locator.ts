import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { z } from "zod/mini";
import { type DatabaseConfig, loadDatabaseConfig } from "../../functions/shared/config/database.ts";
import { type SecretLogin, startDataApiServer } from "../data-api/server.ts";
import type { FunctionName } from "../migrate/role-passwords.ts";
import { LOCAL_FUNCTION_LOGINS } from "./dev-secret.ts";

/**
 * The Data API the local tools reach: the CLIs (`migrate`, `report`) find one here, `npm start`
 * records its own in `.local/stack.json`, and tests and benches hand a local endpoint to a function
 * through the environment it reads.
 */

/** Where `npm start` records how to reach the running local stack. */
export const STACK_FILE = fileURLToPath(new URL("../../.local/stack.json", import.meta.url));

export const StackFile = z.object({
  baseUrl: z.string(),
  dataApiUrl: z.string(),
  resourceArn: z.string(),
  secretArn: z.string(),
  /** The reporter function's secret (its role's login), for `npm run report`. */
  reporterSecretArn: z.optional(z.string()),
  database: z.string(),
  pid: z.number(),
});
export type StackFile = z.output<typeof StackFile>;

export interface DataApiTarget {
  config: DatabaseConfig;
  /** What the target is, for the CLI's own messages. */
  description: string;
  /** The reporter function's own secret there, when known (the running local stack's). */
  reporterSecretArn?: string;
  close(): Promise<void>;
}

/**
 * The Data API that the local CLIs (`migrate`, `report`) talk to, in this order:
 * 1. `DB_CLUSTER_ARN` set: the environment says it all (AWS, or an endpoint in DATA_API_ENDPOINT);
 * 2. `DATABASE_URL` set: that PostgreSQL, behind an in-process local Data API endpoint;
 * 3. a running `npm start`: the stack recorded in `.local/stack.json`.
 */
export async function resolveDataApiTarget(
  env: Record<string, string | undefined> = process.env,
): Promise<DataApiTarget> {
  if (env.DB_CLUSTER_ARN) {
    const config = loadDatabaseConfig(env);
    return {
      config,
      description: config.endpoint
        ? `Data API at ${config.endpoint}`
        : `cluster ${config.resourceArn}`,
      close: async () => {},
    };
  }
  if (env.DATABASE_URL) {
    const url = new URL(env.DATABASE_URL);
    const database = decodeURIComponent(url.pathname.replace(/^\//, "")) || "postgres";
    const server = await startDataApiServer({
      connectionUrlFor: (name) => {
        const other = new URL(url);
        other.pathname = `/${encodeURIComponent(name)}`;
        return other.toString();
      },
    });
    return {
      config: stackConfig(env, server.url, server.resourceArn, server.secretArn, database),
      description: `${url.host}/${database} (DATABASE_URL) through a local Data API endpoint`,
      close: () => server.close(),
    };
  }
  if (existsSync(STACK_FILE)) {
    const stack = StackFile.parse(JSON.parse(readFileSync(STACK_FILE, "utf8")));
    return {
      config: stackConfig(
        env,
        stack.dataApiUrl,
        stack.resourceArn,
        stack.secretArn,
        stack.database,
      ),
      description: `the local stack at ${stack.baseUrl}`,
      ...(stack.reporterSecretArn ? { reporterSecretArn: stack.reporterSecretArn } : {}),
      close: async () => {},
    };
  }
  throw new Error(
    "No database to talk to: run `npm start` first, or set DATABASE_URL (a PostgreSQL), or DB_CLUSTER_ARN, DB_SECRET_ARN and DB_NAME (AWS).",
  );
}

function stackConfig(
  env: Record<string, string | undefined>,
  endpoint: string,
  resourceArn: string,
  secretArn: string,
  database: string,
): DatabaseConfig {
  return loadDatabaseConfig({
    ...env,
    DATA_API_ENDPOINT: endpoint,
    DB_CLUSTER_ARN: resourceArn,
    DB_SECRET_ARN: secretArn,
    DB_NAME: database,
  });
}

/**
 * The secrets of the local functions' roles, for `startDataApiServer({ logins })`: a call naming one
 * runs as that role (sql/grants/function_roles.sql), as on AWS.
 */
export const LOCAL_SECRET_LOGINS: readonly SecretLogin[] = Object.values(LOCAL_FUNCTION_LOGINS);

/**
 * The variables a function reads to reach a local Data API endpoint (see `loadDatabaseConfig`).
 * With `role`, its secret is that function's role's (the endpoint must know LOCAL_SECRET_LOGINS);
 * without, the endpoint's default secret, which logs in as the admin (migrations, test arranging).
 */
export function localDataApiEnvironment(
  endpoint: { url: string; resourceArn: string; secretArn: string },
  database: string,
  role?: FunctionName,
): Record<string, string> {
  return {
    AWS_REGION: "us-east-1",
    DATA_API_ENDPOINT: endpoint.url,
    DB_CLUSTER_ARN: endpoint.resourceArn,
    DB_SECRET_ARN: role ? LOCAL_FUNCTION_LOGINS[role].secretArn : endpoint.secretArn,
    DB_NAME: database,
  };
}
