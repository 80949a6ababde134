import { createHmac } from "node:crypto";
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
import { ConfigError } from "../../../functions/shared/config/env.ts";
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

/** HS256 over header and payload given as JSON text, so a test controls every byte of both. */
function signJsonText(header: string, payload: string): string {
  const input = `${base64url(header)}.${base64url(payload)}`;
  return `${input}.${createHmac("sha256", SHARED_SECRET_BYTES).update(input).digest("base64url")}`;
}

/** `{"k":v,…}` from pairs, keeping duplicates and escapes exactly as written. */
const jsonText = (members: [string, unknown][]) =>
  `{${members.map(([name, value]) => `${name}:${JSON.stringify(value)}`).join(",")}}`;

const claimMembers = (): [string, unknown][] =>
  Object.entries(goodClaims()).map(([name, value]) => [JSON.stringify(name), value]);

describe("the audience claim's type (docs/token.md: a string or an array of strings)", () => {
  it.each([
    ["an array with a number", [AUDIENCE, 1]],
    ["an array with null", [AUDIENCE, null]],
    ["an array with an object", [AUDIENCE, { aud: AUDIENCE }]],
    ["an array with a nested array", [AUDIENCE, [AUDIENCE]]],
  ])("refuses %s although it contains ours", async (_name, aud) => {
    await expectInvalidToken(verifyClaims(goodClaims({ aud })), "audience");
  });

  it.each([
    ["a number", 1],
    ["an object", { 0: AUDIENCE }],
    ["true", true],
  ])("refuses %s", async (_name, aud) => {
    await expectInvalidToken(verifyClaims(goodClaims({ aud })), "audience");
  });

  it("accepts a string and an array of strings", async () => {
    await expect(verifyClaims(goodClaims({ aud: AUDIENCE }))).resolves.toBeDefined();
    await expect(verifyClaims(goodClaims({ aud: ["x", AUDIENCE, ""] }))).resolves.toBeDefined();
  });
});

describe("maximum lifetime: exp − now", () => {
  const DAY = 24 * 60 * 60;

  it("defaults to 24 h: exactly 24 h left is accepted, one second more is refused", async () => {
    await expect(verifyClaims(goodClaims({ exp: NOW_SECONDS + DAY }))).resolves.toBeDefined();
    await expectInvalidToken(verifyClaims(goodClaims({ exp: NOW_SECONDS + DAY + 1 })), "lifetime");
  });

  it.each([
    ["a year", NOW_SECONDS + 365 * DAY],
    ["1e308", 1e308],
    ["Number.MAX_SAFE_INTEGER", Number.MAX_SAFE_INTEGER],
  ])("refuses exp %s ahead", async (_name, exp) => {
    await expectInvalidToken(verifyClaims(goodClaims({ exp })), "lifetime");
  });

  it("measures from now, not from iat: an old iat does not shorten it, a fresh one does not help", async () => {
    const limited = verifier({ maxLifetimeSeconds: 600 });
    const old = goodClaims({ iat: NOW_SECONDS - 10 * DAY, exp: NOW_SECONDS + 599 });
    await expect(limited.verify(bearer(await signToken(old)))).resolves.toBeDefined();
    const fresh = goodClaims({ iat: NOW_SECONDS, exp: NOW_SECONDS + 601 });
    await expectInvalidToken(limited.verify(bearer(await signToken(fresh))), "lifetime");
    const noIat = goodClaims({ iat: undefined, exp: NOW_SECONDS + 601 });
    await expectInvalidToken(limited.verify(bearer(await signToken(noIat))), "lifetime");
  });

  it("cannot be configured as zero, negative or not a number", () => {
    for (const maxLifetimeSeconds of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => verifier({ maxLifetimeSeconds })).toThrow(ConfigError);
    }
  });
});

