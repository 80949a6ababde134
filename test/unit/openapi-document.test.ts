import { fileURLToPath } from "node:url";
import { Validator } from "@seriousme/openapi-schema-validator";
import { describe, expect, it } from "vitest";
import { HeartbeatRow } from "../../functions/heartbeat/heartbeat-store.ts";
import {
  assertMatchesOpenApi,
  OPENAPI_PATH,
  openApiDocument,
  openApiViolations,
  schemaValidator,
} from "../support/openapi-contract.ts";

/**
 * docs/openapi.yaml itself: a valid OpenAPI 3.1 document (checked against the OpenAPI Initiative's
 * 3.1 schema by @seriousme/openapi-schema-validator), whose every example matches its own schema,
 * and whose oracle (test/support/openapi-contract.ts) rejects answers that break it. The real
 * responses are checked where the HTTP-level tests get them (test/support/heartbeat-stack.ts,
 * test/security/local-api-gateway.test.ts, test/e2e/local-stack.test.ts).
 */

const ROUTE = "/chats/{chatId}/heartbeat";
/** The outcomes the heartbeat's statement may return, as the function parses them. */
const HEARTBEAT_OUTCOMES = HeartbeatRow.shape.outcome.options;
type Operation = {
  responses: Record<
    string,
    { content?: Record<string, { schema: unknown; examples?: Record<string, { value: unknown }> }> }
  >;
};
const operation = (method: string) =>
  (openApiDocument.paths[ROUTE] as Record<string, Operation>)[method] as Operation;

describe("docs/openapi.yaml", () => {
  it("is a valid OpenAPI 3.1 document", async () => {
    const validator = new Validator();
    const result = await validator.validate(fileURLToPath(OPENAPI_PATH));
    expect(result.errors).toBeUndefined();
    expect(result.valid).toBe(true);
    expect(validator.version).toBe("3.1");
  });

  it("the validator refuses a broken document (the check above can fail)", async () => {
    const broken = structuredClone(openApiDocument) as unknown as Record<string, unknown>;
    (broken.paths as Record<string, Record<string, unknown>>)[ROUTE] = {
      post: { responses: { "200": { content: {} } } },
    };
    const result = await new Validator().validate(broken);
    expect(result.valid).toBe(false);
  });

  it("documents every response of the route, each error with an example", () => {
    expect(Object.keys(operation("post").responses).sort()).toEqual(
      ["200", "400", "401", "403", "404", "413", "429", "500", "503"].sort(),
    );
    for (const [status, response] of Object.entries(operation("post").responses)) {
      const examples = response.content?.["application/json"]?.examples ?? {};
      expect(Object.keys(examples).length, status).toBeGreaterThan(0);
    }
  });

  it("has an example of every outcome, and the outcome enum is the code's", () => {
    const examples = operation("post").responses["200"]?.content?.["application/json"]?.examples;
    const outcomes = Object.values(examples ?? {}).map(
      (example) => (example.value as { outcome: string }).outcome,
    );
    expect([...outcomes].sort()).toEqual([...HEARTBEAT_OUTCOMES].sort());
    const schemas = openApiDocument.components.schemas as Record<string, { enum?: string[] }>;
    expect([...(schemas.Outcome?.enum ?? [])].sort()).toEqual([...HEARTBEAT_OUTCOMES].sort());
  });

  it("every example matches its schema", () => {
    let checked = 0;
    for (const method of ["post", "options"]) {
      for (const [status, response] of Object.entries(operation(method).responses)) {
        for (const [mediaType, media] of Object.entries(response.content ?? {})) {
          for (const [name, example] of Object.entries(media.examples ?? {})) {
            const validate = schemaValidator(media.schema);
            expect(validate(example.value), `${method} ${status} ${mediaType} ${name}`).toBe(true);
            checked++;
          }
        }
      }
    }
    expect(checked).toBeGreaterThan(25);
  });
});

