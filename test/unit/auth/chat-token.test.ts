import { CompactSign, exportSPKI, generateKeyPair, UnsecuredJWT } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import {
  type ChatTokenVerifierOptions,
  createChatTokenVerifier,
} from "../../../functions/heartbeat/auth/chat-token.ts";
import {
  type ChatTokenKeySource,
  publicKeyFromPem,
  sharedSecretKey,
} from "../../../functions/heartbeat/auth/keys.ts";
import { ConfigError } from "../../../functions/shared/config.ts";
import {
  AUDIENCE,
  base64url,
  bearer,
  CHAT_ID,
  expectInvalidToken,
  goodClaims,
  ISSUER,
  NOW,
  NOW_SECONDS,
  SHARED_SECRET,
  SHARED_SECRET_BYTES,
  signToken,
  USER_ID,
} from "./token-fixtures.ts";

function verifier(
  overrides: Partial<ChatTokenVerifierOptions> & { keys?: ChatTokenKeySource } = {},
) {
  return createChatTokenVerifier({
    keys: sharedSecretKey(SHARED_SECRET),
    issuer: ISSUER,
    audience: AUDIENCE,
    algorithms: ["HS256"],
    now: () => NOW,
    ...overrides,
  });
}

const hs256 = verifier();
const verifyClaims = async (claims: Record<string, unknown>) =>
  hs256.verify(bearer(await signToken(claims)));

describe("a good token", () => {
  it("yields its typed claims", async () => {
    await expect(verifyClaims(goodClaims({ jti: "t-1" }))).resolves.toEqual({
      sub: USER_ID,
      scope: "workspace:read workspace:update",
      exp: NOW_SECONDS + 300,
      iat: NOW_SECONDS - 10,
      jti: "t-1",
    });
  });

  it("carries chat_id as chatId and lower-cases UUIDs", async () => {
    const claims = await verifyClaims(
      goodClaims({ sub: USER_ID.toUpperCase(), chat_id: CHAT_ID.toUpperCase() }),
    );
    expect(claims.sub).toBe(USER_ID);
    expect(claims.chatId).toBe(CHAT_ID);
  });

  it("has no scopes when the scope claim is absent", async () => {
    const claims = await verifyClaims(goodClaims({ scope: undefined }));
    expect(claims.scope).toBe("");
  });

  it("may list several audiences", async () => {
    const claims = await verifyClaims(goodClaims({ aud: ["other-api", AUDIENCE] }));
    expect(claims.sub).toBe(USER_ID);
  });
});

describe("the Authorization header", () => {
  it.each([
    [undefined, "missing"],
    ["", "missing"],
    ["   ", "missing"],
    ["Bearer", "malformed_header"],
    ["Bearer ", "malformed_header"],
    ["Basic dXNlcjpwYXNz", "malformed_header"],
    ["Token abc.def.ghi", "malformed_header"],
    ["Bearerabc.def.ghi", "malformed_header"],
    ["Bearer abc.def.ghi extra", "malformed_header"],
    ["Bearer\tabc.def.ghi", "malformed_header"],
    ["Bearer abc,Bearer def", "malformed_header"],
  ] as const)("%j is refused (%s)", async (header, reason) => {
    await expectInvalidToken(hs256.verify(header), reason);
  });

  it("matches the scheme case-insensitively (RFC 7235 §2.1) and allows extra spaces", async () => {
    const token = await signToken();
    for (const header of [
      `bearer ${token}`,
      `BEARER ${token}`,
      `Bearer   ${token}`,
      ` Bearer ${token} `,
    ]) {
      await expect(hs256.verify(header)).resolves.toMatchObject({ sub: USER_ID });
    }
  });
});

