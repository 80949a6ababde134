import { base64url, errors, jwtVerify } from "jose";
import * as z from "zod/mini";
import { ConfigError } from "../../shared/config/env.ts";
import type { ChatTokenVerifier } from "../domain/record-heartbeat.ts";
import { duplicateMemberName } from "./duplicate-members.ts";
import { ChatTokenKeyUnavailableError, type ChatTokenRejection, invalidToken } from "./errors.ts";
import type { ChatTokenKeySource } from "./keys.ts";

/** A verified chat token's claims (RFC 7519 / RFC 9068 names; `chat_id` is ours). */
export interface ChatTokenClaims {
  /** The Coder user id that must own the chat; lower-case UUID. */
  sub: string;
  /** Space-separated scope names; empty when the token has no `scope` claim. */
  scope: string;
  /** From `chat_id`: the one chat this token is good for; lower-case UUID. */
  chatId?: string;
  /** Expiry, seconds since the epoch. */
  exp: number;
  iat?: number;
  jti?: string;
}

export interface ChatTokenVerifierOptions {
  keys: ChatTokenKeySource;
  /** `iss` must equal this. */
  issuer: string;
  /** `aud` (a string or an array) must contain this. */
  audience: string;
  /** Accepted `alg` values; `none` is refused here (the one place) and never reaches jose. */
  algorithms: string[];
  /** Allowed clock skew; docs/token.md caps it at 60 s, the default. */
  clockToleranceSeconds?: number;
  /** Longer tokens are refused before any parsing; default 8 KiB (docs/token.md). */
  maxTokenBytes?: number;
  /**
   * The most a token may still have to live: `exp − now` beyond this is refused, so a token minted
   * for years is not accepted for years. Default 24 h (docs/token.md, `CHAT_TOKEN_MAX_LIFETIME`).
   */
  maxLifetimeSeconds?: number;
  /** When set, the JOSE header's `typ` must equal it (RFC 8725 §3.11, `CHAT_TOKEN_TYPE`). */
  type?: string;
  now?: () => Date;
}

export const MAX_CLOCK_TOLERANCE_SECONDS = 60;
export const MAX_TOKEN_BYTES = 8 * 1024;
export const DEFAULT_MAX_LIFETIME_SECONDS = 24 * 60 * 60;

/** JWS algorithms jose can verify with a secret or a public key (RFC 7518, RFC 8037, RFC 9864). */
const SUPPORTED_ALGORITHMS = new Set([
  "HS256",
  "HS384",
  "HS512",
  "RS256",
  "RS384",
  "RS512",
  "PS256",
  "PS384",
  "PS512",
  "ES256",
  "ES384",
  "ES512",
  "EdDSA",
  "Ed25519",
]);

/**
 * The `Authorization` header: `Bearer` SP+ b64token (RFC 6750 §2.1). The scheme is matched
 * case-insensitively, as RFC 7235 §2.1 requires of auth-schemes; the token itself is not altered.
 * Surrounding whitespace is not part of a field value (RFC 9110 §5.5), so it is trimmed.
 */
const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*)$/i;

// After jose has checked the signature, iss, aud, exp and nbf: the claims we read, typed.
// Unknown claims are dropped; a known claim of the wrong type fails the token.
const ChatTokenPayload = z.object({
  // jose only looks for our audience in it; docs/token.md also fixes its type. `["chat-heartbeat", 1]`
  // contains our audience, but is not a string nor an array of strings (RFC 7519 §4.1.3).
  aud: z.union([z.string(), z.array(z.string())]),
  // Any 8-4-4-4-12 hex id, as for the path's chatId (PostgreSQL's uuid accepts all of them).
  sub: z.guid(),
  scope: z.optional(z.string()),
  chat_id: z.optional(z.guid()),
  exp: z.number(),
  iat: z.optional(z.number()),
  jti: z.optional(z.string()),
});

/** Maps jose's failure to our fixed reasons; undefined for failures that are not the token's. */
function rejectionFor(error: unknown): ChatTokenRejection | undefined {
  if (error instanceof errors.JWTExpired) return "expired";
  if (error instanceof errors.JWTClaimValidationFailed) {
    // reason "invalid" (not a number) is a claims problem, "check_failed" a time one.
    if (error.claim === "nbf" && error.reason === "check_failed") return "not_yet_valid";
    if (error.claim === "iss") return "issuer";
    if (error.claim === "aud") return "audience";
    if (error.claim === "typ") return "type";
    return "claims";
  }
  if (error instanceof errors.JOSEAlgNotAllowed || error instanceof errors.JOSENotSupported) {
    return "algorithm";
  }
  if (error instanceof errors.JWSSignatureVerificationFailed) return "signature";
  if (
    error instanceof errors.JWKSNoMatchingKey ||
    error instanceof errors.JWKSMultipleMatchingKeys
  ) {
    return "unknown_key";
  }
  if (error instanceof errors.JWSInvalid || error instanceof errors.JWTInvalid) return "malformed";
  // Key fetch failures are wrapped before they get here; any other JOSE error is the token's.
  if (error instanceof errors.JOSEError) return "malformed";
  // jose throws TypeError when the token's alg does not fit the key (e.g. HS256 against an
  // RSA/EC public key: algorithm confusion). Options and keys are validated up front, so a
  // TypeError from jwtVerify is the token's fault.
  if (error instanceof TypeError) return "key_mismatch";
  return undefined;
}

