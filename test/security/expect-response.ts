import type { APIGatewayProxyEventV2 } from "aws-lambda";
import { expect } from "vitest";
import { HEARTBEAT_OUTCOMES } from "../../functions/shared/outcomes.ts";
import { readOutcomeCounts } from "../support/fixtures.ts";
import type { HandlerResponse, HeartbeatStack } from "../support/heartbeat-stack.ts";
import { snapshotRows } from "../support/snapshot.ts";

/**
 * The two things every security case proves through the whole handler: a rejection has docs/api.md's
 * exact shape and wrote nothing (no row in any table, not even a count), and an acceptance is one
 * Data API call that counts exactly once.
 */

export const WWW_AUTHENTICATE = {
  invalid_token: 'Bearer error="invalid_token"',
  insufficient_scope: 'Bearer error="insufficient_scope", scope="workspace:read workspace:update"',
} as const;

export type RejectionCode =
  | "invalid_request"
  | "invalid_token"
  | "insufficient_scope"
  | "not_found"
  | "payload_too_large";

export interface ExpectedRejection {
  status: number;
  code: RejectionCode;
  /** What the message must say (the reason), so a case cannot pass for the wrong reason. */
  message?: RegExp;
  /** Data API calls the rejection may make: 0 before the database, 1 read-only statement for 404. */
  dataApiCalls: 0 | 1;
}

const totalOf = (counts: Record<string, number>) =>
  Object.values(counts).reduce((sum, count) => sum + count, 0);

/** Data API calls by operation since the last reset, with only `executeStatement` allowed. */
function expectDataApiCalls(stack: HeartbeatStack, executeStatement: number) {
  expect(stack.dataApi.stats()).toEqual({
    executeStatement,
    batchExecuteStatement: 0,
    beginTransaction: 0,
    commitTransaction: 0,
    rollbackTransaction: 0,
  });
}

export async function expectRejectedWithoutWrite(
  stack: HeartbeatStack,
  event: APIGatewayProxyEventV2,
  expected: ExpectedRejection,
): Promise<HandlerResponse> {
  const before = await snapshotRows(stack.db.pool);
  stack.dataApi.resetStats();
  const response = await stack.invoke(event);

  expect(response.status, JSON.stringify(response.body)).toBe(expected.status);
  expect(response.headers["content-type"]).toBe("application/json");
  expect(response.body).toEqual({
    error: {
      code: expected.code,
      message: expected.message ? expect.stringMatching(expected.message) : expect.any(String),
    },
    // The id a client can quote is API Gateway's, the one in the event.
    requestId: event.requestContext.requestId,
  });
  const wwwAuthenticate =
    expected.code === "invalid_token" || expected.code === "insufficient_scope"
      ? WWW_AUTHENTICATE[expected.code]
      : undefined;
  expect(response.headers["www-authenticate"]).toBe(wwwAuthenticate);
  expectDataApiCalls(stack, expected.dataApiCalls);
  expect(await snapshotRows(stack.db.pool)).toEqual(before);

  // Nothing the client sent comes back: the message is one of a fixed set.
  const authorization = event.headers.Authorization ?? event.headers.authorization ?? "";
  const echoed = authorization.replace(/^\S+\s*/, "").slice(0, 24);
  if (echoed.length >= 12) expect(JSON.stringify(response.body)).not.toContain(echoed);
  return response;
}

export async function expectAcceptedOnce(
  stack: HeartbeatStack,
  event: APIGatewayProxyEventV2,
): Promise<HandlerResponse> {
  const countsBefore = await readOutcomeCounts(stack.db.pool);
  stack.dataApi.resetStats();
  const response = await stack.invoke(event);

  expect(response.status, JSON.stringify(response.body)).toBe(200);
  expect(response.headers["content-type"]).toBe("application/json");
  expect(response.headers["www-authenticate"]).toBeUndefined();
  expect(response.body).toMatchObject({
    // docs/api.md: ids are lower-case, whatever case the path used.
    chatId: event.pathParameters?.chatId?.toLowerCase(),
    outcome: expect.toBeOneOf([...HEARTBEAT_OUTCOMES]),
  });
  expectDataApiCalls(stack, 1);
  const countsAfter = await readOutcomeCounts(stack.db.pool);
  expect(totalOf(countsAfter) - totalOf(countsBefore)).toBe(1);
  return response;
}
