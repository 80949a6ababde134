import { connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { corsConfiguration } from "../../infra/aws/cors.cjs";
import {
  type LocalHttpApi,
  type LocalRoute,
  startLocalHttpApi,
} from "../../tools/local/http-api.ts";
import { signLocalChatToken } from "../../tools/local/token-cli.ts";
import { seedRunningWorkspace } from "../support/fixtures.ts";
import {
  type HeartbeatStack,
  startHeartbeatStack,
  TEST_TOKEN_SECRET,
} from "../support/heartbeat-stack.ts";
import { assertMatchesOpenApi, isDocumented } from "../support/openapi-contract.ts";
import { snapshotRows } from "../support/snapshot.ts";
import { WWW_AUTHENTICATE } from "./expect-response.ts";

/**
 * `npm start`'s API Gateway front (tools/local/http-api.ts) over real sockets, with the real
 * handler behind it: what serverless-offline got wrong locally — the last of two Authorization
 * headers winning, a `null` body arriving as no body, any Origin reflected with credentials —
 * now behaves as API Gateway's HTTP API does. Requests are written byte for byte on a TCP socket,
 * so repeated headers really are two header lines. Every refusal writes nothing and makes no
 * Data API call. (test/e2e/local-stack.test.ts checks the same through `npm start` itself.)
 */

const ROUTES: LocalRoute[] = [
  { method: "POST", path: "/chats/{chatId}/heartbeat", functionName: "heartbeat" },
];
const ALLOWED_ORIGIN = "https://chat.example.com";

let stack: HeartbeatStack;
let plain: LocalHttpApi;
let withCors: LocalHttpApi;
let chatId: string;
let token: string;

beforeAll(async () => {
  stack = await startHeartbeatStack();
  const seeded = await seedRunningWorkspace(stack.db.pool);
  chatId = seeded.chatId;
  token = await signLocalChatToken({ sub: seeded.ownerId, secret: TEST_TOKEN_SECRET });
  const invoke = async (_name: string, event: Parameters<HeartbeatStack["invokeRaw"]>[0]) => ({
    ok: true as const,
    payload: await stack.invokeRaw(event),
  });
  plain = await startLocalHttpApi({ port: 0, routes: ROUTES, invoke, cors: undefined });
  withCors = await startLocalHttpApi({
    port: 0,
    routes: ROUTES,
    invoke,
    cors: corsConfiguration([ALLOWED_ORIGIN]),
  });
});
afterAll(async () => {
  await plain?.close();
  await withCors?.close();
  await stack?.stop();
});

interface RawResponse {
  status: number;
  /** Header names lower-cased; a repeated header's values in order. */
  headers: Record<string, string[]>;
  body: string;
}

/** Writes one HTTP/1.1 request exactly as given and reads the whole response. */
function rawRequest(
  api: LocalHttpApi,
  method: string,
  path: string,
  headers: [string, string][],
  body = "",
): Promise<RawResponse> {
  const { hostname, port } = new URL(api.url);
  const lines = [
    `${method} ${path} HTTP/1.1`,
    `Host: ${hostname}:${port}`,
    "Connection: close",
    ...headers.map(([name, value]) => `${name}: ${value}`),
    ...(body === "" && method !== "POST" ? [] : [`Content-Length: ${Buffer.byteLength(body)}`]),
  ];
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    const chunks: Buffer[] = [];
    socket.on("data", (chunk) => chunks.push(chunk));
    socket.on("error", reject);
    socket.on("end", () => {
      const text = Buffer.concat(chunks).toString("utf8");
      const [head = "", ...rest] = text.split("\r\n\r\n");
      const [statusLine = "", ...headerLines] = head.split("\r\n");
      const parsed: Record<string, string[]> = {};
      for (const line of headerLines) {
        const at = line.indexOf(":");
        const name = line.slice(0, at).trim().toLowerCase();
        parsed[name] = [...(parsed[name] ?? []), line.slice(at + 1).trim()];
      }
      const response = {
        status: Number(statusLine.split(" ")[1]),
        headers: parsed,
        body: rest.join("\r\n\r\n"),
      };
      // What the front answers on the documented route, function or API Gateway's own, must
      // match docs/openapi.yaml (unknown routes are API Gateway's 404, not in the document).
      if (isDocumented(method, path)) {
        try {
          assertMatchesOpenApi({
            method,
            path,
            status: response.status,
            headers: Object.fromEntries(
              Object.entries(parsed).map(([name, values]) => [name, values.join(", ")]),
            ),
            body: response.body,
          });
        } catch (error) {
          reject(error);
          return;
        }
      }
      resolve(response);
    });
    // Not end(): a half-closed socket may be dropped before the answer; the server closes it.
    socket.write(`${lines.join("\r\n")}\r\n\r\n${body}`);
  });
}