function validateOptions(options: ChatTokenVerifierOptions) {
  const clockTolerance = options.clockToleranceSeconds ?? MAX_CLOCK_TOLERANCE_SECONDS;
  if (
    !Number.isFinite(clockTolerance) ||
    clockTolerance < 0 ||
    clockTolerance > MAX_CLOCK_TOLERANCE_SECONDS
  ) {
    throw new ConfigError(
      `Invalid configuration: clock tolerance must be 0–${MAX_CLOCK_TOLERANCE_SECONDS} s`,
    );
  }
  const maxTokenBytes = options.maxTokenBytes ?? MAX_TOKEN_BYTES;
  if (!Number.isInteger(maxTokenBytes) || maxTokenBytes <= 0) {
    throw new ConfigError("Invalid configuration: the token size limit must be a positive integer");
  }
  if (options.algorithms.length === 0) {
    throw new ConfigError("Invalid configuration: the chat token algorithm allow-list is empty");
  }
  for (const alg of options.algorithms) {
    if (alg.toLowerCase() === "none") {
      throw new ConfigError("Invalid configuration: the algorithm 'none' is never accepted");
    }
    if (!SUPPORTED_ALGORITHMS.has(alg)) {
      throw new ConfigError(`Invalid configuration: unsupported chat token algorithm ${alg}`);
    }
  }
  if (!options.issuer || !options.audience) {
    throw new ConfigError("Invalid configuration: chat token issuer and audience are required");
  }
  const maxLifetimeSeconds = options.maxLifetimeSeconds ?? DEFAULT_MAX_LIFETIME_SECONDS;
  if (!Number.isFinite(maxLifetimeSeconds) || maxLifetimeSeconds <= 0) {
    throw new ConfigError("Invalid configuration: the token lifetime limit must be positive");
  }
  if (options.type !== undefined && options.type.trim() === "") {
    throw new ConfigError("Invalid configuration: the required token type is empty");
  }
  return {
    clockTolerance,
    maxTokenBytes,
    maxLifetimeSeconds,
    algorithms: [...options.algorithms],
  };
}

/** Takes the token out of `Bearer <token>`, refusing anything else or anything too large. */
export function bearerToken(authorizationHeader: string | undefined, maxTokenBytes: number) {
  const header = authorizationHeader?.trim();
  if (!header) throw invalidToken("missing");
  const token = BEARER.exec(header)?.[1];
  if (token === undefined) throw invalidToken("malformed_header");
  // Before jose decodes anything; b64token is ASCII, so characters are bytes.
  if (token.length > maxTokenBytes) throw invalidToken("too_large");
  return token;
}

const utf8 = new TextDecoder();

/**
 * Refuses a token whose JOSE header or claims set names a member twice (docs/token.md). Runs after jose
 * has verified the token, so both segments are known to be base64url of JSON objects; they are
 * decoded exactly as jose decodes them (base64url, then a non-fatal UTF-8 TextDecoder).
 */
function refuseDuplicateMembers(token: string): void {
  for (const segment of token.split(".").slice(0, 2)) {
    let duplicate: string | undefined;
    try {
      duplicate = duplicateMemberName(utf8.decode(base64url.decode(segment)));
    } catch {
      throw invalidToken("malformed");
    }
    if (duplicate !== undefined) throw invalidToken("duplicate_member");
  }
}

/**
 * Verifies chat tokens with jose. The key is resolved per call from a cached source; a failure
 * to obtain it (SSM, JWKS endpoint) surfaces as ChatTokenKeyUnavailableError, never as a 401.
 */
export function createChatTokenVerifier(options: ChatTokenVerifierOptions): ChatTokenVerifier {
  const { clockTolerance, maxTokenBytes, maxLifetimeSeconds, algorithms } =
    validateOptions(options);
  const now = options.now ?? (() => new Date());

  return {
    async verify(authorizationHeader) {
      const token = bearerToken(authorizationHeader, maxTokenBytes);
      const key = await options.keys.resolve();
      const currentDate = now();
      let payload: unknown;
      try {
        ({ payload } = await jwtVerify(token, key, {
          algorithms,
          issuer: options.issuer,
          audience: options.audience,
          requiredClaims: ["exp"],
          clockTolerance,
          currentDate,
          ...(options.type === undefined ? {} : { typ: options.type }),
        }));
      } catch (error) {
        if (error instanceof ChatTokenKeyUnavailableError) throw error;
        const reason = rejectionFor(error);
        if (reason === undefined) throw error;
        throw invalidToken(reason);
      }

      refuseDuplicateMembers(token);
      const parsed = z.safeParse(ChatTokenPayload, payload);
      if (!parsed.success) {
        const audience = parsed.error.issues.some((issue) => issue.path[0] === "aud");
        throw invalidToken(audience ? "audience" : "claims");
      }
      const claims = parsed.data;
      const nowSeconds = currentDate.getTime() / 1000;
      // jose checks `iat` only with maxTokenAge; a token issued in the future is not valid yet.
      if (claims.iat !== undefined && claims.iat > nowSeconds + clockTolerance) {
        throw invalidToken("not_yet_valid");
      }
      // The lifetime left, not `now − iat` (jose's maxTokenAge): `iat` is optional and says
      // nothing about `exp`, so a token with a fresh `iat` and `exp` 1e308 passes maxTokenAge.
      // No clock tolerance here: the limit is on what the issuer chose, not on clock drift.
      if (claims.exp - nowSeconds > maxLifetimeSeconds) throw invalidToken("lifetime");
      return {
        sub: claims.sub.toLowerCase(),
        scope: claims.scope ?? "",
        ...(claims.chat_id === undefined ? {} : { chatId: claims.chat_id.toLowerCase() }),
        exp: claims.exp,
        ...(claims.iat === undefined ? {} : { iat: claims.iat }),
        ...(claims.jti === undefined ? {} : { jti: claims.jti }),
      };
    },
  };
}
