import * as z from "zod/mini";
import { type DatabaseConfig, loadDatabaseConfig } from "../shared/config/database.ts";
import {
  ConfigError,
  type Env,
  loadReportWindowSeconds,
  parseEnv,
  positiveDuration,
} from "../shared/config/env.ts";

/**
 * The heartbeat's configuration, parsed once at cold start (handler.ts): its database, the outcome
 * window, and how chat tokens are verified. A bad value names the variable (shared/config/env.ts).
 */

/** docs/token.md: the local stage's HS256 secret is at least 32 bytes (RFC 7518 §3.2); checked here only. */
export const MIN_CHAT_TOKEN_SECRET_BYTES = 32;

/** `CHAT_TOKEN_SECRET` as every reader of it (heartbeat, `npm start`, `npm run token`) parses it. */
export const ChatTokenSecret = z
  .string()
  .check(
    z.refine(
      (value) => Buffer.byteLength(value, "utf8") >= MIN_CHAT_TOKEN_SECRET_BYTES,
      `the chat token secret must be at least ${MIN_CHAT_TOKEN_SECRET_BYTES} bytes`,
    ),
  );

const ChatTokenKeyKind = z.enum(["pem", "jwks-url"]);
const ChatTokenKeyProvider = z.enum(["ssm", "secretsmanager"]);

const HeartbeatEnv = z.object({
  CHAT_TOKEN_ISSUER: z._default(z.string().check(z.minLength(1)), "chat-heartbeat-local"),
  CHAT_TOKEN_AUDIENCE: z._default(z.string().check(z.minLength(1)), "chat-heartbeat"),
  /** Comma-separated allow-list; the verifier refuses `none` whatever this says. */
  CHAT_TOKEN_ALGORITHMS: z.optional(z.string()),
  /** Local stage: the HS256 shared secret. */
  CHAT_TOKEN_SECRET: z.optional(ChatTokenSecret),
  /** Deployed stages: the SSM parameter (or Secrets Manager secret) holding the verification key. */
  CHAT_TOKEN_KEY_PARAMETER: z.optional(z.string().check(z.minLength(1))),
  CHAT_TOKEN_KEY_KIND: z._default(ChatTokenKeyKind, "pem"),
  CHAT_TOKEN_KEY_PROVIDER: z._default(ChatTokenKeyProvider, "ssm"),
});

/** What tokens must look like beyond their signature; `npm start` reads it too (demo token). */
const ChatTokenPolicyEnv = z.pipe(
  z.object({
    /** The most `exp − now` may be (docs/token.md): a token minted to live for years is refused. */
    CHAT_TOKEN_MAX_LIFETIME: positiveDuration(24 * 3_600),
    /** When set, the header's `typ` must equal it (RFC 8725 §3.11), e.g. `at+jwt` (RFC 9068). */
    CHAT_TOKEN_TYPE: z.optional(
      z.string().check(z.regex(/^[!-~]+$/, "must be a media type such as at+jwt, without spaces")),
    ),
  }),
  z.transform((parsed) => ({
    maxLifetimeSeconds: parsed.CHAT_TOKEN_MAX_LIFETIME,
    /** Required `typ` header value; undefined: `typ` is not checked. */
    type: parsed.CHAT_TOKEN_TYPE,
  })),
);

export type ChatTokenPolicy = z.output<typeof ChatTokenPolicyEnv>;

export type ChatTokenKeyConfig =
  | { kind: "shared-secret"; secret: string }
  | {
      kind: "parameter";
      name: string;
      format: z.output<typeof ChatTokenKeyKind>;
      provider: z.output<typeof ChatTokenKeyProvider>;
    };

export function loadChatTokenPolicy(env: Env = process.env): ChatTokenPolicy {
  return parseEnv(ChatTokenPolicyEnv, env);
}

export interface HeartbeatConfig {
  database: DatabaseConfig;
  bucketSeconds: number;
  token: {
    issuer: string;
    audience: string;
    algorithms: string[];
    key: ChatTokenKeyConfig;
  } & ChatTokenPolicy;
}

const DEFAULT_ALGORITHMS = { "shared-secret": ["HS256"], parameter: ["ES256", "EdDSA", "RS256"] };

export function loadHeartbeatConfig(env: Env = process.env): HeartbeatConfig {
  const database = loadDatabaseConfig(env);
  const bucketSeconds = loadReportWindowSeconds(env);
  const parsed = parseEnv(HeartbeatEnv, env);
  const policy = loadChatTokenPolicy(env);
  let key: ChatTokenKeyConfig;
  if (parsed.CHAT_TOKEN_SECRET && parsed.CHAT_TOKEN_KEY_PARAMETER) {
    throw new ConfigError(
      "Invalid configuration: set CHAT_TOKEN_SECRET (local) or CHAT_TOKEN_KEY_PARAMETER (deployed), not both",
    );
  } else if (parsed.CHAT_TOKEN_SECRET) {
    key = { kind: "shared-secret", secret: parsed.CHAT_TOKEN_SECRET };
  } else if (parsed.CHAT_TOKEN_KEY_PARAMETER) {
    key = {
      kind: "parameter",
      name: parsed.CHAT_TOKEN_KEY_PARAMETER,
      format: parsed.CHAT_TOKEN_KEY_KIND,
      provider: parsed.CHAT_TOKEN_KEY_PROVIDER,
    };
  } else {
    throw new ConfigError(
      "Invalid configuration: CHAT_TOKEN_SECRET or CHAT_TOKEN_KEY_PARAMETER is required",
    );
  }
  // Which names jose may be given (never `none`) is the verifier's rule: createChatTokenVerifier.
  const algorithms = parsed.CHAT_TOKEN_ALGORITHMS
    ? parsed.CHAT_TOKEN_ALGORITHMS.split(",").map((alg) => alg.trim())
    : DEFAULT_ALGORITHMS[key.kind];
  return {
    database,
    bucketSeconds,
    token: {
      issuer: parsed.CHAT_TOKEN_ISSUER,
      audience: parsed.CHAT_TOKEN_AUDIENCE,
      algorithms,
      key,
      ...policy,
    },
  };
}