const heartbeatPath = () => `/chats/${chatId}/heartbeat`;

/** A refusal by the function: docs/api.md's body, no write, no Data API call. */
async function expectRefusedWithoutWrite(
  send: () => Promise<RawResponse>,
  expected: { status: number; code: string; message: RegExp },
): Promise<RawResponse> {
  const before = await snapshotRows(stack.db.pool);
  stack.dataApi.resetStats();
  const response = await send();
  expect(response.status, response.body).toBe(expected.status);
  expect(response.headers["content-type"]).toEqual(["application/json"]);
  const body = JSON.parse(response.body) as { error: { code: string; message: string } };
  expect(body).toEqual({
    error: { code: expected.code, message: expect.stringMatching(expected.message) },
    // API Gateway's request id, the one the client also gets as `apigw-requestid`.
    requestId: response.headers["apigw-requestid"]?.[0],
  });
  expect(Object.values(stack.dataApi.stats()).reduce((a, b) => a + b, 0)).toBe(0);
  expect(await snapshotRows(stack.db.pool)).toEqual(before);
  return response;
}

async function expectAccepted(send: () => Promise<RawResponse>): Promise<RawResponse> {
  stack.dataApi.resetStats();
  const response = await send();
  expect(response.status, response.body).toBe(200);
  expect(JSON.parse(response.body)).toMatchObject({ chatId });
  expect(stack.dataApi.stats().executeStatement).toBe(1);
  return response;
}

describe("two Authorization headers (API Gateway joins them with a comma)", () => {
  it("one Authorization header is accepted (the control)", async () => {
    await expectAccepted(() =>
      rawRequest(plain, "POST", heartbeatPath(), [["Authorization", `Bearer ${token}`]]),
    );
  });

  it.each([
    ["the same valid token twice", () => [`Bearer ${token}`, `Bearer ${token}`]],
    ["a bad token, then a valid one", () => ["Bearer a.b.c", `Bearer ${token}`]],
    ["a valid token, then an empty header", () => [`Bearer ${token}`, ""]],
    ["different spellings of the header name", () => [`Bearer ${token}`, `Bearer ${token}`]],
  ])("%s → 401", async (name, values) => {
    const [first, second] = values() as [string, string];
    const response = await expectRefusedWithoutWrite(
      () =>
        rawRequest(plain, "POST", heartbeatPath(), [
          ["Authorization", first],
          [name.startsWith("different") ? "authorization" : "Authorization", second],
        ]),
      { status: 401, code: "invalid_token", message: /Bearer <token>/ },
    );
    expect(response.headers["www-authenticate"]).toEqual([WWW_AUTHENTICATE.invalid_token]);
  });
});

describe("a body of JSON null, or another JSON value that is not an object", () => {
  it.each([
    ["null", "application/json"],
    ["null", undefined],
    ["null", "text/plain"],
    [" null ", "application/json"],
    ['""', "application/json"],
    ["false", "application/json"],
    ["0", "application/json"],
    ["[]", "application/json"],
  ])("%j with Content-Type %s → 400", async (body, contentType) => {
    await expectRefusedWithoutWrite(
      () =>
        rawRequest(
          plain,
          "POST",
          heartbeatPath(),
          [
            ["Authorization", `Bearer ${token}`],
            ...(contentType === undefined
              ? []
              : ([["Content-Type", contentType]] as [string, string][])),
          ],
          body,
        ),
      { status: 400, code: "invalid_request", message: /body must be empty or a JSON object/ },
    );
  });

  it.each([
    ["{}", "application/json"],
    ["{}", undefined],
    ["", undefined],
  ])("%j with Content-Type %s is accepted", async (body, contentType) => {
    await expectAccepted(() =>
      rawRequest(
        plain,
        "POST",
        heartbeatPath(),
        [
          ["Authorization", `Bearer ${token}`],
          ...(contentType === undefined
            ? []
            : ([["Content-Type", contentType]] as [string, string][])),
        ],
        body,
      ),
    );
  });
});

