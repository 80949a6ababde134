import { authorizeHeartbeat } from "../auth/authorize.ts";
import type { ChatTokenClaims } from "../auth/chat-token.ts";
import type { HeartbeatReport } from "./outcomes.ts";

/** The chat does not exist or belongs to someone else; the two are deliberately alike (docs/heartbeat.md). */
export class ChatNotFoundError extends Error {
  override readonly name = "ChatNotFoundError";
  constructor() {
    super("chat not found");
  }
}

export interface HeartbeatStore {
  /** Runs the activity-bump statement; null when the user owns no chat with this id. */
  beat(request: {
    chatId: string;
    userId: string;
  }): Promise<Omit<HeartbeatReport, "chatId"> | null>;
}

export interface ChatTokenVerifier {
  verify(authorization: string | undefined): Promise<ChatTokenClaims>;
}

/**
 * One heartbeat: authenticate, authorise (chatd scopes, chat binding), then keep the workspace
 * alive. Every rejection is thrown before the store is touched, so a rejected request writes nothing.
 */
export async function recordChatHeartbeat(
  request: { chatId: string; authorization: string | undefined },
  deps: { verifier: ChatTokenVerifier; store: HeartbeatStore },
): Promise<HeartbeatReport> {
  const claims = await deps.verifier.verify(request.authorization);
  const { userId } = authorizeHeartbeat(claims, request.chatId);
  const result = await deps.store.beat({ chatId: request.chatId, userId });
  if (result === null) throw new ChatNotFoundError();
  return { chatId: request.chatId, ...result };
}
