import { SignJWT } from "jose";
import { afterAll, beforeAll, describe, it } from "vitest";
import { heartbeatEvent } from "../support/api-gateway-event.ts";
import { seedRunningWorkspace } from "../support/fixtures.ts";
import {
  type HeartbeatStack,
  startHeartbeatStack,
  TEST_TOKEN_SECRET,
} from "../support/heartbeat-stack.ts";
import { expectAcceptedOnce, expectRejectedWithoutWrite } from "./expect-response.ts";

/**
 * The token policy an operator configures (docs/token.md): `CHAT_TOKEN_TYPE` makes `typ` mandatory
 * (RFC 8725 §3.11) and `CHAT_TOKEN_MAX_LIFETIME` bounds `exp − now`. Through the whole handler,
 * as Lambda invokes it with that configuration: every refusal is a 401 that wrote nothing and
 * never reached the Data API.
 */

const SECRET = new TextEncoder().encode(TEST_TOKEN_SECRET);
const nowSeconds = () => Math.floor(Date.now() / 1000);

let stack: HeartbeatStack;
let owner: string;
let chatId: string;

beforeAll(async () => {
  stack = await startHeartbeatStack({ CHAT_TOKEN_TYPE: "at+jwt", CHAT_TOKEN_MAX_LIFETIME: "15m" });
  ({ ownerId: owner, chatId } = await seedRunningWorkspace(stack.db.pool));
});
afterAll(async () => {
  await stack?.stop();
});

async function token(options: { typ?: string; exp?: number } = {}): Promise<string> {
  const header = options.typ === undefined ? { alg: "HS256" } : { alg: "HS256", typ: options.typ };
  return new SignJWT({ scope: "workspace:read workspace:update" })
    .setProtectedHeader(header)
    .setIssuer("chat-heartbeat-local")
    .setAudience("chat-heartbeat")
    .setSubject(owner)
    .setIssuedAt()
    .setExpirationTime(options.exp ?? nowSeconds() + 300)
    .sign(SECRET);
}

const rejected = (reason: RegExp) =>
  ({ status: 401, code: "invalid_token", message: reason, dataApiCalls: 0 }) as const;

describe("CHAT_TOKEN_TYPE=at+jwt", () => {
  it.each([
    ["typ JWT", "JWT"],
    ["typ jwt+at (reversed)", "jwt+at"],
    ["typ at+jwt with a trailing space", "at+jwt "],
    ["no typ", undefined],
  ])("refuses %s", async (_name, typ) => {
    const event = heartbeatEvent({ chatId, token: await token({ typ }) });
    await expectRejectedWithoutWrite(stack, event, rejected(/token type is not accepted/));
  });

  it.each([["at+jwt"], ["application/at+jwt"], ["AT+JWT"]])(
    "accepts typ %s (media types compare case-insensitively, RFC 8725 §3.11)",
    async (typ) => {
      await expectAcceptedOnce(stack, heartbeatEvent({ chatId, token: await token({ typ }) }));
    },
  );
});

describe("CHAT_TOKEN_MAX_LIFETIME=15m", () => {
  it("refuses exp 15 min and 5 s ahead", async () => {
    const event = heartbeatEvent({
      chatId,
      token: await token({ typ: "at+jwt", exp: nowSeconds() + 905 }),
    });
    await expectRejectedWithoutWrite(stack, event, rejected(/lives longer than the accepted/));
  });

  it("accepts exp 14 min ahead", async () => {
    const event = heartbeatEvent({
      chatId,
      token: await token({ typ: "at+jwt", exp: nowSeconds() + 840 }),
    });
    await expectAcceptedOnce(stack, event);
  });
});
