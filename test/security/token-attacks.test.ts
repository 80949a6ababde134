import { createHmac, randomBytes, randomUUID } from "node:crypto";
import { exportJWK, exportSPKI, generateKeyPair, SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { heartbeatEvent } from "../support/api-gateway-event.ts";
import { seedRunningWorkspace } from "../support/fixtures.ts";
import {
  type HeartbeatStack,
  startHeartbeatStack,
  TEST_TOKEN_SECRET,
} from "../support/heartbeat-stack.ts";
import { expectAcceptedOnce, expectRejectedWithoutWrite } from "./expect-response.ts";

/**
 * Hostile and malformed chat tokens (docs/token.md) against the whole handler, as Lambda invokes it.
 * Each case states the exact status, code and WWW-Authenticate and the reason the message gives;
 * every rejection changes no row in any table, and token/scope rejections make no Data API call.
 */

const ISSUER = "chat-heartbeat-local";
const AUDIENCE = "chat-heartbeat";
const SECRET = new TextEncoder().encode(TEST_TOKEN_SECRET);
const MAX_TOKEN_BYTES = 8 * 1024;

let stack: HeartbeatStack;
let owner: string;
let chatId: string;
/** A chat of another user, to prove a token of one user cannot touch it. */
let otherChat: { chatId: string; ownerId: string };
type KeyPair = Awaited<ReturnType<typeof generateKeyPair>>;
const attacker = {} as {
  rsa: KeyPair;
  ec: KeyPair;
  ed: KeyPair;
  rsaPublicPem: string;
  ecPublicPem: string;
  rsaPublicJwk: string;
};

beforeAll(async () => {
  stack = await startHeartbeatStack();
  const seeded = await seedRunningWorkspace(stack.db.pool);
  owner = seeded.ownerId;
  chatId = seeded.chatId;
  otherChat = await seedRunningWorkspace(stack.db.pool);
  attacker.rsa = await generateKeyPair("RS256", { extractable: true });
  attacker.ec = await generateKeyPair("ES256", { extractable: true });
  attacker.ed = await generateKeyPair("EdDSA", { extractable: true });
  attacker.rsaPublicPem = await exportSPKI(attacker.rsa.publicKey);
  attacker.ecPublicPem = await exportSPKI(attacker.ec.publicKey);
  attacker.rsaPublicJwk = JSON.stringify(await exportJWK(attacker.rsa.publicKey));
});
afterAll(async () => {
  await stack?.stop();
});

const nowSeconds = () => Math.floor(Date.now() / 1000);
const b64url = (value: unknown) =>
  Buffer.from(typeof value === "string" ? value : JSON.stringify(value)).toString("base64url");

/** A valid claim set for the chat's owner; `undefined` overrides remove a claim. */
function claims(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const all: Record<string, unknown> = {
    iss: ISSUER,
    aud: AUDIENCE,
    sub: owner,
    scope: "workspace:read workspace:update",
    iat: nowSeconds(),
    exp: nowSeconds() + 300,
    ...overrides,
  };
  return Object.fromEntries(Object.entries(all).filter(([, value]) => value !== undefined));
}

/** Signs with jose: any key, any algorithm, any extra protected header. */
async function sign(
  overrides: Record<string, unknown> = {},
  options: {
    key?: KeyPair["privateKey"] | Uint8Array;
    alg?: string;
    header?: Record<string, unknown>;
  } = {},
): Promise<string> {
  return new SignJWT(claims(overrides))
    .setProtectedHeader({ alg: options.alg ?? "HS256", typ: "JWT", ...options.header })
    .sign(options.key ?? SECRET);
}

/**
 * Signs header and payload exactly as given (jose refuses to produce most of these); a string is
 * taken as the JSON text itself, byte for byte.
 */
function signRaw(header: unknown, payload: unknown, key: Uint8Array = SECRET): string {
  const signingInput = `${b64url(header)}.${b64url(payload)}`;
  return `${signingInput}.${createHmac("sha256", key).update(signingInput).digest("base64url")}`;
}

/** A correctly signed token whose length is exactly `length` characters. */
async function tokenOfLength(length: number): Promise<string> {
  // Base64url turns 3 payload bytes into 4 characters: start just below the estimate.
  const base = (await sign({ padding: "" })).length;
  const estimate = Math.floor(((length - base) * 3) / 4);
  for (let padding = Math.max(0, estimate - 8); padding < estimate + 8; padding++) {
    const token = await sign({ padding: "x".repeat(padding) });
    if (token.length === length) return token;
    if (token.length > length) break;
  }
  throw new Error(`no token of exactly ${length} characters`);
}

const bearer = (token: string) => `Bearer ${token}`;

type TokenCase =
  | { name: string; authorization: () => Promise<string | undefined>; expected: 200 }
  | {
      name: string;
      authorization: () => Promise<string | undefined>;
      expected: 401 | 403;
      reason: RegExp;
    }
  | {
      name: string;
      authorization: () => Promise<string | undefined>;
      expected: 404;
      /** The path's chat; this chat's owner by default. */
      chat?: () => string;
    };

const MALFORMED = /malformed/;
const ALGORITHM = /algorithm/;
const SIGNATURE = /signature/;
const CLAIMS = /claims/;
const NOT_YET = /not yet valid/;
const SCOPE = /lacks the scopes workspace:read and workspace:update/;
const HEADER = /Authorization header must be 'Bearer <token>'/;
const LIFETIME = /lives longer than the accepted maximum/;
const DUPLICATE = /repeats a header parameter or claim name/;
const DAY = 24 * 60 * 60;

const cases: TokenCase[] = [
  // ── Algorithms: none, confusion, keys that are not ours ──
  {
    name: "alg none, unsigned",
    authorization: async () =>
      bearer(`${b64url({ alg: "none", typ: "JWT" })}.${b64url(claims())}.`),
    expected: 401,
    reason: ALGORITHM,
  },
  {
    name: "alg None (case variant), unsigned",
    authorization: async () => bearer(`${b64url({ alg: "None" })}.${b64url(claims())}.`),
    expected: 401,
    reason: ALGORITHM,
  },
  {
    name: "alg none with a valid HS256 signature attached",
    authorization: async () => {
      const [, , signature] = (await sign()).split(".");
      return bearer(`${b64url({ alg: "none" })}.${b64url(claims())}.${signature}`);
    },
    expected: 401,
    reason: ALGORITHM,
  },
  {
    name: "no alg in the header",
    authorization: async () => bearer(signRaw({ typ: "JWT" }, claims())),
    expected: 401,
    reason: MALFORMED,
  },
  {
    name: "alg hs256 (lower case) with a valid HMAC",
    authorization: async () => bearer(signRaw({ alg: "hs256" }, claims())),
    expected: 401,
    reason: ALGORITHM,
  },
  {
    name: "HS256 keyed with an RSA public key's PEM (algorithm confusion)",
    authorization: async () =>
      bearer(await sign({}, { key: new TextEncoder().encode(attacker.rsaPublicPem) })),
    expected: 401,
    reason: SIGNATURE,
  },
  {
    name: "HS256 keyed with an EC public key's PEM (algorithm confusion)",
    authorization: async () =>
      bearer(await sign({}, { key: new TextEncoder().encode(attacker.ecPublicPem) })),
    expected: 401,
    reason: SIGNATURE,
  },
  {
    name: "HS256 keyed with an RSA public JWK (algorithm confusion)",
    authorization: async () =>
      bearer(await sign({}, { key: new TextEncoder().encode(attacker.rsaPublicJwk) })),
    expected: 401,
    reason: SIGNATURE,
  },
  {
    name: "HS512 with the right secret (not on the allow-list)",
    authorization: async () => bearer(await sign({}, { alg: "HS512" })),
    expected: 401,
    reason: ALGORITHM,
  },
  {
    name: "RS256 with an attacker's key",
    authorization: async () =>
      bearer(await sign({}, { key: attacker.rsa.privateKey, alg: "RS256" })),
    expected: 401,
    reason: ALGORITHM,
  },
  {
    name: "ES256 with an attacker's key embedded as a jwk header",
    authorization: async () =>
      bearer(
        await sign(
          {},
          {
            key: attacker.ec.privateKey,
            alg: "ES256",
            header: { jwk: await exportJWK(attacker.ec.publicKey) },
          },
        ),
      ),
    expected: 401,
    reason: ALGORITHM,
  },
  {
    name: "EdDSA with an attacker's key and a jku pointing at the attacker",
    authorization: async () =>
      bearer(
        await sign(
          {},
          {
            key: attacker.ed.privateKey,
            alg: "EdDSA",
            header: { jku: "https://attacker.example/jwks.json" },
          },
        ),
      ),
    expected: 401,
    reason: ALGORITHM,
  },
  {
    name: "signed with another 32-byte secret",
    authorization: async () =>
      bearer(await sign({}, { key: new TextEncoder().encode("x".repeat(32)) })),
    expected: 401,
    reason: SIGNATURE,
  },
  {
    name: "another secret with a kid path-traversal header",
    authorization: async () =>
      bearer(
        await sign(
          {},
          { key: new TextEncoder().encode("y".repeat(32)), header: { kid: "../../../dev/null" } },
        ),
      ),
    expected: 401,
    reason: SIGNATURE,
  },
  {
    name: "an unknown critical header extension",
    authorization: async () =>
      bearer(signRaw({ alg: "HS256", crit: ["x-evil"], "x-evil": true }, claims())),
    expected: 401,
    // jose reports an unrecognised extension as "not supported", which the verifier maps to its
    // algorithm message; either wording is a fair reason.
    reason: /algorithm is not accepted|malformed/,
  },
  // ── Structure ──
  {
    name: "payload changed after signing (scope escalated)",
    authorization: async () => {
      const [header, , signature] = (await sign({ scope: "workspace:read" })).split(".");
      return bearer(`${header}.${b64url(claims({ scope: "coder:all" }))}.${signature}`);
    },
    expected: 401,
    reason: SIGNATURE,
  },
  {
    name: "signature of another token",
    authorization: async () => {
      const [header, payload] = (await sign({ sub: otherChat.ownerId })).split(".");
      const [, , signature] = (await sign()).split(".");
      return bearer(`${header}.${payload}.${signature}`);
    },
    expected: 401,
    reason: SIGNATURE,
  },
  {
    name: "truncated signature",
    authorization: async () => bearer((await sign()).slice(0, -5)),
    expected: 401,
    reason: SIGNATURE,
  },
  {
    name: "two segments only",
    authorization: async () => bearer((await sign()).split(".").slice(0, 2).join(".")),
    expected: 401,
    reason: MALFORMED,
  },
  {
    name: "four segments",
    authorization: async () => bearer(`${await sign()}.${b64url("extra")}`),
    expected: 401,
    reason: MALFORMED,
  },
  {
    name: "five segments (a JWE)",
    authorization: async () =>
      bearer(`${b64url({ alg: "dir", enc: "A256GCM" })}..${b64url("iv")}.${b64url("ct")}.tag`),
    expected: 401,
    reason: MALFORMED,
  },
  {
    name: "empty segments",
    authorization: async () => bearer(".."),
    expected: 401,
    reason: MALFORMED,
  },
  {
    name: "garbled payload segment (base64url of random bytes)",
    authorization: async () => {
      const [header, , signature] = (await sign()).split(".");
      return bearer(`${header}.${randomBytes(48).toString("base64url")}.${signature}`);
    },
    expected: 401,
    // The signature is checked before the payload is decoded.
    reason: SIGNATURE,
  },
  {
    name: "garbled payload segment, correctly signed",
    authorization: async () => {
      const signingInput = `${b64url({ alg: "HS256" })}.${randomBytes(48).toString("base64url")}`;
      const signature = createHmac("sha256", SECRET).update(signingInput).digest("base64url");
      return bearer(`${signingInput}.${signature}`);
    },
    expected: 401,
    reason: MALFORMED,
  },
  {
    name: "characters outside the b64token alphabet",
    authorization: async () => {
      const [header, , signature] = (await sign()).split(".");
      return bearer(`${header}.%%%notbase64%%%.${signature}`);
    },
    expected: 401,
    reason: HEADER,
  },
  {
    name: "header that is not JSON",
    authorization: async () => {
      const [, payload, signature] = (await sign()).split(".");
      return bearer(`${b64url("not json")}.${payload}.${signature}`);
    },
    expected: 401,
    reason: MALFORMED,
  },
  {
    name: "payload that is not JSON (correctly signed)",
    authorization: async () => bearer(signRaw({ alg: "HS256" }, "not json")),
    expected: 401,
    reason: MALFORMED,
  },
  {
    name: "payload that is a JSON array (correctly signed)",
    authorization: async () => bearer(signRaw({ alg: "HS256" }, [claims()])),
    expected: 401,
    reason: MALFORMED,
  },
  {
    name: "JWS JSON serialization instead of the compact form",
    authorization: async () => {
      const [header, payload, signature] = (await sign()).split(".");
      return bearer(JSON.stringify({ protected: header, payload, signature }));
    },
    expected: 401,
    reason: HEADER,
  },
  // ── Duplicate member names (docs/token.md, RFC 7515 §5.2: JSON.parse keeps the last one) ──
  {
    name: "header with alg twice, none first",
    authorization: async () =>
      bearer(signRaw('{"alg":"none","alg":"HS256"}', JSON.stringify(claims()))),
    expected: 401,
    reason: DUPLICATE,
  },
  {
    name: "header with alg escaped as \\u0061lg and then alg",
    authorization: async () =>
      bearer(signRaw('{"\\u0061lg":"none","alg":"HS256"}', JSON.stringify(claims()))),
    expected: 401,
    reason: DUPLICATE,
  },
  {
    name: "header with typ twice",
    authorization: async () =>
      bearer(signRaw('{"alg":"HS256","typ":"JWT","typ":"JWT"}', JSON.stringify(claims()))),
    expected: 401,
    reason: DUPLICATE,
  },
  {
    name: "claims with sub twice, another user first",
    authorization: async () =>
      bearer(
        signRaw(
          '{"alg":"HS256"}',
          `{"sub":"${otherChat.ownerId}",${JSON.stringify(claims()).slice(1)}`,
        ),
      ),
    expected: 401,
    reason: DUPLICATE,
  },
  {
    name: "claims with scope twice, escaped the second time",
    authorization: async () =>
      bearer(
        signRaw(
          '{"alg":"HS256"}',
          `${JSON.stringify(claims({ scope: "workspace:read" })).slice(0, -1)},"\\u0073cope":"coder:all"}`,
        ),
      ),
    expected: 401,
    reason: DUPLICATE,
  },
  {
    name: "claims with chat_id twice",
    authorization: async () =>
      bearer(
        signRaw(
          '{"alg":"HS256"}',
          `${JSON.stringify(claims({ chat_id: otherChat.chatId })).slice(0, -1)},"chat_id":"${chatId}"}`,
        ),
      ),
    expected: 401,
    reason: DUPLICATE,
  },
  {
    name: "claims with exp twice, the first one long past",
    authorization: async () =>
      bearer(signRaw('{"alg":"HS256"}', `{"exp":1,${JSON.stringify(claims()).slice(1)}`)),
    expected: 401,
    reason: DUPLICATE,
  },
  {
    name: "the same token written by hand without duplicates is accepted (the control)",
    authorization: async () => bearer(signRaw('{"alg":"HS256"}', JSON.stringify(claims()))),
    expected: 200,
  },
  // ── Size ──
  {
    name: "token of exactly 8 KiB is accepted",
    authorization: async () => bearer(await tokenOfLength(MAX_TOKEN_BYTES)),
    expected: 200,
  },
  {
    name: "token of 8 KiB + 1 byte",
    authorization: async () => bearer(await tokenOfLength(MAX_TOKEN_BYTES + 1)),
    expected: 401,
    reason: /too large/,
  },
  {
    name: "token of 64 KiB",
    authorization: async () => bearer(await sign({ padding: "x".repeat(64 * 1024) })),
    expected: 401,
    reason: /too large/,
  },
  // ── Time (docs/token.md: skew ≤ 60 s) ──
  {
    name: "expired 2 minutes ago",
    authorization: async () => bearer(await sign({ exp: nowSeconds() - 120 })),
    expected: 401,
    reason: /expired/,
  },
  {
    name: "expired 70 s ago (just outside the 60 s skew)",
    authorization: async () => bearer(await sign({ exp: nowSeconds() - 70 })),
    expected: 401,
    reason: /expired/,
  },
  {
    name: "expired 50 s ago (just inside the 60 s skew) is accepted",
    authorization: async () => bearer(await sign({ exp: nowSeconds() - 50 })),
    expected: 200,
  },
  {
    name: "nbf 5 minutes in the future",
    authorization: async () => bearer(await sign({ nbf: nowSeconds() + 300 })),
    expected: 401,
    reason: NOT_YET,
  },
  {
    name: "nbf 70 s in the future (just outside the skew)",
    authorization: async () => bearer(await sign({ nbf: nowSeconds() + 70 })),
    expected: 401,
    reason: NOT_YET,
  },
  {
    name: "nbf 50 s in the future (just inside the skew) is accepted",
    authorization: async () => bearer(await sign({ nbf: nowSeconds() + 50 })),
    expected: 200,
  },
  {
    name: "iat 5 minutes in the future",
    authorization: async () => bearer(await sign({ iat: nowSeconds() + 300 })),
    expected: 401,
    reason: NOT_YET,
  },
  // ── Maximum lifetime (docs/token.md: exp − now ≤ CHAT_TOKEN_MAX_LIFETIME, 24 h by default) ──
  {
    name: "exp of 1e308",
    authorization: async () => bearer(await sign({ exp: 1e308 })),
    expected: 401,
    reason: LIFETIME,
  },
  {
    name: "exp ten years ahead",
    authorization: async () => bearer(await sign({ exp: nowSeconds() + 10 * 365 * DAY })),
    expected: 401,
    reason: LIFETIME,
  },
  {
    name: "exp 24 h and 2 minutes ahead (the limit has no clock tolerance)",
    authorization: async () => bearer(await sign({ exp: nowSeconds() + DAY + 120 })),
    expected: 401,
    reason: LIFETIME,
  },
  {
    name: "exp 1e308 with an iat of now (the limit is on exp, not on the age)",
    authorization: async () => bearer(await sign({ iat: nowSeconds(), exp: 1e308 })),
    expected: 401,
    reason: LIFETIME,
  },
  {
    name: "exp 23 h 59 min ahead is accepted",
    authorization: async () => bearer(await sign({ exp: nowSeconds() + DAY - 60 })),
    expected: 200,
  },
  {
    name: "missing exp",
    authorization: async () => bearer(await sign({ exp: undefined })),
    expected: 401,
    reason: CLAIMS,
  },
  {
    name: "exp as a string",
    authorization: async () => bearer(await sign({ exp: String(nowSeconds() + 300) })),
    expected: 401,
    reason: CLAIMS,
  },
  // ── Issuer and audience ──
  {
    name: "wrong iss",
    authorization: async () => bearer(await sign({ iss: "evil" })),
    expected: 401,
    reason: /issuer/,
  },
  {
    name: "iss differing only in case",
    authorization: async () => bearer(await sign({ iss: ISSUER.toUpperCase() })),
    expected: 401,
    reason: /issuer/,
  },
  {
    name: "missing iss",
    authorization: async () => bearer(await sign({ iss: undefined })),
    expected: 401,
    reason: /issuer/,
  },
  {
    name: "missing aud",
    authorization: async () => bearer(await sign({ aud: undefined })),
    expected: 401,
    reason: /audience/,
  },
  {
    name: "another aud",
    authorization: async () => bearer(await sign({ aud: "coder" })),
    expected: 401,
    reason: /audience/,
  },
  {
    name: "an aud list without ours",
    authorization: async () => bearer(await sign({ aud: ["coder", `${AUDIENCE}-admin`] })),
    expected: 401,
    reason: /audience/,
  },
  {
    name: "an aud list with ours and a number",
    authorization: async () => bearer(await sign({ aud: [AUDIENCE, 1] })),
    expected: 401,
    reason: /audience/,
  },
  {
    name: "an aud list with ours and null",
    authorization: async () => bearer(await sign({ aud: [AUDIENCE, null] })),
    expected: 401,
    reason: /audience/,
  },
  {
    name: "an aud list with ours and an object",
    authorization: async () => bearer(await sign({ aud: [AUDIENCE, { aud: AUDIENCE }] })),
    expected: 401,
    reason: /audience/,
  },
  {
    name: "an aud list containing ours is accepted",
    authorization: async () => bearer(await sign({ aud: ["coder", AUDIENCE] })),
    expected: 200,
  },
  // ── Subject ──
  {
    name: "sub not a UUID",
    authorization: async () => bearer(await sign({ sub: "admin" })),
    expected: 401,
    reason: CLAIMS,
  },
  {
    name: "sub with SQL metacharacters",
    authorization: async () => bearer(await sign({ sub: "' OR 1=1 --" })),
    expected: 401,
    reason: CLAIMS,
  },
  {
    name: "sub missing",
    authorization: async () => bearer(await sign({ sub: undefined })),
    expected: 401,
    reason: CLAIMS,
  },
  {
    name: "sub of the owner in upper case is accepted (UUIDs are case-insensitive)",
    authorization: async () => bearer(await sign({ sub: owner.toUpperCase() })),
    expected: 200,
  },
  {
    name: "sub of another user who owns another chat",
    authorization: async () => bearer(await sign({ sub: otherChat.ownerId })),
    expected: 404,
  },
  {
    name: "sub of a user who owns nothing",
    authorization: async () => bearer(await sign({ sub: randomUUID() })),
    expected: 404,
  },
  {
    name: "the owner's token for a chat that does not exist",
    authorization: async () => bearer(await sign()),
    expected: 404,
    chat: () => randomUUID(),
  },
  // ── Scopes (docs/token.md) ──
  {
    name: "no scope claim",
    authorization: async () => bearer(await sign({ scope: undefined })),
    expected: 403,
    reason: SCOPE,
  },
  {
    name: "empty scope",
    authorization: async () => bearer(await sign({ scope: "" })),
    expected: 403,
    reason: SCOPE,
  },
  {
    name: "workspace:read only",
    authorization: async () => bearer(await sign({ scope: "workspace:read" })),
    expected: 403,
    reason: SCOPE,
  },
  {
    name: "workspace:update only",
    authorization: async () => bearer(await sign({ scope: "workspace:update" })),
    expected: 403,
    reason: SCOPE,
  },
  {
    name: "workspace:delete only",
    authorization: async () => bearer(await sign({ scope: "workspace:delete" })),
    expected: 403,
    reason: SCOPE,
  },
  {
    name: "workspace:ssh and workspace:start",
    authorization: async () => bearer(await sign({ scope: "workspace:ssh workspace:start" })),
    expected: 403,
    reason: SCOPE,
  },
  {
    name: "chat:*",
    authorization: async () => bearer(await sign({ scope: "chat:*" })),
    expected: 403,
    reason: SCOPE,
  },
  {
    name: "the two scopes comma-separated (one unknown name)",
    authorization: async () => bearer(await sign({ scope: "workspace:read,workspace:update" })),
    expected: 403,
    reason: SCOPE,
  },
  {
    name: "the two scopes in upper case (names are case-sensitive)",
    authorization: async () => bearer(await sign({ scope: "WORKSPACE:READ WORKSPACE:UPDATE" })),
    expected: 403,
    reason: SCOPE,
  },
  {
    name: "scope as an array instead of a string",
    authorization: async () =>
      bearer(await sign({ scope: ["workspace:read", "workspace:update"] })),
    expected: 401,
    reason: CLAIMS,
  },
  {
    name: "workspace:* is accepted",
    authorization: async () => bearer(await sign({ scope: "workspace:*" })),
    expected: 200,
  },
  {
    name: "coder:workspaces.operate is accepted",
    authorization: async () => bearer(await sign({ scope: "coder:workspaces.operate" })),
    expected: 200,
  },
  {
    name: "coder:all is accepted",
    authorization: async () => bearer(await sign({ scope: "coder:all" })),
    expected: 200,
  },
  {
    name: "legacy all is accepted",
    authorization: async () => bearer(await sign({ scope: "all" })),
    expected: 200,
  },
  {
    name: "unknown scopes next to the needed ones are ignored",
    authorization: async () =>
      bearer(await sign({ scope: "frobnicate workspace:read x:y:z workspace:update" })),
    expected: 200,
  },
  // ── Chat binding ──
  {
    name: "chat_id claim for another chat",
    authorization: async () => bearer(await sign({ chat_id: otherChat.chatId })),
    expected: 403,
    reason: /not valid for this chat/,
  },
  {
    name: "chat_id claim that is not a UUID",
    authorization: async () => bearer(await sign({ chat_id: "*" })),
    expected: 401,
    reason: CLAIMS,
  },
  {
    name: "chat_id claim for this chat is accepted",
    authorization: async () => bearer(await sign({ chat_id: chatId })),
    expected: 200,
  },
  // ── Unicode and NUL in claims ──
  {
    name: "NUL after the owner's sub",
    authorization: async () => bearer(await sign({ sub: `${owner}\u0000` })),
    expected: 401,
    reason: CLAIMS,
  },
  {
    name: "sub of full-width digits and letters",
    authorization: async () =>
      bearer(
        await sign({
          sub: owner.replace(/[0-9a-f]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 0xfee0)),
        }),
      ),
    expected: 401,
    reason: CLAIMS,
  },
  {
    name: "NUL after the issuer",
    authorization: async () => bearer(await sign({ iss: `${ISSUER}\u0000` })),
    expected: 401,
    reason: /issuer/,
  },
  {
    name: "chat_id of this chat with a NUL appended",
    authorization: async () => bearer(await sign({ chat_id: `${chatId}\u0000` })),
    expected: 401,
    reason: CLAIMS,
  },
  {
    name: "NUL joining the two scopes into one name",
    authorization: async () =>
      bearer(await sign({ scope: "workspace:read\u0000workspace:update" })),
    expected: 403,
    reason: SCOPE,
  },
  // docs/token.md: the claim is split on U+0020 only; any other separator makes one unknown name.
  ...(
    [
      ["a byte-order mark", "\uFEFF"],
      ["a no-break space", "\u00A0"],
      ["an ideographic space", "\u3000"],
      ["a line separator", "\u2028"],
      ["a paragraph separator", "\u2029"],
      ["an em space", "\u2003"],
      ["a narrow no-break space", "\u202F"],
      ["a zero-width space", "\u200B"],
      ["a tab", "\t"],
      ["a newline", "\n"],
      ["a carriage return and newline", "\r\n"],
      ["a vertical tab", "\u000B"],
      ["a form feed", "\u000C"],
      ["NEL", "\u0085"],
    ] as const
  ).map(
    ([label, separator]): TokenCase => ({
      name: `${label} joining the two scopes into one name`,
      authorization: async () =>
        bearer(await sign({ scope: `workspace:read${separator}workspace:update` })),
      expected: 403,
      reason: SCOPE,
    }),
  ),
  {
    name: "a tab-joined pair next to coder:all spelt with a no-break space",
    authorization: async () =>
      bearer(await sign({ scope: "workspace:read\tworkspace:update coder:all\u00A0" })),
    expected: 403,
    reason: SCOPE,
  },
  {
    name: "runs of spaces between the two scopes are accepted (docs/token.md)",
    authorization: async () =>
      bearer(await sign({ scope: "  workspace:read    workspace:update " })),
    expected: 200,
  },
  {
    name: "a Cyrillic look-alike in workspace:read",
    authorization: async () =>
      bearer(await sign({ scope: "workspace:re\u0430d workspace:update" })),
    expected: 403,
    reason: SCOPE,
  },
  {
    name: "emoji and NUL in a claim nobody reads are accepted",
    authorization: async () => bearer(await sign({ name: "🙂\u0000\u202e", jti: "ü\u0000" })),
    expected: 200,
  },
  // ── The Authorization header (RFC 6750 §2.1, RFC 7235 §2.1) ──
  {
    name: "no Authorization header",
    authorization: async () => undefined,
    expected: 401,
    reason: /bearer token is required/,
  },
  {
    name: "an empty Authorization header",
    authorization: async () => "",
    expected: 401,
    reason: /bearer token is required/,
  },
  {
    name: "Bearer with no token",
    authorization: async () => "Bearer ",
    expected: 401,
    reason: /bearer token is required|Bearer <token>/,
  },
  {
    name: "the token without the Bearer scheme",
    authorization: async () => sign(),
    expected: 401,
    reason: HEADER,
  },
  {
    name: "Basic scheme",
    authorization: async () => `Basic ${Buffer.from("admin:admin").toString("base64")}`,
    expected: 401,
    reason: HEADER,
  },
  {
    name: "the token after a Token scheme",
    authorization: async () => `Token ${await sign()}`,
    expected: 401,
    reason: HEADER,
  },
  {
    name: "lower-case scheme is accepted (RFC 7235 §2.1: auth-scheme is case-insensitive)",
    authorization: async () => `bearer ${await sign()}`,
    expected: 200,
  },
  {
    name: "upper-case scheme is accepted (RFC 7235 §2.1)",
    authorization: async () => `BEARER ${await sign()}`,
    expected: 200,
  },
  {
    name: "two spaces after the scheme are accepted (RFC 6750 §2.1: 1*SP)",
    authorization: async () => `Bearer  ${await sign()}`,
    expected: 200,
  },
  {
    name: "a tab after the scheme (RFC 6750 §2.1 allows only SP)",
    authorization: async () => `Bearer\t${await sign()}`,
    expected: 401,
    reason: HEADER,
  },
  {
    name: "a second word after the token",
    authorization: async () => `Bearer ${await sign()} extra`,
    expected: 401,
    reason: HEADER,
  },
  {
    name: "two Authorization headers, joined with a comma by API Gateway",
    authorization: async () => `${bearer(await sign())},${bearer(await sign())}`,
    expected: 401,
    reason: HEADER,
  },
  {
    name: "two Authorization headers joined with a comma and a space",
    authorization: async () => `${bearer(await sign())}, ${bearer(await sign())}`,
    expected: 401,
    reason: HEADER,
  },
];

