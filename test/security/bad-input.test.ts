import { randomUUID } from "node:crypto";
import { brotliCompressSync, deflateSync, gzipSync } from "node:zlib";
import type { APIGatewayProxyEventV2 } from "aws-lambda";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signLocalChatToken } from "../../tools/local/token-cli.ts";
import { type HeartbeatRequest, heartbeatEvent } from "../support/api-gateway-event.ts";
import { seedRunningWorkspace } from "../support/fixtures.ts";
import {
  type HeartbeatStack,
  startHeartbeatStack,
  TEST_TOKEN_SECRET,
} from "../support/heartbeat-stack.ts";
import { snapshotRows } from "../support/snapshot.ts";
import {
  type ExpectedRejection,
  expectAcceptedOnce,
  expectRejectedWithoutWrite,
} from "./expect-response.ts";

/**
 * Bad input through the whole handler, with a valid token so that only the input is wrong: each
 * case gets docs/api.md's 4xx with a message that says what is wrong, never reaches the Data API, and
 * changes no row. The limits are probed at their edges (4096 bytes accepted, 4097 refused).
 */

const MAX_BODY_BYTES = 4096;

let stack: HeartbeatStack;
let chatId: string;
let token: string;

beforeAll(async () => {
  stack = await startHeartbeatStack();
  const seeded = await seedRunningWorkspace(stack.db.pool);
  chatId = seeded.chatId;
  token = await signLocalChatToken({ sub: seeded.ownerId, secret: TEST_TOKEN_SECRET });
});
afterAll(async () => {
  await stack?.stop();
});

interface InputCase {
  name: string;
  event: () => APIGatewayProxyEventV2;
  expected: Omit<ExpectedRejection, "dataApiCalls">;
}

const request = (fields: Partial<HeartbeatRequest> = {}) =>
  heartbeatEvent({ chatId, token, ...fields });

const NOT_A_UUID = {
  status: 400,
  code: "invalid_request",
  message: /chatId must be a UUID/,
} as const;
const NOT_AN_OBJECT = {
  status: 400,
  code: "invalid_request",
  message: /body must be empty or a JSON object/,
} as const;
const ENCODED = {
  status: 400,
  code: "invalid_request",
  message: /Content-Encoding must be identity/,
} as const;
const TOO_LARGE = {
  status: 413,
  code: "payload_too_large",
  message: /body is larger than 4096 bytes/,
} as const;

const badChatId = (label: string, id: () => string): InputCase => ({
  name: `chatId ${label}`,
  event: () => request({ chatId: id() }),
  expected: NOT_A_UUID,
});

const badBody = (
  name: string,
  body: () => string,
  fields: Partial<HeartbeatRequest> = {},
): InputCase => ({
  name,
  event: () => request({ body: body(), ...fields }),
  expected: NOT_AN_OBJECT,
});

const base64 = (bytes: number[] | Buffer | string) => Buffer.from(bytes).toString("base64");
/** A JSON object of exactly `bytes` UTF-8 bytes: {"p":"xxx…"}. */
const objectOfBytes = (bytes: number) => JSON.stringify({ p: "x".repeat(bytes - 8) });

