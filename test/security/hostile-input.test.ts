import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signLocalChatToken } from "../../infra/local/token-cli.ts";
import { heartbeatEvent } from "../support/api-gateway-event.ts";
import { readBuild, readOutcomeCounts, seedRunningWorkspace } from "../support/fixtures.ts";
import {
  type HeartbeatResponse,
  type HeartbeatStack,
  startHeartbeatStack,
  TEST_TOKEN_SECRET,
} from "../support/heartbeat-stack.ts";
import { snapshotRows } from "../support/snapshot.ts";

/**
 * Bad input through the whole handler: each case gets its documented 4xx with a message that
 * says what is wrong, never reaches the database, and changes no row. Plus the race SPEC §2 is
 * built around: 50 concurrent heartbeats on one due workspace write the build once.
 */

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
  send: () => Promise<HeartbeatResponse>;
  status: 400 | 413;
  message: RegExp;
}

const withChatId = (id: string): InputCase => ({
  name: `chatId ${JSON.stringify(id.length > 40 ? `${id.slice(0, 20)}…(${id.length})` : id)}`,
  send: () => stack.send({ chatId: id, token }),
  status: 400,
  message: /chatId must be a UUID/,
});

const withBody = (name: string, body: string, extra: Record<string, unknown> = {}): InputCase => ({
  name,
  send: () => stack.send({ chatId, token, body, ...extra }),
  status: 400,
  message: /body must be empty or a JSON object/,
});

const nested = (depth: number) => `${'{"a":'.repeat(depth)}1${"}".repeat(depth)}`;

const cases: InputCase[] = [
  withChatId("not-a-uuid"),
  withChatId("' OR '1'='1"),
  withChatId("00000000-0000-0000-0000-000000000000; DROP TABLE chats; --"),
  withChatId("%00"),
  withChatId("\u0000"),
  withChatId("../../etc/passwd"),
  withChatId("..%2F..%2Fadmin"),
  withChatId("a".repeat(10_000)),
  withChatId("ｆｆｆｆｆｆｆｆ-ｆｆｆｆ-ｆｆｆｆ-ｆｆｆｆ-ｆｆｆｆｆｆｆｆｆｆｆｆ"),
  withChatId(""),
  withChatId("5b0f4a7e0f574d679a366f0c1a2b3c4d0"),
  withBody("a JSON array", "[]"),
  withBody("a JSON string", '"beat"'),
  withBody("a JSON number", "42"),
  withBody("JSON null", "null"),
  withBody("a form-encoded body", "beat=1", {
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
  }),
  withBody("truncated JSON", '{"a":'),
  withBody("XML with an XML content type", "<beat/>", {
    headers: { "Content-Type": "application/xml" },
  }),
  withBody("invalid UTF-8 bytes", Buffer.from([0x7b, 0xff, 0xfe, 0x7d]).toString("base64"), {
    isBase64Encoded: true,
  }),
  {
    name: "a body of 4097 bytes",
    send: () => stack.send({ chatId, token, body: JSON.stringify({ p: "x".repeat(4089) }) }),
    status: 413,
    message: /larger than 4096 bytes/,
  },
  {
    name: "a 1 MiB body",
    send: () => stack.send({ chatId, token, body: "x".repeat(1024 * 1024) }),
    status: 413,
    message: /larger than 4096 bytes/,
  },
  {
    name: "a base64 body over the limit once decoded",
    send: () =>
      stack.send({
        chatId,
        token,
        body: Buffer.from(JSON.stringify({ p: "x".repeat(5000) })).toString("base64"),
        isBase64Encoded: true,
      }),
    status: 413,
    message: /larger than 4096 bytes/,
  },
];

const dataApiCalls = () =>
  Object.values(stack.dataApi.stats()).reduce((total, count) => total + count, 0);

describe("bad input", () => {
  it("has at least 20 cases", () => {
    expect(cases.length).toBeGreaterThanOrEqual(20);
  });

  it.each(cases)("$name → $status", async ({ send, status, message }) => {
    const before = await snapshotRows(stack.db.pool);
    const callsBefore = dataApiCalls();
    const response = await send();
    expect(response.status, JSON.stringify(response.body)).toBe(status);
    expect(response.body).toEqual({
      error: {
        code: status === 413 ? "payload_too_large" : "invalid_request",
        message: expect.stringMatching(message),
      },
      requestId: expect.any(String),
    });
    expect(dataApiCalls() - callsBefore).toBe(0);
    expect(await snapshotRows(stack.db.pool)).toEqual(before);
  });

  it("accepts a body of exactly 4096 bytes and deeply nested JSON within it", async () => {
    const exact = JSON.stringify({ p: "x".repeat(4088) });
    expect(Buffer.byteLength(exact)).toBe(4096);
    expect((await stack.send({ chatId, token, body: exact })).status).toBe(200);
    expect((await stack.send({ chatId, token, body: nested(500) })).status).toBe(200);
  });

  it("rejects an event whose path parameters are missing altogether", async () => {
    const event = heartbeatEvent({ chatId, token });
    (event as { pathParameters?: unknown }).pathParameters = undefined;
    const response = await stack.invoke(event);
    expect(response.status).toBe(400);
    expect(response.body).toMatchObject({ error: { code: "invalid_request" } });
  });
});

describe("50 concurrent heartbeats on one due workspace", () => {
  it("write the build exactly once, deadline = one bump, and count 50", async () => {
    const seeded = await seedRunningWorkspace(stack.db.pool);
    const auth = await signLocalChatToken({ sub: seeded.ownerId, secret: TEST_TOKEN_SECRET });
    const before = await readBuild(stack.db.pool, seeded.buildId);
    const countsBefore = await readOutcomeCounts(stack.db.pool);
    const responses = await Promise.all(
      Array.from({ length: 50 }, () => stack.send({ chatId: seeded.chatId, token: auth })),
    );
    expect(responses.map((response) => response.status)).toEqual(Array(50).fill(200));
    const outcomes = responses.map((response) => (response.body as { outcome: string }).outcome);
    expect(outcomes.filter((outcome) => outcome === "bumped")).toHaveLength(1);
    expect(outcomes.filter((outcome) => outcome === "not_due")).toHaveLength(49);

    const after = await readBuild(stack.db.pool, seeded.buildId);
    expect(after.xmin).not.toBe(before.xmin);
    const winner = responses.find(
      (response) => (response.body as { outcome: string }).outcome === "bumped",
    );
    expect(winner).toBeDefined();
    expect(after.deadline?.toISOString()).toBe(
      (winner?.body as { deadline: string } | undefined)?.deadline,
    );
    // Each response's outcome comes from the UPDATE's RETURNING: one `bumped` is one build write.
    const countsAfter = await readOutcomeCounts(stack.db.pool);
    const total = (counts: Record<string, number>) =>
      Object.values(counts).reduce((a, b) => a + b, 0);
    expect(total(countsAfter) - total(countsBefore)).toBe(50);
    expect((countsAfter.bumped ?? 0) - (countsBefore.bumped ?? 0)).toBe(1);
  });
});
