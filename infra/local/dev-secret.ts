/**
 * LOCAL DEVELOPMENT ONLY. The HS256 secret `npm start` and `npm run token` share when
 * CHAT_TOKEN_SECRET is unset, so a fresh clone works without configuration. It is public (it is
 * in this repository): never configure it on a deployed stage, which verifies public keys.
 */
export const LOCAL_DEV_TOKEN_SECRET = "chat-heartbeat-local-development-secret-not-for-production";

export const LOCAL_DEV_TOKEN_ISSUER = "chat-heartbeat-local";
export const LOCAL_DEV_TOKEN_AUDIENCE = "chat-heartbeat";
