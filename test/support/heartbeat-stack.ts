import type {
  APIGatewayProxyEventV2,
  APIGatewayProxyStructuredResultV2,
  Context,
} from "aws-lambda";
import { vi } from "vitest";
import type { RecordedHeartbeat } from "../../functions/heartbeat/domain/record-heartbeat.ts";
import { type DataApiServer, startDataApiServer } from "../../tools/data-api/server.ts";
import {
  LOCAL_SECRET_LOGINS,
  localDataApiEnvironment,
} from "../../tools/local/data-api-locator.ts";
import { LOCAL_DEV_TOKEN_SECRET } from "../../tools/local/dev-secret.ts";
import { signLocalChatToken } from "../../tools/local/token-cli.ts";
import { type HeartbeatRequest, heartbeatEvent, lambdaContext } from "./api-gateway-event.ts";
import { createTestDatabase, type TestDatabase } from "./database.ts";
import type { HeartbeatDriver } from "./heartbeat-driver.ts";
import { checkedAgainstOpenApi } from "./openapi-contract.ts";

export const TEST_TOKEN_SECRET = LOCAL_DEV_TOKEN_SECRET;

export interface HandlerResponse {
  status: number;
  headers: Record<string, string>;
  body: unknown;
}

export interface HeartbeatStack {
  db: TestDatabase;
  dataApi: DataApiServer;
  /** Invokes the real handler in-process with an API Gateway v2 event. */
  invoke(event: APIGatewayProxyEventV2): Promise<HandlerResponse>;
  /** The same, returning the function's result as Lambda hands it to API Gateway. */
  invokeRaw(event: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2>;
  send(request: HeartbeatRequest): Promise<HandlerResponse>;
  stop(): Promise<void>;
}

/**
 * The real heartbeat handler → real `@aws-sdk/client-rds-data` → our Data API endpoint (HTTP) →
 * a real PostgreSQL database of this test file's own, logged in as the heartbeat's role
 * (chat_heartbeat_heartbeat, sql/grants/function_roles.sql) as on AWS. The endpoint's default
 * secret (`dataApi.secretArn`) is the admin's. Environment is set before the handler's
 * cold start, as Lambda would; vitest isolates modules per file, so each file gets its own container.
 */
export async function startHeartbeatStack(
  env: Record<string, string> = {},
  options: { db?: TestDatabase } = {},
): Promise<HeartbeatStack> {
  const ownsDatabase = options.db === undefined;
  const db = options.db ?? (await createTestDatabase());
  const dataApi = await startDataApiServer({
    connectionUrlFor: db.serverUrlFor,
    logins: LOCAL_SECRET_LOGINS,
  });
  Object.assign(process.env, {
    // The handler logs in as the heartbeat's role, so a grant it lacks fails the test.
    ...localDataApiEnvironment(dataApi, db.name, "heartbeat"),
    CHAT_TOKEN_SECRET: TEST_TOKEN_SECRET,
    CHAT_TOKEN_ISSUER: "chat-heartbeat-local",
    CHAT_TOKEN_AUDIENCE: "chat-heartbeat",
    REPORT_WINDOW_SECONDS: "300",
    // Short, so the "resuming outlasts the budget" path takes a second, not eight.
    DATA_API_TIMEOUT_MS: "1500",
    POWERTOOLS_DEV: "true",
    POWERTOOLS_LOG_LEVEL: process.env.POWERTOOLS_LOG_LEVEL ?? "SILENT",
    POWERTOOLS_METRICS_DISABLED: "true",
    POWERTOOLS_TRACE_ENABLED: "false",
    ...env,
  });
  // A fresh module registry is a fresh Lambda container: config and clients are built anew.
  vi.resetModules();
  // Every answer of the function, whatever the test checks next, must match docs/openapi.yaml.
  const handlerModule = checkedAgainstOpenApi(await import("../../functions/heartbeat/handler.ts"));
  // As Lambda calls it: the raw event (middy's types describe the event after the parser ran).
  const handler = handlerModule.handler as unknown as (
    event: APIGatewayProxyEventV2,
    context: Context,
  ) => Promise<APIGatewayProxyStructuredResultV2>;
  const invoke = async (event: APIGatewayProxyEventV2): Promise<HandlerResponse> => {
    const result = await handler(event, lambdaContext());
    const headers = Object.fromEntries(
      Object.entries(result.headers ?? {}).map(([name, value]) => [
        name.toLowerCase(),
        String(value),
      ]),
    );
    return {
      status: result.statusCode ?? 200,
      headers,
      body: result.body ? JSON.parse(result.body) : undefined,
    };
  };
  return {
    db,
    dataApi,
    invoke,
    invokeRaw: (event) => handler(event, lambdaContext()),
    send: (request) => invoke(heartbeatEvent(request)),
    async stop() {
      await dataApi.close();
      if (ownsDatabase) await db.drop();
    },
  };
}

/** The rule suite's driver over the whole path: a token for `userId`, then the real handler. */
export function handlerHeartbeatDriver(stack: HeartbeatStack): HeartbeatDriver & {
  close(): Promise<void>;
} {
  return {
    async beat(chatId, userId) {
      const token = await signLocalChatToken({ sub: userId, secret: TEST_TOKEN_SECRET });
      const response = await stack.send({ chatId, token });
      if (response.status === 404) return "not_found";
      if (response.status !== 200) {
        throw new Error(`heartbeat answered ${response.status}: ${JSON.stringify(response.body)}`);
      }
      const { outcome, workspaceId, deadline, maxDeadline, lastUsedAt, nextHeartbeatSeconds } =
        response.body as RecordedHeartbeat;
      // The header carries the same hint as the body.
      if (response.headers["x-poll-interval"] !== String(nextHeartbeatSeconds)) {
        throw new Error(`X-Poll-Interval ${response.headers["x-poll-interval"]} ≠ body`);
      }
      return { outcome, workspaceId, deadline, maxDeadline, lastUsedAt, nextHeartbeatSeconds };
    },
    close: () => stack.stop(),
  };
}
