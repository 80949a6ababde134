import type { ContractError, ErrorClassifier } from "../shared/http/error-contract.ts";
import { ChatTokenError, ChatTokenKeyUnavailableError, wwwAuthenticate } from "./auth/errors.ts";
import { ChatNotFoundError } from "./domain/record-heartbeat.ts";

/** The heartbeat's own rejections (docs/api.md): token, scope and ownership. */
export const classifyHeartbeatError: ErrorClassifier = (error): ContractError | undefined => {
  if (error instanceof ChatTokenError) {
    return {
      status: error.code === "invalid_token" ? 401 : 403,
      code: error.code,
      message: error.message,
      headers: { "WWW-Authenticate": wwwAuthenticate(error) },
    };
  }
  if (error instanceof ChatTokenKeyUnavailableError) {
    // Our key store (SSM, a JWKS endpoint) failed, not the client's token: come back shortly.
    return {
      status: 503,
      code: "unavailable",
      message: "token verification is temporarily unavailable; retry later",
      headers: { "Retry-After": "5" },
    };
  }
  if (error instanceof ChatNotFoundError) {
    return { status: 404, code: "not_found", message: "chat not found" };
  }
  return undefined;
};
