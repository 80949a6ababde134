import * as z from "zod/mini";

function isJsonObject(text: string): boolean {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === "object" && value !== null && !Array.isArray(value);
  } catch {
    return false;
  }
}

/**
 * The part of the API Gateway HTTP API (payload v2) event the heartbeat reads. Not the Powertools
 * envelope: that yields only the body, and the heartbeat needs headers and the path too. Headers
 * are lower-cased and null path/query maps normalised (serverless-offline) by middlewares before this runs.
 */
export const HeartbeatEvent = z.object({
  headers: z.record(z.string(), z.string()),
  pathParameters: z.object({
    // Any 8-4-4-4-12 hex id: PostgreSQL's uuid type accepts all of them, not only RFC versions.
    // Canonical lower case from here on (docs/api.md: ids are lower-case), so the response, the logs
    // and the token's `chat_id` binding all see one spelling whatever case the path used.
    chatId: z.pipe(
      z.guid("chatId must be a UUID"),
      z.transform((id) => id.toLowerCase()),
    ),
  }),
  // nullish: serverless-offline sends `body: null` where API Gateway leaves it out.
  body: z.nullish(
    z
      .string()
      .check(
        z.refine(
          (text) => text.trim() === "" || isJsonObject(text),
          "body must be empty or a JSON object",
        ),
      ),
  ),
  requestContext: z.object({
    requestId: z.string(),
    // The route is POST only; should anything else reach the function, it must not write.
    http: z.object({ method: z.literal("POST", "method must be POST") }),
  }),
});

export type HeartbeatEvent = z.output<typeof HeartbeatEvent>;
