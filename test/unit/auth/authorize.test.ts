import { describe, expect, it } from "vitest";
import { authorizeHeartbeat } from "../../../functions/heartbeat/auth/authorize.ts";
import { ChatTokenError, wwwAuthenticate } from "../../../functions/heartbeat/auth/errors.ts";

const USER = "5b0f4a7e-0f57-4d67-9a36-6f0c1a2b3c4d";
const CHAT = "0d9f6c1e-2b3a-4c5d-8e7f-901a2b3c4d5e";
const OTHER_CHAT = "7a6b5c4d-3e2f-4a1b-9c8d-7e6f5a4b3c2d";

function refusal(run: () => unknown): ChatTokenError {
  try {
    run();
  } catch (error) {
    if (error instanceof ChatTokenError) return error;
    throw error;
  }
  throw new Error("expected a ChatTokenError");
}

describe("authorizeHeartbeat", () => {
  it("returns the token's subject as the user when scopes and chat fit", () => {
    expect(
      authorizeHeartbeat({ sub: USER, scope: "workspace:read workspace:update" }, CHAT),
    ).toEqual({ userId: USER });
    expect(authorizeHeartbeat({ sub: USER, scope: "coder:all", chatId: CHAT }, CHAT)).toEqual({
      userId: USER,
    });
  });

  it("refuses a token lacking workspace:update with insufficient_scope", () => {
    const error = refusal(() => authorizeHeartbeat({ sub: USER, scope: "workspace:read" }, CHAT));
    expect(error.code).toBe("insufficient_scope");
    expect(error.reason).toBe("scope");
  });

  it("refuses a token with no scopes", () => {
    expect(refusal(() => authorizeHeartbeat({ sub: USER, scope: "" }, CHAT)).code).toBe(
      "insufficient_scope",
    );
  });

  it("refuses a token bound to another chat", () => {
    const error = refusal(() =>
      authorizeHeartbeat({ sub: USER, scope: "coder:all", chatId: OTHER_CHAT }, CHAT),
    );
    expect(error.code).toBe("insufficient_scope");
    expect(error.reason).toBe("chat");
  });

  it("compares chat ids as UUIDs, ignoring letter case", () => {
    expect(
      authorizeHeartbeat({ sub: USER, scope: "coder:all", chatId: CHAT }, CHAT.toUpperCase()),
    ).toEqual({ userId: USER });
  });
});

describe("wwwAuthenticate", () => {
  it("gives docs/api.md's header values", () => {
    const scopeError = refusal(() => authorizeHeartbeat({ sub: USER, scope: "" }, CHAT));
    expect(wwwAuthenticate(scopeError)).toBe(
      'Bearer error="insufficient_scope", scope="workspace:read workspace:update"',
    );
    expect(wwwAuthenticate(new ChatTokenError("invalid_token", "expired"))).toBe(
      'Bearer error="invalid_token"',
    );
  });
});
