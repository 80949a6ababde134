import { randomUUID } from "node:crypto";
import { exportSPKI, generateKeyPair, SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { seedRunningWorkspace } from "../support/fixtures.ts";
import {
  type HeartbeatResponse,
  type HeartbeatStack,
  startHeartbeatStack,
  TEST_TOKEN_SECRET,
} from "../support/heartbeat-stack.ts";
import { snapshotRows } from "../support/snapshot.ts";

/**
 * Hostile and malformed chat tokens against the whole handler. Every case states the exact status,
 * code and WWW-Authenticate, and proves that no row changed and — for the rejections that must
 * happen before the database — that the Data API was not called at all.
 */

const ISSUER = "chat-heartbeat-local";
const AUDIENCE = "chat-heartbeat";
const SECRET = new TextEncoder().encode(TEST_TOKEN_SECRET);
const INVALID = 'Bearer error="invalid_token"';
const SCOPE = 'Bearer error="insufficient_scope", scope="workspace:read workspace:update"';

let stack: HeartbeatStack;
let owner: string;
let chatId: string;
let publicKeyPem: string;

beforeAll(async () => {
  stack = await startHeartbeatStack();
  const seeded = await seedRunningWorkspace(stack.db.pool);
  owner = seeded.ownerId;
  chatId = seeded.chatId;
  const { publicKey } = await generateKeyPair("RS256", { extractable: true });
  publicKeyPem = await exportSPKI(publicKey);
});
afterAll(async () => {
  await stack?.stop();
});

const now = () => Math.floor(Date.now() / 1000);
const b64 = (value: unknown) =>
  Buffer.from(typeof value === "string" ? value : JSON.stringify(value)).toString("base64url");

function claims(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const all: Record<string, unknown> = {
    iss: ISSUER,
    aud: AUDIENCE,
    sub: owner,
    scope: "workspace:read workspace:update",
    iat: now(),
    exp: now() + 300,
    ...overrides,
  };
  return Object.fromEntries(Object.entries(all).filter(([, value]) => value !== undefined));
}

async function sign(
  overrides: Record<string, unknown> = {},
  key: Uint8Array = SECRET,
  alg = "HS256",
): Promise<string> {
  return new SignJWT(claims(overrides)).setProtectedHeader({ alg, typ: "JWT" }).sign(key);
}

interface TokenCase {
  name: string;
  authorization: () => Promise<string | undefined>;
  expected: 200 | 401 | 403 | 404;
}

const bearer = (token: string) => `Bearer ${token}`;

const cases: TokenCase[] = [
  // Algorithms
  {
    name: "alg none, unsigned",
    authorization: async () => bearer(`${b64({ alg: "none", typ: "JWT" })}.${b64(claims())}.`),
    expected: 401,
  },
  {
    name: "alg None (case variant), unsigned",
    authorization: async () => bearer(`${b64({ alg: "None" })}.${b64(claims())}.`),
    expected: 401,
  },
  {
    name: "HS256 signed with the RSA public key's PEM (algorithm confusion)",
    authorization: async () =>
      bearer(await sign({}, new TextEncoder().encode(publicKeyPem), "HS256")),
    expected: 401,
  },
  {
    name: "HS512 with the right secret (not on the allow-list)",
    authorization: async () => bearer(await sign({}, SECRET, "HS512")),
    expected: 401,
  },
  {
    name: "signed with another secret",
    authorization: async () => bearer(await sign({}, new TextEncoder().encode("x".repeat(32)))),
    expected: 401,
  },
  // Structure
  {
    name: "truncated signature",
    authorization: async () => bearer((await sign()).slice(0, -5)),
    expected: 401,
  },
  {
    name: "two segments only",
    authorization: async () => bearer((await sign()).split(".").slice(0, 2).join(".")),
    expected: 401,
  },
  {
    name: "garbled payload segment",
    authorization: async () => {
      const [header, , signature] = (await sign()).split(".");
      return bearer(`${header}.!!!notbase64!!!.${signature}`);
    },
    expected: 401,
  },
  {
    name: "header that is not JSON",
    authorization: async () => {
      const [, payload, signature] = (await sign()).split(".");
      return bearer(`${b64("not json")}.${payload}.${signature}`);
    },
    expected: 401,
  },
  {
    name: "payload that is not JSON (correctly signed)",
    authorization: async () => {
      const header = b64({ alg: "HS256" });
      const payload = b64("not json");
      const { createHmac } = await import("node:crypto");
      const signature = createHmac("sha256", SECRET)
        .update(`${header}.${payload}`)
        .digest("base64url");
      return bearer(`${header}.${payload}.${signature}`);
    },
    expected: 401,
  },
  { name: "empty bearer", authorization: async () => "Bearer ", expected: 401 },
  { name: "no Authorization header", authorization: async () => undefined, expected: 401 },
  { name: "Basic scheme", authorization: async () => `Basic ${b64("a:b")}`, expected: 401 },
  {
    name: "token without the Bearer scheme",
    authorization: async () => sign(),
    expected: 401,
  },
  {
    name: "lower-case scheme (RFC 7235: case-insensitive) is accepted",
    authorization: async () => `bearer ${await sign()}`,
    expected: 200,
  },
  {
    name: "two Authorization headers (API Gateway joins them with a comma)",
    authorization: async () => `${bearer(await sign())},${bearer(await sign())}`,
    expected: 401,
  },
  {
    name: "token over 8 KiB",
    authorization: async () => bearer(await sign({ padding: "x".repeat(8 * 1024) })),
    expected: 401,
  },
  // Time
  {
    name: "expired",
    authorization: async () => bearer(await sign({ exp: now() - 120 })),
    expected: 401,
  },
  {
    name: "expired 30 s ago (inside the 60 s skew) is accepted",
    authorization: async () => bearer(await sign({ exp: now() - 30 })),
    expected: 200,
  },
  {
    name: "nbf 5 minutes in the future",
    authorization: async () => bearer(await sign({ nbf: now() + 300 })),
    expected: 401,
  },
  {
    name: "nbf 30 s in the future (inside the skew) is accepted",
    authorization: async () => bearer(await sign({ nbf: now() + 30 })),
    expected: 200,
  },
  {
    name: "iat 5 minutes in the future",
    authorization: async () => bearer(await sign({ iat: now() + 300 })),
    expected: 401,
  },
  {
    name: "missing exp",
    authorization: async () => bearer(await sign({ exp: undefined })),
    expected: 401,
  },
  // Issuer, audience, subject
  {
    name: "wrong iss",
    authorization: async () => bearer(await sign({ iss: "evil" })),
    expected: 401,
  },
  {
    name: "missing aud",
    authorization: async () => bearer(await sign({ aud: undefined })),
    expected: 401,
  },
  {
    name: "other aud",
    authorization: async () => bearer(await sign({ aud: "other" })),
    expected: 401,
  },
  {
    name: "aud list containing ours is accepted",
    authorization: async () => bearer(await sign({ aud: ["other", AUDIENCE] })),
    expected: 200,
  },
  {
    name: "sub not a UUID",
    authorization: async () => bearer(await sign({ sub: "admin" })),
    expected: 401,
  },
  {
    name: "sub with SQL metacharacters",
    authorization: async () => bearer(await sign({ sub: "' OR 1=1 --" })),
    expected: 401,
  },
  {
    name: "sub of another user",
    authorization: async () => bearer(await sign({ sub: randomUUID() })),
    expected: 404,
  },
  {
    name: "unicode and NUL in claims",
    authorization: async () => bearer(await sign({ sub: `${owner}\u0000`, name: "🙂\u0000" })),
    expected: 401,
  },
  // Scopes and binding
  {
    name: "no scope claim",
    authorization: async () => bearer(await sign({ scope: undefined })),
    expected: 403,
  },
  {
    name: "read only",
    authorization: async () => bearer(await sign({ scope: "workspace:read" })),
    expected: 403,
  },
  {
    name: "update only",
    authorization: async () => bearer(await sign({ scope: "workspace:update" })),
    expected: 403,
  },
  {
    name: "workspace:delete only",
    authorization: async () => bearer(await sign({ scope: "workspace:delete" })),
    expected: 403,
  },
  {
    name: "chat:*",
    authorization: async () => bearer(await sign({ scope: "chat:*" })),
    expected: 403,
  },
  {
    name: "scope as an array instead of a string",
    authorization: async () =>
      bearer(await sign({ scope: ["workspace:read", "workspace:update"] })),
    expected: 401,
  },
  {
    name: "workspace:* is enough",
    authorization: async () => bearer(await sign({ scope: "workspace:*" })),
    expected: 200,
  },
  {
    name: "coder:workspaces.operate is enough",
    authorization: async () => bearer(await sign({ scope: "coder:workspaces.operate" })),
    expected: 200,
  },
  {
    name: "coder:all is enough",
    authorization: async () => bearer(await sign({ scope: "coder:all" })),
    expected: 200,
  },
  {
    name: "legacy all is enough",
    authorization: async () => bearer(await sign({ scope: "all" })),
    expected: 200,
  },
  {
    name: "unknown scopes are ignored",
    authorization: async () =>
      bearer(await sign({ scope: "frobnicate workspace:read workspace:update" })),
    expected: 200,
  },
  {
    name: "chat_id claim for another chat",
    authorization: async () => bearer(await sign({ chat_id: randomUUID() })),
    expected: 403,
  },
  {
    name: "chat_id claim for this chat is accepted",
    authorization: async () => bearer(await sign({ chat_id: chatId })),
    expected: 200,
  },
];

const dataApiCalls = () =>
  Object.values(stack.dataApi.stats()).reduce((total, count) => total + count, 0);

describe("hostile tokens", () => {
  it("has at least 30 cases", () => {
    expect(cases.length).toBeGreaterThanOrEqual(30);
  });

  it.each(cases)("$name → $expected", async ({ authorization, expected }) => {
    const header = await authorization();
    const before = await snapshotRows(stack.db.pool);
    const callsBefore = dataApiCalls();
    const response: HeartbeatResponse = await stack.send(
      header === undefined ? { chatId } : { chatId, authorization: header },
    );
    expect(response.status, JSON.stringify(response.body)).toBe(expected);
    const calls = dataApiCalls() - callsBefore;
    if (expected === 200) {
      expect(calls).toBe(1);
      return;
    }
    // A rejected request writes nothing, whatever else it did.
    expect(await snapshotRows(stack.db.pool)).toEqual(before);
    const code = { 401: "invalid_token", 403: "insufficient_scope", 404: "not_found" }[expected];
    expect(response.body).toEqual({
      error: { code, message: expect.any(String) },
      requestId: expect.any(String),
    });
    if (expected === 401) expect(response.headers["www-authenticate"]).toBe(INVALID);
    if (expected === 403) expect(response.headers["www-authenticate"]).toBe(SCOPE);
    // Token and scope rejections happen before the database; a 404 is one read-only statement.
    expect(calls).toBe(expected === 404 ? 1 : 0);
    // The message never echoes the token.
    const fragment = header?.slice(7, 40) ?? "";
    if (fragment.length >= 10) expect(JSON.stringify(response.body)).not.toContain(fragment);
  });
});
