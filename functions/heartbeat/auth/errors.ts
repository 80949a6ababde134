import { HEARTBEAT_ACTIONS } from "./scopes.ts";

export type ChatTokenErrorCode = "invalid_token" | "insufficient_scope";

/** Why a token was refused; for logs and metrics, never containing token contents. */
export type ChatTokenRejection =
  | "missing"
  | "malformed_header"
  | "too_large"
  | "malformed"
  | "algorithm"
  | "key_mismatch"
  | "unknown_key"
  | "signature"
  | "expired"
  | "not_yet_valid"
  | "issuer"
  | "audience"
  | "claims"
  | "lifetime"
  | "type"
  | "duplicate_member"
  | "scope"
  | "chat";

const MESSAGES: Record<ChatTokenRejection, string> = {
  missing: "a bearer token is required",
  malformed_header: "the Authorization header must be 'Bearer <token>'",
  too_large: "the token is too large",
  malformed: "the token is malformed",
  algorithm: "the token's signing algorithm is not accepted",
  key_mismatch: "the token's signing algorithm does not match the verification key",
  unknown_key: "the token's signing key is unknown",
  signature: "the token signature is invalid",
  expired: "the token has expired",
  not_yet_valid: "the token is not yet valid",
  issuer: "the token issuer is not accepted",
  audience: "the token audience is not accepted",
  claims: "the token claims are invalid",
  lifetime: "the token lives longer than the accepted maximum",
  type: "the token type is not accepted",
  duplicate_member: "the token repeats a header parameter or claim name",
  scope: `the token lacks the scopes ${HEARTBEAT_ACTIONS.join(" and ")}`,
  chat: "the token is not valid for this chat",
};

/**
 * A refused token: 401 `invalid_token` or 403 `insufficient_scope` (docs/api.md). The message is one
 * of a fixed set, so it is safe to return to the client; no cause is attached because jose's
 * errors carry the claims set.
 */
export class ChatTokenError extends Error {
  override readonly name = "ChatTokenError";
  readonly code: ChatTokenErrorCode;
  readonly reason: ChatTokenRejection;

  constructor(code: ChatTokenErrorCode, reason: ChatTokenRejection) {
    super(MESSAGES[reason]);
    this.code = code;
    this.reason = reason;
  }
}

export const invalidToken = (reason: ChatTokenRejection) =>
  new ChatTokenError("invalid_token", reason);

export const insufficientScope = (reason: "scope" | "chat") =>
  new ChatTokenError("insufficient_scope", reason);

/** The `WWW-Authenticate` header value docs/api.md gives for each refusal (RFC 6750 §3). */
export function wwwAuthenticate(error: ChatTokenError): string {
  return error.code === "invalid_token"
    ? 'Bearer error="invalid_token"'
    : `Bearer error="insufficient_scope", scope="${HEARTBEAT_ACTIONS.join(" ")}"`;
}

/**
 * The verification key could not be obtained (SSM/Secrets Manager or the JWKS endpoint failed):
 * our fault, not the client's, so it is not a ChatTokenError and must not become a 401.
 */
export class ChatTokenKeyUnavailableError extends Error {
  override readonly name = "ChatTokenKeyUnavailableError";
}
