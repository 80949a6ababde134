import { type CryptoKey, SignJWT } from "jose";
import { expect } from "vitest";
import {
  ChatTokenError,
  type ChatTokenRejection,
} from "../../../functions/heartbeat/auth/errors.ts";

/** A fixed clock: every token below is made relative to it, and every verifier reads it. */
export const NOW = new Date("2026-11-25T10:00:00.000Z");
export const NOW_SECONDS = Math.floor(NOW.getTime() / 1000);

export const ISSUER = "https://chat.example.test";
export const AUDIENCE = "chat-heartbeat";
export const USER_ID = "5b0f4a7e-0f57-4d67-9a36-6f0c1a2b3c4d";
export const CHAT_ID = "0d9f6c1e-2b3a-4c5d-8e7f-901a2b3c4d5e";
export const SHARED_SECRET = "unit-test-shared-secret-of-at-least-32-bytes";
export const SHARED_SECRET_BYTES = new TextEncoder().encode(SHARED_SECRET);

/** Claims of a token the verifier should accept; a test overrides or (with undefined) drops some. */
export function goodClaims(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const claims: Record<string, unknown> = {
    iss: ISSUER,
    aud: AUDIENCE,
    sub: USER_ID,
    scope: "workspace:read workspace:update",
    iat: NOW_SECONDS - 10,
    exp: NOW_SECONDS + 300,
    ...overrides,
  };
  return Object.fromEntries(Object.entries(claims).filter(([, value]) => value !== undefined));
}

export async function signToken(
  claims: Record<string, unknown> = goodClaims(),
  options: { key?: CryptoKey | Uint8Array; alg?: string; kid?: string } = {},
): Promise<string> {
  return new SignJWT(claims)
    .setProtectedHeader({
      alg: options.alg ?? "HS256",
      ...(options.kid === undefined ? {} : { kid: options.kid }),
    })
    .sign(options.key ?? SHARED_SECRET_BYTES);
}

export const bearer = (token: string) => `Bearer ${token}`;

export const base64url = (text: string) => Buffer.from(text, "utf8").toString("base64url");

/** Asserts a 401 refusal for a given reason. */
export async function expectInvalidToken(
  verification: Promise<unknown>,
  reason: ChatTokenRejection,
): Promise<void> {
  const error = await verification.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(ChatTokenError);
  expect(error).toMatchObject({ code: "invalid_token", reason });
}
