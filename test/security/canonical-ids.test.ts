import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { signLocalChatToken } from "../../tools/local/token-cli.ts";
import { heartbeatEvent } from "../support/api-gateway-event.ts";
import { seedRunningWorkspace } from "../support/fixtures.ts";
import {
  type HeartbeatStack,
  startHeartbeatStack,
  TEST_TOKEN_SECRET,
} from "../support/heartbeat-stack.ts";
import { expectAcceptedOnce, expectRejectedWithoutWrite } from "./expect-response.ts";

/**
 * docs/api.md: ids are lower-case. A path id in upper or mixed case is the same chat (UUIDs compare
 * case-insensitively), and from the event parser on it is carried in one canonical spelling: the
 * response and every log line show the lower-case id, next to the lower-case `workspaceId`.
 */

let stack: HeartbeatStack;
let seeded: Awaited<ReturnType<typeof seedRunningWorkspace>>;
let output: string[] = [];

beforeAll(async () => {
  // Not dev mode: one JSON document per line, as CloudWatch receives them.
  stack = await startHeartbeatStack({ POWERTOOLS_LOG_LEVEL: "INFO", POWERTOOLS_DEV: "false" });
  seeded = await seedRunningWorkspace(stack.db.pool);
  for (const stream of [process.stdout, process.stderr]) {
    vi.spyOn(stream, "write").mockImplementation((chunk) => {
      output.push(String(chunk));
      return true;
    });
  }
});
afterAll(async () => {
  vi.restoreAllMocks();
  await stack?.stop();
});
beforeEach(() => {
  output = [];
});

const logLines = () =>
  output
    .flatMap((chunk) => chunk.split("\n"))
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line) as Record<string, unknown>);

const mixedCase = (id: string) =>
  id.replace(/[a-f]/g, (c, index: number) => (index % 2 === 0 ? c.toUpperCase() : c));

describe("the chat id in canonical lower case", () => {
  it.each([
    ["upper case", (id: string) => id.toUpperCase()],
    ["mixed case", mixedCase],
  ])("a path id in %s: the response and the log line carry it in lower case", async (_n, spell) => {
    const pathId = spell(seeded.chatId);
    expect(pathId).not.toBe(seeded.chatId);
    const token = await signLocalChatToken({ sub: seeded.ownerId, secret: TEST_TOKEN_SECRET });
    const response = await expectAcceptedOnce(stack, heartbeatEvent({ chatId: pathId, token }));

    expect(response.body).toMatchObject({
      chatId: seeded.chatId,
      workspaceId: seeded.workspaceId,
    });
    const heartbeatLogs = logLines().filter((line) => line.message === "heartbeat");
    expect(heartbeatLogs).toHaveLength(1);
    expect(heartbeatLogs[0]).toMatchObject({
      chatId: seeded.chatId,
      workspaceId: seeded.workspaceId,
    });
    expect(output.join("")).not.toContain(pathId);
  });

  it("a token bound to the chat in upper case works for the path in mixed case", async () => {
    const token = await signLocalChatToken({
      sub: seeded.ownerId,
      chatId: seeded.chatId.toUpperCase(),
      secret: TEST_TOKEN_SECRET,
    });
    const response = await expectAcceptedOnce(
      stack,
      heartbeatEvent({ chatId: mixedCase(seeded.chatId), token }),
    );
    expect(response.body).toMatchObject({ chatId: seeded.chatId });
  });

  it("a refused request logs the lower-case id too", async () => {
    const token = await signLocalChatToken({
      sub: seeded.ownerId,
      scope: "workspace:read",
      secret: TEST_TOKEN_SECRET,
    });
    const pathId = seeded.chatId.toUpperCase();
    await expectRejectedWithoutWrite(stack, heartbeatEvent({ chatId: pathId, token }), {
      status: 403,
      code: "insufficient_scope",
      dataApiCalls: 0,
    });
    const rejections = logLines().filter((line) => line.message === "request rejected");
    expect(rejections).toHaveLength(1);
    expect(rejections[0]).toMatchObject({ chatId: seeded.chatId });
    expect(output.join("")).not.toContain(pathId);
  });
});