describe("the response oracle refuses what the document does not allow", () => {
  const accepted = {
    chatId: "7e3f0c2a-5b1d-4c8e-9a6f-2d4b8c1e0a06",
    workspaceId: "7e3f0c2a-5b1d-4c8e-9a6f-2d4b8c1e0a03",
    outcome: "bumped",
    deadline: "2026-11-25T11:00:00.000Z",
    maxDeadline: null,
    lastUsedAt: "2026-11-25T10:00:00.000Z",
    nextHeartbeatSeconds: 180,
  };
  const ok = {
    method: "POST",
    path: "/chats/7e3f0c2a-5b1d-4c8e-9a6f-2d4b8c1e0a06/heartbeat",
    status: 200,
    headers: {
      "Content-Type": "application/json",
      "Cache-Control": "no-store",
      "X-Poll-Interval": "180",
    },
    body: JSON.stringify(accepted),
  };
  const unauthorized = {
    ...ok,
    status: 401,
    headers: {
      "content-type": "application/json",
      "cache-control": "no-store",
      "www-authenticate": 'Bearer error="invalid_token"',
    },
    body: JSON.stringify({
      error: { code: "invalid_token", message: "the token has expired" },
      requestId: "r",
    }),
  };

  it("accepts a conforming 200 and 401", () => {
    expect(() => assertMatchesOpenApi(ok)).not.toThrow();
    expect(() => assertMatchesOpenApi(unauthorized)).not.toThrow();
  });

  it.each([
    [
      "a 200 without X-Poll-Interval",
      { ...ok, headers: { ...ok.headers, "X-Poll-Interval": undefined } },
      /X-Poll-Interval is required/,
    ],
    [
      "a hint out of range in the header",
      { ...ok, headers: { ...ok.headers, "X-Poll-Interval": "301" } },
      /X-Poll-Interval/,
    ],
    [
      "an unknown outcome",
      { ...ok, body: JSON.stringify({ ...accepted, outcome: "extended" }) },
      /outcome/,
    ],
    [
      "an upper-case chat id",
      { ...ok, body: JSON.stringify({ ...accepted, chatId: accepted.chatId.toUpperCase() }) },
      /chatId/,
    ],
    [
      "a time without milliseconds",
      { ...ok, body: JSON.stringify({ ...accepted, deadline: "2026-11-25T11:00:00Z" }) },
      /deadline/,
    ],
    [
      "a missing field",
      { ...ok, body: JSON.stringify({ ...accepted, lastUsedAt: undefined }) },
      /lastUsedAt/,
    ],
    ["an extra field", { ...ok, body: JSON.stringify({ ...accepted, internal: 1 }) }, /additional/],
    [
      "a 200 that may be cached",
      { ...ok, headers: { ...ok.headers, "Cache-Control": "max-age=60" } },
      /Cache-Control/,
    ],
    [
      "text instead of JSON",
      { ...ok, headers: { ...ok.headers, "Content-Type": "text/plain" } },
      /Content-Type/,
    ],
    [
      "a 401 without WWW-Authenticate",
      { ...unauthorized, headers: { ...unauthorized.headers, "www-authenticate": undefined } },
      /WWW-Authenticate is required/,
    ],
    [
      "a 401 with another error code",
      { ...unauthorized, body: unauthorized.body.replace("invalid_token", "not_found") },
      /code/,
    ],
    [
      "a 503 without Retry-After",
      {
        ...unauthorized,
        status: 503,
        headers: { "content-type": "application/json", "cache-control": "no-store" },
        body: JSON.stringify({ error: { code: "unavailable", message: "m" }, requestId: "r" }),
      },
      /Retry-After is required/,
    ],
    ["a status the document does not list", { ...ok, status: 418 }, /status not documented/],
  ])("%s", (_name, response, message) => {
    expect(openApiViolations(response).join("\n")).toMatch(message);
  });
});
