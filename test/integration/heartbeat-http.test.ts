import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { signLocalChatToken } from "../../tools/local/token-cli.ts";
import { readBuild, readOutcomeCounts, seedRunningWorkspace } from "../support/fixtures.ts";
import {
  type HeartbeatStack,
  startHeartbeatStack,
  TEST_TOKEN_SECRET,
} from "../support/heartbeat-stack.ts";
import { snapshotRows } from "../support/snapshot.ts";

/**
 * The HTTP contract of docs/api.md through the real handler, SDK, local Data API endpoint and
 * PostgreSQL. Every rejection also proves that no row changed, and the pre-database ones that the
 * Data API was not called at all.
 */

let stack: HeartbeatStack;
beforeAll(async () => {
  stack = await startHeartbeatStack();
});
afterAll(async () => {
  await stack?.stop();
});
beforeEach(() => {
  stack.dataApi.faults.clear();
  stack.dataApi.resetStats();
});

const token = (sub: string, extra: { chatId?: string; scope?: string; secret?: string } = {}) =>
  signLocalChatToken({ sub, secret: TEST_TOKEN_SECRET, ...extra });

const dataApiCalls = () =>
  Object.values(stack.dataApi.stats()).reduce((total, count) => total + count, 0);

describe("200", () => {
  it("bumps a due workspace and answers with the documented body", async () => {
    const seeded = await seedRunningWorkspace(stack.db.pool);
    const response = await stack.send({
      chatId: seeded.chatId,
      token: await token(seeded.ownerId, { chatId: seeded.chatId }),
    });
    expect(response.status).toBe(200);
    expect(response.headers["content-type"]).toBe("application/json");
    expect(response.headers["x-poll-interval"]).toBe("180");
    const build = await readBuild(stack.db.pool, seeded.buildId);
    expect(response.body).toEqual({
      chatId: seeded.chatId,
      workspaceId: seeded.workspaceId,
      outcome: "bumped",
      deadline: build.deadline?.toISOString(),
      maxDeadline: null,
      lastUsedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      // A fresh 1 h bump: the guard opens again in 0.05 h.
      nextHeartbeatSeconds: 180,
    });
    expect(stack.dataApi.stats().executeStatement).toBe(1);
  });

  it("accepts `{}`, a base64-encoded body and serverless-offline's null maps", async () => {
    const seeded = await seedRunningWorkspace(stack.db.pool);
    const auth = await token(seeded.ownerId);
    const shapes = [
      { body: "{}" },
      { body: Buffer.from('{"client":"ide"}').toString("base64"), isBase64Encoded: true },
      { shape: "serverless-offline" as const },
      { shape: "serverless-offline" as const, body: "{}" },
    ];
    for (const shape of shapes) {
      const response = await stack.send({ chatId: seeded.chatId, token: auth, ...shape });
      expect(response.status, JSON.stringify(shape)).toBe(200);
    }
  });
});

