import { randomUUID } from "node:crypto";
import type { APIGatewayProxyEventV2, Context } from "aws-lambda";

export interface HeartbeatRequest {
  chatId: string;
  /** Sent as `Authorization: Bearer <token>` unless `authorization` is given. */
  token?: string;
  authorization?: string;
  headers?: Record<string, string>;
  body?: string;
  isBase64Encoded?: boolean;
  /** serverless-offline sends `null` for absent maps where API Gateway omits them. */
  shape?: "api-gateway" | "serverless-offline";
}

/** An API Gateway HTTP API (payload v2) event for `POST /chats/{chatId}/heartbeat`. */
export function heartbeatEvent(request: HeartbeatRequest): APIGatewayProxyEventV2 {
  const headers: Record<string, string> = {
    Host: "api.example.test",
    "User-Agent": "vitest",
    ...(request.body ? { "Content-Type": "application/json" } : {}),
    ...request.headers,
  };
  const authorization =
    request.authorization ?? (request.token ? `Bearer ${request.token}` : undefined);
  if (authorization !== undefined) headers.Authorization = authorization;
  const requestId = randomUUID();
  const event: APIGatewayProxyEventV2 = {
    version: "2.0",
    routeKey: "POST /chats/{chatId}/heartbeat",
    rawPath: `/chats/${request.chatId}/heartbeat`,
    rawQueryString: "",
    headers,
    requestContext: {
      accountId: "000000000000",
      apiId: "local",
      domainName: "api.example.test",
      domainPrefix: "api",
      http: {
        method: "POST",
        path: `/chats/${request.chatId}/heartbeat`,
        protocol: "HTTP/1.1",
        sourceIp: "127.0.0.1",
        userAgent: "vitest",
      },
      requestId,
      routeKey: "POST /chats/{chatId}/heartbeat",
      stage: "$default",
      time: new Date().toUTCString(),
      timeEpoch: Date.now(),
    },
    pathParameters: { chatId: request.chatId },
    body: request.body,
    isBase64Encoded: request.isBase64Encoded ?? false,
  };
  if (request.shape === "serverless-offline") {
    const offline = event as unknown as Record<string, unknown>;
    offline.queryStringParameters = null;
    offline.stageVariables = null;
    offline.cookies = null;
    if (request.body === undefined) offline.body = null;
  }
  return event;
}

/** Each function's Lambda timeout, as serverless.yml sets it (middy aborts the handler past it). */
const FUNCTION_TIMEOUT_MS: Record<string, number> = { heartbeat: 10_000, reporter: 60_000 };

export function lambdaContext(functionName = "heartbeat"): Context {
  const remainingMs = FUNCTION_TIMEOUT_MS[functionName] ?? 10_000;
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName,
    functionVersion: "$LATEST",
    invokedFunctionArn: `arn:aws:lambda:us-east-1:000000000000:function:${functionName}`,
    memoryLimitInMB: "256",
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: "local",
    getRemainingTimeInMillis: () => remainingMs,
    done: () => {},
    fail: () => {},
    succeed: () => {},
  };
}
