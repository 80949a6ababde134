import { decodeProtectedHeader } from "jose";
import { describe, expect, it } from "vitest";
import { authorizeHeartbeat } from "../../../functions/heartbeat/auth/authorize.ts";
import { createChatTokenVerifier } from "../../../functions/heartbeat/auth/chat-token.ts";
import { sharedSecretKey } from "../../../functions/heartbeat/auth/keys.ts";
import {
  LOCAL_DEV_TOKEN_AUDIENCE,
  LOCAL_DEV_TOKEN_ISSUER,
  LOCAL_DEV_TOKEN_SECRET,
} from "../../../tools/local/dev-secret.ts";
import { parseTtl, runTokenCli, signLocalChatToken } from "../../../tools/local/token-cli.ts";
import {
  bearer,
  CHAT_ID,
  expectInvalidToken,
  NOW,
  NOW_SECONDS,
  USER_ID,
} from "./token-fixtures.ts";

/** What the local stack verifies with when nothing is configured. */
const localVerifier = (options: { secret?: string; issuer?: string; audience?: string } = {}) =>
  createChatTokenVerifier({
    keys: sharedSecretKey(options.secret ?? LOCAL_DEV_TOKEN_SECRET),
    issuer: options.issuer ?? LOCAL_DEV_TOKEN_ISSUER,
    audience: options.audience ?? LOCAL_DEV_TOKEN_AUDIENCE,
    algorithms: ["HS256"],
    now: () => NOW,
  });

describe("signLocalChatToken", () => {
  it("signs a token the local verifier accepts and the heartbeat authorises", async () => {
    const token = await signLocalChatToken({ sub: USER_ID, chatId: CHAT_ID, now: () => NOW });
    const claims = await localVerifier().verify(bearer(token));
    expect(claims).toEqual({
      sub: USER_ID,
      chatId: CHAT_ID,
      scope: "workspace:read workspace:update",
      iat: NOW_SECONDS,
      exp: NOW_SECONDS + 3600,
    });
    expect(authorizeHeartbeat(claims, CHAT_ID)).toEqual({ userId: USER_ID });
  });

  it("honours scope, ttl, secret, issuer and audience", async () => {
    const options = {
      secret: "another-local-secret-of-at-least-32-bytes",
      issuer: "issuer-x",
      audience: "audience-y",
    };
    const token = await signLocalChatToken({
      sub: USER_ID,
      scope: "workspace:read",
      ttl: "15m",
      now: () => NOW,
      ...options,
    });
    const claims = await localVerifier(options).verify(bearer(token));
    expect(claims).toMatchObject({ scope: "workspace:read", exp: NOW_SECONDS + 900 });
    await expectInvalidToken(localVerifier().verify(bearer(token)), "signature");
  });

  it("expires after its ttl", async () => {
    const token = await signLocalChatToken({
      sub: USER_ID,
      ttl: "30s",
      now: () => new Date(NOW.getTime() - 120_000),
    });
    await expectInvalidToken(localVerifier().verify(bearer(token)), "expired");
  });

  it("refuses bad input", async () => {
    await expect(signLocalChatToken({ sub: "alice" })).rejects.toThrow(/--sub must be a UUID/);
    await expect(signLocalChatToken({ sub: USER_ID, chatId: "chat-1" })).rejects.toThrow(
      /--chat must be a UUID/,
    );
    await expect(signLocalChatToken({ sub: USER_ID, secret: "short" })).rejects.toThrow(
      /at least 32 bytes/,
    );
  });
});

describe("parseTtl", () => {
  it.each([
    ["90", 90],
    ["90s", 90],
    ["15m", 900],
    ["1h", 3600],
    ["7d", 604_800],
  ])("%s is %i seconds", (ttl, seconds) => {
    expect(parseTtl(ttl)).toBe(seconds);
  });

  it.each(["0", "-1h", "1y", "h", "1.5h", ""])("refuses %j", (ttl) => {
    expect(() => parseTtl(ttl)).toThrow(/--ttl/);
  });
});

describe("runTokenCli", () => {
  it("reads flags and the CHAT_TOKEN_* environment", async () => {
    const env = {
      CHAT_TOKEN_SECRET: "environment-secret-of-at-least-32-bytes!",
      CHAT_TOKEN_ISSUER: "env-issuer",
      CHAT_TOKEN_AUDIENCE: "",
    };
    const token = await runTokenCli(
      ["--sub", USER_ID, "--chat", CHAT_ID, "--scope", "coder:all", "--ttl", "2h"],
      env,
    );
    const verifier = createChatTokenVerifier({
      keys: sharedSecretKey(env.CHAT_TOKEN_SECRET),
      issuer: "env-issuer",
      // An empty variable counts as unset: the default audience.
      audience: LOCAL_DEV_TOKEN_AUDIENCE,
      algorithms: ["HS256"],
    });
    const claims = await verifier.verify(bearer(token));
    expect(claims).toMatchObject({ sub: USER_ID, chatId: CHAT_ID, scope: "coder:all" });
    expect(claims.exp - (claims.iat ?? 0)).toBe(7200);
  });

  it("writes CHAT_TOKEN_TYPE into the header's typ (JWT by default)", async () => {
    const typed = await runTokenCli(["--sub", USER_ID], { CHAT_TOKEN_TYPE: "at+jwt" });
    expect(decodeProtectedHeader(typed).typ).toBe("at+jwt");
    const plain = await runTokenCli(["--sub", USER_ID], { CHAT_TOKEN_TYPE: "" });
    expect(decodeProtectedHeader(plain).typ).toBe("JWT");
  });

  it("requires --sub and rejects unknown flags", async () => {
    await expect(runTokenCli([], {})).rejects.toThrow(/--sub is required/);
    await expect(runTokenCli(["--sub", USER_ID, "--admin"], {})).rejects.toThrow();
  });
});
