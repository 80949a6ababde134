import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import {
  type CryptoKey,
  exportJWK,
  exportPKCS8,
  exportSPKI,
  generateKeyPair,
  type JWK,
} from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createChatTokenVerifier } from "../../../functions/heartbeat/auth/chat-token.ts";
import {
  ChatTokenError,
  ChatTokenKeyUnavailableError,
} from "../../../functions/heartbeat/auth/errors.ts";
import {
  type ChatTokenKeySource,
  chatTokenKeySource,
  jwksKey,
  keyFromParameterStore,
  type ParameterLoader,
  publicKeyFromPem,
} from "../../../functions/heartbeat/auth/keys.ts";
import { loadHeartbeatConfig } from "../../../functions/heartbeat/config.ts";
import { ConfigError } from "../../../functions/shared/config/env.ts";
import {
  AUDIENCE,
  bearer,
  expectInvalidToken,
  goodClaims,
  ISSUER,
  NOW,
  SHARED_SECRET,
  signToken,
  USER_ID,
} from "./token-fixtures.ts";

const verifierFor = (keys: ChatTokenKeySource, algorithms = ["ES256", "EdDSA", "RS256"]) =>
  createChatTokenVerifier({ keys, issuer: ISSUER, audience: AUDIENCE, algorithms, now: () => NOW });

async function errorOf(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => undefined,
    (error: unknown) => error,
  );
}

async function listen(handler: Parameters<typeof createServer>[1]): Promise<Server> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return server;
}

const urlOf = (server: Server) => `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks`;

const close = (server: Server) =>
  new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });

describe("publicKeyFromPem", () => {
  it("refuses a private key or garbage instead of deriving a public key from it", async () => {
    const { privateKey } = await generateKeyPair("ES256", { extractable: true });
    const privatePem = await exportPKCS8(privateKey);
    await expect(publicKeyFromPem(privatePem).resolve()).rejects.toBeInstanceOf(ConfigError);
    await expect(publicKeyFromPem("not a pem").resolve()).rejects.toBeInstanceOf(ConfigError);
  });

  it("binds the key to one algorithm when told which", async () => {
    const { publicKey } = await generateKeyPair("ES256", { extractable: true });
    const key = await publicKeyFromPem(await exportSPKI(publicKey), "ES256").resolve();
    expect(key).toMatchObject({
      type: "public",
      algorithm: { name: "ECDSA", namedCurve: "P-256" },
    });
  });
});

describe("jwksKey", () => {
  let signingKey: CryptoKey;
  let jwks: { keys: JWK[] };
  let status = 200;
  let fetches = 0;
  let server: Server;

  beforeAll(async () => {
    const pair = await generateKeyPair("ES256", { extractable: true });
    signingKey = pair.privateKey;
    jwks = {
      keys: [{ ...(await exportJWK(pair.publicKey)), kid: "key-1", alg: "ES256", use: "sig" }],
    };
    server = await listen((_request, response) => {
      fetches += 1;
      response.writeHead(status, { "content-type": "application/json" });
      response.end(JSON.stringify(jwks));
    });
  });
  afterAll(() => close(server));

  it("verifies a token whose kid is in the served key set", async () => {
    const verifier = verifierFor(jwksKey(urlOf(server)));
    const token = await signToken(goodClaims(), { alg: "ES256", key: signingKey, kid: "key-1" });
    await expect(verifier.verify(bearer(token))).resolves.toMatchObject({ sub: USER_ID });
  });

  it("fetches the key set once per container, also when its URL comes from the parameter store", async () => {
    const store: ParameterLoader = async () => urlOf(server);
    const verifier = verifierFor(
      keyFromParameterStore({ name: "/chat/jwks", kind: "jwks-url", provider: "ssm", load: store }),
    );
    const token = await signToken(goodClaims(), { alg: "ES256", key: signingKey, kid: "key-1" });
    const before = fetches;
    for (let request = 0; request < 3; request += 1) {
      await expect(verifier.verify(bearer(token))).resolves.toMatchObject({ sub: USER_ID });
    }
    expect(fetches - before).toBe(1);
  });

  it("refuses a token naming an unknown kid", async () => {
    const verifier = verifierFor(jwksKey(urlOf(server)));
    const token = await signToken(goodClaims(), { alg: "ES256", key: signingKey, kid: "key-2" });
    await expectInvalidToken(verifier.verify(bearer(token)), "unknown_key");
  });

  it("refuses an HS256 token even when HS256 is allowed (no secret keys in a JWKS)", async () => {
    const verifier = verifierFor(jwksKey(urlOf(server)), ["ES256", "HS256"]);
    const token = await signToken(goodClaims(), { kid: "key-1" });
    await expectInvalidToken(verifier.verify(bearer(token)), "algorithm");
  });

  it("reports a failing key-set endpoint as key unavailable, not as a bad token", async () => {
    status = 500;
    try {
      const verifier = verifierFor(jwksKey(urlOf(server)));
      const token = await signToken(goodClaims(), { alg: "ES256", key: signingKey, kid: "key-1" });
      const error = await errorOf(verifier.verify(bearer(token)));
      expect(error).toBeInstanceOf(ChatTokenKeyUnavailableError);
      expect(error).not.toBeInstanceOf(ChatTokenError);
    } finally {
      status = 200;
    }
  });

  it("reports an unreachable endpoint as key unavailable", async () => {
    const gone = await listen((_request, response) => response.end());
    const url = urlOf(gone);
    await close(gone);
    const verifier = verifierFor(jwksKey(url));
    const token = await signToken(goodClaims(), { alg: "ES256", key: signingKey, kid: "key-1" });
    await expect(verifier.verify(bearer(token))).rejects.toBeInstanceOf(
      ChatTokenKeyUnavailableError,
    );
  });

  it("refuses plain http except on loopback", () => {
    expect(() => jwksKey("http://keys.example.test/jwks")).toThrow(ConfigError);
    expect(() => jwksKey("not a url")).toThrow(ConfigError);
    expect(() => jwksKey("https://keys.example.test/jwks")).not.toThrow();
  });
});