describe("signature and algorithm", () => {
  it("refuses alg none", async () => {
    const unsigned = new UnsecuredJWT(goodClaims()).encode();
    await expectInvalidToken(hs256.verify(bearer(unsigned)), "algorithm");
  });

  it("refuses to be configured with alg none", () => {
    expect(() => verifier({ algorithms: ["none"] })).toThrow(ConfigError);
    expect(() => verifier({ algorithms: ["HS256", "NONE"] })).toThrow(ConfigError);
  });

  it("refuses a token signed with another secret", async () => {
    const token = await signToken(goodClaims(), {
      key: new TextEncoder().encode("another-secret-that-is-also-32-bytes-long"),
    });
    await expectInvalidToken(hs256.verify(bearer(token)), "signature");
  });

  it("refuses a token whose payload was swapped after signing", async () => {
    const [header, , signature] = (await signToken()).split(".");
    const forged = `${header}.${base64url(JSON.stringify(goodClaims({ sub: CHAT_ID })))}.${signature}`;
    await expectInvalidToken(hs256.verify(bearer(forged)), "signature");
  });

  it("refuses an algorithm outside the allow-list even with the right key", async () => {
    const token = await signToken(goodClaims(), { alg: "HS512" });
    await expectInvalidToken(hs256.verify(bearer(token)), "algorithm");
  });

  describe("algorithm confusion: HS256 signed with an RSA public key's PEM as the secret", () => {
    let pem: string;
    let confused: string;
    let genuine: string;
    beforeAll(async () => {
      const { publicKey, privateKey } = await generateKeyPair("RS256", { extractable: true });
      pem = await exportSPKI(publicKey);
      confused = await signToken(goodClaims(), { key: new TextEncoder().encode(pem) });
      genuine = await signToken(goodClaims(), { alg: "RS256", key: privateKey });
    });

    it("is refused by an RS256 verifier, which accepts the genuine RS256 token", async () => {
      const rs256 = verifier({ keys: publicKeyFromPem(pem), algorithms: ["RS256"] });
      await expect(rs256.verify(bearer(genuine))).resolves.toMatchObject({ sub: USER_ID });
      await expectInvalidToken(rs256.verify(bearer(confused)), "algorithm");
    });

    it("is refused even when HS256 is (mistakenly) allowed alongside the public key", async () => {
      const mixed = verifier({ keys: publicKeyFromPem(pem), algorithms: ["RS256", "HS256"] });
      await expectInvalidToken(mixed.verify(bearer(confused)), "key_mismatch");
    });
  });
});

describe("malformed tokens", () => {
  it.each(["abc", "abc.def", "abc.def.ghi", "a.b.c.d", ".."])("refuses %j", async (token) => {
    await expectInvalidToken(hs256.verify(bearer(token)), "malformed");
  });

  it("refuses a header that is not JSON", async () => {
    const [, payload, signature] = (await signToken()).split(".");
    await expectInvalidToken(
      hs256.verify(bearer(`${base64url("not json")}.${payload}.${signature}`)),
      "malformed",
    );
  });

  it.each(["not json", "[1,2,3]", '"a string"'])(
    "refuses a correctly signed payload %j that is not a JSON object",
    async (payload) => {
      const token = await new CompactSign(new TextEncoder().encode(payload))
        .setProtectedHeader({ alg: "HS256" })
        .sign(SHARED_SECRET_BYTES);
      await expectInvalidToken(hs256.verify(bearer(token)), "malformed");
    },
  );
});

describe("time claims, with 60 s of clock skew", () => {
  it("refuses a token expired more than 60 s ago and accepts one expired 59 s ago", async () => {
    await expectInvalidToken(verifyClaims(goodClaims({ exp: NOW_SECONDS - 61 })), "expired");
    await expect(verifyClaims(goodClaims({ exp: NOW_SECONDS - 59 }))).resolves.toBeDefined();
  });

  it("refuses nbf more than 60 s ahead and accepts 59 s ahead", async () => {
    await expectInvalidToken(verifyClaims(goodClaims({ nbf: NOW_SECONDS + 61 })), "not_yet_valid");
    await expect(verifyClaims(goodClaims({ nbf: NOW_SECONDS + 59 }))).resolves.toBeDefined();
  });

  it("refuses iat more than 60 s ahead and accepts 59 s ahead", async () => {
    await expectInvalidToken(verifyClaims(goodClaims({ iat: NOW_SECONDS + 61 })), "not_yet_valid");
    await expect(verifyClaims(goodClaims({ iat: NOW_SECONDS + 59 }))).resolves.toBeDefined();
  });

  it("applies a smaller configured tolerance", async () => {
    const strict = verifier({ clockToleranceSeconds: 0 });
    const token = await signToken(goodClaims({ exp: NOW_SECONDS - 1 }));
    await expectInvalidToken(strict.verify(bearer(token)), "expired");
    await expect(hs256.verify(bearer(token))).resolves.toBeDefined();
  });

  it("cannot be configured with more than 60 s of skew", () => {
    expect(() => verifier({ clockToleranceSeconds: 61 })).toThrow(ConfigError);
  });

  it("requires exp", async () => {
    await expectInvalidToken(verifyClaims(goodClaims({ exp: undefined })), "claims");
  });

  it("refuses non-numeric time claims", async () => {
    await expectInvalidToken(
      verifyClaims(goodClaims({ exp: String(NOW_SECONDS + 300) })),
      "claims",
    );
    await expectInvalidToken(verifyClaims(goodClaims({ nbf: "yesterday" })), "claims");
  });
});

