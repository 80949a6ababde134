import type { HeartbeatOutcome } from "../../shared/outcomes.ts";
import { authorizeHeartbeat } from "../auth/authorize.ts";
import type { ChatTokenClaims } from "../auth/chat-token.ts";

/** The chat does not exist or belongs to someone else; the two are deliberately alike (docs/heartbeat.md). */
export class ChatNotFoundError extends Error {
  override readonly name = "ChatNotFoundError";
  constructor() {
    super("chat not found");
  }
}

/** What one accepted heartbeat did, as the HTTP API returns it (docs/api.md). */
export interface HeartbeatResponse {
  chatId: string;
  workspaceId: string | null;
  outcome: HeartbeatOutcome;
  /** ISO-8601 UTC, or null when the deadline is not set. */
  deadline: string | null;
  maxDeadline: string | null;
  lastUsedAt: string | null;
  /** When the next heartbeat can matter, in whole seconds (15–300): the pacing hint. */
  nextHeartbeatSeconds: number;
}

/** What the statement answers for one heartbeat: the response without the chat id it was given. */
export type RecordedHeartbeat = Omit<HeartbeatResponse, "chatId">;

export interface HeartbeatStore {
  /** Runs the activity-bump statement; null when the user owns no chat with this id. */
  beat(request: { chatId: string; userId: string }): Promise<RecordedHeartbeat | null>;
}

/** What the heartbeat needs of token verification; `createChatTokenVerifier` (jose) provides it. */
export interface ChatTokenVerifier {
  /** Resolves the claims of a valid `Bearer` token; otherwise throws ChatTokenError(invalid_token). */
  verify(authorization: string | undefined): Promise<ChatTokenClaims>;
}

/**
 * One heartbeat: authenticate, authorise (chatd scopes, chat binding), then keep the workspace
 * alive. Every rejection is thrown before the store is touched, so a rejected request writes nothing.
 */
export async function recordChatHeartbeat(
  request: { chatId: string; authorization: string | undefined },
  deps: { verifier: ChatTokenVerifier; store: HeartbeatStore },
): Promise<HeartbeatResponse> {
  const claims = await deps.verifier.verify(request.authorization);
  const { userId } = authorizeHeartbeat(claims, request.chatId);
  const result = await deps.store.beat({ chatId: request.chatId, userId });
  if (result === null) throw new ChatNotFoundError();
  return { chatId: request.chatId, ...result };
}