const isCorsHeader = (name: string) => name.startsWith("access-control-");
const corsHeaders = (response: RawResponse) =>
  Object.fromEntries(Object.entries(response.headers).filter(([name]) => isCorsHeader(name)));

describe("CORS, none configured (the default)", () => {
  it("a preflight from an arbitrary origin gets no CORS headers (no route: 404)", async () => {
    const response = await rawRequest(plain, "OPTIONS", heartbeatPath(), [
      ["Origin", "https://evil.example"],
      ["Access-Control-Request-Method", "POST"],
      ["Access-Control-Request-Headers", "authorization"],
    ]);
    expect(response.status).toBe(404);
    expect(corsHeaders(response)).toEqual({});
  });

  it("a heartbeat from an arbitrary origin is answered without CORS headers", async () => {
    const response = await expectAccepted(() =>
      rawRequest(plain, "POST", heartbeatPath(), [
        ["Origin", "https://evil.example"],
        ["Authorization", `Bearer ${token}`],
      ]),
    );
    expect(corsHeaders(response)).toEqual({});
  });
});

describe("CORS, one origin configured", () => {
  const preflight = (origin: string) =>
    rawRequest(withCors, "OPTIONS", heartbeatPath(), [
      ["Origin", origin],
      ["Access-Control-Request-Method", "POST"],
      ["Access-Control-Request-Headers", "authorization,content-type"],
    ]);

  it("the configured origin's preflight is allowed: POST, its headers, never credentials", async () => {
    const response = await preflight(ALLOWED_ORIGIN);
    expect(response.status).toBe(204);
    expect(corsHeaders(response)).toEqual({
      "access-control-allow-origin": [ALLOWED_ORIGIN],
      "access-control-allow-methods": ["POST"],
      "access-control-allow-headers": ["authorization,content-type"],
      "access-control-max-age": ["600"],
    });
  });

  it.each([
    "https://evil.example",
    "https://chat.example.com.evil.example",
    "http://chat.example.com",
    "null",
  ])("a preflight from %s gets no CORS headers", async (origin) => {
    const response = await preflight(origin);
    expect(corsHeaders(response)).toEqual({});
  });

  it("a heartbeat from the configured origin carries its origin; from another, nothing", async () => {
    const allowed = await expectAccepted(() =>
      rawRequest(withCors, "POST", heartbeatPath(), [
        ["Origin", ALLOWED_ORIGIN],
        ["Authorization", `Bearer ${token}`],
      ]),
    );
    expect(corsHeaders(allowed)).toEqual({
      "access-control-allow-origin": [ALLOWED_ORIGIN],
      "access-control-expose-headers": ["retry-after,x-poll-interval"],
    });
    const other = await expectAccepted(() =>
      rawRequest(withCors, "POST", heartbeatPath(), [
        ["Origin", "https://evil.example"],
        ["Authorization", `Bearer ${token}`],
      ]),
    );
    expect(corsHeaders(other)).toEqual({});
  });
});

describe("routing as API Gateway routes", () => {
  it.each([
    ["GET", () => heartbeatPath()],
    ["POST", () => `${heartbeatPath()}/`],
    ["POST", () => `/chats/${chatId}`],
    ["POST", () => "/chats//heartbeat"],
    ["POST", () => `/CHATS/${chatId}/heartbeat`],
  ])("%s %s → 404 Not Found without invoking the function", async (method, path) => {
    stack.dataApi.resetStats();
    const response = await rawRequest(plain, method, path(), [
      ["Authorization", `Bearer ${token}`],
    ]);
    expect(response.status).toBe(404);
    expect(JSON.parse(response.body)).toEqual({ message: "Not Found" });
    expect(stack.dataApi.stats().executeStatement).toBe(0);
  });
});