const cases: InputCase[] = [
  // ── The path's chat id (docs/api.md: 400 when not a UUID) ──
  badChatId("that is a word", () => "not-a-uuid"),
  badChatId("with a SQL tautology", () => "' OR '1'='1"),
  badChatId("with a stacked SQL statement", () => `${randomUUID()}'; DROP TABLE chats; --`),
  badChatId("with a LIKE wildcard", () => "%"),
  badChatId("of a URL-encoded NUL", () => "%00"),
  badChatId("of a NUL byte", () => "\u0000"),
  badChatId("with a NUL after a valid UUID", () => `${randomUUID()}\u0000`),
  badChatId("with a newline after a valid UUID", () => `${randomUUID()}\n`),
  badChatId("with a space before a valid UUID", () => ` ${randomUUID()}`),
  badChatId("in braces (a form PostgreSQL would accept)", () => `{${randomUUID()}}`),
  badChatId("of 32 hex digits without hyphens (a form PostgreSQL would accept)", () =>
    randomUUID().replaceAll("-", ""),
  ),
  badChatId("of 33 hex digits", () => `${randomUUID().replaceAll("-", "")}0`),
  badChatId("that traverses up", () => "../../etc/passwd"),
  badChatId("that traverses up, URL-encoded", () => "..%2F..%2Fadmin"),
  badChatId("that traverses through a valid UUID", () => `${randomUUID()}/../${randomUUID()}`),
  badChatId("of 10 000 characters", () => "a".repeat(10_000)),
  badChatId("of full-width hex digits", () =>
    randomUUID().replace(/[0-9a-f]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 0xfee0)),
  ),
  badChatId("of emoji", () => "🙂".repeat(36)),
  badChatId("that is empty", () => ""),
  {
    name: "no path parameters at all",
    event: () => {
      const event = request();
      (event as { pathParameters?: unknown }).pathParameters = undefined;
      return event;
    },
    expected: { status: 400, code: "invalid_request", message: /./ },
  },
  // ── The body (docs/api.md: empty or a JSON object) ──
  badBody("a JSON array", () => "[]"),
  badBody("a JSON array of an object", () => "[{}]"),
  badBody("a JSON string", () => '"beat"'),
  badBody("a JSON number", () => "42"),
  badBody("JSON true", () => "true"),
  badBody("JSON null", () => "null"),
  badBody("truncated JSON", () => '{"a":'),
  badBody("two JSON objects", () => "{}{}"),
  badBody("JSON with a trailing comma", () => '{"a":1,}'),
  badBody("a byte-order mark before {}", () => "\uFEFF{}"),
  badBody(
    "arrays nested 2048 deep (4096 bytes, not an object)",
    () => `${"[".repeat(2048)}${"]".repeat(2048)}`,
  ),
  badBody("form-encoded with a form content type", () => "beat=1", {
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
  }),
  badBody("XML with an XML content type", () => "<beat/>", {
    headers: { "Content-Type": "application/xml" },
  }),
  badBody("multipart with a multipart content type", () => "--x\r\n\r\n{}\r\n--x--", {
    headers: { "Content-Type": "multipart/form-data; boundary=x" },
  }),
  badBody("invalid UTF-8 bytes (base64 from API Gateway)", () => base64([0x7b, 0xff, 0xfe, 0x7d]), {
    isBase64Encoded: true,
  }),
  // RFC 8259 §8.1: JSON text is UTF-8; a byte sequence that is not UTF-8 is not a JSON object, even
  // when a lossy decoder would turn it into one.
  badBody(
    "invalid UTF-8 inside a JSON string",
    () => base64([...Buffer.from('{"a":"'), 0xff, ...Buffer.from('"}')]),
    { isBase64Encoded: true },
  ),
  badBody(
    "an overlong UTF-8 encoding of '/' inside a JSON string",
    () => base64([...Buffer.from('{"a":"'), 0xc0, 0xaf, ...Buffer.from('"}')]),
    { isBase64Encoded: true },
  ),
  // ── Content-Encoding (docs/api.md: 400 for anything but identity; nothing here decodes a body) ──
  ...(
    [
      ["gzip", "gzip", () => base64(gzipSync("{}")), true],
      ["deflate", "deflate", () => base64(deflateSync("{}")), true],
      ["br", "br", () => base64(brotliCompressSync("{}")), true],
      ["x-gzip", "x-gzip", () => base64(gzipSync("{}")), true],
      ["gzip, upper case", "GZIP", () => base64(gzipSync("{}")), true],
      ["gzip after identity (a list)", "identity, gzip", () => base64(gzipSync("{}")), true],
      ["gzip with an identity body that is valid JSON", "gzip", () => "{}", false],
      ["an unknown coding with a JSON body", "x-evil", () => "{}", false],
      ["identity with a parameter", "identity;q=1", () => "{}", false],
      ["gzip with no body at all", "gzip", undefined, false],
      ["*", "*", undefined, false],
    ] as const
  ).map(
    ([label, encoding, body, isBase64Encoded]): InputCase => ({
      name: `Content-Encoding ${label}`,
      event: () =>
        request({
          ...(body === undefined ? {} : { body: body(), isBase64Encoded }),
          headers: { "Content-Encoding": encoding },
        }),
      expected: ENCODED,
    }),
  ),
  {
    name: "Content-Encoding gzip on a body over 4 KiB (encoding is checked first)",
    event: () =>
      request({ body: objectOfBytes(MAX_BODY_BYTES + 1), headers: { "content-encoding": "gzip" } }),
    expected: ENCODED,
  },
  // ── Size (docs/api.md: 413 over 4 KiB) ──
  {
    name: "a JSON object of 4097 bytes",
    event: () => request({ body: objectOfBytes(MAX_BODY_BYTES + 1) }),
    expected: TOO_LARGE,
  },
  {
    name: "4096 characters that are 4097 UTF-8 bytes",
    event: () => request({ body: JSON.stringify({ p: `${"x".repeat(MAX_BODY_BYTES - 9)}é` }) }),
    expected: TOO_LARGE,
  },
  {
    name: "4097 bytes of whitespace",
    event: () => request({ body: " ".repeat(MAX_BODY_BYTES + 1) }),
    expected: TOO_LARGE,
  },
  {
    name: "a 1 MiB body that is not JSON",
    event: () => request({ body: "x".repeat(1024 * 1024) }),
    expected: TOO_LARGE,
  },
  {
    name: "a 6 MiB JSON object (the Lambda payload maximum)",
    event: () => request({ body: objectOfBytes(6 * 1024 * 1024) }),
    expected: TOO_LARGE,
  },
  {
    name: "a base64 body of 4097 bytes once decoded",
    event: () =>
      request({ body: base64(objectOfBytes(MAX_BODY_BYTES + 1)), isBase64Encoded: true }),
    expected: TOO_LARGE,
  },
  {
    name: "a base64 body of 100 KiB once decoded",
    event: () => request({ body: base64(objectOfBytes(100 * 1024)), isBase64Encoded: true }),
    expected: TOO_LARGE,
  },
];

