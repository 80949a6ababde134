import { Logger } from "@aws-lambda-powertools/logger";
import { Metrics } from "@aws-lambda-powertools/metrics";
import { parser } from "@aws-lambda-powertools/parser/middleware";
import middy from "@middy/core";
import type {
  APIGatewayProxyEventV2,
  APIGatewayProxyStructuredResultV2,
  Context,
} from "aws-lambda";
import { describe, expect, it } from "vitest";
import { HeartbeatEvent } from "../../functions/heartbeat/heartbeat-event.ts";
import { DatabaseUnavailableError } from "../../functions/shared/database/database.ts";
import {
  BodyEncodingError,
  ContentEncodingError,
  PayloadTooLargeError,
} from "../../functions/shared/http/body-limit.ts";
import { httpErrorContract } from "../../functions/shared/http/error-contract.ts";
import { heartbeatEvent, lambdaContext } from "../support/api-gateway-event.ts";

/**
 * The error contract alone, with no other error middleware: whatever fails, the response is docs/api.md's
 * JSON with the documented status, never middy's bare 500 (an unhandled error rethrown, or an empty
 * body). The handler suites prove the same through the whole function; this one names each branch.
 */

const CHAT_ID = "0d9f6c1e-2b3a-4c5d-8e7f-901a2b3c4d5e";

class TeapotError extends Error {}

/** As Lambda calls it: the raw event (middy's types describe the event after the parser ran). */
type RawHandler = (event: APIGatewayProxyEventV2, context: Context) => Promise<unknown>;

function handlerThrowing(error: unknown): RawHandler {
  const handler = middy<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2>()
    .use(
      httpErrorContract({
        logger: new Logger({ logLevel: "SILENT" }),
        metrics: new Metrics({ namespace: "Test", serviceName: "test" }),
        // A function's own classifier comes first; anything it does not know falls through.
        classify: (e) =>
          e instanceof TeapotError
            ? { status: 418, code: "invalid_request", message: "teapot", headers: { "X-Pot": "1" } }
            : undefined,
      }),
    )
    .use(parser({ schema: HeartbeatEvent }))
    .handler(async () => {
      throw error;
    });
  return handler as unknown as RawHandler;
}

async function invoke(handler: RawHandler, event: APIGatewayProxyEventV2) {
  const result = (await handler(event, lambdaContext())) as APIGatewayProxyStructuredResultV2;
  expect(result.headers?.["Content-Type"]).toBe("application/json");
  expect(result.headers?.["Cache-Control"]).toBe("no-store");
  expect(JSON.parse(String(result.body))).toEqual({
    error: { code: expect.any(String), message: expect.any(String) },
    requestId: event.requestContext.requestId,
  });
  return { ...result, body: JSON.parse(String(result.body)) };
}

describe("httpErrorContract renders every failure as the JSON contract", () => {
  it.each([
    ["the request body's encoding", new BodyEncodingError(), 400, "invalid_request"],
    ["a Content-Encoding", new ContentEncodingError(), 400, "invalid_request"],
    ["a body over the limit", new PayloadTooLargeError(4096), 413, "payload_too_large"],
    ["anything unknown", new Error("SELECT secret FROM internals"), 500, "internal"],
    ["a thrown non-error", "a string", 500, "internal"],
    ["the function's own classification", new TeapotError(), 418, "invalid_request"],
  ])("%s → %i %s", async (_name, error, status, code) => {
    const response = await invoke(handlerThrowing(error), heartbeatEvent({ chatId: CHAT_ID }));
    expect(response.statusCode).toBe(status);
    expect(response.body.error.code).toBe(code);
    if (status === 500) expect(response.body.error.message).toBe("internal error");
  });

  it("a database that is unavailable → 503 with Retry-After", async () => {
    const error = new DatabaseUnavailableError("resuming", 7);
    const response = await invoke(handlerThrowing(error), heartbeatEvent({ chatId: CHAT_ID }));
    expect(response.statusCode).toBe(503);
    expect(response.body.error.code).toBe("unavailable");
    expect(response.headers?.["Retry-After"]).toBe("7");
  });

  it("a classifier's headers reach the response", async () => {
    const response = await invoke(
      handlerThrowing(new TeapotError()),
      heartbeatEvent({ chatId: CHAT_ID }),
    );
    expect(response.headers?.["X-Pot"]).toBe("1");
  });

  it("a Powertools ParseError → 400 invalid_request naming the problem, not an empty 500", async () => {
    const response = await invoke(
      handlerThrowing(new Error("the handler is never reached")),
      heartbeatEvent({ chatId: "not-a-uuid" }),
    );
    expect(response.statusCode).toBe(400);
    expect(response.body.error).toEqual({
      code: "invalid_request",
      message: "chatId must be a UUID",
    });
  });
});