describe("issuer and audience", () => {
  it.each([
    ["another issuer", { iss: "https://evil.example.test" }, "issuer"],
    ["no issuer", { iss: undefined }, "issuer"],
    ["no audience", { aud: undefined }, "audience"],
    ["another audience", { aud: "other-api" }, "audience"],
    ["only other audiences", { aud: ["other-api", "third-api"] }, "audience"],
  ] as const)("refuses %s", async (_, overrides, reason) => {
    await expectInvalidToken(verifyClaims(goodClaims(overrides)), reason);
  });
});

describe("claim types", () => {
  it.each([
    { sub: "not-a-uuid" },
    { sub: null },
    { sub: 42 },
    { scope: ["workspace:read", "workspace:update"] },
    { chat_id: "chat-1" },
    { chat_id: 7 },
    { jti: 1 },
  ])("refuses %j", async (overrides) => {
    await expectInvalidToken(verifyClaims(goodClaims(overrides)), "claims");
  });

  it("refuses a token without sub", async () => {
    await expectInvalidToken(verifyClaims(goodClaims({ sub: undefined })), "claims");
  });
});

describe("token size", () => {
  it("refuses a token over 8 KiB before parsing it, and accepts one just under", async () => {
    const large = await signToken(goodClaims({ padding: "x".repeat(6200) }));
    expect(large.length).toBeGreaterThan(8192);
    await expectInvalidToken(hs256.verify(bearer(large)), "too_large");

    const fits = await signToken(goodClaims({ padding: "x".repeat(5800) }));
    expect(fits.length).toBeLessThanOrEqual(8192);
    await expect(hs256.verify(bearer(fits))).resolves.toMatchObject({ sub: USER_ID });
  });

  it("says too_large, not malformed, for oversized garbage", async () => {
    await expectInvalidToken(hs256.verify(bearer("a".repeat(9000))), "too_large");
  });
});

describe("public keys", () => {
  it.each([["ES256"], ["EdDSA"], ["RS256"]] as const)(
    "verifies %s tokens against a PEM public key",
    async (alg) => {
      const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
      const other = await generateKeyPair(alg);
      const pem = await exportSPKI(publicKey);
      const pemVerifier = verifier({
        keys: publicKeyFromPem(pem),
        algorithms: ["ES256", "EdDSA", "RS256"],
      });

      await expect(
        pemVerifier.verify(bearer(await signToken(goodClaims(), { alg, key: privateKey }))),
      ).resolves.toMatchObject({ sub: USER_ID });
      await expectInvalidToken(
        pemVerifier.verify(bearer(await signToken(goodClaims(), { alg, key: other.privateKey }))),
        "signature",
      );
    },
  );

  it("refuses a public-key algorithm missing from the allow-list", async () => {
    const { publicKey, privateKey } = await generateKeyPair("ES256", { extractable: true });
    const rsOnly = verifier({
      keys: publicKeyFromPem(await exportSPKI(publicKey)),
      algorithms: ["RS256"],
    });
    const token = await signToken(goodClaims(), { alg: "ES256", key: privateKey });
    await expectInvalidToken(rsOnly.verify(bearer(token)), "algorithm");
  });

  it("refuses an ES256 token against the shared secret", async () => {
    const { privateKey } = await generateKeyPair("ES256");
    const token = await signToken(goodClaims(), { alg: "ES256", key: privateKey });
    const both = verifier({ algorithms: ["HS256", "ES256"] });
    await expectInvalidToken(both.verify(bearer(token)), "key_mismatch");
  });
});

describe("configuration", () => {
  it("refuses an empty or unknown algorithm allow-list", () => {
    expect(() => verifier({ algorithms: [] })).toThrow(ConfigError);
    expect(() => verifier({ algorithms: ["HS1"] })).toThrow(ConfigError);
  });
});
