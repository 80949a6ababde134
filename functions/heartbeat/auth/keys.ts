import { createPublicKey } from "node:crypto";
import { type CryptoKey, createRemoteJWKSet, errors, importSPKI, type JWTVerifyGetKey } from "jose";
import { ConfigError } from "../../shared/config/env.ts";
import type { ChatTokenKeyConfig } from "../config.ts";
import { ChatTokenKeyUnavailableError } from "./errors.ts";

/** What `jwtVerify` is given: a key, or (JWKS) a function choosing one by the token's header. */
export type ChatTokenVerificationKey = CryptoKey | Uint8Array | JWTVerifyGetKey;

/**
 * Where the verifier gets its key. Each source loads its key once per container and caches it,
 * so `resolve()` is cheap on every request. Tests pass a key directly; Lambdas build one from
 * configuration with {@link chatTokenKeySource}.
 */
export interface ChatTokenKeySource {
  resolve(): Promise<ChatTokenVerificationKey>;
}

/**
 * HS256 with a shared secret: the local stage. Its length (docs/token.md: at least 32 bytes) is checked
 * where the secret enters, when configuration is parsed (`ChatTokenSecret` in heartbeat/config.ts).
 */
export function sharedSecretKey(secret: string | Uint8Array): ChatTokenKeySource {
  const bytes = typeof secret === "string" ? new TextEncoder().encode(secret) : secret;
  const key = Promise.resolve(bytes);
  return { resolve: () => key };
}

export type PublicKeyAlgorithm =
  | "ES256"
  | "ES384"
  | "ES512"
  | "EdDSA"
  | "Ed25519"
  | "RS256"
  | "RS384"
  | "RS512"
  | "PS256"
  | "PS384"
  | "PS512";

const CURVE_ALGORITHMS: Record<string, PublicKeyAlgorithm> = {
  prime256v1: "ES256",
  secp384r1: "ES384",
  secp521r1: "ES512",
};

/** The conventional JWS algorithm for a public key, so configuration need not repeat it. */
function algorithmForPublicKey(pem: string): PublicKeyAlgorithm {
  let keyObject: ReturnType<typeof createPublicKey>;
  try {
    // Only SPKI: createPublicKey would also derive a public key from a private one.
    if (!pem.includes("-----BEGIN PUBLIC KEY-----")) throw new Error("not an SPKI PEM");
    keyObject = createPublicKey(pem);
  } catch {
    throw new ConfigError("Invalid configuration: the chat token key is not a PEM public key");
  }
  switch (keyObject.asymmetricKeyType) {
    case "ed25519":
      return "EdDSA";
    case "rsa":
      return "RS256";
    case "rsa-pss":
      return "PS256";
    case "ec": {
      const curve = keyObject.asymmetricKeyDetails?.namedCurve;
      const alg = curve === undefined ? undefined : CURVE_ALGORITHMS[curve];
      if (alg) return alg;
    }
  }
  throw new ConfigError(
    `Invalid configuration: unsupported chat token key type ${keyObject.asymmetricKeyType}`,
  );
}

/**
 * A PEM (SPKI) public key. The imported key is bound to one algorithm, so a token signed with
 * any other (notably HS256 using this PEM as the secret) cannot verify against it.
 */
export function publicKeyFromPem(pem: string, alg?: PublicKeyAlgorithm): ChatTokenKeySource {
  let key: Promise<CryptoKey> | undefined;
  return {
    resolve() {
      key ??= Promise.resolve()
        .then(() => importSPKI(pem, alg ?? algorithmForPublicKey(pem)))
        .catch((error: unknown) => {
          if (error instanceof ConfigError) throw error;
          throw new ConfigError("Invalid configuration: the chat token key is not a usable PEM");
        });
      return key;
    },
  };
}

export interface JwksOptions {
  /** Per fetch; past it the request fails with ChatTokenKeyUnavailableError. Default 5 s. */
  timeoutMs?: number;
  /** How long a fetched key set is used before refetching. Default 10 min (jose). */
  cacheMaxAgeMs?: number;
}

const LOOPBACK_HOSTS = new Set(["127.0.0.1", "localhost", "[::1]"]);

/** True when a key-set lookup failed because of the token (unknown `kid`/`alg`), not the endpoint. */
function isTokenFault(error: unknown): boolean {
  return (
    error instanceof errors.JWKSNoMatchingKey ||
    error instanceof errors.JWKSMultipleMatchingKeys ||
    error instanceof errors.JOSENotSupported
  );
}

/**
 * A JWKS URL. jose's remote key set caches the set and refetches on an unknown `kid` (at most
 * every 30 s), which covers key rotation. Plain http is allowed only to loopback (tests, local).
 */