describe("bad input through the heartbeat handler", () => {
  it("covers at least 20 cases", () => {
    expect(cases.length).toBeGreaterThanOrEqual(20);
  });

  it.each(cases)("$name → $expected.status", async ({ event, expected }) => {
    await expectRejectedWithoutWrite(stack, event(), { ...expected, dataApiCalls: 0 });
  });
});

describe("the route is POST only", () => {
  // API Gateway answers other methods itself (no route matches); the handler must not rely on
  // that alone: an event with another method (a misconfigured `ANY` route, a local proxy) must be
  // refused, never turned into a write.
  it.each(["GET", "HEAD", "PUT", "PATCH", "DELETE", "OPTIONS"])(
    "%s is refused without a write",
    async (method) => {
      const event = request();
      event.requestContext.http.method = method;
      const before = await snapshotRows(stack.db.pool);
      stack.dataApi.resetStats();
      const response = await stack.invoke(event);
      expect(response.status, JSON.stringify(response.body)).toBeGreaterThanOrEqual(400);
      expect(response.status).toBeLessThan(500);
      expect(response.headers["content-type"]).toBe("application/json");
      expect(response.body).toMatchObject({
        error: { code: expect.any(String), message: expect.stringMatching(/POST|method/i) },
        requestId: event.requestContext.requestId,
      });
      expect(stack.dataApi.stats().executeStatement).toBe(0);
      expect(await snapshotRows(stack.db.pool)).toEqual(before);
    },
  );
});

describe("input at the edge of the limits is accepted", () => {
  it("a JSON object of exactly 4096 bytes", async () => {
    const body = objectOfBytes(MAX_BODY_BYTES);
    expect(Buffer.byteLength(body)).toBe(MAX_BODY_BYTES);
    await expectAcceptedOnce(stack, request({ body }));
  });

  it("a base64 body of exactly 4096 bytes once decoded (the limit is on the decoded body)", async () => {
    const body = base64(objectOfBytes(MAX_BODY_BYTES));
    expect(body.length).toBeGreaterThan(MAX_BODY_BYTES);
    await expectAcceptedOnce(stack, request({ body, isBase64Encoded: true }));
  });

  it("objects nested 680 deep within 4 KiB", async () => {
    const body = `${'{"a":'.repeat(680)}1${"}".repeat(680)}`;
    expect(Buffer.byteLength(body)).toBeLessThanOrEqual(MAX_BODY_BYTES);
    await expectAcceptedOnce(stack, request({ body }));
  });

  it("an empty body, a whitespace body and {}", async () => {
    await expectAcceptedOnce(stack, request());
    await expectAcceptedOnce(stack, request({ body: " \r\n\t" }));
    await expectAcceptedOnce(stack, request({ body: "{}" }));
  });

  it("{} whatever the Content-Type says (navigator.sendBeacon sends text/plain)", async () => {
    // docs/api.md constrains the body, not its media type; the body is still parsed as JSON.
    await expectAcceptedOnce(
      stack,
      request({ body: "{}", headers: { "Content-Type": "text/plain;charset=UTF-8" } }),
    );
  });

  it("a __proto__ key is plain data: accepted, and no object is polluted", async () => {
    await expectAcceptedOnce(stack, request({ body: '{"__proto__":{"polluted":true}}' }));
    expect(({} as { polluted?: unknown }).polluted).toBeUndefined();
  });

  it("a chat id in upper case (UUIDs are case-insensitive)", async () => {
    await expectAcceptedOnce(stack, request({ chatId: chatId.toUpperCase() }));
  });

  it.each([
    ["identity", "identity"],
    ["IDENTITY", "IDENTITY"],
    ["identity listed twice", "identity, identity"],
    ["an empty value", ""],
  ])("Content-Encoding %s with {}", async (_name, encoding) => {
    await expectAcceptedOnce(
      stack,
      request({ body: "{}", headers: { "Content-Encoding": encoding } }),
    );
  });
});