describe("explicit typing (RFC 8725 §3.11)", () => {
  const typed = verifier({ type: "at+jwt" });
  const withTyp = (typ: string | undefined) =>
    signJsonText(
      JSON.stringify(typ === undefined ? { alg: "HS256" } : { alg: "HS256", typ }),
      JSON.stringify(goodClaims()),
    );

  it("accepts the configured typ, also as a full media type in any case (RFC 8725 §3.11)", async () => {
    for (const typ of ["at+jwt", "AT+JWT", "application/at+jwt"]) {
      await expect(typed.verify(bearer(withTyp(typ)))).resolves.toMatchObject({ sub: USER_ID });
    }
  });

  it.each([
    ["another typ", "JWT"],
    ["a typ with a suffix", "at+jwt2"],
    ["no typ", undefined],
  ])("refuses %s", async (_name, typ) => {
    await expectInvalidToken(typed.verify(bearer(withTyp(typ))), "type");
  });

  it("ignores typ when no type is configured", async () => {
    await expect(hs256.verify(bearer(withTyp("anything")))).resolves.toBeDefined();
    await expect(hs256.verify(bearer(withTyp(undefined)))).resolves.toBeDefined();
  });

  it("cannot be configured as blank", () => {
    expect(() => verifier({ type: " " })).toThrow(ConfigError);
  });
});

describe("duplicate member names (RFC 7515 §5.2, RFC 7519 §4)", () => {
  const header = '{"alg":"HS256"}';
  const claims = jsonText(claimMembers());

  it("accepts the same token without duplicates (the control)", async () => {
    await expect(hs256.verify(bearer(signJsonText(header, claims)))).resolves.toMatchObject({
      sub: USER_ID,
    });
  });

  it.each([
    ["alg twice, none first", '{"alg":"none","alg":"HS256"}'],
    ["alg twice, same value", '{"alg":"HS256","alg":"HS256"}'],
    ["alg and its escaped spelling", '{"\\u0061lg":"none","alg":"HS256"}'],
    ["typ twice", '{"alg":"HS256","typ":"JWT","typ":"at+jwt"}'],
    ["kid twice", '{"alg":"HS256","kid":"a","kid":"b"}'],
    ["a name twice inside a nested object", '{"alg":"HS256","x":{"a":1,"a":2}}'],
  ])("refuses a header with %s", async (_name, duplicated) => {
    await expectInvalidToken(
      hs256.verify(bearer(signJsonText(duplicated, claims))),
      "duplicate_member",
    );
  });

  it.each([
    ["sub twice", [['"sub"', CHAT_ID]]],
    ["scope twice", [['"scope"', "workspace:read"]]],
    ["exp twice", [['"exp"', NOW_SECONDS + 60]]],
    ["aud twice", [['"aud"', "other-api"]]],
    ["sub and its escaped spelling", [['"s\\u0075b"', CHAT_ID]]],
    [
      "an escaped surrogate pair and the character itself",
      [
        ['"\\ud83d\\ude00"', 1],
        ['"😀"', 2],
      ],
    ],
  ] as [string, [string, unknown][]][])("refuses claims with %s", async (_name, extra) => {
    const text = jsonText([...extra, ...claimMembers()]);
    await expectInvalidToken(hs256.verify(bearer(signJsonText(header, text))), "duplicate_member");
  });

  it("refuses claims with a name twice inside a nested object", async () => {
    const text = jsonText([...claimMembers(), ['"x"', { y: [{ n: 1 }] }]]).replace(
      '{"n":1}',
      '{"n":1,"n":2}',
    );
    await expectInvalidToken(hs256.verify(bearer(signJsonText(header, text))), "duplicate_member");
  });

  it("accepts names that only look alike: case, a trailing space, the same name in sibling objects", async () => {
    const text = jsonText([
      ...claimMembers(),
      ['"Sub"', "x"],
      ['"sub "', "x"],
      ['"a"', { n: 1 }],
      ['"b"', { n: 2 }],
      ['"c"', [{ n: 1 }, { n: 2 }]],
    ]);
    await expect(hs256.verify(bearer(signJsonText(header, text)))).resolves.toMatchObject({
      sub: USER_ID,
    });
  });
});