export function jwksKey(url: string | URL, options: JwksOptions = {}): ChatTokenKeySource {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ConfigError("Invalid configuration: the chat token JWKS URL is not a URL");
  }
  if (
    parsed.protocol !== "https:" &&
    !(parsed.protocol === "http:" && LOOPBACK_HOSTS.has(parsed.hostname))
  ) {
    throw new ConfigError("Invalid configuration: the chat token JWKS URL must use https");
  }
  const remote = createRemoteJWKSet(parsed, {
    timeoutDuration: options.timeoutMs,
    cacheMaxAge: options.cacheMaxAgeMs,
  });
  const getKey: JWTVerifyGetKey = async (header, token) => {
    try {
      return await remote(header, token);
    } catch (error) {
      if (isTokenFault(error)) throw error;
      throw new ChatTokenKeyUnavailableError("the chat token key set could not be fetched", {
        cause: error,
      });
    }
  };
  const key = Promise.resolve(getKey);
  return { resolve: () => key };
}

/** Reads a parameter's current value; undefined when it has none. */
export type ParameterLoader = (name: string) => Promise<string | undefined>;

type ParameterKeyConfig = Extract<ChatTokenKeyConfig, { kind: "parameter" }>;
export type ParameterProvider = ParameterKeyConfig["provider"];
export type ParameterKeyFormat = ParameterKeyConfig["format"];

/** How long Powertools keeps a fetched value before asking SSM/Secrets Manager again. */
const DEFAULT_PARAMETER_MAX_AGE_SECONDS = 300;

/**
 * Powertools Parameters, imported on first use: the local stage never loads the SSM/Secrets
 * Manager clients (on Lambda they come with the nodejs runtime).
 */
export function powertoolsParameterLoader(
  provider: ParameterProvider,
  maxAgeSeconds = DEFAULT_PARAMETER_MAX_AGE_SECONDS,
): ParameterLoader {
  if (provider === "ssm") {
    return async (name) => {
      const { getParameter } = await import("@aws-lambda-powertools/parameters/ssm");
      return getParameter(name, { decrypt: true, maxAge: maxAgeSeconds });
    };
  }
  return async (name) => {
    const { getSecret } = await import("@aws-lambda-powertools/parameters/secrets");
    const value: unknown = await getSecret(name, { maxAge: maxAgeSeconds });
    if (value instanceof Uint8Array) return new TextDecoder().decode(value);
    return typeof value === "string" ? value : undefined;
  };
}

export interface ParameterKeyOptions {
  /** SSM parameter name or Secrets Manager secret id/ARN. */
  name: string;
  /** What the stored value is: a PEM public key or a JWKS URL. */
  kind: ParameterKeyFormat;
  provider: ParameterProvider;
  /** For `pem`; inferred from the key when omitted. */
  alg?: PublicKeyAlgorithm;
  maxAgeSeconds?: number;
  /** Replaces Powertools (tests). */
  load?: ParameterLoader;
}

/**
 * A key whose PEM / JWKS URL is stored in SSM Parameter Store or Secrets Manager.
 * The value is re-read through the Powertools cache (`maxAge`), and the key built from it is
 * kept until the value changes, so a rotated parameter takes effect without a redeploy.
 */
export function keyFromParameterStore(options: ParameterKeyOptions): ChatTokenKeySource {
  const load = options.load ?? powertoolsParameterLoader(options.provider, options.maxAgeSeconds);
  let current: { value: string; source: ChatTokenKeySource } | undefined;
  return {
    async resolve() {
      let value: string | undefined;
      try {
        value = await load(options.name);
      } catch (error) {
        throw new ChatTokenKeyUnavailableError(
          `the chat token key parameter ${options.name} could not be read`,
          { cause: error },
        );
      }
      const trimmed = value?.trim();
      if (!trimmed) {
        throw new ConfigError(
          `Invalid configuration: the chat token key parameter ${options.name} is empty`,
        );
      }
      if (current?.value !== trimmed) {
        current = { value: trimmed, source: keySourceForValue(options, trimmed) };
      }
      return current.source.resolve();
    },
  };
}

function keySourceForValue(options: ParameterKeyOptions, value: string): ChatTokenKeySource {
  switch (options.kind) {
    case "pem":
      return publicKeyFromPem(value, options.alg);
    case "jwks-url":
      return jwksKey(value);
  }
}

/** The key source a Lambda's configuration names (functions/heartbeat/config.ts). */
export function chatTokenKeySource(config: ChatTokenKeyConfig): ChatTokenKeySource {
  if (config.kind === "shared-secret") return sharedSecretKey(config.secret);
  return keyFromParameterStore({
    name: config.name,
    kind: config.format,
    provider: config.provider,
  });
}