describe("keyFromParameterStore", () => {
  let first: { pem: string; privateKey: CryptoKey };
  let second: { pem: string; privateKey: CryptoKey };

  beforeAll(async () => {
    const pair = async () => {
      const { publicKey, privateKey } = await generateKeyPair("EdDSA", { extractable: true });
      return { pem: await exportSPKI(publicKey), privateKey };
    };
    [first, second] = await Promise.all([pair(), pair()]);
  });

  /** Stands in for SSM: returns whatever the test has stored under the name. */
  function fakeStore(values: Record<string, string | undefined>) {
    const reads: string[] = [];
    const load: ParameterLoader = async (name) => {
      reads.push(name);
      return values[name];
    };
    return { values, reads, load };
  }

  it("verifies with the PEM stored under the name, and follows a rotation", async () => {
    const store = fakeStore({ "/chat/key": first.pem });
    const verifier = verifierFor(
      keyFromParameterStore({ name: "/chat/key", kind: "pem", provider: "ssm", load: store.load }),
    );
    const signedBy = (key: CryptoKey) => signToken(goodClaims(), { alg: "EdDSA", key });

    await expect(verifier.verify(bearer(await signedBy(first.privateKey)))).resolves.toBeDefined();
    expect(store.reads).toEqual(["/chat/key"]);

    store.values["/chat/key"] = `\n${second.pem}\n`;
    await expect(verifier.verify(bearer(await signedBy(second.privateKey)))).resolves.toBeDefined();
    await expectInvalidToken(
      verifier.verify(bearer(await signedBy(first.privateKey))),
      "signature",
    );
  });

  it("reports a failing store as key unavailable and an empty value as configuration", async () => {
    const failing = keyFromParameterStore({
      name: "/chat/key",
      kind: "pem",
      provider: "ssm",
      load: async () => {
        throw new Error("ThrottlingException");
      },
    });
    await expect(failing.resolve()).rejects.toBeInstanceOf(ChatTokenKeyUnavailableError);

    const empty = fakeStore({ "/chat/key": "  " });
    const blank = keyFromParameterStore({
      name: "/chat/key",
      kind: "pem",
      provider: "ssm",
      load: empty.load,
    });
    await expect(blank.resolve()).rejects.toBeInstanceOf(ConfigError);
  });
});

describe("chatTokenKeySource", () => {
  it("builds the local stage's shared-secret key from configuration", async () => {
    // The path the handler takes: the environment parsed once, then the key it names.
    const config = loadHeartbeatConfig({
      DB_CLUSTER_ARN: "arn:aws:rds:us-east-1:000000000000:cluster:unit",
      DB_SECRET_ARN: "arn:aws:secretsmanager:us-east-1:000000000000:secret:unit",
      DB_NAME: "unit",
      CHAT_TOKEN_SECRET: SHARED_SECRET,
    });
    const verifier = verifierFor(chatTokenKeySource(config.token.key), config.token.algorithms);
    await expect(verifier.verify(bearer(await signToken()))).resolves.toMatchObject({
      sub: USER_ID,
    });
  });
});
