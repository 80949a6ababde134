import type { ChatTokenClaims } from "./chat-token.ts";
import { insufficientScope } from "./errors.ts";
import { grantsHeartbeat } from "./scopes.ts";

/**
 * May this verified token heartbeat this chat? It needs `workspace:read` and `workspace:update`
 * (docs/token.md), and a token bound to one chat (`chat_id`) is good for that chat only. Ownership of
 * the chat is checked later, in the database. Throws ChatTokenError(insufficient_scope).
 */
export function authorizeHeartbeat(
  claims: Pick<ChatTokenClaims, "sub" | "scope" | "chatId">,
  chatId: string,
): { userId: string } {
  if (!grantsHeartbeat(claims.scope)) throw insufficientScope("scope");
  // UUIDs compare case-insensitively; the verifier already lower-cases the claim.
  if (claims.chatId !== undefined && claims.chatId !== chatId.toLowerCase()) {
    throw insufficientScope("chat");
  }
  return { userId: claims.sub };
}