describe("rejections write nothing", () => {
  let seeded: Awaited<ReturnType<typeof seedRunningWorkspace>>;
  beforeAll(async () => {
    seeded = await seedRunningWorkspace(stack.db.pool);
  });

  async function expectRejected(
    send: () => Promise<Awaited<ReturnType<HeartbeatStack["send"]>>>,
    expected: { status: number; code: string; wwwAuthenticate?: string; dataApiCalls?: number },
  ) {
    const before = await snapshotRows(stack.db.pool);
    const callsBefore = dataApiCalls();
    const response = await send();
    expect(response.status).toBe(expected.status);
    expect(response.headers["content-type"]).toBe("application/json");
    expect(response.body).toEqual({
      error: { code: expected.code, message: expect.any(String) },
      requestId: expect.any(String),
    });
    if (expected.wwwAuthenticate !== undefined) {
      expect(response.headers["www-authenticate"]).toBe(expected.wwwAuthenticate);
    }
    expect(await snapshotRows(stack.db.pool)).toEqual(before);
    expect(dataApiCalls() - callsBefore).toBe(expected.dataApiCalls ?? 0);
    return response;
  }

  it("400 for a chat id that is not a UUID", async () => {
    const response = await expectRejected(
      async () =>
        stack.send({
          chatId: "not-a-uuid'; DROP TABLE chats; --",
          token: await token(seeded.ownerId),
        }),
      { status: 400, code: "invalid_request" },
    );
    expect((response.body as { error: { message: string } }).error.message).toMatch(/chatId/);
  });

  it.each([
    ["a JSON array", "[]"],
    ["a JSON string", '"hello"'],
    ["not JSON", "beat=1"],
    ["null", "null"],
  ])("400 for a body that is %s", async (_name, body) => {
    await expectRejected(
      async () => stack.send({ chatId: seeded.chatId, token: await token(seeded.ownerId), body }),
      { status: 400, code: "invalid_request" },
    );
  });

  it("413 for a body over 4 KiB", async () => {
    const body = JSON.stringify({ padding: "x".repeat(4097) });
    await expectRejected(
      async () => stack.send({ chatId: seeded.chatId, token: await token(seeded.ownerId), body }),
      { status: 413, code: "payload_too_large" },
    );
  });

  it("401 for a missing token", async () => {
    await expectRejected(() => stack.send({ chatId: seeded.chatId }), {
      status: 401,
      code: "invalid_token",
      wwwAuthenticate: 'Bearer error="invalid_token"',
    });
  });

  it("401 for a token signed with another secret", async () => {
    await expectRejected(
      async () =>
        stack.send({
          chatId: seeded.chatId,
          token: await token(seeded.ownerId, {
            secret: "another-secret-that-is-at-least-32-bytes-long",
          }),
        }),
      { status: 401, code: "invalid_token", wwwAuthenticate: 'Bearer error="invalid_token"' },
    );
  });

  it("403 when the scopes lack workspace:update", async () => {
    await expectRejected(
      async () =>
        stack.send({
          chatId: seeded.chatId,
          token: await token(seeded.ownerId, { scope: "workspace:read" }),
        }),
      {
        status: 403,
        code: "insufficient_scope",
        wwwAuthenticate:
          'Bearer error="insufficient_scope", scope="workspace:read workspace:update"',
      },
    );
  });

  it("403 when the token is bound to another chat", async () => {
    await expectRejected(
      async () =>
        stack.send({
          chatId: seeded.chatId,
          token: await token(seeded.ownerId, { chatId: randomUUID() }),
        }),
      { status: 403, code: "insufficient_scope" },
    );
  });

  it("404 for another user's chat, alike a missing one, after one read-only statement", async () => {
    const otherUser = randomUUID();
    const countsBefore = await readOutcomeCounts(stack.db.pool);
    const theirs = await expectRejected(
      async () => stack.send({ chatId: seeded.chatId, token: await token(otherUser) }),
      { status: 404, code: "not_found", dataApiCalls: 1 },
    );
    const missing = await expectRejected(
      async () => stack.send({ chatId: randomUUID(), token: await token(otherUser) }),
      { status: 404, code: "not_found", dataApiCalls: 1 },
    );
    expect((theirs.body as { error: unknown }).error).toEqual(
      (missing.body as { error: unknown }).error,
    );
    expect(await readOutcomeCounts(stack.db.pool)).toEqual(countsBefore);
  });
});

describe("503 when the database is unavailable", () => {
  it("retries a resuming cluster and then succeeds", async () => {
    const seeded = await seedRunningWorkspace(stack.db.pool);
    stack.dataApi.faults.inject({ kind: "resuming", seconds: 0.6 });
    const response = await stack.send({
      chatId: seeded.chatId,
      token: await token(seeded.ownerId),
    });
    expect(response.status).toBe(200);
    expect((response.body as { outcome: string }).outcome).toBe("bumped");
  });

  it("answers 503 with Retry-After when resuming outlasts the budget, and writes nothing", async () => {
    const seeded = await seedRunningWorkspace(stack.db.pool);
    const before = await snapshotRows(stack.db.pool);
    stack.dataApi.faults.inject({ kind: "resuming", seconds: 60 });
    const response = await stack.send({
      chatId: seeded.chatId,
      token: await token(seeded.ownerId),
    });
    stack.dataApi.faults.clear();
    expect(response.status).toBe(503);
    expect(response.headers["retry-after"]).toMatch(/^\d+$/);
    expect(response.body).toMatchObject({ error: { code: "unavailable" } });
    expect(await snapshotRows(stack.db.pool)).toEqual(before);
    const after = await stack.send({ chatId: seeded.chatId, token: await token(seeded.ownerId) });
    expect(after.status).toBe(200);
  });

  it("answers 500 without internals for a SQL error", async () => {
    const seeded = await seedRunningWorkspace(stack.db.pool);
    stack.dataApi.faults.inject({ kind: "sql_error", count: 1 });
    const response = await stack.send({
      chatId: seeded.chatId,
      token: await token(seeded.ownerId),
    });
    expect(response.status).toBe(500);
    expect(response.body).toEqual({
      error: { code: "internal", message: "internal error" },
      requestId: expect.any(String),
    });
  });
});

describe("counting", () => {
  it("counts each accepted heartbeat once", async () => {
    const seeded = await seedRunningWorkspace(stack.db.pool);
    const before = await readOutcomeCounts(stack.db.pool);
    const auth = await token(seeded.ownerId);
    await stack.send({ chatId: seeded.chatId, token: auth });
    await stack.send({ chatId: seeded.chatId, token: auth });
    const after = await readOutcomeCounts(stack.db.pool);
    expect((after.bumped ?? 0) - (before.bumped ?? 0)).toBe(1);
    expect((after.not_due ?? 0) - (before.not_due ?? 0)).toBe(1);
  });
});