describe("hostile tokens through the heartbeat handler", () => {
  it("covers at least 30 cases", () => {
    expect(cases.length).toBeGreaterThanOrEqual(30);
  });

  it.each(cases)("$name → $expected", async (tokenCase) => {
    const authorization = await tokenCase.authorization();
    const pathChat = tokenCase.expected === 404 && tokenCase.chat ? tokenCase.chat() : chatId;
    const event = heartbeatEvent(
      authorization === undefined ? { chatId: pathChat } : { chatId: pathChat, authorization },
    );
    switch (tokenCase.expected) {
      case 200:
        await expectAcceptedOnce(stack, event);
        return;
      case 401:
        await expectRejectedWithoutWrite(stack, event, {
          status: 401,
          code: "invalid_token",
          message: tokenCase.reason,
          dataApiCalls: 0,
        });
        return;
      case 403:
        await expectRejectedWithoutWrite(stack, event, {
          status: 403,
          code: "insufficient_scope",
          message: tokenCase.reason,
          dataApiCalls: 0,
        });
        return;
      case 404:
        // Ownership is decided in the database: one statement that writes and counts nothing.
        await expectRejectedWithoutWrite(stack, event, {
          status: 404,
          code: "not_found",
          message: /^chat not found$/,
          dataApiCalls: 1,
        });
    }
  });

  it("answers a chat of another user exactly as a chat that does not exist", async () => {
    const token = await sign();
    const others = await stack.send({ chatId: otherChat.chatId, token });
    const missing = await stack.send({ chatId: randomUUID(), token });
    const { requestId: _a, ...otherBody } = others.body as Record<string, unknown>;
    const { requestId: _b, ...missingBody } = missing.body as Record<string, unknown>;
    expect({ status: others.status, headers: others.headers, body: otherBody }).toEqual({
      status: missing.status,
      headers: missing.headers,
      body: missingBody,
    });
    expect(others.status).toBe(404);
  });

  it("reaches the database only with a valid token; the same chat still works afterwards", async () => {
    // The stack stayed healthy through every hostile request above.
    await expectAcceptedOnce(stack, heartbeatEvent({ chatId, token: await sign() }));
  });
});
